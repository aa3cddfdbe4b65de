import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { FrontDeskSingleton, install } from "../src/frontdesk";
import type { Message } from "../src/types";
// @ts-expect-error: a plain .mjs script without types
import { checkSizes } from "../scripts/budget.mjs";
import { FakeServer, OPTIONS, env, settle } from "./fakes";

/** The stub of the README's snippet, as a page runs it before the script arrives. */
function snippetStub(): { q: Array<[string, IArguments]> } & Record<string, unknown> {
  const stub: { q: Array<[string, IArguments]> } & Record<string, unknown> = { q: [] };
  for (const m of "init on off send identify transfer destroy mount".split(" ")) {
    stub[m] = function () {
      // eslint-disable-next-line prefer-rest-params
      stub.q.push([m, arguments]);
    };
  }
  return stub;
}

test("calls queued before the script loaded are replayed in order", async () => {
  const server = new FakeServer();
  const scope: { FrontDesk?: unknown } = { FrontDesk: snippetStub() };
  const stub = scope.FrontDesk as Record<string, (...args: unknown[]) => void>;
  const seen: Message[] = [];
  stub.on?.("message", (m: Message) => seen.push(m));
  stub.init?.(OPTIONS);
  stub.send?.("mensaje en cola");
  stub.unknownMethod?.("ignored");
  const real = install(new FrontDeskSingleton(env(server)), scope);
  assert.equal(scope.FrontDesk, real);
  assert.ok(real.client);
  await real.client.whenReady();
  await settle();
  assert.deepEqual(server.conversation().messages.map((m) => m.text), ["mensaje en cola"]);
  assert.deepEqual(seen.map((m) => m.text), ["mensaje en cola"]);
  real.destroy();
});

test("loading the script twice keeps the first FrontDesk", () => {
  const scope: { FrontDesk?: unknown } = {};
  const first = install(new FrontDeskSingleton(), scope);
  const second = install(new FrontDeskSingleton(), scope);
  assert.equal(second, first);
  assert.equal(scope.FrontDesk, first);
});

test("a queued call that fails does not stop the later ones", async (t) => {
  const logged = t.mock.method(console, "error", () => undefined);
  const server = new FakeServer();
  const scope: { FrontDesk?: unknown } = { FrontDesk: snippetStub() };
  const stub = scope.FrontDesk as Record<string, (...args: unknown[]) => void>;
  stub.init?.({ ...OPTIONS, tenant: "Bad Slug" });
  stub.mount?.({}); // the core bundle has no widget
  stub.init?.(OPTIONS);
  const real = install(new FrontDeskSingleton(env(server)), scope);
  assert.equal(logged.mock.callCount(), 2);
  assert.equal(real.client?.tenant, "acme");
  real.destroy();
});

test("the singleton's listeners follow the client across init", async () => {
  const server = new FakeServer();
  const frontDesk = new FrontDeskSingleton(env(server));
  const ready: string[] = [];
  frontDesk.on("ready", (s) => ready.push(s.conversation_id));
  await assert.rejects(frontDesk.send("x"), /init/);
  frontDesk.init(OPTIONS);
  await frontDesk.client?.whenReady();
  assert.deepEqual(ready, [server.conversation().id]);
  assert.equal((await frontDesk.send("hola")).seq, 1);
  frontDesk.destroy();
  assert.equal(frontDesk.client, null);
});

test("the size check fails a bundle over its budget", () => {
  const dir = mkdtempSync(join(tmpdir(), "fd-size-"));
  const random = Buffer.from(Array.from({ length: 12_000 }, (_, i) => (i * 7919 + ((i * i) % 251)) % 256));
  writeFileSync(join(dir, "small.js"), "console.log(1)");
  writeFileSync(join(dir, "big.js"), random);
  const results = checkSizes(dir, { "small.js": 1024, "big.js": 10 * 1024, "absent.js": 1024 });
  assert.deepEqual(
    results.map((r: { file: string; ok: boolean }) => [r.file, r.ok]),
    [["small.js", true], ["big.js", false], ["absent.js", false]],
  );
});
