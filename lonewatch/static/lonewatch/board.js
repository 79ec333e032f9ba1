// The manager's board: the server says "changed" over server-sent events and the
// board fragment is fetched again. EventSource reconnects by itself.
(function () {
  "use strict";
  var board = document.getElementById("board");
  var status = document.getElementById("board-status");
  if (!board || !window.EventSource) { return; }
  var source = new EventSource(board.dataset.events);
  var lost = false;
  function refresh() {
    fetch(board.dataset.fragment, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) { board.innerHTML = html; status.textContent = "Updated just now."; })
      .catch(function () { status.textContent = "Could not update: reload the page."; });
  }
  source.addEventListener("changed", refresh);
  source.onerror = function () { lost = true; status.textContent = "Reconnecting…"; };
  source.onopen = function () {
    status.textContent = "Updates by itself.";
    // A new stream only tells of changes from now: fetch what changed while away
    // (a stream ends every few minutes, and whenever its server process stops).
    if (lost) { lost = false; refresh(); }
  };
})();
