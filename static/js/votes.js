// livepolls: taps on the voting block, none lost and none counted twice.
//
// A tap (a vote form or the withdraw form in #vote, marked data-tap) is not left to htmx: it
// becomes an entry in a queue, sent one at a time in the order tapped, each with an
// Idempotency-Key of its own that every retry of it repeats, so the server counts it once
// however often it arrives. A tap that gets no HTTP answer (no network, a timeout, a proxy's
// 502/503/504) stays pending, shown on its option and announced, and is sent again with
// backoff, at once when the network or the live stream comes back. The answer (the voting
// block, the results out of band) is swapped in by htmx, errors included (the server renders
// them in the block); focus stays on the option tapped, and on a narrow screen the results
// scroll into view.
//
// While a tap waits: in a single-choice poll the newest tap wins (older waiting taps are
// dropped; withdrawing drops them all); in a multiple-choice poll a second tap on an option
// still waiting cancels the first (the two would cancel out on the server).
(function () {
  "use strict";

  var vote = document.getElementById("vote");
  if (!vote || !window.htmx || !window.fetch) return;

  var TIMEOUT_MS = 10000;
  var BASE_MS = 500;
  var CAP_MS = 4000;
  var SLOW_MS = 600; // an answer later than this shows "Sending…"
  // No answer yet: a proxy with no server behind it, or (409) the same key still being worked
  // on by the server (a retry that overtook the first attempt).
  var RETRY_STATUS = { 409: true, 502: true, 503: true, 504: true };
  var NARROW = window.matchMedia("(max-width: 63.99rem)");
  var REDUCED = window.matchMedia("(prefers-reduced-motion: reduce)");

  var queue = []; // taps without an answer, oldest first; queue[0] may be on its way
  var sending = null; // {tap, controller, at}
  var failures = 0;
  var retryTimer = null;
  var slowTimer = null;
  var announcer = document.getElementById("vote-announcer");

  function newKey() {
    var cryptoApi = window.crypto;
    if (cryptoApi && typeof cryptoApi.randomUUID === "function") return cryptoApi.randomUUID();
    // Plain http on a LAN is not a secure context: no randomUUID there, but getRandomValues.
    var bytes = cryptoApi.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join("-");
  }

  function csrfHeader() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}");
    } catch (error) {
      return {};
    }
  }

  function announce(text) {
    if (!announcer) return;
    // The same words again (a second tap while offline) are announced again.
    announcer.textContent = announcer.textContent === text ? text + "\u00a0" : text;
  }

  function block() {
    return document.getElementById("vote");
  }

  function optionText(optionId) {
    var button = document.getElementById("choice-" + optionId);
    var text = button && button.querySelector(".choice-text");
    return text ? text.textContent.trim() : "";
  }

  function words(tap, pending) {
    var text = "\u201c" + tap.text + "\u201d";
    if (tap.verb === "withdraw") {
      return pending ? "Withdrawing is not sent yet: it goes out when the connection is back."
        : "Your votes are withdrawn.";
    }
    if (tap.verb === "unvote") {
      return pending ? "Taking back " + text + " is not sent yet: it goes out when the connection is back."
        : text + " is taken back.";
    }
    return pending ? "Your vote for " + text + " is not sent yet: it goes out when the connection is back."
      : "Your vote for " + text + " is in.";
  }

  // --- the queue ------------------------------------------------------------------------------

  function waiting() {
    return queue.filter(function (tap) { return !sending || tap !== sending.tap; });
  }

  function add(tap, multiple) {
    var unsent = waiting();
    if (tap.verb === "withdraw" || !multiple) {
      queue = queue.filter(function (other) { return unsent.indexOf(other) < 0; });
      var last = queue[queue.length - 1];
      if (last && last.verb === tap.verb && last.optionId === tap.optionId) return null;
      queue.push(tap);
      return tap;
    }
    for (var i = 0; i < unsent.length; i++) {
      if (unsent[i].optionId === tap.optionId && unsent[i].verb !== "withdraw") {
        queue.splice(queue.indexOf(unsent[i]), 1);
        return null;
      }
    }
    queue.push(tap);
    return tap;
  }

  function onTap(form) {
    var kind = form.getAttribute("data-tap");
    var multiple = !!block().querySelector(".choices-multiple");
    var optionId = kind === "vote" ? form.getAttribute("data-option-id") : null;
    var button = form.querySelector("button");
    var chosen = button && button.getAttribute("aria-pressed") === "true";
    var tap = {
      key: newKey(),
      url: form.getAttribute("hx-post") || form.getAttribute("action"),
      body: new URLSearchParams(new FormData(form)).toString(),
      optionId: optionId,
      text: optionId ? optionText(optionId) : "",
      verb: kind === "withdraw" ? "withdraw" : multiple && chosen ? "unvote" : "vote",
      focusId: button ? button.id : "",
      announced: false
    };
    var added = add(tap, multiple);
    if (added && (navigator.onLine === false || failures > 0)) {
      added.announced = true;
      announce(words(added, true));
    }
    render();
    pump();
  }

  function pump() {
    clearTimeout(retryTimer);
    retryTimer = null;
    if (sending || !queue.length || navigator.onLine === false) return;
    send(queue[0]);
  }

  function send(tap) {
    var controller = window.AbortController ? new AbortController() : null;
    var timer = setTimeout(function () { if (controller) controller.abort(); }, TIMEOUT_MS);
    var headers = csrfHeader();
    headers["HX-Request"] = "true";
    headers["HX-Target"] = "vote";
    headers["HX-Current-URL"] = location.href;
    headers["Idempotency-Key"] = tap.key;
    headers["Content-Type"] = "application/x-www-form-urlencoded;charset=UTF-8";
    sending = { tap: tap, controller: controller, at: Date.now() };
    clearTimeout(slowTimer);
    slowTimer = setTimeout(render, SLOW_MS);
    fetch(tap.url, {
      method: "POST",
      headers: headers,
      body: tap.body,
      credentials: "same-origin",
      cache: "no-store",
      signal: controller ? controller.signal : undefined
    }).then(function (response) {
      return response.text().then(function (text) {
        clearTimeout(timer);
        if (response.redirected) {
          // Sent to sign in: the session ended (signed out elsewhere). Show the page as it is now.
          location.reload();
        } else if (RETRY_STATUS[response.status]) {
          var wait = 1000 * (parseInt(response.headers.get("Retry-After"), 10) || 0);
          failed(tap, wait, response.status === 409);
        } else {
          answered(tap, response, text);
        }
      });
    }).catch(function () {
      clearTimeout(timer);
      failed(tap);
    });
  }

  // No answer for this tap (or, with `working`, the server is still at its first attempt):
  // it waits, and goes again after a backoff.
  function failed(tap, notBeforeMs, working) {
    if (!sending || sending.tap !== tap) return;
    var restart = sending.restart;
    sending = null;
    if (restart) {
      pump();
      return;
    }
    failures += 1;
    if (!tap.announced && !working) {
      tap.announced = true;
      announce(words(tap, true));
    }
    render();
    var ceiling = Math.min(CAP_MS, BASE_MS * Math.pow(2, failures - 1));
    var delay = Math.max(notBeforeMs || 0, ceiling / 2 + Math.random() * ceiling / 2);
    clearTimeout(retryTimer);
    retryTimer = setTimeout(pump, delay);
  }

  function answered(tap, response, text) {
    if (!sending || sending.tap !== tap) return;
    sending = null;
    failures = 0;
    queue.splice(queue.indexOf(tap), 1);
    var focused = document.activeElement;
    var hadFocus = !focused || focused === document.body || (block() && block().contains(focused));
    if (response.ok) {
      window.htmx.swap("#vote", text, { swapStyle: "outerHTML", swapDelay: 0, settleDelay: 0 });
    } else {
      showError(response.status);
    }
    render();
    var refused = !response.ok || !!(block() && block().querySelector(".alert"));
    if (tap.announced && !refused) announce(words(tap, false));
    if (hadFocus) keepFocus(tap);
    if (!refused && !queue.length && tap.verb === "vote" && !block().querySelector(".choices-multiple")) {
      reveal();
    }
    pump();
  }

  function showError(status) {
    var current = block();
    if (!current) return;
    var alert = current.querySelector(".alert") || document.createElement("p");
    alert.className = "alert";
    alert.setAttribute("role", "alert");
    alert.textContent = "Your vote could not be saved (error " + status + "). Reload the page and try again.";
    var title = current.querySelector("h2");
    if (!alert.parentNode) current.insertBefore(alert, title ? title.nextSibling : current.firstChild);
  }

  // --- after an answer ------------------------------------------------------------------------

  // htmx puts focus back on an element with the id of the one that had it; where focus was
  // lost anyway (Safari does not focus a clicked button), put it on the option tapped.
  function keepFocus(tap) {
    var active = document.activeElement;
    if (active && active !== document.body && document.contains(active)) return;
    var target = document.getElementById(tap.focusId) || block().querySelector(".choice");
    if (target) target.focus({ preventScroll: true });
  }

  // A phone shows the results below the options: bring them up after a vote.
  function reveal() {
    var results = document.getElementById("results");
    if (!results || !NARROW.matches) return;
    if (results.getBoundingClientRect().top < window.innerHeight * 0.4) return;
    results.scrollIntoView({ block: "start", behavior: REDUCED.matches ? "auto" : "smooth" });
  }

  // --- showing what waits ---------------------------------------------------------------------

  function render() {
    var current = block();
    if (!current) return;
    var marks = current.querySelectorAll(".choice-pending");
    for (var i = 0; i < marks.length; i++) marks[i].parentNode.removeChild(marks[i]);
    var pendingButtons = current.querySelectorAll(".pending");
    for (var j = 0; j < pendingButtons.length; j++) pendingButtons[j].classList.remove("pending");
    queue.forEach(function (tap) {
      var button = tap.verb === "withdraw"
        ? current.querySelector('[data-tap="withdraw"] button')
        : document.getElementById("choice-" + tap.optionId);
      if (!button) return;
      button.classList.add("pending");
      var onItsWay = sending && sending.tap === tap && failures === 0 && navigator.onLine !== false;
      if (onItsWay && Date.now() - sending.at < SLOW_MS) return;
      var mark = document.createElement("span");
      mark.className = "choice-pending";
      mark.textContent = onItsWay ? "Sending…" : "Not sent yet";
      button.appendChild(mark);
    });
  }

  // --- wiring ---------------------------------------------------------------------------------

  // Before htmx's own handler on the form (capture, on document): the form never submits.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form || !form.matches || !form.matches("#vote form[data-tap]")) return;
    event.preventDefault();
    event.stopPropagation();
    onTap(form);
  }, true);

  // Any htmx request to these URLs that gets past the above still carries a key.
  document.addEventListener("htmx:configRequest", function (event) {
    var detail = event.detail;
    if (detail && /\/polls\/\d+\/(vote|withdraw)$/.test(detail.path) && !detail.headers["Idempotency-Key"]) {
      detail.headers["Idempotency-Key"] = newKey();
    }
  });

  // The live feed may replace the voting block (the poll opened or closed): mark it again.
  document.addEventListener("htmx:afterSettle", function (event) {
    if (queue.length && event.target && event.target.id === "vote") render();
  });

  function now() {
    // The way is open again: retry at once, and do not wait out a request that may be stuck
    // on a connection that died silently (the key makes sending it again harmless).
    failures = 0;
    if (sending && Date.now() - sending.at > 1000 && sending.controller) {
      sending.restart = true;
      sending.controller.abort(); // failed() sends it again
      return;
    }
    pump();
  }

  window.addEventListener("online", now);
  window.addEventListener("offline", render);
  document.addEventListener("livepolls:connection", function (event) {
    if (event.detail && event.detail.state === "live" && queue.length) now();
  });

  window.livepolls = window.livepolls || {};
  window.livepolls.pendingTaps = function () { return queue.length; };
})();
