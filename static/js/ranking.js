// livepolls: put a ranking's options in order by dragging them, or from the keyboard.
//
// The voting block (templates/_partials/respond_ranking.html) is a form of selects, one per
// place, that works without this script. Here the selects are hidden and the options become
// one list: drag an item by its handle (mouse, pen or finger: pointer events), or press its
// "Move up" / "Move down" buttons (the keyboard path: focus stays with the item moved and its
// new place is announced). Every move writes the list's order back into the selects, so the
// form sends rank_1 .. rank_K exactly as it does without JavaScript (by htmx or plainly).
// A block swapped in by htmx (after a ranking is sent, or live) is set up again.
(function () {
  "use strict";

  var announcer = document.getElementById("vote-announcer");

  function announce(text) {
    if (!announcer) return;
    announcer.textContent = "";
    window.setTimeout(function () { announcer.textContent = text; }, 30);
  }

  // "Move up", and for a screen reader the option it moves ("Move up: Tea"): the visible
  // words stay the start of the accessible name.
  function button(text, option, className) {
    var element = document.createElement("button");
    element.type = "button";
    element.className = "link-button " + className;
    element.textContent = text;
    var which = document.createElement("span");
    which.className = "visually-hidden";
    which.textContent = ": " + option;
    element.appendChild(which);
    return element;
  }

  function enhance(form) {
    if (form.getAttribute("data-enhanced")) return;
    var selects = Array.prototype.slice.call(form.querySelectorAll("select[name^='rank_']"));
    var holder = form.querySelector(".ranking-selects");
    var fieldset = form.querySelector("fieldset");
    if (!selects.length || !holder || !fieldset) return;
    form.setAttribute("data-enhanced", "true");

    var texts = {};
    var poll = Array.prototype.map.call(selects[0].options, function (option) {
      texts[option.value] = option.textContent;
      return option.value;
    });
    var start = selects.map(function (select) { return select.value; });
    var distinct = start.filter(function (value, index) { return start.indexOf(value) === index; });
    if (distinct.length !== poll.length) start = poll; // selects left half-changed: poll order

    var list = document.createElement("ol");
    list.className = "ranking-list";
    list.setAttribute("aria-label", "Your order, first choice first");

    function items() { return Array.prototype.slice.call(list.children); }

    function sync() {
      var all = items();
      all.forEach(function (li, index) {
        li.querySelector(".ranking-place").textContent = String(index + 1);
        li.querySelector(".ranking-up").disabled = fieldset.disabled || index === 0;
        li.querySelector(".ranking-down").disabled = fieldset.disabled || index === all.length - 1;
        selects[index].value = li.getAttribute("data-option-id");
      });
    }

    function placed(li) {
      var place = items().indexOf(li) + 1;
      announce(texts[li.getAttribute("data-option-id")] + ": place " + place + " of " + poll.length);
    }

    function move(li, step, pressed) {
      var all = items();
      var index = all.indexOf(li) + step;
      if (index < 0 || index >= all.length) return;
      list.insertBefore(li, step < 0 ? all[index] : all[index].nextSibling);
      sync();
      // The button pressed may now be disabled (the item reached an end): keep focus on the item.
      var other = li.querySelector(step < 0 ? ".ranking-down" : ".ranking-up");
      (pressed.disabled ? other : pressed).focus();
      placed(li);
    }

    // A drag follows the pointer on the document, not by pointer capture: moving the item in
    // the list takes it out of the document for a moment, which would release a capture.
    function drag(li, handle) {
      handle.addEventListener("pointerdown", function (event) {
        if (fieldset.disabled || event.button > 0) return;
        event.preventDefault();
        li.classList.add("ranking-dragging");
        function follow(move) {
          var before = null;
          items().some(function (other) {
            if (other === li) return false;
            var box = other.getBoundingClientRect();
            if (move.clientY < box.top + box.height / 2) { before = other; return true; }
            return false;
          });
          if (before !== li.nextSibling) list.insertBefore(li, before);
        }
        function drop() {
          document.removeEventListener("pointermove", follow);
          document.removeEventListener("pointerup", drop);
          document.removeEventListener("pointercancel", drop);
          li.classList.remove("ranking-dragging");
          sync();
          placed(li);
        }
        document.addEventListener("pointermove", follow);
        document.addEventListener("pointerup", drop);
        document.addEventListener("pointercancel", drop);
      });
    }

    start.forEach(function (value) {
      var text = texts[value];
      var li = document.createElement("li");
      li.className = "ranking-item";
      li.setAttribute("data-option-id", value);
      var handle = document.createElement("span");
      handle.className = "ranking-handle";
      handle.setAttribute("aria-hidden", "true");
      handle.title = "Drag to move";
      handle.textContent = "\u2630";
      var place = document.createElement("span");
      place.className = "ranking-place";
      var label = document.createElement("span");
      label.className = "ranking-text";
      label.textContent = text;
      var up = button("Move up", text, "ranking-up");
      var down = button("Move down", text, "ranking-down");
      up.addEventListener("click", function () { move(li, -1, up); });
      down.addEventListener("click", function () { move(li, 1, down); });
      li.append(handle, place, label, up, down);
      drag(li, handle);
      list.appendChild(li);
    });

    holder.hidden = true;
    fieldset.appendChild(list);
    var hint = document.createElement("p");
    hint.className = "hint";
    hint.textContent = "Drag an option by its handle, or use Move up and Move down.";
    fieldset.insertBefore(hint, list);
    sync();
  }

  function scan(root) {
    var forms = root.querySelectorAll ? root.querySelectorAll("form[data-ranking]") : [];
    Array.prototype.forEach.call(forms, enhance);
    if (root.matches && root.matches("form[data-ranking]")) enhance(root);
  }

  scan(document);
  document.addEventListener("htmx:load", function (event) { scan(event.target); });
})();
