/* The subscriber pages: focus the error summary; select all or none of the platforms; print the proof; and follow an
   unbind request until every platform is final (the server renders the grouped board; this swaps it in). */
(function () {
  "use strict";
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }

  document.querySelectorAll("[data-choose]").forEach(function (form) {
    var tools = form.querySelector(".choose-tools");
    if (tools) { tools.hidden = false; }
    form.querySelectorAll("[data-select]").forEach(function (button) {
      button.addEventListener("click", function () {
        var on = button.getAttribute("data-select") === "all";
        form.querySelectorAll('input[type="checkbox"][name="platforms"]').forEach(function (box) { box.checked = on; });
      });
    });
  });

  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });

  var board = document.querySelector("[data-status-url]");
  if (!board || board.getAttribute("data-final") === "true") { return; }
  var url = board.getAttribute("data-status-url");
  var delay = 2000;

  function render(data) {
    // Keep the groups the person opened open, and the scroll position where it was.
    var open = {};
    board.querySelectorAll("details[data-group]").forEach(function (d) { open[d.getAttribute("data-group")] = d.open; });
    board.innerHTML = data.html;
    board.querySelectorAll("details[data-group]").forEach(function (d) {
      if (open[d.getAttribute("data-group")]) { d.open = true; }
    });
    if (data.final) { board.setAttribute("data-final", "true"); }
    return data.final;
  }

  function poll() {
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (data) { if (!render(data)) { setTimeout(poll, delay); } })
      .catch(function () { delay = Math.min(delay * 2, 30000); setTimeout(poll, delay); });
  }
  setTimeout(poll, delay);
})();
