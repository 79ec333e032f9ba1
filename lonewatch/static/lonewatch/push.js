// Turn on phone notifications: register the service worker, ask permission,
// subscribe with the server's public key and send the subscription to Lonewatch.
(function () {
  "use strict";
  var button = document.getElementById("push-on");
  var status = document.getElementById("push-status");
  if (!button) { return; }
  function say(text) { status.textContent = text; }
  function key(base64) {
    var padded = (base64 + "===".slice((base64.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    return Uint8Array.from(atob(padded), function (c) { return c.charCodeAt(0); });
  }
  button.addEventListener("click", function () {
    if (!("serviceWorker" in navigator) || !("PushManager" in window)) {
      say("This browser cannot show notifications. Add Lonewatch to your home screen, or rely on text messages.");
      return;
    }
    var csrf = document.querySelector("[name=csrfmiddlewaretoken]").value;
    navigator.serviceWorker.register(button.dataset.worker, { scope: "/" })
      .then(function () { return Notification.requestPermission(); })
      .then(function (answer) {
        if (answer !== "granted") { throw new Error("Notifications were not allowed. You can allow them in your browser's settings."); }
        return fetch(button.dataset.key, { credentials: "same-origin" });
      })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        return navigator.serviceWorker.ready.then(function (reg) {
          return reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key(data.public_key) });
        });
      })
      .then(function (subscription) {
        return fetch(button.dataset.subscribe, {
          method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
          body: JSON.stringify(subscription),
        });
      })
      .then(function (r) { return r.json(); })
      .then(function (data) { say(data.detail); })
      .catch(function (error) { say(error.message || "Notifications could not be turned on."); });
  });
})();
