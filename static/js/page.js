// Behaviour every page may use, declared with data- attributes (the Content-Security-Policy forbids
// inline event handlers): data-print buttons print, data-back links return to the page before (a refused
// form, as it was typed), data-confirm forms ask first, and a data-select-all checkbox ticks every
// checkbox named by its value.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) return;
    if (target.closest("[data-print]")) {
      window.print();
      return;
    }
    if (target.closest("[data-back]")) {
      // Back to the refused form: the browser restores what was typed into it.
      event.preventDefault();
      window.history.back();
      return;
    }
    var all = target.closest("input[data-select-all]");
    if (all) {
      var name = all.getAttribute("data-select-all");
      document.querySelectorAll("input[type=checkbox]").forEach(function (box) {
        if (box.name === name) box.checked = all.checked;
      });
    }
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });
})();
