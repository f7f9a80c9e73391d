// A background job's page (a risk list, a feed upload): poll its progress endpoint and move the bar;
// reload the page once the job has finished, so the report shows. No inline script: works under a strict CSP.
(function () {
  "use strict";
  var box = document.getElementById("job-progress");
  if (!box || !box.dataset.progressUrl) { return; }
  if (box.dataset.status === "done" || box.dataset.status === "failed") { return; }
  var bar = document.getElementById("job-progress-bar");
  var text = document.getElementById("job-progress-text");
  function poll() {
    fetch(box.dataset.progressUrl, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (p) {
        if (!p) { window.setTimeout(poll, 3000); return; }
        if (p.total) {
          bar.max = p.total;
          bar.value = p.done;
          text.textContent = p.done.toLocaleString() + " / " + p.total.toLocaleString() +
            " (" + Math.floor(100 * p.done / p.total) + " %)";
        }
        if (p.finished) { window.location.reload(); return; }
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 500);
}());
