/* The staff pages: the customer signs on the screen when the disclosure method is "electronic signature" (the PNG
   goes in the form's hidden field), and the receipt's print button. No inline script: this file only. */
(function () {
  "use strict";
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });

  var box = document.querySelector("[data-signature]");
  if (!box) { return; }
  var canvas = box.querySelector("[data-signature-pad]");
  var field = box.querySelector('input[name="signature"]');
  var state = box.querySelector(".signature-state");
  var form = box.closest("form");
  var ctx = canvas.getContext("2d");
  var drawing = false, inked = false, last = null;

  function showFor(method) { box.hidden = method !== "esign"; }
  form.querySelectorAll('input[name="method"]').forEach(function (radio) {
    radio.addEventListener("change", function () { showFor(radio.value); });
    if (radio.checked) { showFor(radio.value); }
  });

  function point(event) {
    var rect = canvas.getBoundingClientRect();
    return { x: (event.clientX - rect.left) * canvas.width / rect.width,
             y: (event.clientY - rect.top) * canvas.height / rect.height };
  }
  function mark(signed) {
    inked = signed;
    state.textContent = state.getAttribute(signed ? "data-signed" : "data-empty");
    field.value = signed ? canvas.toDataURL("image/png") : "";
  }
  ctx.lineWidth = 3; ctx.lineCap = "round"; ctx.lineJoin = "round"; ctx.strokeStyle = "#111";
  canvas.addEventListener("pointerdown", function (event) {
    drawing = true; last = point(event); canvas.setPointerCapture(event.pointerId); event.preventDefault();
  });
  canvas.addEventListener("pointermove", function (event) {
    if (!drawing) { return; }
    var p = point(event);
    ctx.beginPath(); ctx.moveTo(last.x, last.y); ctx.lineTo(p.x, p.y); ctx.stroke();
    last = p; inked = true;
  });
  function end() { if (drawing) { drawing = false; mark(inked); } }
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  canvas.addEventListener("pointerleave", end);
  box.querySelector("[data-signature-clear]").addEventListener("click", function () {
    ctx.clearRect(0, 0, canvas.width, canvas.height); mark(false);
  });
})();
