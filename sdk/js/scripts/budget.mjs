// The size budget and the manifest's numbers, shared by build.mjs, size.mjs and the tests.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

/** Minified and gzipped: the core SDK ≤ 10 KB, the full bundle (core + widget) ≤ 25 KB. */
export const BUDGETS = {
  "frontdesk-core.js": 10 * 1024,
  "frontdesk.js": 25 * 1024,
};

/** {bytes, gzip_bytes, sri} of a bundle. */
export function describe(bytes) {
  return {
    bytes: bytes.length,
    gzip_bytes: gzipSync(bytes, { level: 9 }).length,
    sri: `sha384-${createHash("sha384").update(bytes).digest("base64")}`,
  };
}

/** [{file, gzip_bytes, budget, ok}] for each budgeted bundle in `dir`; a missing one fails. */
export function checkSizes(dir, budgets = BUDGETS) {
  return Object.entries(budgets).map(([file, budget]) => {
    const path = join(dir, file);
    if (!existsSync(path)) return { file, gzip_bytes: null, budget, ok: false };
    const { gzip_bytes } = describe(readFileSync(path));
    return { file, gzip_bytes, budget, ok: gzip_bytes <= budget };
  });
}
