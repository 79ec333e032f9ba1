// The alarm console: live over server-sent events, loud while a red alert waits,
// and "a" acknowledges the oldest one.
(function () {
  "use strict";
  var box = document.getElementById("console");
  var status = document.getElementById("console-status");
  if (!box) { return; }
  var audio = null;
  function beep() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      var osc = audio.createOscillator(), gain = audio.createGain();
      osc.frequency.value = 880; gain.gain.value = 0.2;
      osc.connect(gain); gain.connect(audio.destination);
      osc.start(); osc.stop(audio.currentTime + 0.3);
    } catch (e) { /* sound needs a first click on some browsers */ }
  }
  setInterval(function () {
    var waiting = box.querySelector("[data-loud]");
    document.body.classList.toggle("lw-alarm-flash", !!waiting);
    if (waiting) { beep(); }
  }, 1500);
  function refresh() {
    fetch(box.dataset.fragment, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) { box.innerHTML = html; status.textContent = "Live."; })
      .catch(function () { status.textContent = "Could not update: reload the page."; });
  }
  if (window.EventSource) {
    var source = new EventSource(box.dataset.events);
    source.onmessage = refresh;
    ["raised", "acknowledged", "assessing", "escalated", "closed", "duress", "realert",
     "location", "duress_flagged", "recategorised"].forEach(function (kind) {
      source.addEventListener("alarm." + kind, refresh);
    });
    source.onerror = function () { status.textContent = "Reconnecting…"; };
  }
  document.addEventListener("keydown", function (event) {
    if (event.key !== "a" || /INPUT|SELECT|TEXTAREA/.test(document.activeElement.tagName)) { return; }
    var button = box.querySelector("[data-loud] .lw-ack");
    if (button) { button.click(); }
  });
})();
