/** The ready singleton (`window.FrontDesk`) and the replay of calls queued by the snippet. */

import { FrontDeskClient, type DestroyOptions } from "./client";
import { Listenable } from "./emitter";
import type { Env } from "./env";
import { FrontDeskError } from "./errors";
import type { Accepted, EventName, Events, InitOptions, Message, SendInput, Session, TransferLink, UserProfile } from "./types";
import type { WidgetApi } from "./widget-types";

export const VERSION = "1.0.0";

const EVENTS: EventName[] = ["ready", "message", "typing", "status", "transfer", "connection", "error"];

/** A call the snippet's stub recorded before the script loaded: `[method, arguments]`. */
export type QueuedCall = [string, ArrayLike<unknown>];

const noClient = (): FrontDeskError =>
  new FrontDeskError(400, "/problems/not-initialised", "Not initialised", "call FrontDesk.init({...}) first");

/** `FrontDesk`: `init` makes the client; the other methods act on it, `on`/`off` work before it. */
export class FrontDeskSingleton extends Listenable<Events> {
  readonly version = VERSION;
  /** The widget API (in `frontdesk.js` and the ESM module; not in `frontdesk-core.js`). */
  widget: WidgetApi | undefined;
  readonly FrontDeskClient = FrontDeskClient;
  private _client: FrontDeskClient | null = null;
  private _env: Partial<Env>;

  constructor(env: Partial<Env> = {}) {
    super();
    this._env = env;
  }

  get client(): FrontDeskClient | null {
    return this._client;
  }

  /** Make the client (a second `init` replaces the first). */
  init(options: InitOptions): FrontDeskClient {
    this._client?.destroy();
    const client = new FrontDeskClient(options, this._env);
    for (const name of EVENTS) client.on(name, (data) => this._events.emit(name, data as never));
    this._client = client;
    return client;
  }

  send(input: string | SendInput): Promise<Accepted> {
    return this._client ? this._client.send(input) : Promise.reject(noClient());
  }

  identify(user: UserProfile | string, proof: string): Promise<Session> {
    return this._client ? this._client.identify(user, proof) : Promise.reject(noClient());
  }

  history(): Promise<Message[]> {
    return this._client ? this._client.history() : Promise.reject(noClient());
  }

  transfer(channel: "whatsapp" = "whatsapp", options: { open?: boolean } = {}): Promise<TransferLink & { opened: boolean }> {
    return this._client ? this._client.transfer(channel, options) : Promise.reject(noClient());
  }

  /** `FrontDesk.mount(...)` = `FrontDesk.widget.mount(...)` (the snippet's stub queues `mount`). */
  mount(options: Parameters<WidgetApi["mount"]>[0] = {}): ReturnType<WidgetApi["mount"]> {
    if (!this.widget) throw new FrontDeskError(400, "/problems/no-widget", "No widget", "load frontdesk.js, not frontdesk-core.js");
    return this.widget.mount(options);
  }

  destroy(options: DestroyOptions = {}): void {
    this._client?.destroy(options);
    this._client = null;
  }
}

/** Run the calls the snippet queued, in order; one that fails does not stop the others. */
export function replay(target: FrontDeskSingleton, queue: unknown): void {
  if (!Array.isArray(queue)) return;
  for (const entry of queue as unknown[]) {
    if (!Array.isArray(entry) || typeof entry[0] !== "string") continue;
    const [name, args] = entry as QueuedCall;
    const method = name === "widget.mount" ? "mount" : name;
    const fn = (target as unknown as Record<string, unknown>)[method];
    if (method.startsWith("_") || typeof fn !== "function") continue;
    try {
      const result: unknown = fn.apply(target, Array.from(args ?? []));
      if (result instanceof Promise) result.catch(() => undefined); // reported as `error` events
    } catch (error) {
      console.error(`FrontDesk.${method} failed`, error);
    }
  }
}

/** Put the singleton on `window.FrontDesk`, replaying the stub's queue; loading twice is harmless. */
export function install(singleton: FrontDeskSingleton, scope: { FrontDesk?: unknown } = globalThis as { FrontDesk?: unknown }): FrontDeskSingleton {
  const existing = scope.FrontDesk;
  if (existing instanceof FrontDeskSingleton) return existing;
  scope.FrontDesk = singleton;
  if (existing && typeof existing === "object") replay(singleton, (existing as { q?: unknown }).q);
  return singleton;
}
