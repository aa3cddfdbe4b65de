/** What a browser keeps per tenant in localStorage: `frontdesk:<tenant>` holds the session
 * (`{visitor_token, conversation_id, last_seq}`), `frontdesk:<tenant>:outbox` the messages
 * typed while offline, so a reload or another tab sends them. */

import type { Pending } from "./types";

export interface StoredSession {
  visitor_token: string;
  conversation_id: string | null;
  last_seq: number;
}

/** The part of `Storage` the SDK uses (absent or throwing in private modes: then memory only). */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export const sessionKey = (tenant: string): string => `frontdesk:${tenant}`;
export const outboxKey = (tenant: string): string => `frontdesk:${tenant}:outbox`;

const MAX_OUTBOX = 100;

function read(storage: StorageLike | null, key: string): unknown {
  try {
    const raw = storage?.getItem(key);
    return raw ? (JSON.parse(raw) as unknown) : null;
  } catch {
    return null;
  }
}

function write(storage: StorageLike | null, key: string, value: unknown): void {
  try {
    if (value === null) storage?.removeItem(key);
    else storage?.setItem(key, JSON.stringify(value));
  } catch {
    // Full or forbidden: the SDK still works for this page.
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;

/** A stored session, or null when there is none or it is malformed. */
export function parseSession(value: unknown): StoredSession | null {
  if (!isObject(value) || typeof value.visitor_token !== "string" || !value.visitor_token) return null;
  const conversation = value.conversation_id;
  const seq = value.last_seq;
  return {
    visitor_token: value.visitor_token,
    conversation_id: typeof conversation === "string" && conversation ? conversation : null,
    last_seq: typeof seq === "number" && Number.isInteger(seq) && seq >= 0 ? seq : 0,
  };
}

function parsePending(value: unknown): Pending | null {
  if (!isObject(value) || typeof value.client_id !== "string" || typeof value.text !== "string") {
    return null;
  }
  const item: Pending = { client_id: value.client_id, text: value.text };
  if (typeof value.payload === "string") item.payload = value.payload;
  return item;
}

export class TenantStore {
  constructor(
    readonly storage: StorageLike | null,
    readonly tenant: string,
  ) {}

  get key(): string {
    return sessionKey(this.tenant);
  }

  session(): StoredSession | null {
    return parseSession(read(this.storage, this.key));
  }

  saveSession(session: StoredSession | null): void {
    write(this.storage, this.key, session);
  }

  outbox(): Pending[] {
    const list = read(this.storage, outboxKey(this.tenant));
    return Array.isArray(list) ? list.map(parsePending).filter((p): p is Pending => p !== null) : [];
  }

  /** Read-modify-write, so two tabs adding and removing do not drop each other's items. */
  addPending(item: Pending): void {
    const list = this.outbox().filter((p) => p.client_id !== item.client_id);
    list.push(item);
    write(this.storage, outboxKey(this.tenant), list.slice(-MAX_OUTBOX));
  }

  removePending(clientId: string): void {
    const list = this.outbox();
    const rest = list.filter((p) => p.client_id !== clientId);
    if (rest.length !== list.length) write(this.storage, outboxKey(this.tenant), rest.length ? rest : null);
  }

  clear(): void {
    write(this.storage, this.key, null);
    write(this.storage, outboxKey(this.tenant), null);
  }
}
