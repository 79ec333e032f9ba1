// The countdown on "My day" and the location sent with a check-in.
// The server holds the deadline; this only shows it.
(function () {
  "use strict";
  function pad(n) { return String(n).padStart(2, "0"); }
  // What a screen reader hears, once each, as the deadline nears; the countdown itself
  // changes every second and is not announced. Nothing is said when the page opens: the
  // heading is read then.
  function moment(left) {
    if (left < 0) { return "Your check-in is overdue. Check in now if you are safe."; }
    if (left <= 60) { return "1 minute left to check in."; }
    if (left <= 300) { return "5 minutes left to check in."; }
    return "";
  }
  function announce(el, left) {
    var now = moment(left);
    var status = document.getElementById(el.dataset.status);
    if (status && el.dataset.moment !== undefined && now && now !== el.dataset.moment) {
      status.textContent = now;
    }
    el.dataset.moment = now;
  }
  function show(el) {
    var left = Math.round((Date.parse(el.dataset.deadline) - Date.now()) / 1000);
    announce(el, left);
    var abs = Math.abs(left);
    var text = Math.floor(abs / 3600) > 0
      ? Math.floor(abs / 3600) + " h " + pad(Math.floor(abs % 3600 / 60)) + " min"
      : Math.floor(abs / 60) + ":" + pad(abs % 60);
    el.textContent = left >= 0 ? "Check in within " + text : "Check-in overdue by " + text;
    el.classList.toggle("lw-countdown--overdue", left < 0);
  }
  document.querySelectorAll(".lw-countdown[data-deadline]").forEach(function (el) {
    show(el);
    setInterval(function () { show(el); }, 1000);
  });
  document.querySelectorAll("form.lw-check-in[data-locate]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (form.dataset.located || !navigator.geolocation) { return; }
      event.preventDefault();
      var send = function () { form.dataset.located = "1"; form.submit(); };
      var timer = setTimeout(send, 5000);  // never hold up a check-in for the location
      navigator.geolocation.getCurrentPosition(function (pos) {
        clearTimeout(timer);
        form.elements.lat.value = pos.coords.latitude;
        form.elements.lon.value = pos.coords.longitude;
        form.elements.accuracy.value = Math.round(pos.coords.accuracy);
        send();
      }, function () { clearTimeout(timer); send(); }, { timeout: 4000, maximumAge: 60000 });
    });
  });
})();
// Red alert: press and hold, so a pocket press does not send it; location is added
// when the worker has agreed, but never holds the alert up.
(function () {
  "use strict";
  document.querySelectorAll("form.lw-red-alert").forEach(function (form) {
    var button = form.querySelector(".lw-hold");
    var timer = null;
    var label = button.textContent;
    function send() {
      button.textContent = "Sending…";
      var go = function () { form.submit(); };
      if (form.dataset.locate === undefined || !navigator.geolocation) { go(); return; }
      var fallback = setTimeout(go, 3000);
      navigator.geolocation.getCurrentPosition(function (pos) {
        clearTimeout(fallback);
        form.elements.lat.value = pos.coords.latitude;
        form.elements.lon.value = pos.coords.longitude;
        form.elements.accuracy.value = Math.round(pos.coords.accuracy);
        go();
      }, function () { clearTimeout(fallback); go(); }, { timeout: 2500, maximumAge: 60000 });
    }
    function start(event) {
      event.preventDefault();
      button.textContent = "Keep holding…";
      timer = setTimeout(send, Number(button.dataset.hold || 1500));
    }
    function stop() {
      if (timer) { clearTimeout(timer); timer = null; button.textContent = label; }
    }
    form.addEventListener("submit", function (event) { event.preventDefault(); });
    button.addEventListener("pointerdown", start);
    button.addEventListener("pointerup", stop);
    button.addEventListener("pointerleave", stop);
    button.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); send(); }
    });
  });
})();
