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
  // so the question under it does not move; they go in once it lifts, after the tap's own
  // click has gone to the button it was on.
  var html = document.documentElement;

  function hold(event) {
    var target = event.target;
    if (target && target.closest && target.closest("#qa-questions")) {
      html.setAttribute("data-live-hold", "");
    }
  }

  function release() {
    if (!html.hasAttribute("data-live-hold")) return;
    html.removeAttribute("data-live-hold");
    setTimeout(function () {
      document.dispatchEvent(new CustomEvent("livepolls:release"));
    }, 0);
  }

  document.addEventListener("touchstart", hold, { passive: true });
  document.addEventListener("touchend", release);
  document.addEventListener("touchcancel", release);
  document.addEventListener("pointerdown", function (event) {
    if (event.pointerType === "mouse") hold(event);
  });
  document.addEventListener("pointerup", function (event) {
    if (event.pointerType === "mouse") release();
  });

  document.addEventListener("DOMContentLoaded", mark);
  document.addEventListener("livepolls:message", mark);
  document.addEventListener("htmx:afterSettle", mark);
  document.addEventListener("htmx:oobAfterSwap", mark);
  mark();
})();
