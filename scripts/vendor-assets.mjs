// Copies the browser libraries the pages use from node_modules (pinned in package.json and
// package-lock.json) into public/vendor/, which is git-ignored: what is served is always exactly
// the locked version. Runs after `npm ci` / `npm install` (package.json "postinstall"), or alone
// with `npm run vendor`. Writes public/vendor/VERSIONS.json: each package's version and each
// file's SHA-256, which the tests compare with the lockfile.
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const target = join(root, "public", "vendor");

// package -> [file in the package, name under public/vendor/]
const FILES = {
  "swagger-ui-dist": [
    ["swagger-ui-bundle.js", "swagger-ui/swagger-ui-bundle.js"],
    ["swagger-ui.css", "swagger-ui/swagger-ui.css"],
    ["LICENSE", "swagger-ui/LICENSE"],
    ["NOTICE", "swagger-ui/NOTICE"],
  ],
  marked: [
    ["lib/marked.esm.js", "marked/marked.esm.js"],
    ["LICENSE", "marked/LICENSE"],
  ],
  dompurify: [
    ["dist/purify.es.mjs", "dompurify/purify.es.mjs"],
    ["LICENSE", "dompurify/LICENSE"],
  ],
};

const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8"));
rmSync(target, { recursive: true, force: true });
const versions = {};
for (const [name, files] of Object.entries(FILES)) {
  const packageDir = join(root, "node_modules", name);
  const installed = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8")).version;
  const locked = lock.packages[`node_modules/${name}`]?.version;
  if (installed !== locked) {
    console.error(`vendor-assets: ${name} ${installed} is installed but the lockfile says ${locked}; run npm ci`);
    process.exit(1);
  }
  versions[name] = { version: installed, files: {} };
  for (const [from, to] of files) {
    const source = join(packageDir, from);
    if (!existsSync(source)) {
      console.error(`vendor-assets: ${name} has no ${from}`);
      process.exit(1);
    }
    mkdirSync(dirname(join(target, to)), { recursive: true });
    copyFileSync(source, join(target, to));
    versions[name].files[to] = createHash("sha256").update(readFileSync(source)).digest("hex");
  }
}
writeFileSync(join(target, "VERSIONS.json"), JSON.stringify(versions, null, 2) + "\n");
console.log(`vendor-assets: ${Object.keys(versions).length} packages copied to public/vendor/`);
