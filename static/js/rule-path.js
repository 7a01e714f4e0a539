// The claim form says what will happen to a claim under the chosen rule: each option carries its path
// (data-path), shown in the element named by the select's data-rule-path.
(function () {
  "use strict";
  document.querySelectorAll("select[data-rule-path]").forEach(function (select) {
    var target = document.getElementById(select.getAttribute("data-rule-path"));
    if (!target) return;
    select.addEventListener("change", function () {
      var option = select.options[select.selectedIndex];
      if (option) target.textContent = option.getAttribute("data-path") || "";
    });
  });
})();
