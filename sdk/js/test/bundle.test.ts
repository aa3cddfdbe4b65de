// The built bundles (run after `npm run build`): what a page gets from the snippet.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import vm from "node:vm";
import { Window } from "happy-dom";
import { FakeServer, OPTIONS, settle } from "./fakes";

const dist = (file: string): string => fileURLToPath(new URL(`../dist/${file}`, import.meta.url));

function bundle(file: string): string {
  assert.ok(existsSync(dist(file)), `${file} is built (npm run build)`);
  return readFileSync(dist(file), "utf8");
}

/** The README's snippet stub, verbatim in spirit: records [method, arguments]. */
const STUB =
  'window.FrontDesk=window.FrontDesk||function(){var f={q:[]};"init on off send identify transfer destroy mount".split(" ").forEach(function(m){f[m]=function(){f.q.push([m,arguments])}});return f}();';

function page(server: FakeServer): { context: vm.Context; window: Window; errors: unknown[] } {
  const window = new Window({ url: "https://www.acme.example/" });
  const errors: unknown[] = [];
  const data = new Map<string, string>();
  const context: Record<string, unknown> = {
    document: window.document,
    navigator: { onLine: true, language: "es-CO" },
    fetch: server.fetch,
    EventSource: server.EventSource,
    localStorage: {
      getItem: (k: string) => data.get(k) ?? null,
      setItem: (k: string, v: string) => void data.set(k, v),
      removeItem: (k: string) => void data.delete(k),
    },
    addEventListener: () => undefined,
    removeEventListener: () => undefined,
    open: () => null,
    setTimeout,
    clearTimeout,
    console: { ...console, error: (...args: unknown[]) => errors.push(args) },
    crypto: globalThis.crypto,
    Promise,
  };
  context.window = context;
  vm.createContext(context);
  return { context, window, errors };
}

test("frontdesk.js defines window.FrontDesk with the widget and replays the snippet's calls", async () => {
  const server = new FakeServer();
  const { context, window } = page(server);
  vm.runInContext(STUB, context);
  vm.runInContext(`FrontDesk.init(${JSON.stringify(OPTIONS)}); FrontDesk.mount({ open: true });`, context);
  vm.runInContext(bundle("frontdesk.js"), context);
  const frontDesk = context.FrontDesk as { version: string; widget?: { mount: unknown }; client: { whenReady(): Promise<unknown> } };
  assert.equal(typeof frontDesk.version, "string");
  assert.equal(typeof frontDesk.widget?.mount, "function");
  await frontDesk.client.whenReady();
  await settle();
  const host = window.document.getElementById("frontdesk-widget");
  const launcher = host?.shadowRoot?.querySelector('[data-fd="launcher"]');
  assert.ok(launcher, "the widget is on the page");
  assert.equal(host?.shadowRoot?.querySelector('[data-fd="panel"]')?.hasAttribute("hidden"), false);
  assert.equal(server.requests[0]?.path, "/web/v1/acme/conversations");
  await window.happyDOM.close();
});

test("frontdesk-core.js has the SDK without the widget", async () => {
  const server = new FakeServer();
  const { context, window, errors } = page(server);
  vm.runInContext(STUB, context);
  vm.runInContext(`FrontDesk.init(${JSON.stringify(OPTIONS)}); FrontDesk.mount();`, context);
  vm.runInContext(bundle("frontdesk-core.js"), context);
  const frontDesk = context.FrontDesk as { widget?: unknown; client: { whenReady(): Promise<unknown> } };
  assert.equal(frontDesk.widget, undefined);
  await frontDesk.client.whenReady();
  assert.equal(errors.length, 1, "the queued mount is reported, not thrown");
  assert.equal(window.document.getElementById("frontdesk-widget"), null);
  await window.happyDOM.close();
});

test("the ESM module exports FrontDesk, FrontDeskClient and widget, FrontDesk by default", async () => {
  const module = (await import(new URL("../dist/frontdesk.esm.js", import.meta.url).href)) as Record<string, unknown> & {
    FrontDesk: { widget: unknown };
  };
  assert.equal(module.default, module.FrontDesk);
  assert.equal(typeof module.FrontDeskClient, "function");
  assert.equal(module.FrontDesk.widget, module.widget);
});

test("the manifest has the size and the SRI hash of every bundle", async () => {
  const { createHash } = await import("node:crypto");
  const manifest = JSON.parse(bundle("manifest.json")) as Record<string, { bytes: number; gzip_bytes: number; sri: string }>;
  assert.deepEqual(Object.keys(manifest).sort(), ["frontdesk-core.js", "frontdesk.esm.js", "frontdesk.js"]);
  for (const [file, info] of Object.entries(manifest)) {
    const bytes = readFileSync(dist(file));
    assert.equal(info.bytes, bytes.length);
    assert.equal(info.sri, `sha384-${createHash("sha384").update(bytes).digest("base64")}`);
    assert.ok(info.gzip_bytes > 0 && info.gzip_bytes < info.bytes);
  }
  assert.ok(existsSync(dist("index.d.ts")), "types");
});
