// The manager's board: the server says "changed" over server-sent events and the
// board fragment is fetched again. EventSource reconnects by itself.
(function () {
  "use strict";
  var board = document.getElementById("board");
  var status = document.getElementById("board-status");
  if (!board || !window.EventSource) { return; }
  var source = new EventSource(board.dataset.events);
  source.addEventListener("changed", function () {
    fetch(board.dataset.fragment, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) { board.innerHTML = html; status.textContent = "Updated just now."; })
      .catch(function () { status.textContent = "Could not update: reload the page."; });
  });
  source.onerror = function () { status.textContent = "Reconnecting…"; };
  source.onopen = function () { status.textContent = "Updates by itself."; };
})();
