import assert from "node:assert/strict";
import { test } from "node:test";
import { FrontDeskClient } from "../src/client";
import { TenantStore, parseSession, type StorageLike } from "../src/storage";
import { FakeServer, OPTIONS, SharedStorage, env } from "./fakes";

test("a stored session is read only when well formed", () => {
  assert.deepEqual(parseSession({ visitor_token: "t", conversation_id: "c", last_seq: 4 }), {
    visitor_token: "t",
    conversation_id: "c",
    last_seq: 4,
  });
  assert.deepEqual(parseSession({ visitor_token: "t", conversation_id: 7, last_seq: -1 }), {
    visitor_token: "t",
    conversation_id: null,
    last_seq: 0,
  });
  for (const junk of [null, "t", [], {}, { visitor_token: "" }, { visitor_token: 5 }]) {
    assert.equal(parseSession(junk), null);
  }
});

test("garbage in storage is ignored: the visitor starts afresh, and unsent items keep their order", () => {
  const tab = new SharedStorage().tab();
  tab.storage.setItem("frontdesk:acme", "{not json");
  tab.storage.setItem(
    "frontdesk:acme:outbox",
    JSON.stringify([{ client_id: "a", text: "uno" }, { text: "no id" }, 5, { client_id: "b", text: "dos", payload: "intent:x" }]),
  );
  const store = new TenantStore(tab.storage, "acme");
  assert.equal(store.session(), null);
  assert.deepEqual(store.outbox(), [
    { client_id: "a", text: "uno" },
    { client_id: "b", text: "dos", payload: "intent:x" },
  ]);
  store.removePending("a");
  store.addPending({ client_id: "c", text: "tres" });
  assert.deepEqual(store.outbox().map((p) => p.client_id), ["b", "c"]);
  store.removePending("b");
  store.removePending("c");
  assert.equal(tab.storage.getItem("frontdesk:acme:outbox"), null);
});

test("without storage, or with storage that throws, the chat still works for the page", async () => {
  const throwing: StorageLike = {
    getItem: () => {
      throw new DOMException("denied", "SecurityError");
    },
    setItem: () => {
      throw new DOMException("full", "QuotaExceededError");
    },
    removeItem: () => {
      throw new DOMException("denied", "SecurityError");
    },
  };
  for (const storage of [null, throwing]) {
    const server = new FakeServer();
    const client = new FrontDeskClient(OPTIONS, env(server, { storage }));
    await client.whenReady();
    assert.equal((await client.send("hola")).seq, 1);
    client.destroy();
  }
});
