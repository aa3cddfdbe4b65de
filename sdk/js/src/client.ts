/** The web chat client: a session, the event stream with resume, and an outbox that survives
 * being offline. One client per tenant and page; tabs of one browser share the conversation. */

import { Backoff } from "./backoff";
import { Listenable } from "./emitter";
import { browserEnv, type Env, type EventSourceLike } from "./env";
import { FrontDeskError, errorFromResponse, networkError } from "./errors";
import { TenantStore, parseSession, type StoredSession } from "./storage";
import type {
  Accepted,
  ConnectionState,
  Events,
  InitOptions,
  Message,
  Pending,
  SendInput,
  Session,
  TransferLink,
  User,
  UserProfile,
} from "./types";

const SLUG = /^[a-z0-9-]{1,63}$/;
/** What the server takes as a locale (`es`, `es-CO`); anything else is not sent. */
const LOCALE = /^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$/;
const PAGE = 200;
const MAX_HISTORY = 5000;
const MAX_TEXT = 4000;
const MAX_PAYLOAD = 200;
const REQUEST_TIMEOUT = 20_000;
/** Failed requests answered by a probe of the server before the origin is deemed refused: two,
 * so a server coming back between a failed request and its probe is not mistaken for a refusal. */
const STRIKES = 2;
/** A send refused because the conversation is over here: a new one takes the message. */
const GONE = ["conversation-moved", "conversation-closed"];

interface WebSession {
  visitor_token: string;
  contact_id: string;
  conversation: { id: string; last_seq: number };
  resumed: boolean;
  verified: boolean;
}

interface History {
  messages: Message[];
  last_seq: number;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
  state: "pending" | "resolved" | "rejected";
}

function deferred<T>(): Deferred<T> {
  const d = { state: "pending" } as Deferred<T>;
  d.promise = new Promise<T>((resolve, reject) => {
    d.resolve = (value) => {
      if (d.state === "pending") (d.state = "resolved"), resolve(value);
    };
    d.reject = (error) => {
      if (d.state === "pending") (d.state = "rejected"), reject(error);
    };
  });
  d.promise.catch(() => undefined); // Nobody waiting is not an unhandled rejection.
  return d;
}

const invalid = (type: string, detail: string): FrontDeskError =>
  new FrontDeskError(400, `/problems/${type}`, "Invalid input", detail);

/** Only http(s) links are ever opened or rendered. */
export const isHttpUrl = (url: unknown): url is string =>
  typeof url === "string" && /^https?:\/\/[^\s]+$/i.test(url);

export interface DestroyOptions {
  /** Also forget the visitor (the stored token and unsent messages): on the site's sign-out. */
  forget?: boolean;
}

export class FrontDeskClient extends Listenable<Events> {
  readonly tenant: string;
  private _options: InitOptions;
  private _env: Env;
  private _store: TenantStore;
  private _root: string;
  private _base: string;
  private _session: StoredSession | null;
  private _info: Session | null = null;
  private _ready = deferred<Session>();
  private _connection: ConnectionState = "reconnecting";
  private _outbox: Pending[];
  private _waiters = new Map<string, Deferred<Accepted>>();
  private _stream: EventSourceLike | null = null;
  private _filling: Promise<void> | null = null;
  private _timer: unknown = null;
  private _backoff: Backoff;
  private _running = false;
  private _again = false;
  private _flushing = false;
  private _recovering = false;
  private _destroyed = false;
  private _fatal: FrontDeskError | null = null;
  /** The last request failed without an answer (not a timeout): perhaps a CORS refusal. */
  private _unanswered = false;
  private _strikes = 0;
  private _unlisten: Array<() => void> = [];

  constructor(options: InitOptions, env: Partial<Env> = {}) {
    super();
    const { tenant, publishableKey, baseUrl } = options ?? ({} as InitOptions);
    if (typeof tenant !== "string" || !SLUG.test(tenant)) throw invalid("invalid-options", "tenant must be the tenant's slug");
    if (typeof publishableKey !== "string" || !publishableKey.startsWith("pk_")) {
      throw invalid("invalid-options", "publishableKey must be a publishable key (pk_…)");
    }
    if (!isHttpUrl(baseUrl)) throw invalid("invalid-options", "baseUrl must be an http(s) URL");
    this.tenant = tenant;
    this._options = { ...options };
    this._env = { ...browserEnv(), ...env };
    this._root = baseUrl.replace(/\/+$/, "");
    this._base = `${this._root}/web/v1/${tenant}`;
    this._store = new TenantStore(this._env.storage, tenant);
    this._session = this._store.session();
    this._outbox = this._store.outbox();
    this._backoff = new Backoff({ random: this._env.random });
    this._listen("online", () => this._kick());
    this._listen("offline", () => this._fail(networkError("the browser is offline")));
    this._listen("storage", (event) => this._onStorage(event as StorageEvent));
    // After the caller's synchronous `on(...)` calls, so they see every event.
    void Promise.resolve().then(() => this._run());
  }

  /** The options the client was made with (`user` is the latest identified user). */
  get options(): Readonly<InitOptions> {
    return this._options;
  }

  get connection(): ConnectionState {
    return this._connection;
  }

  /** The current conversation, once ready. */
  get session(): Session | null {
    return this._info;
  }

  /** Messages not yet accepted by the server, oldest first. */
  pending(): Pending[] {
    return this._outbox.map((item) => ({ ...item }));
  }

  /** Resolves when the conversation is established (the `ready` event). */
  whenReady(): Promise<Session> {
    return this._ready.promise;
  }

  /** Make the visitor a user of the site, with the proof the site's server computed. */
  async identify(user: UserProfile | string, proof: string): Promise<Session> {
    const profile = typeof user === "string" ? { id: user } : user;
    if (!profile?.id || typeof proof !== "string" || !proof) {
      return this._reject(invalid("invalid-user", "identify needs a user id and its proof"));
    }
    this._options = { ...this._options, user: { ...profile, proof } };
    this._fatal = null;
    this._recovering = false;
    try {
      await this._start();
    } catch (error) {
      return this._reject(networkError(error));
    }
    void this._run();
    return this._info as Session;
  }

  /** Send a message; queued while offline and sent once, in order, when the network returns. */
  send(input: string | SendInput): Promise<Accepted> {
    const { text, payload } = typeof input === "string" ? { text: input, payload: undefined } : (input ?? {});
    if (typeof text !== "string" || !text.trim() || text.length > MAX_TEXT) {
      return this._reject(invalid("invalid-message", `text must have 1 to ${MAX_TEXT} characters`));
    }
    if (payload !== undefined && (typeof payload !== "string" || !payload || payload.length > MAX_PAYLOAD)) {
      return this._reject(invalid("invalid-message", `payload must have 1 to ${MAX_PAYLOAD} characters`));
    }
    if (this._destroyed || this._fatal) return this._reject(this._fatal ?? destroyed());
    const item: Pending = { client_id: this._env.uuid(), text };
    if (payload !== undefined) item.payload = payload;
    this._outbox.push(item);
    this._store.addPending(item);
    const waiter = deferred<Accepted>();
    this._waiters.set(item.client_id, waiter);
    void this._flush();
    return waiter.promise;
  }

  /** The conversation's messages, oldest first. */
  async history(): Promise<Message[]> {
    try {
      await this._ready.promise;
      const messages: Message[] = [];
      let after = 0;
      while (messages.length < MAX_HISTORY) {
        const page = await this._request<History>(
          "GET",
          `/conversations/${this._conversation()}/messages?after=${after}&limit=${PAGE}`,
        );
        messages.push(...page.messages);
        const last = page.messages[page.messages.length - 1];
        if (!last || page.messages.length < PAGE) break;
        after = last.seq;
      }
      return messages;
    } catch (error) {
      return this._reject(networkError(error));
    }
  }

  /** Continue on WhatsApp: a one-time link (opened in a new tab unless `open: false`). */
  async transfer(channel: "whatsapp" = "whatsapp", options: { open?: boolean } = {}): Promise<TransferLink & { opened: boolean }> {
    try {
      await this._ready.promise;
      const issued = await this._request<TransferLink>("POST", `/conversations/${this._conversation()}/transfer`, {
        channel,
      });
      const link: TransferLink = {
        link: issued.link,
        code: issued.code,
        channel: issued.channel,
        expires_at: issued.expires_at,
      };
      this._events.emit("transfer", { state: "issued", ...link });
      const opened = options.open !== false && isHttpUrl(link.link) && this._env.open(link.link);
      return { ...link, opened };
    } catch (error) {
      return this._reject(networkError(error));
    }
  }

  /** Stop: close the stream, drop listeners. Unsent messages stay stored unless `forget`. */
  destroy(options: DestroyOptions = {}): void {
    if (this._destroyed) return;
    this._destroyed = true;
    this._clearTimer();
    this._closeStream();
    for (const unlisten of this._unlisten) unlisten();
    this._ready.reject(destroyed());
    for (const waiter of this._waiters.values()) waiter.reject(destroyed());
    this._waiters.clear();
    if (options.forget) this._store.clear();
    this._events.clear();
  }

  // ---- connecting ---------------------------------------------------------------------

  /** Bring the client online: a session, the messages missed, the stream, then the outbox. */
  private async _run(): Promise<void> {
    if (this._destroyed || this._fatal) return;
    if (this._running) {
      this._again = true;
      return;
    }
    this._running = true;
    this._clearTimer();
    this._closeStream();
    try {
      if (!this._env.onLine()) throw networkError("the browser is offline");
      this._setConnection(this._connection === "online" ? "online" : "reconnecting");
      // Once per page (a fresh token, who the visitor is), and when the conversation changed.
      if (!this._info || !this._session?.conversation_id) await this._start();
      await this._catchUp();
      this._openStream();
      this._backoff.reset();
      this._recovering = false;
      this._strikes = 0;
      this._setConnection("online");
      void this._flush();
    } catch (error) {
      this._fail(networkError(error));
    } finally {
      this._running = false;
      if (this._again && !this._destroyed) {
        this._again = false;
        void this._run();
      }
    }
  }

  /** Start or resume the conversation (under a lock, so tabs opened together share one). */
  private async _start(): Promise<void> {
    const start = async (): Promise<void> => {
      const stored = this._store.session() ?? this._session;
      const { locale, user } = this._options;
      const body: { locale?: string; user?: User } = {};
      if (locale && LOCALE.test(locale)) body.locale = locale;
      if (user) body.user = user;
      let web: WebSession;
      try {
        web = await this._request<WebSession>("POST", "/conversations", body, true, stored?.visitor_token ?? null);
      } catch (error) {
        const refused = error instanceof FrontDeskError && error.status === 401 && error.code !== "identity-required";
        if (!stored || !refused) throw error;
        // The stored token expired or was revoked: this browser starts afresh.
        this._store.saveSession(null);
        web = await this._request<WebSession>("POST", "/conversations", body, true, null);
      }
      if (this._destroyed) return; // a sign-out meanwhile must not store the session again
      const id = web.conversation.id;
      const known = [stored, this._session].find((s) => s?.conversation_id === id);
      this._session = {
        visitor_token: web.visitor_token,
        conversation_id: id,
        last_seq: known ? known.last_seq : web.conversation.last_seq,
      };
      this._store.saveSession(this._session);
      const changed = this._info?.conversation_id !== id;
      this._info = { conversation_id: id, contact_id: web.contact_id, resumed: web.resumed, verified: web.verified };
      if (this._ready.state === "rejected") this._ready = deferred();
      this._ready.resolve(this._info);
      if (changed) this._events.emit("ready", this._info);
    };
    const locks = this._env.locks;
    await (locks ? locks.request(`frontdesk:${this.tenant}`, start) : start());
  }

  /** Read what was missed since the last message seen, before the stream takes over. */
  private async _catchUp(): Promise<void> {
    for (let page = 0; page * PAGE < MAX_HISTORY; page++) {
      const session = this._session;
      if (!session?.conversation_id) return;
      const history = await this._request<History>(
        "GET",
        `/conversations/${session.conversation_id}/messages?after=${session.last_seq}&limit=${PAGE}`,
      );
      for (const message of history.messages) this._deliver(message);
      if (history.messages.length < PAGE) return;
    }
  }

  private _openStream(): void {
    const Source = this._env.EventSource;
    const session = this._session;
    if (!Source || !session?.conversation_id || this._destroyed) return;
    const url =
      `${this._base}/conversations/${session.conversation_id}/events` +
      `?token=${encodeURIComponent(session.visitor_token)}&after=${session.last_seq}`;
    const stream = new Source(url);
    this._stream = stream;
    const on = (type: string, handle: (data: Record<string, unknown>) => void): void =>
      stream.addEventListener(type, (event) => {
        if (this._stream !== stream) return;
        let data: unknown;
        try {
          data = JSON.parse(event.data);
        } catch {
          return;
        }
        if (data && typeof data === "object") handle(data as Record<string, unknown>);
      });
    on("message", (data) => this._onStreamMessage(data as unknown as Message));
    on("typing", (data) => this._events.emit("typing", { typing: data.typing !== false }));
    on("handoff", (data) => this._events.emit("status", { state: String(data.state), ...strings(data, "agent") }));
    on("transferred", (data) => {
      const channel = String(data.channel);
      this._events.emit("transfer", { state: "completed", channel, from: String(data.from) });
      this._events.emit("status", { state: "transferred", channel });
    });
    // The browser would retry at a fixed pace without resuming; we back off and resume.
    stream.onerror = () => {
      if (this._stream === stream) this._fail(networkError("the event stream dropped"));
    };
  }

  private _onStreamMessage(message: Message): void {
    const session = this._session;
    if (!session || typeof message.seq !== "number") return;
    if (message.seq > session.last_seq + 1 || this._filling) {
      // A gap: read what came between from the store first, so the order holds.
      this._filling ??= this._catchUp()
        .catch((error: unknown) => this._fail(networkError(error)))
        .finally(() => {
          this._filling = null;
        });
      void this._filling.then(() => this._deliver(message));
      return;
    }
    this._deliver(message);
  }

  /** Each message once: by its number in the conversation. */
  private _deliver(message: Message): void {
    const session = this._session;
    if (this._destroyed || !session || message.conversation_id !== session.conversation_id || message.seq <= session.last_seq) {
      return;
    }
    session.last_seq = message.seq;
    const stored = this._store.session();
    const sameElsewhere =
      stored?.conversation_id === session.conversation_id && stored.visitor_token === session.visitor_token;
    if (!stored || (sameElsewhere && stored.last_seq < session.last_seq)) this._store.saveSession(session);
    this._events.emit("message", message);
  }

  private _fail(error: FrontDeskError): void {
    if (this._destroyed) return;
    this._closeStream();
    const unanswered = this._unanswered && error.status === 0;
    this._unanswered = false;
    if (error.retryable) {
      this._setConnection("offline");
      const wait = error.retryAfter ? error.retryAfter * 1000 : this._backoff.next();
      if (unanswered && this._env.onLine()) void this._probe(wait);
      else this._schedule(wait);
      return;
    }
    const session = this._session;
    const stale = error.status === 401 || error.status === 404 || GONE.includes(error.code);
    if (stale && session && !this._recovering && error.code !== "identity-required") {
      // The token or the conversation is no longer good (expired, erased, moved, closed):
      // start or resume once; a second refusal is final.
      this._recovering = true;
      session.conversation_id = null;
      if (error.status === 401) this._session = null;
      this._schedule(0);
      return;
    }
    this._fatal = error;
    this._setConnection(error.code === "origin-not-allowed" ? "refused" : "offline");
    this._ready.reject(error);
    for (const waiter of this._waiters.values()) waiter.reject(error);
    this._waiters.clear();
    this._events.emit("error", error);
  }

  /** A request got no answer while the browser says it is online: the browser hides a CORS
   * refusal as a network error, so ask the SDK's manifest (readable from any origin). If the
   * server answers that but not the chat, twice, this origin is refused: say so and stop. */
  private async _probe(wait: number): Promise<void> {
    const abort = typeof AbortController === "function" ? new AbortController() : null;
    const timer = setTimeout(() => abort?.abort(), REQUEST_TIMEOUT);
    let answered = false;
    try {
      await this._env.fetch(`${this._root}/sdk/v1/manifest.json`, {
        credentials: "omit",
        cache: "no-store",
        signal: abort?.signal ?? null,
      });
      answered = true;
    } catch {
      // Unreachable as well: a real network failure.
    } finally {
      clearTimeout(timer);
    }
    if (this._destroyed || this._fatal || this._connection !== "offline" || this._timer !== null) return;
    this._strikes = answered ? this._strikes + 1 : 0;
    if (this._strikes < STRIKES) return this._schedule(wait);
    const origin = this._env.origin ?? "this page's origin";
    this._fail(
      new FrontDeskError(
        403,
        "/problems/origin-not-allowed",
        "Origin not allowed",
        `Front Desk is reachable but refuses this page's origin (${origin}) for the tenant "${this.tenant}". ` +
          `The site's owner must add ${origin} to the tenant's allowed origins.`,
      ),
    );
  }

  private _kick(): void {
    this._backoff.reset();
    void this._run();
  }

  /** Another tab changed the session (started one, identified, moved on): follow it. */
  private _onStorage(event: StorageEvent): void {
    if (event.key !== this._store.key || !this._session || this._destroyed) return;
    if (!event.newValue) {
      // Another tab forgot the visitor (the site's sign-out): this one starts afresh too.
      this._session = null;
      this._info = null;
      void this._run();
      return;
    }
    let other: StoredSession | null = null;
    try {
      other = parseSession(JSON.parse(event.newValue));
    } catch {
      return;
    }
    const mine = this._session;
    if (!other || (other.visitor_token === mine.visitor_token && other.conversation_id === mine.conversation_id)) return;
    if (other.conversation_id && other.conversation_id === mine.conversation_id) {
      mine.visitor_token = other.visitor_token;
      return;
    }
    // Resume with its token: the server answers with the conversation the other tab is in.
    this._session = { ...other, conversation_id: null };
    void this._run();
  }

  // ---- sending ------------------------------------------------------------------------

  private async _flush(): Promise<void> {
    if (this._flushing) return;
    this._flushing = true;
    try {
      while (!this._destroyed && this._connection === "online") {
        const item = this._outbox[0];
        const conversation = this._session?.conversation_id;
        if (!item || !conversation) return;
        const body: Record<string, string> = { text: item.text, client_id: item.client_id };
        if (item.payload !== undefined) body.payload = item.payload;
        let accepted: Accepted;
        try {
          const answer = await this._request<Omit<Accepted, "client_id">>(
            "POST",
            `/conversations/${conversation}/messages`,
            body,
          );
          accepted = { ...answer, client_id: item.client_id };
        } catch (caught) {
          const error = networkError(caught);
          if (error.retryable || error.status === 401 || error.status === 404 || GONE.includes(error.code)) {
            // Kept, with its client_id: the retry is stored once.
            this._fail(error);
            return;
          }
          this._settle(item);
          this._waiters.get(item.client_id)?.reject(error);
          this._waiters.delete(item.client_id);
          this._events.emit("error", error);
          continue;
        }
        this._settle(item);
        this._waiters.get(item.client_id)?.resolve(accepted);
        this._waiters.delete(item.client_id);
      }
    } finally {
      this._flushing = false;
    }
  }

  private _settle(item: Pending): void {
    this._outbox = this._outbox.filter((p) => p.client_id !== item.client_id);
    this._store.removePending(item.client_id);
  }

  // ---- plumbing -----------------------------------------------------------------------

  private async _request<T>(
    method: "GET" | "POST",
    path: string,
    body?: unknown,
    withKey = false,
    token: string | null = this._session?.visitor_token ?? null,
  ): Promise<T> {
    this._unanswered = false;
    const headers: Record<string, string> = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (withKey) headers["X-FrontDesk-Key"] = this._options.publishableKey;
    if (token) headers.Authorization = `Bearer ${token}`;
    // A request the network swallows would stall the client: give up after a while and retry.
    const abort = typeof AbortController === "function" ? new AbortController() : null;
    const timer = setTimeout(() => abort?.abort(), REQUEST_TIMEOUT);
    try {
      let response: Response;
      try {
        response = await this._env.fetch(this._base + path, {
          method,
          headers,
          body: body === undefined ? null : JSON.stringify(body),
          credentials: "omit",
          cache: "no-store",
          signal: abort?.signal ?? null,
        });
      } catch (error) {
        // Not a timeout of ours: the browser had no answer (the network, or a CORS refusal).
        this._unanswered = !abort?.signal.aborted;
        throw networkError(error);
      }
      if (!response.ok) throw await errorFromResponse(response);
      try {
        return (await response.json()) as T;
      } catch (error) {
        throw networkError(error);
      }
    } finally {
      clearTimeout(timer);
    }
  }

  private _conversation(): string {
    const id = this._session?.conversation_id;
    if (!id) throw networkError("the conversation is not ready");
    return id;
  }

  private _reject<T>(error: FrontDeskError): Promise<T> {
    this._events.emit("error", error);
    return Promise.reject(error);
  }

  private _setConnection(state: ConnectionState): void {
    if (state === this._connection) return;
    this._connection = state;
    this._events.emit("connection", state);
  }

  private _schedule(ms: number): void {
    this._clearTimer();
    if (this._destroyed) return;
    this._timer = this._env.setTimeout(() => {
      this._timer = null;
      void this._run();
    }, ms);
  }

  private _clearTimer(): void {
    if (this._timer !== null) this._env.clearTimeout(this._timer);
    this._timer = null;
  }

  private _closeStream(): void {
    this._stream?.close();
    this._stream = null;
  }

  private _listen(type: string, fn: (event: Event) => void): void {
    const target = this._env.window;
    if (!target) return;
    target.addEventListener(type, fn);
    this._unlisten.push(() => target.removeEventListener(type, fn));
  }
}

const destroyed = (): FrontDeskError => new FrontDeskError(0, "/problems/destroyed", "The client was destroyed");

function strings(data: Record<string, unknown>, ...keys: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of keys) if (typeof data[key] === "string") out[key] = data[key];
  return out;
}
