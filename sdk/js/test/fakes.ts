/** Fakes for the client's environment: a clock, seeded randomness, storage shared by "tabs",
 * and a Front Desk server speaking the web chat's HTTP and SSE protocol in memory. */

import type { Env, EventSourceLike, LocksLike } from "../src/env";
import type { StorageLike } from "../src/storage";
import type { Message } from "../src/types";

/** mulberry32: the same numbers for the same seed. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Timers that run only when the test says so. */
export class FakeClock {
  now = 0;
  delays: number[] = [];
  private _timers = new Map<number, { at: number; fn: () => void }>();
  private _next = 1;

  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = this._next++;
    this.delays.push(ms);
    this._timers.set(id, { at: this.now + ms, fn });
    return id;
  };

  clearTimeout = (id: unknown): void => {
    this._timers.delete(id as number);
  };

  get pending(): number {
    return this._timers.size;
  }

  /** Move time on, running the timers that fall due, then let promises settle. */
  async advance(ms: number): Promise<void> {
    const until = this.now + ms;
    for (;;) {
      const due = [...this._timers.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this._timers.delete(due[0]);
      this.now = due[1].at;
      due[1].fn();
      await settle();
    }
    this.now = until;
    await settle();
  }
}

/** Let pending promise callbacks and I/O-free async steps run. */
export async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** localStorage shared by several tabs: a write in one fires `storage` in the others. */
export class SharedStorage {
  data = new Map<string, string>();
  windows: Array<{ target: EventTarget; storage: StorageLike }> = [];

  tab(): { storage: StorageLike; window: EventTarget } {
    const target = new EventTarget();
    const storage: StorageLike = {
      getItem: (key) => this.data.get(key) ?? null,
      setItem: (key, value) => this._write(storage, key, value),
      removeItem: (key) => this._write(storage, key, null),
    };
    this.windows.push({ target, storage });
    return { storage, window: target };
  }

  private _write(from: StorageLike, key: string, value: string | null): void {
    if (value === null) this.data.delete(key);
    else this.data.set(key, value);
    for (const w of this.windows) {
      if (w.storage === from) continue;
      const event = Object.assign(new Event("storage"), { key, newValue: value });
      w.target.dispatchEvent(event);
    }
  }
}

/** navigator.locks: one holder at a time per name. */
export function fakeLocks(): LocksLike {
  const tails = new Map<string, Promise<unknown>>();
  return {
    request<T>(name: string, callback: () => Promise<T>): Promise<T> {
      const previous = tails.get(name) ?? Promise.resolve();
      const run = previous.then(callback, callback);
      tails.set(name, run.catch(() => undefined));
      return run;
    },
  };
}

interface Conversation {
  id: string;
  contact: string;
  channel: string;
  closed?: boolean;
  messages: Message[];
  clientIds: Map<string, Message>;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: unknown;
}

type Problem = { status: number; slug: string; title: string; detail?: string; headers?: Record<string, string> };

/** The web chat's side of Front Desk, in memory (the routes of gateway/routers/web.py). */
export class FakeServer {
  readonly tenant: string;
  conversations = new Map<string, Conversation>();
  tokens = new Map<string, string>(); // visitor token → contact
  requests: RecordedRequest[] = [];
  streams: FakeStream[] = [];
  /** Every request fails as a network error (the browser is offline, or the server is away). */
  down = false;
  /** The page's origin is not the tenant's: the browser hides the chat's answers (CORS), so
   * they fail as network errors, while the SDK's manifest (readable anywhere) still answers. */
  refuseOrigin = false;
  /** The next N sends are stored but their responses are lost (the network dropped on the way back). */
  loseResponses = 0;
  /** Answer the next request matching with this problem. */
  failNext: Array<{ match: RegExp; problem: Problem }> = [];
  requireIdentity = false;
  /** Requests get no answer at all. */
  hang = false;
  private _n = 0;

  constructor(tenant = "acme") {
    this.tenant = tenant;
  }

  get base(): string {
    return `https://fd.test/web/v1/${this.tenant}`;
  }

  private _id(prefix: string): string {
    this._n += 1;
    return `${prefix}-${this._n}`;
  }

  conversation(id?: string): Conversation {
    const found = id ? this.conversations.get(id) : [...this.conversations.values()].pop();
    if (!found) throw new Error("no conversation");
    return found;
  }

  /** The assistant (or an agent) answers: stored, then pushed to the open streams. */
  reply(text: string, payload: Record<string, unknown> = {}, conversationId?: string): Message {
    const conversation = this.conversation(conversationId);
    return this._append(conversation, "out", text, payload, "assistant");
  }

  signal(event: string, data: unknown, conversationId?: string): void {
    const id = this.conversation(conversationId).id;
    for (const s of this.streams) if (s.open && s.conversation === id) s.emit(event, JSON.stringify(data));
  }

  private _append(c: Conversation, direction: "in" | "out", text: string, payload: Record<string, unknown>, sender: string): Message {
    const message: Message = {
      id: this._id("msg"),
      conversation_id: c.id,
      seq: c.messages.length + 1,
      direction,
      channel: "webchat",
      sender,
      text,
      payload,
      status: "received",
      created_at: new Date(0).toISOString(),
    };
    c.messages.push(message);
    for (const s of this.streams) if (s.open && s.conversation === c.id) s.emit("message", JSON.stringify(message), message.seq);
    return message;
  }

  fetch = async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(String(input));
    const headers = Object.fromEntries(Object.entries((init.headers ?? {}) as Record<string, string>).map(([k, v]) => [k.toLowerCase(), v]));
    const body: unknown = typeof init.body === "string" ? JSON.parse(init.body) : null;
    const path = url.pathname + url.search;
    this.requests.push({ method: init.method ?? "GET", path, headers, body });
    if (this.down) throw new TypeError("Failed to fetch");
    if (url.pathname === "/sdk/v1/manifest.json") return json(200, { version: "v1", files: {} });
    if (this.refuseOrigin) throw new TypeError("Failed to fetch");
    if (this.hang) {
      // The network swallows the request: only the client's abort ends it.
      return new Promise<Response>((_, reject) => {
        init.signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
      });
    }
    const failing = this.failNext.findIndex((f) => f.match.test(`${init.method} ${url.pathname}`));
    if (failing >= 0) {
      const [entry] = this.failNext.splice(failing, 1);
      if (entry) return this.problem(entry.problem);
    }
    const prefix = `/web/v1/${this.tenant}`;
    if (!url.pathname.startsWith(prefix)) return this.problem({ status: 404, slug: "not-found", title: "Not found" });
    const route = url.pathname.slice(prefix.length);
    if (headers.authorization && !this.tokens.has(headers.authorization.slice(7))) {
      return this.problem({ status: 401, slug: "invalid-token", title: "Invalid token" });
    }
    const contact = headers.authorization ? this.tokens.get(headers.authorization.slice(7)) : undefined;
    if (init.method === "POST" && route === "/conversations") return this._start(headers, body as Record<string, unknown>, contact);
    const match = /^\/conversations\/([^/]+)\/(messages|transfer)$/.exec(route);
    const conversation = match ? this.conversations.get(match[1] ?? "") : undefined;
    if (!match || !conversation || conversation.contact !== contact) {
      return this.problem({ status: 404, slug: "not-found", title: "Not found" });
    }
    if (match[2] === "transfer") {
      return json(200, { code: "ABC123", link: "https://wa.me/573001112233?text=ABC123", channel: "whatsapp", expires_at: "2030-01-01T00:00:00Z" });
    }
    if (init.method === "GET") {
      const after = Number(url.searchParams.get("after") ?? 0);
      const limit = Number(url.searchParams.get("limit") ?? 100);
      const messages = conversation.messages.filter((m) => m.seq > after).slice(0, limit);
      return json(200, { conversation_id: conversation.id, messages, last_seq: conversation.messages.length });
    }
    if (conversation.closed) {
      return this.problem({ status: 409, slug: "conversation-closed", title: "Conversation closed" });
    }
    if (conversation.channel !== "webchat") {
      return this.problem({ status: 409, slug: "conversation-moved", title: "Conversation moved to another channel" });
    }
    const { text, client_id: clientId, payload } = body as { text: string; client_id: string; payload?: string };
    if (payload !== undefined && !/^[a-z]{1,16}:[a-z0-9]+(?:-[a-z0-9]+)*$/.test(payload)) {
      return this.problem({ status: 422, slug: "validation-error", title: "Invalid input", detail: "body/payload" });
    }
    const known = conversation.clientIds.get(clientId);
    const message = known ?? this._append(conversation, "in", text, payload ? { payload } : {}, "visitor");
    conversation.clientIds.set(clientId, message);
    if (this.loseResponses > 0) {
      this.loseResponses -= 1;
      throw new TypeError("Failed to fetch");
    }
    return json(202, { id: message.id, conversation_id: conversation.id, seq: message.seq, status: message.status, duplicate: Boolean(known) });
  };

  private _start(headers: Record<string, string>, body: Record<string, unknown>, contact: string | undefined): Response {
    if (headers["x-frontdesk-key"] !== "pk_test") return this.problem({ status: 401, slug: "invalid-key", title: "Invalid key" });
    const user = body?.user as { id: string } | undefined;
    if (this.requireIdentity && !user) {
      return this.problem({ status: 401, slug: "identity-required", title: "Identity verification required" });
    }
    let who = contact ?? this._id("contact");
    if (user) who = `user:${user.id}`;
    let conversation = [...this.conversations.values()].find((c) => c.contact === who && c.channel === "webchat" && !c.closed);
    const resumed = Boolean(conversation);
    if (!conversation) {
      conversation = { id: this._id("conv"), contact: who, channel: "webchat", messages: [], clientIds: new Map() };
      this.conversations.set(conversation.id, conversation);
    }
    const token = this._id("token");
    this.tokens.set(token, who);
    return json(200, {
      visitor_token: token,
      contact_id: who,
      conversation: { id: conversation.id, last_seq: conversation.messages.length, channel: "webchat", status: "open" },
      resumed,
      verified: Boolean(user),
    });
  }

  problem({ status, slug, title, detail = "", headers = {} }: Problem): Response {
    return new Response(JSON.stringify({ type: `/problems/${slug}`, title, status, detail }), {
      status,
      headers: { "content-type": "application/problem+json", ...headers },
    });
  }

  /** An EventSource class bound to this server. */
  get EventSource(): new (url: string) => EventSourceLike {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const server = this;
    return class extends FakeStream {
      constructor(url: string) {
        super(server, url);
      }
    };
  }

  /** The browser's connection drops: every open stream errors. */
  dropStreams(): void {
    for (const s of this.streams) if (s.open) s.fail();
  }

  openStreams(): FakeStream[] {
    return this.streams.filter((s) => s.open);
  }
}

const json = (status: number, body: unknown): Response =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

export class FakeStream implements EventSourceLike {
  readyState = 0;
  onopen: ((event: Event) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;
  open = true;
  conversation: string;
  after: number;
  token: string;
  private _listeners = new Map<string, Array<(event: MessageEvent<string>) => void>>();

  constructor(
    readonly server: FakeServer,
    readonly url: string,
  ) {
    const parsed = new URL(url);
    this.conversation = /conversations\/([^/]+)\/events/.exec(parsed.pathname)?.[1] ?? "";
    this.after = Number(parsed.searchParams.get("after") ?? 0);
    this.token = parsed.searchParams.get("token") ?? "";
    server.streams.push(this);
    // Like the server: replay the store past `after`, then live events.
    queueMicrotask(() => {
      if (!this.open) return;
      if (server.down || server.refuseOrigin || !server.tokens.has(this.token)) return this.fail();
      this.readyState = 1;
      this.onopen?.(new Event("open"));
      const c = server.conversations.get(this.conversation);
      for (const m of c?.messages ?? []) if (m.seq > this.after) this.emit("message", JSON.stringify(m), m.seq);
    });
  }

  addEventListener(type: string, listener: (event: MessageEvent<string>) => void): void {
    this._listeners.set(type, [...(this._listeners.get(type) ?? []), listener]);
  }

  emit(type: string, data: string, id?: number): void {
    if (!this.open || this.readyState !== 1) return;
    const event = { type, data, lastEventId: id === undefined ? "" : String(id) } as MessageEvent<string>;
    for (const l of this._listeners.get(type) ?? []) l(event);
  }

  fail(): void {
    this.readyState = 0;
    this.onerror?.(new Event("error"));
  }

  close(): void {
    this.open = false;
    this.readyState = 2;
  }
}

let ids = 0;

/** An environment for one tab against `server`. */
export function env(server: FakeServer, overrides: Partial<Env> = {}): Env & { clock: FakeClock; opened: string[]; online: { value: boolean } } {
  const clock = new FakeClock();
  const opened: string[] = [];
  const online = { value: true };
  return {
    fetch: server.fetch,
    EventSource: server.EventSource,
    storage: null,
    window: new EventTarget(),
    onLine: () => online.value,
    locks: undefined,
    setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout,
    random: seeded(7),
    open: (url) => {
      opened.push(url);
      return true;
    },
    uuid: () => `cid-${++ids}`,
    origin: "https://shop.test",
    ...overrides,
    clock,
    opened,
    online,
  };
}

export const OPTIONS = { tenant: "acme", publishableKey: "pk_test", baseUrl: "https://fd.test" } as const;
