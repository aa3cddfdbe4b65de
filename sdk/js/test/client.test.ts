import assert from "node:assert/strict";
import { test } from "node:test";
import { FrontDeskClient } from "../src/client";
import type { FrontDeskError } from "../src/errors";
import type { ConnectionState, Message, Session } from "../src/types";
import { FakeServer, OPTIONS, SharedStorage, env, fakeLocks, settle } from "./fakes";

function collect(client: FrontDeskClient): { messages: Message[]; connection: ConnectionState[]; errors: FrontDeskError[] } {
  const seen = { messages: [] as Message[], connection: [] as ConnectionState[], errors: [] as FrontDeskError[] };
  client.on("message", (m) => seen.messages.push(m));
  client.on("connection", (c) => seen.connection.push(c));
  client.on("error", (e) => seen.errors.push(e));
  return seen;
}

/** A client online against a fresh server, and what it emitted. */
async function online(): Promise<{ server: FakeServer; e: ReturnType<typeof env>; client: FrontDeskClient; seen: ReturnType<typeof collect>; session: Session }> {
  const server = new FakeServer();
  const e = env(server);
  const client = new FrontDeskClient(OPTIONS, e);
  const seen = collect(client);
  const session = await client.whenReady();
  await settle();
  return { server, e, client, seen, session };
}

const sends = (server: FakeServer): Array<{ text: string; client_id: string }> =>
  server.requests
    .filter((r) => r.method === "POST" && r.path.endsWith("/messages"))
    .map((r) => r.body as { text: string; client_id: string });

test("init starts a conversation with the publishable key, stores it per tenant, then streams", async () => {
  const server = new FakeServer();
  const tab = new SharedStorage().tab();
  const e = env(server, tab);
  const client = new FrontDeskClient({ ...OPTIONS, locale: "es-CO" }, e);
  const ready = await client.whenReady();
  await settle();
  const start = server.requests[0];
  assert.equal(start?.path, "/web/v1/acme/conversations");
  assert.equal(start?.headers["x-frontdesk-key"], "pk_test");
  assert.equal(start?.headers.authorization, undefined);
  assert.deepEqual(start?.body, { locale: "es-CO" });
  assert.equal(ready.conversation_id, server.conversation().id);
  const stored = JSON.parse(tab.storage.getItem("frontdesk:acme") ?? "null");
  assert.equal(stored.conversation_id, ready.conversation_id);
  assert.ok(stored.visitor_token.startsWith("token-"));
  assert.equal(stored.last_seq, 0);
  assert.equal(client.connection, "online");
  const [stream] = server.openStreams();
  assert.ok(stream?.url.includes(`token=${stored.visitor_token}`));
  assert.equal(stream?.after, 0);
  client.destroy();
});

test("a reload resumes the stored conversation with the visitor token and skips what it saw", async () => {
  const server = new FakeServer();
  const shared = new SharedStorage();
  const first = new FrontDeskClient(OPTIONS, env(server, shared.tab()));
  await first.whenReady();
  await settle();
  server.reply("Hola, ¿en qué te ayudo?");
  await settle();
  first.destroy();
  server.reply("¿Sigues ahí?"); // arrives while no page is open

  const again = new FrontDeskClient(OPTIONS, env(server, shared.tab()));
  const seen = collect(again);
  const ready = await again.whenReady();
  await settle();
  const resume = server.requests.filter((r) => r.path.endsWith("/conversations")).pop();
  assert.ok(resume?.headers.authorization?.startsWith("Bearer token-"));
  assert.equal(ready.conversation_id, first.session?.conversation_id);
  assert.equal(ready.resumed, true);
  assert.deepEqual(seen.messages.map((m) => m.text), ["¿Sigues ahí?"]);
  assert.deepEqual((await again.history()).map((m) => m.seq), [1, 2]);
  again.destroy();
});

test("tenants are kept apart in storage", async () => {
  const acme = new FakeServer("acme");
  const globex = new FakeServer("globex");
  const tab = new SharedStorage().tab();
  const a = new FrontDeskClient(OPTIONS, env(acme, tab));
  const b = new FrontDeskClient({ ...OPTIONS, tenant: "globex" }, env(globex, tab));
  await Promise.all([a.whenReady(), b.whenReady()]);
  const storedA = JSON.parse(tab.storage.getItem("frontdesk:acme") ?? "null");
  const storedB = JSON.parse(tab.storage.getItem("frontdesk:globex") ?? "null");
  assert.equal(storedA.conversation_id, acme.conversation().id);
  assert.equal(storedB.conversation_id, globex.conversation().id);
  assert.ok(acme.tokens.has(storedA.visitor_token) && globex.tokens.has(storedB.visitor_token));
  const [startA] = acme.requests;
  const [startB] = globex.requests;
  assert.equal(startA?.path, "/web/v1/acme/conversations");
  assert.equal(startB?.path, "/web/v1/globex/conversations");
  a.destroy();
  b.destroy({ forget: true });
  assert.equal(tab.storage.getItem("frontdesk:globex"), null);
  assert.notEqual(tab.storage.getItem("frontdesk:acme"), null);
});

test("messages typed offline are queued, persisted, and sent once, in order, with stable client_ids", async () => {
  const server = new FakeServer();
  const tab = new SharedStorage().tab();
  const e = env(server, tab);
  const client = new FrontDeskClient(OPTIONS, e);
  const seen = collect(client);
  await client.whenReady();
  await settle();

  server.down = true;
  e.online.value = false;
  tab.window.dispatchEvent(new Event("offline"));
  await settle();
  assert.equal(client.connection, "offline");
  const results = ["uno", "dos", "tres"].map((text) => client.send(text));
  await e.clock.advance(60_000); // retries while offline send nothing
  assert.deepEqual(sends(server), []);
  const queued = JSON.parse(tab.storage.getItem("frontdesk:acme:outbox") ?? "[]");
  assert.deepEqual(queued.map((p: { text: string }) => p.text), ["uno", "dos", "tres"]);
  assert.deepEqual(client.pending().map((p) => p.client_id), queued.map((p: { client_id: string }) => p.client_id));

  server.down = false;
  e.online.value = true;
  tab.window.dispatchEvent(new Event("online"));
  const accepted = await Promise.all(results);
  await settle();
  assert.deepEqual(sends(server).map((s) => s.text), ["uno", "dos", "tres"]);
  assert.deepEqual(sends(server).map((s) => s.client_id), queued.map((p: { client_id: string }) => p.client_id));
  assert.deepEqual(accepted.map((a) => a.seq), [1, 2, 3]);
  assert.deepEqual(server.conversation().messages.map((m) => m.text), ["uno", "dos", "tres"]);
  assert.deepEqual(seen.messages.map((m) => m.text), ["uno", "dos", "tres"]);
  assert.equal(tab.storage.getItem("frontdesk:acme:outbox"), null);
  assert.deepEqual(seen.connection, ["online", "offline", "reconnecting", "online"]);
  client.destroy();
});

test("a send whose answer is lost is retried with the same client_id and stored once", async () => {
  const { server, e, client } = await online();
  server.loseResponses = 1;
  const result = client.send("¿Tienen citas mañana?");
  await settle();
  assert.equal(client.connection, "offline");
  await e.clock.advance(1_000); // the first retry waits 0.25–0.5 s
  const accepted = await result;
  const [first, second] = sends(server);
  assert.equal(first?.client_id, second?.client_id);
  assert.equal(accepted.duplicate, true);
  assert.deepEqual(server.conversation().messages.map((m) => m.text), ["¿Tienen citas mañana?"]);
  client.destroy();
});

test("messages left unsent by a closed page are sent by the next one", async () => {
  const server = new FakeServer();
  const shared = new SharedStorage();
  const e1 = env(server, shared.tab());
  const first = new FrontDeskClient(OPTIONS, e1);
  await first.whenReady();
  server.down = true;
  void first.send("antes de cerrar").catch(() => undefined);
  await settle();
  first.destroy();
  server.down = false;
  const next = new FrontDeskClient(OPTIONS, env(server, shared.tab()));
  await next.whenReady();
  await settle();
  assert.deepEqual(server.conversation().messages.map((m) => m.text), ["antes de cerrar"]);
  assert.deepEqual(next.pending(), []);
  next.destroy();
});

test("after a drop the stream resumes from the last seq: the missed messages arrive once", async () => {
  const { server, e, client, seen } = await online();
  server.reply("uno");
  server.reply("dos");
  server.dropStreams();
  await settle();
  assert.equal(client.connection, "offline");
  server.down = true;
  server.reply("tres"); // while the browser is cut off
  await e.clock.advance(500); // a failed retry
  server.reply("cuatro");
  server.down = false;
  await e.clock.advance(2_000);
  assert.equal(client.connection, "online");
  const catchUp = server.requests.filter((r) => r.method === "GET").pop();
  assert.match(catchUp?.path ?? "", /after=2&/);
  const [stream] = server.openStreams();
  assert.equal(stream?.after, 4);
  server.signal("message", server.conversation().messages[3]); // a late duplicate on the stream
  server.reply("cinco");
  await settle();
  assert.deepEqual(seen.messages.map((m) => m.text), ["uno", "dos", "tres", "cuatro", "cinco"]);
  assert.deepEqual(seen.messages.map((m) => m.seq), [1, 2, 3, 4, 5]);
  client.destroy();
});

test("a gap on the stream is filled from the store before the later message", async () => {
  const { server, client, seen } = await online();
  const [stream] = server.openStreams();
  stream!.open = false; // this stream misses the next two
  const two = [server.reply("uno"), server.reply("dos")];
  stream!.open = true;
  const three = server.reply("tres");
  await settle();
  assert.deepEqual(seen.messages.map((m) => m.seq), [1, 2, 3]);
  assert.deepEqual(seen.messages.map((m) => m.id), [...two, three].map((m) => m.id));
  client.destroy();
});

test("reconnection backs off exponentially with jitter up to 30 s, and resets once online", async () => {
  const { server, e, client } = await online();
  const before = e.clock.delays.length;
  server.down = true;
  server.dropStreams();
  await settle();
  for (let i = 0; i < 10; i++) await e.clock.advance(30_000);
  const delays = e.clock.delays.slice(before, before + 10);
  delays.forEach((d, n) => {
    const step = Math.min(30_000, 500 * 2 ** n);
    assert.ok(d >= step / 2 && d <= step, `retry ${n} waited ${d}`);
  });
  server.down = false;
  await e.clock.advance(30_000);
  assert.equal(client.connection, "online");
  server.dropStreams();
  await settle();
  const afterReset = e.clock.delays[e.clock.delays.length - 1] ?? 0;
  assert.ok(afterReset >= 250 && afterReset <= 500, `after a reset the first wait is short: ${afterReset}`);
  client.destroy();
});

test("a request the network swallows is given up after 20 s and retried", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const { server, e, client, seen } = await online();
  server.hang = true;
  const result = client.send("¿hola?");
  await settle();
  assert.equal(client.connection, "online");
  t.mock.timers.tick(20_000);
  await settle();
  assert.equal(client.connection, "offline");
  server.hang = false;
  await e.clock.advance(1_000);
  assert.equal((await result).seq, 1);
  assert.deepEqual(seen.errors, []);
  client.destroy();
});

test("a rate limit's Retry-After is honoured before trying again", async () => {
  const server = new FakeServer();
  server.failNext.push({ match: /POST .*\/conversations$/, problem: { status: 429, slug: "rate-limited", title: "Too many", headers: { "retry-after": "12" } } });
  const e = env(server);
  const client = new FrontDeskClient(OPTIONS, e);
  await settle();
  assert.equal(client.session, null);
  assert.equal(e.clock.delays.pop(), 12_000);
  await e.clock.advance(12_000);
  assert.ok(client.session);
  client.destroy();
});

const probes = (server: FakeServer): number => server.requests.filter((r) => r.path === "/sdk/v1/manifest.json").length;
const chatRequests = (server: FakeServer): number => server.requests.filter((r) => r.path.startsWith("/web/v1/")).length;

/** A client on a page whose origin the tenant did not allow (`online`: what the browser says). */
function refusedPage(online = true): { server: FakeServer; e: ReturnType<typeof env>; client: FrontDeskClient; seen: ReturnType<typeof collect> } {
  const server = new FakeServer();
  server.refuseOrigin = true;
  const e = env(server);
  e.online.value = online;
  const client = new FrontDeskClient(OPTIONS, e);
  return { server, e, client, seen: collect(client) };
}

test("a refused origin (the chat unanswered, the manifest answering) is an origin-not-allowed error, and retrying stops", async () => {
  const { server, e, client, seen } = refusedPage();
  const sent = client.send("hola");
  await settle();
  assert.equal(seen.errors.length, 0, "one unanswered request and an answering probe are not yet a refusal");
  assert.equal(probes(server), 1);
  await e.clock.advance(1_000); // the retry: unanswered again, the probe answers again
  await assert.rejects(client.whenReady(), (error: FrontDeskError) => error.code === "origin-not-allowed");
  await assert.rejects(sent, (error: FrontDeskError) => error.code === "origin-not-allowed");
  assert.equal(seen.errors.length, 1);
  const [error] = seen.errors;
  assert.equal(error?.status, 403);
  assert.equal(error?.type, "/problems/origin-not-allowed");
  assert.equal(error?.retryable, false);
  assert.match(error?.detail ?? "", /https:\/\/shop\.test/);
  assert.match(error?.detail ?? "", /allowed origins/);
  assert.equal(client.connection, "refused");
  assert.deepEqual(seen.connection, ["offline", "reconnecting", "offline", "refused"]);
  assert.equal(e.clock.pending, 0, "no retry is scheduled");
  const [chat, probed] = [chatRequests(server), probes(server)];
  assert.deepEqual([chat, probed], [2, 2]);
  await e.clock.advance(10 * 60_000);
  (e.window as EventTarget).dispatchEvent(new Event("online"));
  await settle();
  assert.deepEqual([chatRequests(server), probes(server)], [chat, probed], "no request after the refusal");
  assert.deepEqual(client.pending().map((p) => p.text), ["hola"], "the message is kept, not sent");
  client.destroy();
});

test("a network failure the probe cannot reach either stays offline and keeps backing off", async () => {
  const server = new FakeServer();
  server.down = true; // the browser says online, but nothing answers
  const e = env(server);
  const client = new FrontDeskClient(OPTIONS, e);
  const seen = collect(client);
  await settle();
  for (let i = 0; i < 5; i++) await e.clock.advance(30_000);
  assert.deepEqual(seen.errors, []);
  assert.equal(client.connection, "offline");
  const attempts = chatRequests(server);
  assert.ok(attempts >= 5, `it kept retrying: ${attempts} attempts`);
  assert.equal(probes(server), attempts, "each unanswered request is followed by a probe");
  assert.equal(e.clock.pending, 1, "the next retry is scheduled");
  server.down = false;
  await e.clock.advance(30_000);
  assert.equal(client.connection, "online");
  assert.ok(client.session);
  client.destroy();
});

test("a server that answers the probe once and then the chat is not mistaken for a refusal", async () => {
  const { server, e, client, seen } = refusedPage();
  await settle();
  assert.equal(probes(server), 1);
  server.refuseOrigin = false; // e.g. the chat's routes came back first
  await e.clock.advance(1_000);
  assert.equal(client.connection, "online");
  server.dropStreams();
  server.refuseOrigin = true;
  await e.clock.advance(1_000); // unanswered once more, after a success: the count started again
  assert.deepEqual(seen.errors, []);
  assert.notEqual(client.connection, "refused");
  client.destroy();
});

test("a request the browser gave up because it was offline is not probed", async () => {
  const { server, e, client } = refusedPage(false);
  await settle();
  await e.clock.advance(60_000);
  assert.equal(probes(server), 0);
  assert.equal(client.connection, "offline");
  client.destroy();
});

test("identity-required is reported once as an error; identify with a proof then starts the chat", async () => {
  const server = new FakeServer();
  server.requireIdentity = true;
  const e = env(server);
  const client = new FrontDeskClient(OPTIONS, e);
  const seen = collect(client);
  await assert.rejects(client.whenReady(), (error: FrontDeskError) => error.code === "identity-required");
  await settle();
  assert.equal(seen.errors.length, 1);
  assert.equal(seen.errors[0]?.status, 401);
  assert.equal(e.clock.pending, 0, "no retry loop on a refusal");
  await assert.rejects(client.send("hola"), (error: FrontDeskError) => error.code === "identity-required");

  const session = await client.identify({ id: "user-8812", name: "Luisa" }, "proof-abc");
  assert.equal(session.verified, true);
  const start = server.requests.filter((r) => r.path.endsWith("/conversations")).pop();
  assert.deepEqual(start?.body, { user: { id: "user-8812", name: "Luisa", proof: "proof-abc" } });
  await settle();
  assert.equal(client.connection, "online");
  assert.equal((await client.send("hola")).seq, 1);
  client.destroy();
});

test("an expired visitor token is dropped and the browser starts afresh", async () => {
  const server = new FakeServer();
  const shared = new SharedStorage();
  const tab = shared.tab();
  tab.storage.setItem("frontdesk:acme", JSON.stringify({ visitor_token: "expired", conversation_id: "conv-old", last_seq: 3 }));
  const client = new FrontDeskClient(OPTIONS, env(server, tab));
  const ready = await client.whenReady();
  await settle();
  assert.equal(client.connection, "online");
  const stored = JSON.parse(tab.storage.getItem("frontdesk:acme") ?? "null");
  assert.equal(stored.conversation_id, ready.conversation_id);
  assert.notEqual(stored.visitor_token, "expired");
  client.destroy();
});

test("a send refused for good rejects with the problem and the next message still goes", async () => {
  const { server, client, seen } = await online();
  server.failNext.push({ match: /POST .*\/messages$/, problem: { status: 422, slug: "invalid", title: "Invalid input", detail: "text" } });
  const refused = client.send("x");
  const next = client.send("y");
  await assert.rejects(refused, (error: FrontDeskError) => error.status === 422 && error.code === "invalid");
  assert.equal((await next).seq, 1);
  assert.equal(seen.errors[0]?.code, "invalid");
  await assert.rejects(client.send(""), (error: FrontDeskError) => error.code === "invalid-message");
  await assert.rejects(client.send({ text: "ok", payload: "p".repeat(201) }), (error: FrontDeskError) => error.code === "invalid-message");
  client.destroy();
});

test("a quick reply's payload is sent only when given", async () => {
  const server = new FakeServer();
  const client = new FrontDeskClient(OPTIONS, env(server));
  await client.whenReady();
  await client.send({ text: "Agendar cita", payload: "intent:book" });
  await client.send("texto");
  const [tapped, typed] = server.requests.filter((r) => r.path.endsWith("/messages")).map((r) => r.body as Record<string, unknown>);
  assert.equal(tapped?.payload, "intent:book");
  assert.equal(tapped?.text, "Agendar cita");
  assert.equal("payload" in (typed ?? {}), false);
  client.destroy();
});

test("transfer gets the one-time link, emits it and opens it unless asked not to", async () => {
  const server = new FakeServer();
  const e = env(server);
  const client = new FrontDeskClient(OPTIONS, e);
  const events: unknown[] = [];
  client.on("transfer", (t) => events.push(t));
  client.on("status", (s) => events.push(s));
  await client.whenReady();
  const link = await client.transfer("whatsapp");
  assert.equal(link.code, "ABC123");
  assert.equal(link.opened, true);
  assert.deepEqual(e.opened, [link.link]);
  const quiet = await client.transfer("whatsapp", { open: false });
  assert.equal(quiet.opened, false);
  assert.equal(e.opened.length, 1);
  await settle();
  server.signal("transferred", { channel: "whatsapp", from: "webchat" });
  assert.deepEqual(events.slice(-2), [
    { state: "completed", channel: "whatsapp", from: "webchat" },
    { state: "transferred", channel: "whatsapp" },
  ]);
  client.destroy();
});

test("after the conversation moved to WhatsApp a new message starts a new web conversation", async () => {
  const { server, e, client, session: first } = await online();
  server.conversation(first.conversation_id).channel = "whatsapp";
  const result = client.send("vuelvo a la web");
  await settle();
  await e.clock.advance(0); // starts again at once
  const accepted = await result;
  assert.notEqual(accepted.conversation_id, first.conversation_id);
  assert.equal(client.session?.conversation_id, accepted.conversation_id);
  client.destroy();
});

test("a message sent to a closed conversation goes to a new one", async () => {
  const { server, e, client, session: first } = await online();
  server.conversation(first.conversation_id).closed = true;
  const result = client.send("¿siguen ahí?");
  await settle();
  await e.clock.advance(0);
  const accepted = await result;
  assert.notEqual(accepted.conversation_id, first.conversation_id);
  assert.deepEqual(server.conversation(accepted.conversation_id).messages.map((m) => m.text), ["¿siguen ahí?"]);
  assert.deepEqual(server.conversation(first.conversation_id).messages, []);
  client.destroy();
});

test("typing and handoff signals become typing and status events", async () => {
  const server = new FakeServer();
  const client = new FrontDeskClient(OPTIONS, env(server));
  const events: unknown[] = [];
  client.on("typing", (t) => events.push(t));
  client.on("status", (s) => events.push(s));
  await client.whenReady();
  await settle();
  server.signal("typing", { typing: true });
  server.signal("handoff", { state: "taken", agent: "Ana" });
  assert.deepEqual(events, [{ typing: true }, { state: "taken", agent: "Ana" }]);
  client.destroy();
});

test("two tabs opened together share one conversation, and see each other's messages", async () => {
  const server = new FakeServer();
  const shared = new SharedStorage();
  const locks = fakeLocks();
  const a = new FrontDeskClient(OPTIONS, env(server, { ...shared.tab(), locks }));
  const b = new FrontDeskClient(OPTIONS, env(server, { ...shared.tab(), locks }));
  const seenB = collect(b);
  const [ra, rb] = await Promise.all([a.whenReady(), b.whenReady()]);
  assert.equal(ra.conversation_id, rb.conversation_id);
  assert.equal(server.conversations.size, 1);
  await settle();
  await a.send("desde la pestaña A");
  await settle();
  assert.deepEqual(seenB.messages.map((m) => m.text), ["desde la pestaña A"]);
  a.destroy();
  b.destroy();
});

test("a tab follows the conversation another tab switched to", async () => {
  const server = new FakeServer();
  const shared = new SharedStorage();
  const a = new FrontDeskClient(OPTIONS, env(server, shared.tab()));
  await a.whenReady();
  const b = new FrontDeskClient(OPTIONS, env(server, shared.tab()));
  await b.whenReady();
  await settle();
  const readies: string[] = [];
  b.on("ready", (s) => readies.push(s.conversation_id));
  const identified = await a.identify({ id: "user-1" }, "proof");
  await settle();
  assert.notEqual(identified.conversation_id, undefined);
  assert.deepEqual(readies, [identified.conversation_id]);
  assert.equal(b.session?.conversation_id, identified.conversation_id);
  assert.ok(server.openStreams().every((s) => s.conversation === identified.conversation_id));
  a.destroy();
  b.destroy();
});

test("when one tab forgets the visitor (sign-out), the others start afresh too", async () => {
  const server = new FakeServer();
  const shared = new SharedStorage();
  const a = new FrontDeskClient(OPTIONS, env(server, shared.tab()));
  const before = await a.whenReady();
  const b = new FrontDeskClient(OPTIONS, env(server, shared.tab()));
  await b.whenReady();
  await settle();
  a.destroy({ forget: true });
  await settle();
  assert.notEqual(b.session?.conversation_id, before.conversation_id);
  assert.notEqual(b.session?.contact_id, before.contact_id);
  b.destroy();
});

test("a locale the server would refuse is not sent", async () => {
  const server = new FakeServer();
  const client = new FrontDeskClient({ ...OPTIONS, locale: "español de Colombia" }, env(server));
  await client.whenReady();
  assert.deepEqual(server.requests[0]?.body, {});
  client.destroy();
});

test("bad options are refused at once", () => {
  assert.throws(() => new FrontDeskClient({ ...OPTIONS, tenant: "Not A Slug" }), /tenant/);
  assert.throws(() => new FrontDeskClient({ ...OPTIONS, publishableKey: "sk_live_x" }), /publishable/);
  assert.throws(() => new FrontDeskClient({ ...OPTIONS, baseUrl: "javascript:alert(1)" }), /baseUrl/);
});
