// livepolls: the little JavaScript pages need (CSP forbids inline scripts).
(function () {
  "use strict";

  // Presenter shortcuts: a key clicks the control that declares it with data-shortcut.
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
    var control = document.querySelector('[data-shortcut="' + event.key.toLowerCase() + '"]');
    if (control) {
      event.preventDefault();
      control.click();
    }
  });

  // Live results replace the whole #results block, so the bars would jump. Start each new
  // bar at the width its predecessor had and let the CSS transition on width carry it to
  // the new value. Purely cosmetic: without it (or with reduced motion) bars just jump.
  var reduceMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)");
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var detail = event.detail || {};
    var old = detail.target;
    if (!old || old.id !== "results" || !detail.fragment || (reduceMotion && reduceMotion.matches)) return;
    var before = old.querySelectorAll(".bar-fill");
    var after = detail.fragment.querySelectorAll(".bar-fill");
    if (!before.length || before.length !== after.length) return;
    var moves = [];
    for (var i = 0; i < after.length; i++) {
      var from = before[i].getAttribute("width");
      var to = after[i].getAttribute("width");
      if (from !== null && to !== null && from !== to) {
        after[i].setAttribute("width", from);
        moves.push([after[i], to]);
      }
    }
    if (!moves.length) return;
    window.requestAnimationFrame(function () {
      moves.forEach(function (move) {
        window.getComputedStyle(move[0]).width; // commit the starting width
        move[0].setAttribute("width", move[1]);
      });
    });
  });

  // When the poll opens, closes or changes live, the status line is pushed; the voting block
  // is this viewer's own (their choices), so fetch it afresh for this viewer.
  // Every (re)connection's first message carries the status line too: fetch only when it
  // says something else than the page last showed (htmx fires this event for each element
  // of a message, and once is enough).
  function statusOf(element) {
    if (!element) return null;
    var state = Array.prototype.filter.call(element.classList, function (name) {
      return name.indexOf("is-") === 0; // not htmx's own passing classes
    });
    return state.join(" ") + "|" + element.textContent;
  }
  var shownStatus = statusOf(document.getElementById("poll-status"));
  document.addEventListener("htmx:oobAfterSwap", function () {
    var status = document.getElementById("poll-status");
    if (!status || statusOf(status) === shownStatus) return;
    shownStatus = statusOf(status);
    var url = status.getAttribute("data-vote-block");
    if (url && document.getElementById("vote") && window.htmx) {
      window.htmx.ajax("GET", url, { target: "#vote", swap: "outerHTML" });
    }
  });

  // The results block is swapped whole at every update; rather than have it read again each
  // time, a visually hidden polite summary says who leads (or how many responded while the
  // counts are hidden), at most once every few seconds, and only when it changed.
  var summary = document.getElementById("results-summary");
  if (summary) {
    var THROTTLE_MS = 4000;
    var latest = describe(document.getElementById("results"));
    var spoken = latest;
    var spokenAt = 0;
    var checking = null;
    var speaking = null;
    var check = function () {
      checking = null;
      var text = describe(document.getElementById("results"));
      if (text === latest) return;
      latest = text;
      if (speaking) return;
      speaking = setTimeout(function () {
        speaking = null;
        if (latest === spoken) return;
        spoken = latest;
        spokenAt = Date.now();
        summary.textContent = latest;
      }, Math.max(0, spokenAt + THROTTLE_MS - Date.now()));
    };
    var later = function () {
      if (!checking) checking = setTimeout(check, 0);
    };
    document.addEventListener("htmx:oobAfterSwap", later);
    document.addEventListener("htmx:afterSwap", later);
  }

  function plural(count, one, many) {
    return count + " " + (count === 1 ? one : many);
  }

  function describe(results) {
    if (!results) return "";
    var closed = results.getAttribute("data-closed") === "true";
    if (results.getAttribute("data-visible") !== "true") {
      var responses = parseInt(results.getAttribute("data-responses"), 10) || 0;
      return plural(responses, "response", "responses") + (closed ? ", voting closed." : " so far.");
    }
    var total = parseInt(results.getAttribute("data-total-votes"), 10) || 0;
    if (!total) return closed ? "Voting closed with no votes." : "No votes yet.";
    var best = -1;
    var leaders = [];
    var rows = results.querySelectorAll(".bar-row");
    for (var i = 0; i < rows.length; i++) {
      var votes = parseInt(rows[i].getAttribute("data-votes"), 10) || 0;
      var text = rows[i].querySelector(".bar-text");
      text = text ? text.textContent.trim() : "";
      if (votes > best) {
        best = votes;
        leaders = [text];
      } else if (votes === best) {
        leaders.push(text);
      }
    }
    var final = closed ? "Final: " : "";
    if (leaders.length === 1) {
      return final + leaders[0] + (closed ? " won with " : " leads with ") + best + " of " + plural(total, "vote", "votes") + ".";
    }
    var names = leaders.slice(0, -1).join(", ") + " and " + leaders[leaders.length - 1];
    return final + names + " tie with " + plural(best, "vote", "votes") + " each, of " + total + ".";
  }

  document.addEventListener("click", function (event) {
    var control = event.target.closest && event.target.closest('[data-action="fullscreen"]');
    if (!control) return;
    if (document.fullscreenElement) {
      document.exitFullscreen();
    } else if (document.documentElement.requestFullscreen) {
      document.documentElement.requestFullscreen();
    }
  });
})();
