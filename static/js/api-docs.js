// Starts Swagger UI on the spec URL given by the page, from vendored files (no CDN).
(function () {
  var spec = document.currentScript.getAttribute("data-spec");
  window.ui = SwaggerUIBundle({ url: spec, dom_id: "#swagger-ui", deepLinking: true });
})();
