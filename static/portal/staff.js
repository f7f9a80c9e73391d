// The staff pages' few behaviours, as a file: the Content-Security-Policy allows no inline script.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
});
