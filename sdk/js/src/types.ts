/** Public shapes of the SDK. The wire format follows the server's OpenAPI (`/web/v1/…`). */

/** A user of the tenant's site, proven by `proof` (computed by the tenant's server). */
export interface User {
  id: string;
  proof: string;
  name?: string;
  email?: string;
}

/** A user to `identify`, without the proof (passed apart). */
export type UserProfile = Omit<User, "proof">;

export interface Theme {
  /** Any CSS colour; the launcher, header and the visitor's bubbles use it. */
  color?: string;
  position?: "right" | "left";
}

export interface InitOptions {
  /** The tenant's slug (`acme`). */
  tenant: string;
  /** The tenant's publishable key (`pk_…`). */
  publishableKey: string;
  /** Where Front Desk runs (`https://frontdesk.example`). */
  baseUrl: string;
  /** `es`, `en`, `es-CO`…: the conversation's language and the widget's strings. */
  locale?: string;
  user?: User;
  theme?: Theme;
}

export interface QuickReply {
  title: string;
  payload: string;
}

export interface ServiceCard {
  service_id: string;
  title: string;
  summary: string;
  price_text: string;
}

export interface Link {
  title: string;
  url: string;
}

/** What a reply carries besides its text (the web chat's rendering of the engine's reply). */
export interface MessagePayload {
  quick_replies?: QuickReply[];
  cards?: ServiceCard[];
  links?: Link[];
  [key: string]: unknown;
}

export interface Message {
  id: string;
  conversation_id: string;
  /** The message's number in its conversation: increasing, no gaps. */
  seq: number;
  /** `in`: from the visitor; `out`: to the visitor (the assistant, an agent, a note). */
  direction: "in" | "out";
  channel: string;
  sender: string;
  text: string;
  payload: MessagePayload;
  status: string;
  created_at: string;
}

/** A sent message as the server accepted it. */
export interface Accepted {
  id: string;
  conversation_id: string;
  seq: number;
  status: string;
  /** `true` when the server already had this `client_id` (a retry): stored once. */
  duplicate: boolean;
  client_id: string;
}

export interface SendInput {
  text: string;
  /** A tapped quick reply's payload (≤ 200 characters). */
  payload?: string;
}

/** A message waiting to be sent (offline, or before the session is ready). */
export interface Pending {
  client_id: string;
  text: string;
  payload?: string;
}

export interface Session {
  conversation_id: string;
  contact_id: string;
  resumed: boolean;
  verified: boolean;
}

export interface TransferLink {
  link: string;
  code: string;
  channel: string;
  expires_at: string;
}

export type TransferEvent =
  | ({ state: "issued" } & TransferLink)
  | { state: "completed"; channel: string; from: string };

export interface StatusEvent {
  /** `taken`/`released`: a person took or released the conversation; `transferred`: it moved. */
  state: string;
  agent?: string;
  channel?: string;
}

/** `refused`: Front Desk answers but refuses this page's origin; the client stopped trying. */
export type ConnectionState = "online" | "offline" | "reconnecting" | "refused";

export interface Events {
  ready: Session;
  message: Message;
  typing: { typing: boolean };
  status: StatusEvent;
  transfer: TransferEvent;
  connection: ConnectionState;
  error: import("./errors").FrontDeskError;
}

export type EventName = keyof Events;
export type Listener<K extends EventName> = (data: Events[K]) => void;
