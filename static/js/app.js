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
  document.addEventListener("htmx:oobAfterSwap", function (event) {
    var status = event.detail && event.detail.target;
    if (!status || status.id !== "poll-status") return;
    var url = status.getAttribute("data-vote-block");
    if (url && document.getElementById("vote") && window.htmx) {
      window.htmx.ajax("GET", url, { target: "#vote", swap: "outerHTML" });
    }
  });

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
