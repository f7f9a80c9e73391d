// The API docs load nothing from outside the portal (they work offline, and the Content-Security-Policy allows
// images from the portal only): ReDoc's sidebar would fetch Redocly's logo from their CDN. Drop that one image
// address before ReDoc (loaded after this file) sets it; the "API docs by Redocly" link stays.
(function () {
  var outside = function (value) { return String(value).indexOf("https://cdn.redoc.ly/") === 0; };
  var setAttribute = Element.prototype.setAttribute;
  Element.prototype.setAttribute = function (name, value) {
    if (this instanceof HTMLImageElement && String(name).toLowerCase() === "src" && outside(value)) { return; }
    return setAttribute.call(this, name, value);
  };
  var src = Object.getOwnPropertyDescriptor(HTMLImageElement.prototype, "src");
  Object.defineProperty(HTMLImageElement.prototype, "src", {
    configurable: true, enumerable: src.enumerable, get: src.get,
    set: function (value) { if (!outside(value)) { src.set.call(this, value); } },
  });
})();
