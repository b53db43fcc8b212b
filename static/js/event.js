// livepolls: an event page's countdown, on the server's clock.
//
// The server sends its time with every event message (#event-current data-server-time) and
// every heartbeat (#live-heartbeat data-server-time); the moment one arrives, server time
// minus this device's time is the offset to add to Date.now(). The countdown shows
// closes_at minus that corrected time, so every device shows the same figure whatever its own
// clock says. The server, not this page, closes voting when the time is up: the page only
// shows it ("Time is up") until the poll's status line says voting is closed.
(function () {
  "use strict";

  var offsetMs = 0;
  var known = {}; // element id -> the server time last read from it
  var TICK_MS = 100;

  function readServerTime(id) {
    var element = document.getElementById(id);
    var stamp = element && element.getAttribute("data-server-time");
    if (!stamp || known[id] === stamp) return;
    known[id] = stamp;
    var server = Date.parse(stamp);
    if (!isNaN(server)) offsetMs = server - Date.now();
  }

  function format(ms) {
    var total = Math.ceil(ms / 1000);
    var minutes = Math.floor(total / 60);
    var seconds = total % 60;
    return minutes + ":" + (seconds < 10 ? "0" : "") + seconds;
  }

  function tick() {
    var countdown = document.getElementById("event-countdown");
    if (!countdown) return;
    var closesAt = Date.parse(countdown.getAttribute("data-closes-at") || "");
    var status = document.getElementById("poll-status");
    var closed = status && status.classList.contains("is-closed");
    if (isNaN(closesAt) || closed) {
      countdown.hidden = true;
      countdown.removeAttribute("data-remaining-ms");
      return;
    }
    var left = closesAt - (Date.now() + offsetMs);
    countdown.hidden = false;
    countdown.setAttribute("data-remaining-ms", String(Math.max(0, Math.round(left))));
    countdown.textContent = left > 0 ? format(left) + " left to vote" : "Time is up";
    countdown.classList.toggle("is-ending", left > 0 && left <= 10000);
  }

  function fresh() {
    readServerTime("event-current");
    readServerTime("live-heartbeat");
    tick();
  }

  // The event's message carries a voting block that fetches this viewer's own; swap it in
  // only when the event changed (another question, or the presenter reset this one's votes:
  // the event's seq moved on). A (re)connection's first message repeats what the page
  // already shows: swapping it again would throw away what the person was doing (a guest
  // name half typed); changes within a question come with its status line
  // (static/js/app.js). The big screen and the remote keep their hidden stub.
  var eventCurrent = document.getElementById("event-current");
  var shown = eventCurrent
    ? eventCurrent.getAttribute("data-current-poll") + "@" + eventCurrent.getAttribute("data-seq")
    : null;
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (!target || target.id !== "vote") return;
    var fragment = event.detail.fragment;
    var incoming = fragment && fragment.firstElementChild;
    var poll = incoming && incoming.getAttribute("data-poll-id");
    if (poll === null || poll === undefined) return; // not the event's placeholder
    var key = poll + "@" + incoming.getAttribute("data-event-seq");
    if (target.hasAttribute("hidden") || key === shown) {
      event.detail.shouldSwap = false;
      return;
    }
    shown = key;
  });

  document.addEventListener("livepolls:message", fresh);
  document.addEventListener("htmx:oobAfterSwap", fresh);

  window.livepolls = window.livepolls || {};
  // For tests and curious presenters: this device's clock, corrected to the server's.
  window.livepolls.serverOffsetMs = function () { return offsetMs; };
  window.livepolls.serverNow = function () { return Date.now() + offsetMs; };

  fresh();
  setInterval(tick, TICK_MS);
})();
