/** What the client takes from the browser, injectable so the tests run in Node with fakes. */

import type { StorageLike } from "./storage";

export interface EventSourceLike {
  readonly readyState: number;
  addEventListener(type: string, listener: (event: MessageEvent<string>) => void): void;
  close(): void;
  onopen: ((event: Event) => void) | null;
  onerror: ((event: Event) => void) | null;
}

export type EventSourceFactory = new (url: string) => EventSourceLike;

/** `window`, as far as the client needs it: the `online`, `offline` and `storage` events. */
export interface WindowLike {
  addEventListener(type: string, listener: (event: Event) => void): void;
  removeEventListener(type: string, listener: (event: Event) => void): void;
}

export interface LocksLike {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
}

export interface Env {
  fetch: typeof fetch;
  EventSource: EventSourceFactory | undefined;
  storage: StorageLike | null;
  window: WindowLike | undefined;
  /** `navigator.onLine`: false means offline for sure; true means perhaps online. */
  onLine: () => boolean;
  locks: LocksLike | undefined;
  setTimeout: (fn: () => void, ms: number) => unknown;
  clearTimeout: (handle: unknown) => void;
  random: () => number;
  open: (url: string) => boolean;
  uuid: () => string;
  /** The page's origin (`https://www.acme.example`), named when the server refuses it. */
  origin: string | undefined;
}

function localStorageOrNull(): StorageLike | null {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null; // Blocked (third-party storage settings): memory only.
  }
}

function uuid(): string {
  const c = globalThis.crypto;
  if (c?.randomUUID) return c.randomUUID();
  const bytes = new Uint8Array(16);
  if (c?.getRandomValues) c.getRandomValues(bytes);
  else for (let i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function browserEnv(): Env {
  const g = globalThis as typeof globalThis & { window?: Window };
  const nav = typeof navigator === "undefined" ? undefined : navigator;
  return {
    fetch: (input, init) => g.fetch(input, init),
    EventSource: g.EventSource as EventSourceFactory | undefined,
    storage: localStorageOrNull(),
    window: g.window,
    onLine: () => nav?.onLine !== false,
    locks: (nav as (Navigator & { locks?: LocksLike }) | undefined)?.locks,
    setTimeout: (fn, ms) => g.setTimeout(fn, ms),
    clearTimeout: (handle) => g.clearTimeout(handle as number),
    random: Math.random,
    open: (url) => {
      const opened = g.window?.open(url, "_blank");
      if (opened) opened.opener = null;
      return Boolean(opened);
    },
    uuid,
    origin: g.location?.origin,
  };
}
