/* The subscriber pages: focus the error summary, and follow an unbind request until every platform is final. */
(function () {
  "use strict";
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }

  var board = document.querySelector("[data-status-url]");
  if (!board || board.getAttribute("data-final") === "true") { return; }
  var url = board.getAttribute("data-status-url");
  var delay = 2000;

  function render(data) {
    data.tasks.forEach(function (task) {
      var row = board.querySelector('[data-task="' + task.id + '"]');
      if (!row) { return; }
      var cell = row.querySelector("[data-status]");
      if (cell.getAttribute("data-status") !== task.status) {
        cell.setAttribute("data-status", task.status);
        cell.textContent = task.label;
        row.className = "task task-" + task.status;
      }
    });
    var counts = document.getElementById("progress");
    if (counts) { counts.textContent = data.progress; }
    if (data.final) {
      board.setAttribute("data-final", "true");
      var done = document.getElementById("summary");
      if (done) { done.textContent = data.summary; done.hidden = false; }
    }
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
