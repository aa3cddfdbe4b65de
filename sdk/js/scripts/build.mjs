// Builds dist/: the IIFE bundles (full and core), the ESM module, the .d.ts types and
// manifest.json ({file: {bytes, gzip_bytes, sri}}) for the SRI hashes and the size budget.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { describe } from "./budget.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");
const BANNER = "/*! Front Desk web chat SDK */";

const BUNDLES = {
  "frontdesk.js": { entry: "src/iife.ts", format: "iife" },
  "frontdesk-core.js": { entry: "src/iife-core.ts", format: "iife" },
  "frontdesk.esm.js": { entry: "src/index.ts", format: "esm" },
};

async function main() {
  rmSync(dist, { recursive: true, force: true });
  mkdirSync(dist, { recursive: true });
  const manifest = {};
  for (const [file, { entry, format }] of Object.entries(BUNDLES)) {
    await build({
      entryPoints: [join(root, entry)],
      outfile: join(dist, file),
      bundle: true,
      minify: true,
      format,
      target: "es2020",
      platform: "browser",
      legalComments: "none",
      banner: { js: BANNER },
      logLevel: "warning",
    });
    manifest[file] = describe(readFileSync(join(dist, file)));
  }
  execFileSync(
    process.execPath,
    [join(root, "node_modules/typescript/bin/tsc"), "-p", join(root, "tsconfig.build.json")],
    { stdio: "inherit" },
  );
  writeFileSync(join(dist, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  for (const [file, info] of Object.entries(manifest)) {
    console.log(`${file.padEnd(20)} ${String(info.bytes).padStart(7)} B  ${String(info.gzip_bytes).padStart(6)} B gzip  ${info.sri}`);
  }
}

await main();
