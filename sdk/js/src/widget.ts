/** The chat widget: a launcher and a panel in an open shadow root, built with the DOM API only
 * (message text is always `textContent`; only http(s) links are rendered). */

import { isHttpUrl, type FrontDeskClient } from "./client";
import type { FrontDeskError } from "./errors";
import type { FrontDeskSingleton } from "./frontdesk";
import type { Accepted, ConnectionState, EventName, Listener, Message, Pending, ServiceCard, QuickReply, Link } from "./types";
import { STRINGS, pickLang, type Strings } from "./widget-strings";
import { CSS } from "./widget-styles";
import type { MountOptions, Widget, WidgetApi } from "./widget-types";

export const HOST_ID = "frontdesk-widget";
const TYPING_MS = 20_000;

type Attrs = Record<string, string | boolean | undefined>;

function h<K extends keyof HTMLElementTagNameMap>(
  doc: Document,
  tag: K,
  attrs: Attrs = {},
  ...children: Array<Node | string | null>
): HTMLElementTagNameMap[K] {
  const el = doc.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === true) el.setAttribute(name, "");
    else if (typeof value === "string") el.setAttribute(name, value);
  }
  for (const child of children) if (child !== null) el.append(child); // strings become text nodes
  return el;
}

function chatIcon(doc: Document): SVGSVGElement {
  const ns = "http://www.w3.org/2000/svg";
  const svg = doc.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  const path = doc.createElementNS(ns, "path");
  path.setAttribute("d", "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3 6v2h2V9H7zm4 0v2h2V9h-2zm4 0v2h2V9h-2z");
  svg.append(path);
  return svg;
}

let sheet: CSSStyleSheet | null = null;

function style(root: ShadowRoot, doc: Document, nonce: string | undefined): void {
  // A constructed stylesheet needs no `style-src` allowance in the page's CSP.
  const win = doc.defaultView as (Window & typeof globalThis) | null;
  const Sheet = win?.CSSStyleSheet;
  if (Sheet && "adoptedStyleSheets" in root && "replaceSync" in Sheet.prototype) {
    try {
      if (!sheet || !(sheet instanceof Sheet)) {
        sheet = new Sheet();
        sheet.replaceSync(CSS);
      }
      root.adoptedStyleSheets = [sheet];
      return;
    } catch {
      // Fall back to a <style> element.
    }
  }
  const el = h(doc, "style", nonce ? { nonce } : {}, CSS);
  root.append(el);
}

/** Render one message's content (text, links, cards) into `el`. */
export function renderMessage(doc: Document, message: Pick<Message, "text" | "payload">): DocumentFragment {
  const out = doc.createDocumentFragment();
  if (message.text) out.append(h(doc, "p", {}, message.text));
  const payload = message.payload ?? {};
  const links = Array.isArray(payload.links) ? (payload.links as Link[]) : [];
  const safe = links.filter((l) => l && isHttpUrl(l.url) && typeof l.title === "string");
  if (safe.length) {
    out.append(
      h(doc, "ul", { class: "links" }, ...safe.map((l) => h(doc, "li", {}, h(doc, "a", { href: l.url, target: "_blank", rel: "noopener noreferrer" }, l.title)))),
    );
  }
  const cards = Array.isArray(payload.cards) ? (payload.cards as ServiceCard[]) : [];
  for (const card of cards) {
    if (!card || typeof card.title !== "string") continue;
    out.append(
      h(
        doc,
        "div",
        { class: "card", "data-fd": "card", role: "group", "aria-label": card.title },
        h(doc, "strong", {}, card.title),
        typeof card.summary === "string" && card.summary ? h(doc, "p", {}, card.summary) : null,
        typeof card.price_text === "string" && card.price_text ? h(doc, "span", { class: "price" }, card.price_text) : null,
      ),
    );
  }
  return out;
}

function quickReplies(message: Message | undefined): QuickReply[] {
  const list = message?.direction === "out" ? message.payload?.quick_replies : undefined;
  return Array.isArray(list) ? list.filter((q) => q && typeof q.title === "string" && typeof q.payload === "string") : [];
}

class ChatWidget implements Widget {
  readonly client: FrontDeskClient;
  readonly element: HTMLElement;
  private _doc: Document;
  private _t: Strings;
  private _root: HTMLElement;
  private _launcher: HTMLButtonElement;
  private _badge: HTMLElement;
  private _panel: HTMLElement;
  private _status: HTMLElement;
  private _log: HTMLElement;
  private _typing: HTMLElement;
  private _quick: HTMLElement;
  private _input: HTMLInputElement;
  private _transfer: HTMLButtonElement;
  private _foot: HTMLElement;
  private _messages = new Map<string, Message>();
  private _unread = 0;
  private _open = false;
  private _typingTimer: ReturnType<typeof setTimeout> | undefined;
  private _conversation: string | null = null;
  private _off: Array<() => void> = [];

  constructor(client: FrontDeskClient, options: MountOptions, doc: Document) {
    this.client = client;
    this._doc = doc;
    const locale = options.locale ?? client.options.locale;
    this._t = STRINGS[pickLang(locale, doc.documentElement.lang, doc.defaultView?.navigator?.language)];
    const t = this._t;
    const theme = options.theme ?? client.options.theme ?? {};

    this.element = h(doc, "div", { id: HOST_ID });
    const shadow = this.element.attachShadow({ mode: "open" });
    style(shadow, doc, options.nonce);

    this._badge = h(doc, "span", { class: "unread", "data-fd": "unread", "aria-hidden": "true", hidden: true });
    this._launcher = h(
      doc,
      "button",
      { type: "button", class: "launcher", "data-fd": "launcher", "aria-label": t.open, "aria-expanded": "false", "aria-controls": "fd-panel" },
      chatIcon(doc),
      this._badge,
    );
    const close = h(doc, "button", { type: "button", class: "x", "data-fd": "close", "aria-label": t.close }, "×");
    this._status = h(doc, "div", { class: "status", "data-fd": "status", role: "status", hidden: true });
    this._log = h(doc, "div", { class: "log", "data-fd": "messages", role: "log", "aria-live": "polite", "aria-label": t.title, tabindex: "0" });
    this._typing = h(doc, "div", { class: "typing", "data-fd": "typing", "aria-live": "polite", hidden: true }, t.typing);
    this._quick = h(doc, "div", { class: "quick", role: "group", "aria-label": t.quickReplies, hidden: true });
    this._input = h(doc, "input", {
      type: "text",
      "data-fd": "input",
      "aria-label": t.input,
      placeholder: t.placeholder,
      maxlength: "4000",
      autocomplete: "off",
      enterkeyhint: "send",
    });
    const sendButton = h(doc, "button", { type: "submit", class: "send", "data-fd": "send" }, t.send);
    const form = h(doc, "form", { class: "form" }, this._input, sendButton);
    this._transfer = h(doc, "button", { type: "button", class: "transfer", "data-fd": "transfer" }, t.transfer);
    this._foot = h(doc, "div", { class: "foot" }, this._transfer);
    this._panel = h(
      doc,
      "div",
      { class: "panel", id: "fd-panel", "data-fd": "panel", role: "dialog", "aria-label": t.title, hidden: true },
      h(doc, "div", { class: "head" }, h(doc, "h2", {}, t.title), close),
      this._status,
      this._log,
      this._typing,
      this._quick,
      form,
      this._foot,
    );
    this._root = h(doc, "div", { class: "fd", "data-position": theme.position === "left" ? "left" : "right", "data-inline": Boolean(options.container) }, this._panel, this._launcher);
    // CSSOM, not a style attribute: allowed by a strict CSP; an invalid colour is ignored.
    if (theme.color) this._root.style.setProperty("--fd-color", theme.color);
    shadow.append(this._root);

    this._launcher.addEventListener("click", () => this.toggle());
    close.addEventListener("click", () => this.close());
    this._panel.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        this.close();
      }
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = this._input.value.trim();
      if (!text) return;
      this._input.value = "";
      this._send(text);
    });
    this._transfer.addEventListener("click", () => this._startTransfer());

    this._subscribe("message", (m) => this._onMessage(m, true));
    this._subscribe("ready", (s) => this._load(s.conversation_id));
    this._subscribe("typing", ({ typing }) => this._setTyping(typing));
    this._subscribe("connection", (state) => this._setConnection(state));
    this._subscribe("transfer", (event) => {
      if (event.state === "completed") this._note(t.transferred);
    });
    this._subscribe("error", (error) => this._onError(error));

    const parent = options.container ?? doc.body;
    if (parent) parent.append(this.element);
    else doc.addEventListener("DOMContentLoaded", () => doc.body.append(this.element), { once: true });
    for (const item of client.pending()) this._appendPending(item);
    if (client.session) this._load(client.session.conversation_id);
    this._setConnection(client.connection);
    if (options.open) this._show(false); // open, but the page keeps its focus
  }

  get isOpen(): boolean {
    return this._open;
  }

  get unread(): number {
    return this._unread;
  }

  open(): void {
    this._show(true);
  }

  private _show(focus: boolean): void {
    this._open = true;
    this._panel.hidden = false;
    this._root.setAttribute("data-open", "");
    this._launcher.setAttribute("aria-expanded", "true");
    this._setUnread(0);
    this._scroll();
    if (focus) this._input.focus();
  }

  close(): void {
    const hadFocus = this.element.shadowRoot?.activeElement != null;
    this._open = false;
    this._panel.hidden = true;
    this._root.removeAttribute("data-open");
    this._launcher.setAttribute("aria-expanded", "false");
    if (hadFocus) this._launcher.focus();
  }

  toggle(): void {
    if (this._open) this.close();
    else this.open();
  }

  unmount(): void {
    for (const off of this._off) off();
    this._off = [];
    clearTimeout(this._typingTimer);
    this.element.remove();
  }

  // ---- rendering ----------------------------------------------------------------------

  private _subscribe<K extends EventName>(event: K, fn: Listener<K>): void {
    this.client.on(event, fn);
    this._off.push(() => this.client.off(event, fn));
  }

  private _load(conversation: string): void {
    if (conversation !== this._conversation) {
      // A new conversation (identified, or after a transfer): start the list afresh.
      this._conversation = conversation;
      this._messages.clear();
      for (const el of Array.from(this._log.querySelectorAll("[data-seq]"))) el.remove();
    }
    this.client.history().then(
      (messages) => {
        for (const m of messages) this._onMessage(m, false);
      },
      () => undefined, // reported as an `error` event
    );
  }

  private _onMessage(message: Message, live: boolean): void {
    if (!message?.id || this._messages.has(message.id)) return;
    if (this._conversation && message.conversation_id !== this._conversation) return;
    this._messages.set(message.id, message);
    const el =
      this._byId(message.id) ??
      (message.direction === "in" ? this._adoptPending(message.text) : null) ??
      h(this._doc, "div", { class: "msg", "data-fd": "message" });
    el.textContent = "";
    el.removeAttribute("data-pending");
    el.removeAttribute("data-client-id");
    el.removeAttribute("title");
    el.setAttribute("data-direction", message.direction === "in" ? "in" : "out");
    el.setAttribute("data-sender", String(message.sender));
    el.setAttribute("data-id", message.id);
    el.setAttribute("data-seq", String(message.seq));
    el.append(renderMessage(this._doc, message));
    this._insert(el, message.seq);
    if (message.direction === "out") {
      this._setTyping(false);
      if (live && !this._open) this._setUnread(this._unread + 1);
    }
    this._renderQuickReplies();
    this._scroll();
  }

  /** By number; messages not yet sent stay last. */
  private _insert(el: HTMLElement, seq: number): void {
    const next = Array.from(this._log.children).find((child) => {
      const other = child.getAttribute("data-seq");
      return child !== el && (other === null || Number(other) > seq);
    });
    this._log.insertBefore(el, next ?? null);
  }

  private _appendPending(item: Pending): HTMLElement {
    const el = h(this._doc, "div", {
      class: "msg",
      "data-fd": "message",
      "data-direction": "in",
      "data-pending": "true",
      "data-client-id": item.client_id,
      title: this._t.pending,
    });
    el.append(renderMessage(this._doc, { text: item.text, payload: {} }));
    this._log.append(el);
    this._scroll();
    return el;
  }

  private _byId(id: string): HTMLElement | null {
    return Array.from(this._log.querySelectorAll<HTMLElement>("[data-id]")).find((el) => el.getAttribute("data-id") === id) ?? null;
  }

  private _adoptPending(text: string): HTMLElement | null {
    return (
      Array.from(this._log.querySelectorAll<HTMLElement>("[data-pending]")).find((el) => el.textContent === text) ?? null
    );
  }

  private _send(text: string, payload?: string): void {
    const el = this._appendPending({ client_id: "", text });
    this._quick.hidden = true;
    this._quick.textContent = "";
    const sent = (accepted: Accepted): void => {
      if (!el.hasAttribute("data-pending")) return; // the stream was first and took it
      if (this._byId(accepted.id)) {
        el.remove();
        return;
      }
      // Sent; the stream brings the message itself and fills this bubble in.
      el.removeAttribute("data-pending");
      el.setAttribute("data-id", accepted.id);
      el.setAttribute("data-seq", String(accepted.seq));
      this._insert(el, accepted.seq);
    };
    const failed = (): void => {
      el.removeAttribute("data-pending");
      el.setAttribute("data-failed", "true");
      el.title = this._t.failed;
    };
    this.client.send(payload === undefined ? text : { text, payload }).then(sent, (error: FrontDeskError) => {
      // A payload the server does not take: the tap still counts, as its title.
      if (payload !== undefined && error.status === 422) this.client.send(text).then(sent, failed);
      else failed();
    });
  }

  private _renderQuickReplies(): void {
    const last = Array.from(this._log.querySelectorAll<HTMLElement>("[data-seq]")).pop();
    const message = last ? this._messages.get(last.getAttribute("data-id") ?? "") : undefined;
    const replies = quickReplies(message);
    this._quick.textContent = "";
    this._quick.hidden = replies.length === 0;
    for (const reply of replies) {
      const button = h(this._doc, "button", { type: "button", "data-fd": "quick-reply" }, reply.title);
      button.addEventListener("click", () => this._send(reply.title, reply.payload));
      this._quick.append(button);
    }
  }

  private _setTyping(typing: boolean): void {
    clearTimeout(this._typingTimer);
    this._typing.hidden = !typing;
    if (typing) this._typingTimer = setTimeout(() => this._setTyping(false), TYPING_MS);
  }

  private _setUnread(count: number): void {
    this._unread = count;
    this._badge.textContent = String(count);
    this._badge.hidden = count === 0;
    this._launcher.setAttribute("aria-label", count ? `${this._t.open} (${this._t.unread(count)})` : this._t.open);
  }

  private _setConnection(state: ConnectionState): void {
    const t = this._t;
    const text = state === "refused" ? t.refused : state === "offline" ? t.offline : state === "reconnecting" && this._conversation ? t.reconnecting : "";
    this._status.textContent = text;
    this._status.hidden = !text;
    this._root.setAttribute("data-connection", state);
  }

  private _onError(error: FrontDeskError): void {
    const { code } = error;
    const text = code === "identity-required" ? this._t.identity : code === "origin-not-allowed" ? this._t.refused : error.status === 403 ? error.title : "";
    if (!text) return;
    this._status.textContent = text;
    this._status.hidden = false;
  }

  private _note(text: string): void {
    this._log.append(h(this._doc, "div", { class: "msg", "data-sender": "system" }, text));
    this._scroll();
  }

  private _startTransfer(): void {
    this._transfer.disabled = true;
    this.client.transfer("whatsapp").then(
      (result) => {
        this._transfer.disabled = false;
        this._foot.querySelector("a")?.remove();
        if (!result.opened && isHttpUrl(result.link)) {
          // A popup blocker stopped the new tab: offer the link to tap.
          this._foot.append(
            h(this._doc, "a", { href: result.link, target: "_blank", rel: "noopener noreferrer", "data-fd": "transfer-link" }, this._t.transferOpen),
          );
        }
      },
      () => {
        this._transfer.disabled = false;
      },
    );
  }

  private _scroll(): void {
    this._log.scrollTop = this._log.scrollHeight;
  }
}

/** `FrontDesk.widget`: `mount` finds or makes the client and puts the widget on the page. */
export function createWidgetApi(frontDesk: FrontDeskSingleton): WidgetApi {
  return {
    mount(options: MountOptions = {}): Widget {
      const doc = options.container?.ownerDocument ?? globalThis.document;
      const existing = doc.getElementById(HOST_ID);
      if (existing && !options.container) existing.remove(); // one widget per page
      let client = options.client ?? null;
      if (!client && options.tenant) {
        client = frontDesk.init(options as Parameters<FrontDeskSingleton["init"]>[0]);
      }
      client ??= frontDesk.client;
      if (!client) throw new Error("FrontDesk.widget.mount: call FrontDesk.init({...}) first, or pass the options");
      return new ChatWidget(client, options, doc);
    },
  };
}
