// `npm run size`: checks dist/ (run `npm run build` first) against the budget; exits 1 when over.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { checkSizes } from "./budget.mjs";

const dist = join(dirname(fileURLToPath(import.meta.url)), "..", "dist");
let failed = false;
for (const { file, gzip_bytes, budget, ok } of checkSizes(dist)) {
  const size = gzip_bytes === null ? "missing (run npm run build)" : `${(gzip_bytes / 1024).toFixed(2)} KB gzip`;
  console.log(`${ok ? "ok  " : "OVER"} ${file.padEnd(20)} ${size} (budget ${budget / 1024} KB)`);
  failed ||= !ok;
}
process.exit(failed ? 1 : 0);
