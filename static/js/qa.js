// livepolls: an audience Q&A's upvote buttons show this viewer's own upvotes.
//
// The live stream sends every viewer the same list (templates/_partials/results_qa.html),
// whose upvote toggles all say "not pressed". The voting block holds this viewer's own ids
// (#qa-mine: the questions they upvoted and asked), re-rendered with each of their own
// actions and never sent to anyone else; after every swap this marks the toggles from it:
// aria-pressed, what a press asks for (up=0 withdraws), no upvote on their own question, and
// the "Delete my question" form (hidden in the shared list) shown on their own questions.
(function () {
  "use strict";

  function ids(holder, name) {
    var found = {};
    (holder.getAttribute(name) || "").split(" ").forEach(function (id) {
      if (id) found[id] = true;
    });
    return found;
  }

  function mark() {
    var holder = document.getElementById("qa-mine");
    if (!holder) return;
    var upvoted = ids(holder, "data-upvoted");
    var asked = ids(holder, "data-asked");
    var buttons = document.querySelectorAll("#qa-questions button.qa-upvote[data-question]");
    Array.prototype.forEach.call(buttons, function (button) {
      var id = button.getAttribute("data-question");
      var pressed = !!upvoted[id];
      var item = document.getElementById("qa-" + id);
      button.setAttribute("aria-pressed", pressed ? "true" : "false");
      button.value = pressed ? "0" : "1";
      button.classList.toggle("qa-withdraw", pressed);
      // Your own question takes no upvote; an answered one only a withdrawal.
      button.hidden = !!asked[id] || (button.hasAttribute("data-answered") && !pressed);
      if (item) {
        item.classList.toggle("qa-upvoted", pressed);
        var you = item.querySelector(".qa-you");
        if (you) you.hidden = !pressed;
      }
    });
    var deletes = document.querySelectorAll("#qa-questions form.qa-delete-form[data-question]");
    Array.prototype.forEach.call(deletes, function (form) {
      form.hidden = !asked[form.getAttribute("data-question")];
    });
  }

  // While a finger is down on the list, live updates wait (static/js/live.js holds them),
  // so the question under it does not move; they go in once it lifts and the tap's own click
  // has gone to the button it was on (a phone sends that click after touchend, as an event
  // of its own: up to CLICK_MS later; none comes after a scroll or a long press).
  var html = document.documentElement;
  var CLICK_MS = 400;
  var lifting = null; // the timer of a release waiting for the tap's click

  function hold(event) {
    var target = event.target;
    if (!target || !target.closest || !target.closest("#qa-questions")) return;
    clearTimeout(lifting);
    lifting = null;
    html.setAttribute("data-live-hold", "");
    // On the element too: if the list is swapped under the finger (the viewer's own action
    // answered), the events that end the touch no longer reach the document.
    if (event.type === "touchstart") {
      target.addEventListener("touchend", lifted, { once: true });
      target.addEventListener("touchcancel", lifted, { once: true });
    }
  }

  function release() {
    clearTimeout(lifting);
    lifting = null;
    if (!html.hasAttribute("data-live-hold")) return;
    html.removeAttribute("data-live-hold");
    setTimeout(function () {
      document.dispatchEvent(new CustomEvent("livepolls:release"));
    }, 0);
  }

  function lifted(event) {
    if (event.touches && event.touches.length) return; // another finger is still down
    if (!html.hasAttribute("data-live-hold") || lifting) return;
    lifting = setTimeout(release, CLICK_MS);
  }

  document.addEventListener("touchstart", hold, { passive: true });
  document.addEventListener("touchend", lifted);
  document.addEventListener("touchcancel", lifted);
  // The click a tap or a press makes: its own handlers run first (htmx posts the vote),
  // then the held updates go in.
  document.addEventListener("click", function () {
    if (html.hasAttribute("data-live-hold")) release();
  }, true);
  document.addEventListener("pointerdown", function (event) {
    if (event.pointerType === "mouse" && event.button === 0) hold(event);
  });
  function mouseUp(event) {
    if (event.pointerType === "mouse") release(); // up, or cancelled (dragging a selection)
  }
  document.addEventListener("pointerup", mouseUp);
  document.addEventListener("pointercancel", mouseUp);

  document.addEventListener("DOMContentLoaded", mark);
  document.addEventListener("livepolls:message", mark);
  document.addEventListener("htmx:afterSettle", mark);
  document.addEventListener("htmx:oobAfterSwap", mark);
  mark();
})();
