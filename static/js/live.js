// livepolls: the live stream of a poll page, and what the page says about it.
//
// One WebSocket per page (the element with ws-connect names it); every message is HTML whose
// elements carry hx-swap-oob, handed to htmx to swap in by id. Our own client rather than
// htmx's ws extension, which retries with a delay that grows to a minute, cannot be told to
// retry at once when the network comes back, and waits for a closing handshake that a dead
// connection never completes. Here:
// - a dropped connection is retried after 125-250 ms, then twice as long each time, up to
//   1-2 s (jittered so a restarted server is not hit by every viewer at once); the browser's
//   `online` event, and the page becoming visible, retry at once with the delay reset;
// - any message proves the connection alive; nothing for two heartbeat intervals (from the
//   last heartbeat, else the page's #live-heartbeat) means it died silently: it is dropped
//   without a closing handshake and a new one opened. A connection that does not deliver
//   its first message within that time (or 10 s with heartbeats off) counts as failed too;
// - the root element's data-live and the #connection pill say live, reconnecting or offline
//   (several failed attempts, or the browser offline). Losing the connection shows only if
//   it is not back within a second, so a quick reconnect neither flashes nor is announced.
// Other scripts follow it through the `livepolls:connection` event ({state}) on document.
(function () {
  "use strict";

  var root = document.querySelector("[ws-connect]");
  if (!root || !window.htmx || !window.WebSocket) return;

  var BASE_MS = 250;
  var CAP_MS = 2000;
  var OFFLINE_AFTER = 3; // failed attempts in a row
  var DEFAULT_HEARTBEAT_MS = 5000;
  var FIRST_MESSAGE_MS = 10000; // with heartbeats off: how long a new connection may stay mute
  var SETTLE_MS = 1000; // how long a lost connection may take to come back unannounced
  var FINAL = { 4401: true, 4403: true, 4404: true };
  var TEXTS = {
    connecting: "Connecting…",
    live: "Live",
    reconnecting: "Reconnecting… counts may be out of date",
    offline: "Offline: counts may be out of date",
    ended: "Not updating: reload the page for current counts"
  };

  var pill = document.getElementById("connection");
  var url = new URL(root.getAttribute("ws-connect"), location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";

  var socket = null;
  var state = "connecting"; // what is true now
  var shown = null; // what the page says
  var failures = 0; // attempts in a row that delivered nothing
  var retryTimer = null;
  var watchdog = null;
  var showTimer = null;
  var heardAt = 0; // when the current connection last delivered a message

  // Silence allowed on a working connection: two heartbeat intervals (none when they are off).
  function silenceMs() {
    var beat = document.getElementById("live-heartbeat");
    var interval = beat ? parseInt(beat.getAttribute("data-interval-ms"), 10) : NaN;
    if (isNaN(interval) || interval < 0) interval = DEFAULT_HEARTBEAT_MS;
    return interval === 0 ? 0 : 2 * interval;
  }

  function emit(name, detail) {
    document.dispatchEvent(new CustomEvent(name, { detail: detail }));
  }

  // A page may hold its updates while the reader's finger is on a list that they would
  // move (static/js/qa.js sets data-live-hold on <html> from touchstart to touchend): the
  // messages wait, in order, and go in on `livepolls:release`, or after HOLD_MS whatever
  // (the root's data-live-hold-ms, if set, instead). The root's data-live-held says how
  // many wait.
  var HOLD_MS = 4000;
  var held = [];
  var holdTimer = null;

  function holding() {
    return document.documentElement.hasAttribute("data-live-hold");
  }

  function apply(html) {
    // Every element of the message carries hx-swap-oob: nothing is swapped at the target.
    try {
      window.htmx.swap(document.body, html, { swapStyle: "none", swapDelay: 0, settleDelay: 0 });
    } finally {
      emit("livepolls:message", {});
    }
  }

  function hold(html) {
    held.push(html);
    root.setAttribute("data-live-held", String(held.length));
    if (!holdTimer) {
      holdTimer = setTimeout(function () {
        document.documentElement.removeAttribute("data-live-hold");
        release();
      }, Number(root.getAttribute("data-live-hold-ms")) || HOLD_MS);
    }
  }

  function release() {
    clearTimeout(holdTimer);
    holdTimer = null;
    var waiting = held;
    held = [];
    root.removeAttribute("data-live-held");
    waiting.forEach(function (html) {
      try {
        apply(html);
      } catch (error) {
        // One message that cannot be swapped in must not take the others with it.
        if (window.console) window.console.error(error);
      }
    });
  }

  document.addEventListener("livepolls:release", release);

  function show(next) {
    clearTimeout(showTimer);
    showTimer = null;
    if (next === shown) return;
    shown = next;
    root.setAttribute("data-live", next);
    if (pill) {
      pill.hidden = false;
      pill.setAttribute("data-state", next);
      pill.textContent = TEXTS[next];
    }
  }

  function setState(next, at_once) {
    if (next !== state) {
      state = next;
      emit("livepolls:connection", { state: next });
    }
    if (next === "live" || next === "ended" || at_once || shown !== "live") {
      show(next);
    } else if (!showTimer) {
      showTimer = setTimeout(function () { show(state); }, SETTLE_MS);
    }
  }

  // Forget a connection without waiting for it: a dead one never finishes a closing handshake.
  function abandon() {
    clearTimeout(watchdog);
    if (!socket) return;
    var old = socket;
    socket = null;
    old.onopen = old.onmessage = old.onclose = old.onerror = null;
    try { old.close(); } catch (error) { /* already closed */ }
  }

  function arm(ms) {
    clearTimeout(watchdog);
    if (ms > 0) watchdog = setTimeout(dead, ms);
  }

  function dead() {
    abandon();
    retry();
  }

  function connect() {
    clearTimeout(retryTimer);
    retryTimer = null;
    if (state === "ended") return;
    abandon();
    var ws;
    try {
      ws = new WebSocket(url.href);
    } catch (error) {
      retry();
      return;
    }
    socket = ws;
    heardAt = 0;
    arm(silenceMs() || FIRST_MESSAGE_MS);
    ws.onopen = function () { emit("livepolls:open", {}); };
    ws.onmessage = function (event) {
      if (ws !== socket) return;
      heardAt = Date.now();
      failures = 0;
      try {
        // Behind held messages a new one waits too, so that they go in in order.
        if (holding() || held.length) hold(String(event.data));
        else apply(String(event.data));
      } finally {
        arm(silenceMs());
        if (state !== "live") setState("live");
      }
    };
    ws.onclose = function (event) {
      if (ws !== socket) return;
      socket = null;
      clearTimeout(watchdog);
      var status = document.getElementById("poll-status");
      var deleted = status && status.classList.contains("is-deleted");
      if (FINAL[event.code] || (event.code === 1000 && deleted)) {
        setState("ended");
      } else {
        retry();
      }
    };
  }

  function retry() {
    failures += 1;
    var offline = navigator.onLine === false;
    setState(offline || failures >= OFFLINE_AFTER ? "offline" : "reconnecting", offline);
    var ceiling = Math.min(CAP_MS, BASE_MS * Math.pow(2, failures - 1));
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connect, ceiling / 2 + Math.random() * ceiling / 2);
  }

  function now() {
    failures = 0;
    connect();
  }

  window.addEventListener("online", function () {
    if (state !== "ended") now();
  });
  window.addEventListener("offline", function () {
    if (state === "ended") return;
    // No network at all: whatever the socket seems to be, it is gone. Retrying goes on at
    // the slowest pace until `online` says to try at once.
    abandon();
    failures = OFFLINE_AFTER;
    retry();
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState !== "visible" || state === "ended") return;
    // Timers of hidden pages are throttled: the watchdog may be late, so look now.
    var limit = silenceMs();
    var quiet = limit > 0 && heardAt > 0 && Date.now() - heardAt > limit;
    if (state !== "live" || quiet) now();
  });
  window.addEventListener("pagehide", function () { abandon(); });
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) now(); // back from the back/forward cache
  });

  window.livepolls = window.livepolls || {};
  window.livepolls.connection = function () { return state; };

  show("connecting");
  connect();
})();
