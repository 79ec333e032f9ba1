// What the worker's phone does for an alarm, on "My day".
//
// ALM-02: while the red alert it raised is open, the phone records in short slices and
// sends each one with its place in the recording. A slice is kept in memory and sent
// again, in order, until the server has it: in a poor signal area audio comes late,
// never lost (the server takes a slice twice or out of order). Each load of the page
// records a fresh take (its first slice carries the recording's header), numbered from
// where the server says, clear of the slices an earlier load may still send. Where the
// worker has agreed to location being kept, the phone also sends where it is when that
// changes.
// Recording stops when the alarm is closed, when the page is left, or after the most
// the server allows (data-until). A discreet alarm shows nothing of this on the screen.
//
// ALM-01: an amber alert's optional voice memo, recorded here, played back, and sent
// with the alert as a file (or discarded).
(function () {
  "use strict";
  var SLICE_MS = 3000;
  var BITS_PER_SECOND = 32000;  // clear speech; a 60-second memo stays far under 1 MB
  var TYPES = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/mp4", "audio/webm"];

  function canRecord() {
    return !!(window.MediaRecorder && navigator.mediaDevices &&
              navigator.mediaDevices.getUserMedia);
  }

  function newRecorder(stream) {
    var options = { audioBitsPerSecond: BITS_PER_SECOND };
    for (var i = 0; i < TYPES.length; i++) {
      if (MediaRecorder.isTypeSupported(TYPES[i])) { options.mimeType = TYPES[i]; break; }
    }
    return new MediaRecorder(stream, options);
  }

  function release(stream) {
    if (stream) { stream.getTracks().forEach(function (track) { track.stop(); }); }
  }

  function clock(ms) {
    var seconds = Math.floor(ms / 1000);
    return Math.floor(seconds / 60) + ":" + String(seconds % 60).padStart(2, "0");
  }

  // --- ALM-02: the red alert ----------------------------------------------------
  function liveAlarm(box) {
    var discreet = box.dataset.discreet !== undefined;
    var panel = box.querySelector(".lw-live-alarm");
    var headline = document.getElementById("live-alarm-headline");
    var detail = document.getElementById("live-alarm-detail");
    var csrf = box.dataset.csrf;
    var over = false;            // the alarm is closed, or the page is done with it
    var queue = [];              // slices not yet stored by the server, oldest first
    var sending = false, wait = 1000, retry = null;
    var stream = null, recorder = null, recording = false, stopTimer = null, awake = null;
    var watch = null, signedOut = false;
    // Where this load's take starts: the server numbers each load clear of the slices an
    // earlier one may still send (audio.next_page_seq).
    var seq = Number(box.dataset.seq) || 0, firstSlice = true;

    function say(head, more, state) {
      if (discreet || !panel) { return; }
      headline.textContent = head;
      detail.textContent = more || "";
      panel.dataset.state = state || "";
    }

    function post(url, body, type, keepalive) {
      var headers = { "X-CSRFToken": csrf };
      if (type) { headers["Content-Type"] = type; }
      return fetch(url, { method: "POST", body: body, headers: headers, keepalive: !!keepalive,
                          credentials: "same-origin", redirect: "manual" })
        .then(function (response) {
          if (response.ok) { return response; }
          // A redirect (signed out) or an error page: status 0 or a 4xx/5xx.
          return response.json().catch(function () { return {}; }).then(function (data) {
            var error = new Error(data.detail || "Not sent.");
            error.status = response.status;
            error.closed = data.alarm_open === false;
            error.nextSeq = data.next_seq;  // a place taken: where the free ones start
            error.signedOut = response.type === "opaqueredirect";  // to the sign-in page
            throw error;
          });
        });
    }

    function worthRetrying(error) {
      var status = error.status || 0;  // 0: no network, or no answer we could read
      return status === 0 || status === 408 || status === 429 || status >= 500;
    }

    function show() {
      if (over || !recording) { return; }
      if (signedOut) {
        say("Recording — sign in again so the alarm centre can hear you",
            "Your red alert still stands. The recording waits on this phone until you " +
            "sign in again (in another tab) and keep this page open.", "recording");
      } else if (queue.length > 1) {
        say("Recording — the alarm centre can hear you",
            "Poor signal: " + queue.length + " parts of the recording are waiting to " +
            "send. They go as soon as the signal comes back. Keep this page open.",
            "recording");
      } else {
        say("Recording — the alarm centre can hear you",
            "Keep this page open. Your red alert is with the alarm centre.", "recording");
      }
    }

    function pump() {
      if (sending || over || !queue.length) { return; }
      sending = true;
      var part = queue[0];
      post(box.dataset.audio + "?seq=" + part.seq, part.blob, part.blob.type).then(function () {
        if (queue[0] === part) { queue.shift(); }
        sending = false;
        signedOut = false;
        wait = 1000;
        show();
        pump();
      }, function (error) {
        sending = false;
        signedOut = !!error.signedOut;
        if (error.closed) { finish("closed"); return; }
        if (error.status === 403 || error.status === 404) { finish("refused"); return; }
        if (worthRetrying(error)) {
          show();
          clearTimeout(retry);
          retry = setTimeout(pump, wait);
          wait = Math.min(wait * 2, 15000);
          return;
        }
        if (part.first && error.status === 409 && error.nextSeq > part.seq &&
            queue[0] === part) {
          // The take's first slice (its header) found its place taken: this take moves,
          // every slice still here with it, to where the server says places are free.
          var shift = error.nextSeq - part.seq;
          queue.forEach(function (each) { each.seq += shift; });
          seq += shift;
          pump();
          return;
        }
        // Refused for good (it said why): this slice cannot be stored; the rest still go.
        if (queue[0] === part) { queue.shift(); }
        pump();
      });
    }

    window.addEventListener("online", function () {
      clearTimeout(retry);
      wait = 1000;
      pump();
    });

    function keep(blob) {
      queue.push({ seq: seq, blob: blob, first: firstSlice });
      firstSlice = false;
      seq += 1;
      pump();
    }

    function stopRecording() {
      clearTimeout(stopTimer);
      recording = false;
      if (recorder && recorder.state !== "inactive") { recorder.stop(); }  // its last slice still goes
      else { release(stream); }
      if (awake) { awake.release().catch(function () {}); awake = null; }
    }

    function record() {
      var until = Date.parse(box.dataset.until);
      if (box.dataset.record === undefined || !(until > Date.now())) { return; }
      if (!canRecord()) {
        say("This phone cannot record: the alarm centre cannot hear you",
            "Your red alert still stands. The alarm centre is dealing with it.", "no-microphone");
        return;
      }
      say("Starting the microphone…", "Your red alert is with the alarm centre.", "starting");
      navigator.mediaDevices.getUserMedia({ audio: true }).then(function (microphone) {
        if (over) { release(microphone); return; }
        stream = microphone;
        recorder = newRecorder(stream);
        var type = (recorder.mimeType || "audio/webm").split(";")[0];
        recorder.ondataavailable = function (event) {
          if (!event.data || !event.data.size) { return; }
          keep(event.data.type ? event.data : new Blob([event.data], { type: type }));
        };
        recorder.onstop = function () {
          release(stream);
          if (recording && !over) {  // not stopped by this page: the microphone went
            recording = false;
            say("Recording has stopped: the phone took the microphone away",
                "Your red alert still stands. The alarm centre is dealing with it.",
                "stopped");
          }
        };
        recorder.start(SLICE_MS);
        recording = true;
        show();
        stopTimer = setTimeout(function () {
          stopRecording();
          say("Recording has stopped after " + box.dataset.recordMinutes + " minutes",
              "Your red alert still stands. The alarm centre is dealing with it.", "stopped");
        }, until - Date.now());
        // Keep the screen on while recording, so the phone does not sleep mid-alarm;
        // not for a discreet alarm, whose screen should stay dark.
        if (!discreet && navigator.wakeLock) {
          navigator.wakeLock.request("screen").then(function (lock) { awake = lock; },
                                                    function () {});
        }
      }, function () {
        say("The microphone is off: the alarm centre cannot hear you",
            "Your red alert still stands. The alarm centre is dealing with it.",
            "no-microphone");
      });
    }

    function metres(a, b) {
      var rad = Math.PI / 180, lat = (a.latitude + b.latitude) / 2 * rad;
      var x = (b.longitude - a.longitude) * rad * Math.cos(lat);
      var y = (b.latitude - a.latitude) * rad;
      return Math.sqrt(x * x + y * y) * 6371000;
    }

    function locate() {
      if (box.dataset.locate === undefined || !navigator.geolocation) { return; }
      var latest = null, sent = null, sentAt = 0, busy = false, later = null;
      function consider() {
        if (over || busy || !latest) { return; }
        var here = latest.coords;
        // Only news: the phone moved, or knows where it is much better than before.
        if (sent && metres(sent, here) < 15 && !(here.accuracy < sent.accuracy / 2)) { return; }
        var gap = 10000 - (Date.now() - sentAt);
        if (gap > 0) { clearTimeout(later); later = setTimeout(consider, gap); return; }
        busy = true;
        sentAt = Date.now();
        var form = new URLSearchParams({ lat: here.latitude, lon: here.longitude,
                                         accuracy: Math.round(here.accuracy) });
        post(box.dataset.locations, form, "application/x-www-form-urlencoded").then(function () {
          busy = false;
          sent = here;
          consider();
        }, function (error) {
          busy = false;
          if (error.closed || error.status === 403 || error.status === 404) {
            finish(error.closed ? "closed" : "refused");
            return;
          }
          clearTimeout(later);
          later = setTimeout(consider, 10000);  // the latest position, when it can go
        });
      }
      watch = navigator.geolocation.watchPosition(function (position) {
        latest = position;
        consider();
      }, function () { /* no position: the alarm centre has the last one */ },
      { enableHighAccuracy: true, maximumAge: 10000, timeout: 30000 });
    }

    function finish(why) {
      if (over) { return; }
      over = true;
      stopRecording();
      clearTimeout(retry);
      if (watch !== null) { navigator.geolocation.clearWatch(watch); }
      if (why === "closed") {
        say("Your alarm is closed", "Recording has stopped.", "stopped");
      }
    }

    // Leaving the page (cancelling with the PIN, checking in, closing the tab): the
    // slices still waiting go with keepalive, which outlives the page, as far as the
    // browser allows (64 kB in flight).
    window.addEventListener("pagehide", function () {
      if (over) { return; }
      var budget = 60000;
      queue.forEach(function (part) {
        if (part.blob.size > budget) { return; }
        budget -= part.blob.size;
        post(box.dataset.audio + "?seq=" + part.seq, part.blob, part.blob.type, true)
          .catch(function () {});
      });
      over = true;
      stopRecording();
    });
    // Back to this page from the browser's history: start again from what the server has.
    window.addEventListener("pageshow", function (event) {
      if (event.persisted) { window.location.reload(); }
    });

    record();
    locate();
  }

  // --- ALM-01: the amber alert's voice memo -----------------------------------------
  function voiceMemo(box) {
    var form = box.closest("form");
    var button = box.querySelector(".lw-memo__record");
    var status = box.querySelector(".lw-memo__status");
    var playback = box.querySelector(".lw-memo__playback");
    var discard = box.querySelector(".lw-memo__discard");
    var file = box.querySelector(".lw-memo__file");
    var most = (Number(box.dataset.maxSeconds) || 60) * 1000;
    var recorder = null, starting = false, url = null, submitAfter = false;

    function clear() {
      file.value = "";
      if (url) { URL.revokeObjectURL(url); url = null; }
      playback.removeAttribute("src");
      playback.hidden = discard.hidden = true;
    }

    function record() {
      clear();
      starting = true;
      status.textContent = "Starting the microphone…";
      navigator.mediaDevices.getUserMedia({ audio: true }).then(function (stream) {
        var parts = [], started = Date.now(), tick = null, limit = null;
        starting = false;
        recorder = newRecorder(stream);
        recorder.ondataavailable = function (event) {
          if (event.data && event.data.size) { parts.push(event.data); }
        };
        recorder.onstop = function () {
          clearInterval(tick);
          clearTimeout(limit);
          release(stream);
          var type = (recorder.mimeType || "audio/webm").split(";")[0];
          var blob = new Blob(parts, { type: type });
          var ending = { "audio/ogg": "ogg", "audio/mp4": "m4a" }[type] || "webm";
          var memo = new DataTransfer();
          memo.items.add(new File([blob], "voice-memo." + ending, { type: type }));
          file.files = memo.files;  // sent with the amber alert, as a file
          url = URL.createObjectURL(blob);
          playback.src = url;
          playback.hidden = discard.hidden = false;
          button.textContent = "Record it again";
          status.textContent = "Voice memo recorded (" + clock(Date.now() - started) + "). " +
            "Listen to it if you like: it is sent when you log the amber alert.";
          recorder = null;
          if (submitAfter) {
            submitAfter = false;
            if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
          }
        };
        recorder.start();
        button.textContent = "Stop recording";
        status.textContent = "Recording: 0:00 of " + clock(most) + ".";
        tick = setInterval(function () {
          status.textContent = "Recording: " + clock(Date.now() - started) + " of " +
            clock(most) + ".";
        }, 500);
        limit = setTimeout(function () { recorder.stop(); }, most);
      }, function () {
        starting = false;
        status.textContent = "Your phone did not let Lonewatch use the microphone. You can " +
          "still log the amber alert with a written message.";
      });
    }

    button.addEventListener("click", function () {
      if (recorder) { recorder.stop(); } else if (!starting) { record(); }
    });
    discard.addEventListener("click", function () {
      clear();
      button.textContent = "Record a voice memo";
      status.textContent = "Voice memo discarded. Nothing will be sent but your message.";
      button.focus();
    });
    // Logged while still recording: stop, and send the alert with what was said.
    form.addEventListener("submit", function (event) {
      if (!recorder) { return; }
      event.preventDefault();
      event.stopImmediatePropagation();
      submitAfter = true;
      recorder.stop();
    });
    box.hidden = false;
  }

  var live = document.getElementById("live-alarm");
  if (live) { liveAlarm(live); }
  if (canRecord() && typeof DataTransfer === "function") {
    document.querySelectorAll(".lw-memo").forEach(voiceMemo);
  }
})();
