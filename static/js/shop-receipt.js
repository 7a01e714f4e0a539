/* The receipt page: a print button (no inline script, so a strict CSP can be added later). */
(function () {
  "use strict";
  var button = document.getElementById("print");
  if (button) button.addEventListener("click", function () { window.print(); });
})();
