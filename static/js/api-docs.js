// Starts Swagger UI on /docs; kept out of the page so the CSP needs no inline script.
//
// Accessibility fixes to what Swagger UI renders (checked with axe-core in the browser tests,
// templates/docs.html has the colour fixes). It renders as it is used, so the fixes are
// applied again after every change:
// - no deep links: their <a> inside each operation's expand button nests a control in another;
// - its title, an <h1> followed by the tags' <h3>, is announced as a level-2 heading under the
//   page's own <h1>, so heading levels go 1, 2, 3; the block with the title, outside Swagger
//   UI's own <main>, becomes a labelled region, so that all the content is in a landmark;
// - names for the controls that have none (a parameter's select, the request body, the
//   dialog's close button), one matching its text for the dialog's Authorize, a distinct one
//   for each operation's responses region; the example blocks, which scroll, take focus so
//   that the keyboard can scroll them; the authorization box is a modal dialog.
(function () {
  var root = document.getElementById("swagger-ui");
  var pending = false;

  function set(element, name, value) {
    if (element && element.getAttribute(name) !== value) element.setAttribute(name, value);
  }

  function each(selector, fix) {
    Array.prototype.forEach.call(root.querySelectorAll(selector), fix);
  }

  function operationName(element) {
    var block = element.closest(".opblock");
    var method = block && block.querySelector(".opblock-summary-method");
    var path = block && block.querySelector(".opblock-summary-path");
    return block ? method.textContent + " " + (path.getAttribute("data-path") || path.textContent) : "";
  }

  function fix() {
    pending = false;
    set(root.querySelector(".info .title"), "aria-level", "2");
    var about = root.querySelector(".information-container");
    set(about, "role", "region");
    set(about, "aria-label", "About this API");
    each(".parameters select, .parameters input, .parameters textarea", function (control) {
      var row = control.closest("tr[data-param-name]");
      if (row && !control.getAttribute("aria-label")) set(control, "aria-label", row.getAttribute("data-param-name"));
    });
    each("textarea.body-param__text", function (area) { set(area, "aria-label", "Request body"); });
    each(".responses-table[role=region]", function (table) {
      set(table, "aria-label", "Responses of " + operationName(table));
    });
    each("pre.microlight", function (pre) { set(pre, "tabindex", "0"); });
    each(".close-modal", function (button) { set(button, "aria-label", "Close"); });
    each(".auth-btn-wrapper .authorize", function (button) { set(button, "aria-label", button.textContent.trim()); });
    each(".modal-ux", function (dialog) {
      var title = dialog.querySelector(".modal-ux-header h3");
      if (title && !title.id) title.id = "docs-dialog-title";
      set(dialog, "role", "dialog");
      set(dialog, "aria-modal", "true");
      if (title) set(dialog, "aria-labelledby", title.id);
    });
  }

  window.SwaggerUIBundle({
    url: root.dataset.specUrl,
    dom_id: "#swagger-ui",
    deepLinking: false,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    onComplete: fix
  });
  new MutationObserver(function () {
    if (!pending) {
      pending = true;
      window.requestAnimationFrame(fix);
    }
  }).observe(root, { childList: true, subtree: true });
})();
