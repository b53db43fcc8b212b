// The new-poll form: show only the chosen question type's settings. Without JavaScript
// every type's fieldset stays visible (each says which type it is for) and the server sends
// on only the chosen type's fields (webapp/pages/polls.py, _kind_form).
(function () {
  "use strict";
  function sync(select) {
    var kind = select.value;
    document.querySelectorAll(".kind-settings").forEach(function (fieldset) {
      var kinds = (fieldset.getAttribute("data-kind") || "").split(" ");
      var shown = kinds.indexOf(kind) !== -1;
      fieldset.hidden = !shown;
      fieldset.disabled = !shown;
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var select = document.getElementById("kind");
    if (!select) return;
    sync(select);
    select.addEventListener("change", function () { sync(select); });
  });
})();
