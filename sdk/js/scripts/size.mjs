// The size budget, minified and gzipped: the core SDK ≤ 10 KB, the full bundle ≤ 25 KB.
// Reads dist/ (run `npm run build` first); exits 1 when a bundle is over.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe } from "./build.mjs";

const dist = join(dirname(fileURLToPath(import.meta.url)), "..", "dist");

export const BUDGETS = {
  "frontdesk-core.js": 10 * 1024,
  "frontdesk.js": 25 * 1024,
};

/** [{file, gzip_bytes, budget, ok}] for each budgeted bundle in `dir`. */
export function checkSizes(dir = dist, budgets = BUDGETS) {
  return Object.entries(budgets).map(([file, budget]) => {
    const path = join(dir, file);
    if (!existsSync(path)) return { file, gzip_bytes: null, budget, ok: false };
    const { gzip_bytes } = describe(readFileSync(path));
    return { file, gzip_bytes, budget, ok: gzip_bytes <= budget };
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  let failed = false;
  for (const { file, gzip_bytes, budget, ok } of checkSizes()) {
    const size = gzip_bytes === null ? "missing (run npm run build)" : `${(gzip_bytes / 1024).toFixed(2)} KB gzip`;
    console.log(`${ok ? "ok  " : "OVER"} ${file.padEnd(20)} ${size} (budget ${budget / 1024} KB)`);
    failed ||= !ok;
  }
  process.exit(failed ? 1 : 0);
}
