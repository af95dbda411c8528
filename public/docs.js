// The API reference: Swagger UI (vendored from npm, see scripts/vendor-assets.mjs) rendering the
// gateway's own /openapi.json. Paths are relative, so it works under a path prefix too; "Try it
// out" calls this same gateway (the folder this page was served from).
"use strict";

(async () => {
  const base = new URL(".", window.location.href);
  const reference = document.getElementById("reference");
  try {
    const response = await fetch(new URL("openapi.json", base));
    if (!response.ok) throw new Error(`openapi.json answered ${response.status}`);
    const spec = await response.json();
    spec.servers = [{ url: base.href.replace(/\/$/, ""), description: "this gateway" }];
    reference.textContent = "";
    window.SwaggerUIBundle({
      spec,
      domNode: reference,
      deepLinking: true,
      validatorUrl: null,
      defaultModelsExpandDepth: 0,
      docExpansion: "list",
      tryItOutEnabled: false,
      persistAuthorization: false,
    });
  } catch (error) {
    reference.textContent = `The API reference could not load: ${error.message}`;
  }
})();
