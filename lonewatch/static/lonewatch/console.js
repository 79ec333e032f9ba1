// The alarm console: live over server-sent events, loud while a red alert waits.
// Beside the list, one alarm at a time is shown on a map (Leaflet; tiles only if the
// site has a tile server) with its recording, which is fetched again as it grows.
// Keys: "a" acknowledges the oldest red alert, "p" plays or pauses the recording,
// "n" shows the next alarm.
(function () {
  "use strict";
  var box = document.getElementById("console");
  var status = document.getElementById("console-status");
  if (!box) { return; }

  // --- Sound while a red alert waits -------------------------------------------
  var sound = null;
  function beep() {
    try {
      sound = sound || new (window.AudioContext || window.webkitAudioContext)();
      var osc = sound.createOscillator(), gain = sound.createGain();
      osc.frequency.value = 880; gain.gain.value = 0.2;
      osc.connect(gain); gain.connect(sound.destination);
      osc.start(); osc.stop(sound.currentTime + 0.3);
    } catch (e) { /* sound needs a first click on some browsers */ }
  }
  setInterval(function () {
    var waiting = box.querySelector("[data-loud]");
    document.body.classList.toggle("lw-alarm-flash", !!waiting);
    if (waiting) { beep(); }
  }, 1500);

  function clock(iso) {
    var at = new Date(iso);
    return isNaN(at) ? "" : at.toLocaleTimeString("en-GB");
  }

  function ago(iso) {
    var seconds = Math.round((Date.now() - new Date(iso)) / 1000);
    if (isNaN(seconds)) { return ""; }
    if (seconds < 60) { return "under a minute ago"; }
    var minutes = Math.floor(seconds / 60);
    return minutes === 1 ? "1 minute ago" : minutes + " minutes ago";
  }

  // --- Where: the address and position in words, and on the map ---------------
  var focus = document.getElementById("alarm-focus");
  var where = (function () {
    var el = document.getElementById("alarm-map");
    var words = document.getElementById("focus-position");
    var tiles = focus.dataset.tiles;
    var map = null, marker = null, circle = null, at = null;
    // The map follows the worker until the operator moves or zooms it themselves.
    var follow = true, fitting = false;

    function make() {
      map = L.map(el, { maxZoom: 19, zoomSnap: 0.5, attributionControl: !!tiles });
      if (tiles) {
        // Shown as plain text: the setting is words, not markup.
        var credit = document.createElement("span");
        credit.textContent = focus.dataset.attribution || "";
        L.tileLayer(tiles, { maxZoom: 19, attribution: credit.innerHTML }).addTo(map);
      }
      L.control.scale({ imperial: false }).addTo(map);
      map.setView([54.0, -2.0], 5);  // Great Britain, until a location arrives
      map.on("movestart zoomstart", function () { if (!fitting) { follow = false; } });
    }

    function describe(place) {
      var text = place.lat.toFixed(5) + ", " + place.lon.toFixed(5) + ", " +
        (place.accuracy ? "accurate to about " + Math.round(place.accuracy) + " m"
                        : "accuracy not known");
      if (place.at) { text += ", received at " + clock(place.at) + " (" + ago(place.at) + ")"; }
      words.textContent = text + ".";
    }

    // place: {lat, lon, accuracy, at, name, address}; fresh: a different alarm.
    function show(place, fresh) {
      at = place.at || null;
      if (window.L && !map) { make(); }
      if (!window.L) {  // the script did not load: the words above still say where
        el.hidden = document.getElementById("alarm-map-help").hidden = true;
      }
      if (place.lat === null || isNaN(place.lat)) {
        words.textContent = "No location has come from the phone.";
        el.dataset.lat = el.dataset.lon = "";
        if (marker) { marker.remove(); circle.remove(); marker = circle = null; }
        return;
      }
      describe(place);
      el.dataset.lat = place.lat;
      el.dataset.lon = place.lon;
      el.dataset.accuracy = place.accuracy || "";
      if (!map) { return; }
      var here = L.latLng(place.lat, place.lon);
      var label = place.name + (place.address ? ": visiting " + place.address : "");
      if (!marker) {
        marker = L.marker(here, { keyboard: false, interactive: false, alt: "" }).addTo(map);
        circle = L.circle(here, { radius: 1, className: "lw-accuracy", interactive: false,
                                  color: "#005eb8", weight: 2, fillOpacity: 0.15 }).addTo(map);
        marker.bindTooltip("", { permanent: true, direction: "top", offset: [-16, -14],
                                 className: "lw-map-label" });
      }
      marker.setLatLng(here).setTooltipContent(label);
      circle.setLatLng(here).setRadius(Math.max(place.accuracy || 0, 1));
      // Fit the accuracy circle (at least 100 m across): for a new alarm, while the
      // map follows, and whenever the worker is out of view.
      var area = here.toBounds(Math.max(2 * (place.accuracy || 0), 100));
      if (fresh) { follow = true; }
      fitting = true;
      map.invalidateSize();
      if (follow || !map.getBounds().contains(area)) {
        map.fitBounds(area, { padding: [24, 24], maxZoom: 18, animate: false });
      }
      fitting = false;
    }

    setInterval(function () {
      if (at && el.dataset.lat) {
        words.textContent = words.textContent.replace(/\([^)]*ago\)/, "(" + ago(at) + ")");
      }
    }, 15000);
    return { show: show };
  })();

  // --- Listen: the recording so far, take after take, fetched again as it grows ----
  // A recording is one or more takes: each time the phone's page loads again mid-alarm
  // (or a device restarts its recorder) a fresh take starts, and each plays on its own.
  // The player plays them one after another and, at the end of what has come, follows
  // the newest as it grows, so nothing stored goes unheard. Audio is fetched only through
  // the audited recording endpoint, when the operator asks to listen or is listening and
  // more arrives; how long each take is comes from the list of takes, which holds no audio.
  var player = (function () {
    var audio = document.getElementById("focus-audio");
    var button = document.getElementById("focus-play");
    var say = document.getElementById("focus-audio-status");
    var alarm = null, url = null, listing = null, parts = 0, arrivals = 0;
    var take = 0, size = 0, takes = 0;  // the take in the player (from 1), its bytes; how many
    var waiting = false;                // heard all that has come: play on when more comes
    var busy = false, blob = null;

    function tell(text) { say.textContent = text; }

    function which() { return takes > 1 ? " (take " + take + " of " + takes + ")" : ""; }

    function reset() {
      audio.pause();
      if (blob) { URL.revokeObjectURL(blob); }
      blob = null;
      audio.removeAttribute("src");
      audio.hidden = true;
      delete audio.dataset.take;
      take = size = takes = 0;
      waiting = false;
    }

    function waitingText() {
      return parts ? "Audio has come from the phone. Press Play recording (or p) to listen."
                   : "No audio has come from the phone yet.";
    }

    function select(id, address, takesAddress, count) {
      if (id !== alarm) {
        reset();
        alarm = id; url = address; listing = takesAddress; parts = count;
        tell(waitingText());
      } else if (count > parts) {
        grew(count);
      }
    }

    // Take n, fetched (one audited read) and played from `from` seconds.
    function load(n, from, thenPlay) {
      if (busy || !url) { return; }
      busy = true;
      var asked = alarm;
      tell("Fetching the recording…");
      fetch(url + "?take=" + n, { credentials: "same-origin", cache: "no-store" })
        .then(function (r) {
          if (!r.ok) { return Promise.reject(r.status); }
          takes = Number(r.headers.get("X-Lonewatch-Takes")) || takes;
          return r.blob();
        })
        .then(function (data) {
          busy = false;
          if (asked !== alarm) { return; }
          if (!data.size) { tell("No audio has come from the phone yet."); return; }
          var old = blob;
          blob = URL.createObjectURL(data);
          take = n; size = data.size; waiting = false;
          audio.dataset.take = n;
          audio.hidden = false;
          audio.addEventListener("loadedmetadata", function start() {
            audio.removeEventListener("loadedmetadata", start);
            if (from) { audio.currentTime = from; }  // carry on where the operator was
            if (thenPlay) {
              audio.play().catch(function () { tell("Press Play recording to listen."); });
            } else {
              tell("Recording ready" + which() + ".");
            }
          });
          audio.src = blob;
          if (old) { URL.revokeObjectURL(old); }
        })
        .catch(function () {
          busy = false;
          tell("Could not fetch the recording. Press Play recording to try again.");
        });
    }

    // At the end of what the player holds: more of this take, else the next take, else
    // wait for the phone.
    function onward() {
      if (busy || !listing) { return; }
      busy = true;
      var asked = alarm, seen = arrivals;
      fetch(listing, { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (found) {
          busy = false;
          if (asked !== alarm) { return; }
          takes = found.takes.length;
          var current = found.takes[take - 1];
          if (current && current.bytes > size) {
            load(take, audio.currentTime, true);
          } else if (takes > take) {
            load(take + 1, 0, true);
          } else if (arrivals !== seen) {
            onward();  // more came while this looked
          } else {
            waiting = true;
            tell("You have heard everything so far" + which() + ". New audio plays as " +
                 "soon as it comes in.");
          }
        })
        .catch(function () {
          busy = false;
          tell("Could not fetch the recording. Press Play recording to try again.");
        });
    }

    function grew(count) {
      parts = Math.max(parts + 1, count || 0);
      arrivals += 1;
      if (!take) { tell(waitingText()); return; }
      if (waiting) {
        onward();
      } else if (!audio.paused) {
        tell("Playing" + which() + ". More audio has come in: it follows on.");
      } else {
        tell("More audio has come in. Press Play recording to hear it.");
      }
    }

    function toggle() {
      if (!url) { return; }
      if (!audio.paused) { audio.pause(); return; }
      if (!take) { load(1, 0, true); } else if (waiting || audio.ended) { onward(); } else {
        audio.play();
      }
    }

    button.addEventListener("click", toggle);
    audio.addEventListener("play", function () {
      button.textContent = "Pause recording";
      tell("Playing" + which() + ".");
    });
    audio.addEventListener("pause", function () {
      button.textContent = "Play recording";
      if (!audio.ended && audio.hasAttribute("src")) { tell("Paused" + which() + "."); }
    });
    audio.addEventListener("ended", onward);
    return { select: select, grew: grew, toggle: toggle,
             alarm: function () { return alarm; } };
  })();

  // --- Which alarm is shown ----------------------------------------------------
  var STORED = "lonewatch.console.alarm";
  var shown = null, shownAddress = "";
  try { shown = window.sessionStorage.getItem(STORED); } catch (e) { /* private mode */ }

  function cards() { return Array.prototype.slice.call(box.querySelectorAll("[data-alarm]")); }

  function number(value) { return value === undefined || value === "" ? null : Number(value); }

  function show(card, byHand) {
    var id = card ? card.dataset.alarm : null;
    var fresh = id !== player.alarm();
    cards().forEach(function (each) {
      var on = each === card;
      each.classList.toggle("lw-alarm--shown", on);
      var button = each.querySelector("[data-select]");
      if (button) { button.textContent = on ? "Shown on the map" : "Map and recording"; }
    });
    document.getElementById("focus-none").hidden = !!card;
    document.getElementById("focus-alarm").hidden = !card;
    shown = id;
    if (!card) {
      document.getElementById("focus-heading").textContent = "Location and recording";
      player.select(null, null, null, 0);
      return;
    }
    try { window.sessionStorage.setItem(STORED, id); } catch (e) { /* private mode */ }
    var data = card.dataset;
    shownAddress = data.place || "";
    document.getElementById("focus-heading").textContent = data.worker + ": location and recording";
    document.getElementById("focus-who").textContent = data.summary + ".";
    document.getElementById("focus-place").textContent =
      data.place || "No visit running: no address given.";
    where.show({ lat: number(data.lat), lon: number(data.lon), accuracy: number(data.accuracy),
                 at: data.locatedAt || null, name: data.worker, address: data.place }, fresh);
    player.select(id, data.recording, data.takes, Number(data.audioParts || 0));
    if (byHand) {
      focus.scrollIntoView({ block: "nearest" });
      status.textContent = "Showing the alarm of " + data.worker + ".";
    }
  }

  function sync() {
    var card = shown && box.querySelector('[data-alarm="' + shown + '"]');
    show(card || cards()[0] || null, false);
  }

  box.addEventListener("click", function (event) {
    var button = event.target.closest("[data-select]");
    if (!button) { return; }
    show(box.querySelector('[data-alarm="' + button.dataset.select + '"]'), true);
  });

  // --- Live updates ------------------------------------------------------------
  function refresh() {
    fetch(box.dataset.fragment, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) { box.innerHTML = html; sync(); status.textContent = "Live."; })
      .catch(function () { status.textContent = "Could not update: reload the page."; });
  }

  function about(event) {
    try { return JSON.parse(event.data); } catch (e) { return {}; }
  }

  if (window.EventSource) {
    var source = new EventSource(box.dataset.events);
    source.onmessage = refresh;
    ["raised", "acknowledged", "assessing", "escalated", "closed", "duress", "realert",
     "duress_flagged", "recategorised"].forEach(function (kind) {
      source.addEventListener("alarm." + kind, refresh);
    });
    source.addEventListener("alarm.location", function (event) {
      var alarm = about(event), here = alarm.location;
      if (String(alarm.id) === shown && here) {
        // Move the point at once; the list catches up with the fetch below.
        where.show({ lat: here.lat, lon: here.lon, accuracy: here.accuracy_m, at: here.at,
                     name: alarm.worker.name, address: shownAddress }, false);
      }
      refresh();
    });
    // Audio comes in every few seconds: only the player listens, the list stays.
    source.addEventListener("alarm.audio", function (event) {
      if (String(about(event).id) === shown) { player.grew(0); }
    });
    var lost = false;
    source.onerror = function () { lost = true; status.textContent = "Reconnecting…"; };
    // Back on a stream (the server may have been restarted): the events missed come
    // with it; fetching the list once more also says "Live." when there were none.
    source.onopen = function () {
      if (lost) { lost = false; refresh(); }
    };
  }

  // --- Keys --------------------------------------------------------------------
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey ||
        /INPUT|SELECT|TEXTAREA/.test(document.activeElement.tagName)) { return; }
    if (event.key === "a") {
      var button = box.querySelector("[data-loud] .lw-ack");
      if (button) { button.click(); }
    } else if (event.key === "p") {
      event.preventDefault();
      player.toggle();
    } else if (event.key === "n") {
      var all = cards();
      if (all.length) {
        var at = all.findIndex(function (card) { return card.dataset.alarm === shown; });
        show(all[(at + 1) % all.length], true);
      }
    }
  });

  sync();
})();
