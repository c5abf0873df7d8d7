// The API's interactive docs: Swagger UI (from the fastapi-offline package, nothing from the
// network) on /openapi.json. "Authorize" takes an API token; "Try it out" then calls the API.
(() => {
  "use strict";

  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    layout: "BaseLayout",
  });
})();
