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
