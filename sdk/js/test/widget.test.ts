import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";
import { Window } from "happy-dom";
import { FrontDeskClient } from "../src/client";
import { FrontDeskSingleton } from "../src/frontdesk";
import { STRINGS, pickLang } from "../src/widget-strings";
import { CSS } from "../src/widget-styles";
import { createWidgetApi } from "../src/widget";
import type { Widget } from "../src/widget-types";
import { FakeServer, OPTIONS, SharedStorage, env, settle } from "./fakes";

let window: Window;
let document: Document;

beforeEach(() => {
  window = new Window({ url: "https://www.acme.example/" });
  document = window.document as unknown as Document;
});

afterEach(async () => {
  await window.happyDOM.close();
});

function mount(server: FakeServer, options: Record<string, unknown> = {}, e = env(server)): { widget: Widget; client: FrontDeskClient; e: typeof e; $: (s: string) => HTMLElement | null; $$: (s: string) => HTMLElement[] } {
  const frontDesk = new FrontDeskSingleton(e);
  const api = createWidgetApi(frontDesk);
  const client = (options.client as FrontDeskClient | undefined) ?? frontDesk.init(OPTIONS);
  const widget = api.mount({ client, container: document.body, ...options });
  const root = widget.element.shadowRoot as ShadowRoot;
  return {
    widget,
    client,
    e,
    $: (s) => root.querySelector<HTMLElement>(s),
    $$: (s) => Array.from(root.querySelectorAll<HTMLElement>(s)),
  };
}

/** A widget whose client is online. */
async function mounted(options: Record<string, unknown> = {}, server = new FakeServer(), e = env(server)): Promise<ReturnType<typeof mount> & { server: FakeServer }> {
  const page = mount(server, options, e);
  await page.client.whenReady();
  await settle();
  return { ...page, server };
}

test("Spanish or English: the setting, then <html lang>, then the browser; Spanish otherwise", () => {
  assert.equal(pickLang("en-US", "es"), "en");
  assert.equal(pickLang(undefined, "es-CO", "en-GB"), "es");
  assert.equal(pickLang(undefined, "", "en_GB"), "en");
  assert.equal(pickLang("fr", "de", "pt-BR"), "es");
  assert.equal(pickLang("fr-FR", "en"), "en");
});

test("the widget speaks the page's language unless the locale says otherwise", async () => {
  const server = new FakeServer();
  document.documentElement.lang = "en";
  const english = mount(server);
  assert.equal(english.$('[data-fd="transfer"]')?.textContent, "Continue on WhatsApp");
  assert.equal(english.$('[data-fd="launcher"]')?.getAttribute("aria-label"), STRINGS.en.open);
  english.widget.unmount();
  english.client.destroy();
  const spanish = mount(server, { locale: "es-CO" });
  assert.equal(spanish.$('[data-fd="transfer"]')?.textContent, "Continuar por WhatsApp");
  assert.equal(spanish.$('[data-fd="input"]')?.getAttribute("placeholder"), STRINGS.es.placeholder);
  spanish.client.destroy();
});

test("the widget lives in an open shadow root with its own styles and the stable hooks", () => {
  const server = new FakeServer();
  const { widget, $, client } = mount(server);
  assert.equal(widget.element.id, "frontdesk-widget");
  assert.equal(document.getElementById("frontdesk-widget"), widget.element);
  const root = widget.element.shadowRoot as ShadowRoot;
  assert.ok(root, "open shadow root");
  const sheets = (root as unknown as { adoptedStyleSheets: CSSStyleSheet[] }).adoptedStyleSheets;
  assert.ok(sheets.length === 1 || root.querySelector("style"), "styles inside the shadow root");
  assert.match(CSS, /:host\{all:initial!important\}/);
  assert.match(CSS, /prefers-reduced-motion/);
  assert.match(CSS, /max-width:480px/);
  assert.equal(widget.element.getAttribute("style"), null, "nothing styled outside the shadow root");
  assert.equal($('[data-fd="panel"]')?.getAttribute("role"), "dialog");
  assert.equal($('[data-fd="messages"]')?.getAttribute("role"), "log");
  assert.equal($('[data-fd="messages"]')?.getAttribute("aria-live"), "polite");
  for (const hook of ["launcher", "input", "send", "typing", "unread", "transfer", "status"]) {
    assert.ok($(`[data-fd="${hook}"]`), hook);
  }
  widget.unmount();
  assert.equal(document.getElementById("frontdesk-widget"), null);
  client.destroy();
});

test("theme colour and position are applied inside the shadow root", () => {
  const server = new FakeServer();
  const { $, client } = mount(server, { theme: { color: "#ff5500", position: "left" } });
  const root = $(".fd");
  assert.equal(root?.getAttribute("data-position"), "left");
  assert.equal(root?.style.getPropertyValue("--fd-color"), "#ff5500");
  client.destroy();
});

test("open, close and toggle: focus goes to the input, Escape closes and returns to the launcher", () => {
  const server = new FakeServer();
  const { widget, $, client } = mount(server);
  const launcher = $('[data-fd="launcher"]') as HTMLButtonElement;
  const panel = $('[data-fd="panel"]') as HTMLElement;
  assert.equal(panel.hidden, true);
  launcher.click();
  assert.equal(widget.isOpen, true);
  assert.equal(panel.hidden, false);
  assert.equal(launcher.getAttribute("aria-expanded"), "true");
  assert.equal(widget.element.shadowRoot?.activeElement, $('[data-fd="input"]'));
  panel.dispatchEvent(new window.KeyboardEvent("keydown", { key: "Escape", bubbles: true }) as unknown as Event);
  assert.equal(widget.isOpen, false);
  assert.equal(panel.hidden, true);
  assert.equal(widget.element.shadowRoot?.activeElement, launcher);
  widget.toggle();
  assert.equal(widget.isOpen, true);
  widget.close();
  assert.equal(launcher.getAttribute("aria-expanded"), "false");
  client.destroy();
});

test("a widget mounted open does not take the page's focus", () => {
  const { widget, client } = mount(new FakeServer(), { open: true });
  assert.equal(widget.isOpen, true);
  assert.equal(widget.element.shadowRoot?.activeElement ?? null, null);
  client.destroy();
});

test("Enter sends the typed message; it shows once, even after the stream echoes it", async () => {
  const { server, $, $$, client } = await mounted({ open: true });
  const input = $('[data-fd="input"]') as HTMLInputElement;
  input.value = "  ¿Atienden el sábado?  ";
  input.closest("form")?.dispatchEvent(new window.Event("submit", { cancelable: true }) as unknown as Event);
  assert.equal(input.value, "");
  await settle();
  assert.deepEqual(server.conversation().messages.map((m) => m.text), ["¿Atienden el sábado?"]);
  const messages = $$('[data-fd="message"]');
  assert.equal(messages.length, 1);
  assert.equal(messages[0]?.getAttribute("data-direction"), "in");
  assert.equal(messages[0]?.hasAttribute("data-pending"), false);
  client.destroy();
});

test("a reply's cards, links and quick replies are rendered; a quick reply sends its title and payload", async () => {
  const { server, $, $$, client } = await mounted({ open: true });
  server.reply("Tenemos estos servicios:", {
    cards: [{ service_id: "s1", title: "Limpieza dental", summary: "45 minutos", price_text: "$120.000" }],
    links: [{ title: "Ver sitio", url: "https://acme.example/servicios" }],
    quick_replies: [
      { title: "Agendar", payload: "intent:book" },
      { title: "Precios", payload: "intent:prices" },
    ],
  });
  await settle();
  const [reply] = $$('[data-fd="message"][data-direction="out"]');
  assert.equal(reply?.querySelector("p")?.textContent, "Tenemos estos servicios:");
  const card = $('[data-fd="card"]');
  assert.equal(card?.querySelector("strong")?.textContent, "Limpieza dental");
  assert.match(card?.textContent ?? "", /\$120\.000/);
  assert.equal(reply?.querySelector("a")?.getAttribute("href"), "https://acme.example/servicios");
  assert.equal(reply?.querySelector("a")?.getAttribute("rel"), "noopener noreferrer");
  const quick = $$('[data-fd="quick-reply"]');
  assert.deepEqual(quick.map((b) => b.textContent), ["Agendar", "Precios"]);
  quick[0]?.click();
  await settle();
  const sent = server.requests.filter((r) => r.path.endsWith("/messages") && r.method === "POST").pop();
  assert.equal((sent?.body as Record<string, unknown>).text, "Agendar");
  assert.equal((sent?.body as Record<string, unknown>).payload, "intent:book");
  assert.deepEqual($$('[data-fd="quick-reply"]'), [], "the choice clears the buttons");
  client.destroy();
});

test("a quick reply whose payload the server refuses is still sent, as its title", async () => {
  const { server, $, $$, client } = await mounted({ open: true });
  server.reply("¿Te ayudo?", { quick_replies: [{ title: "Sí, por favor", payload: "Not A Valid Payload" }] });
  await settle();
  $('[data-fd="quick-reply"]')?.click();
  await settle();
  assert.deepEqual(server.conversation().messages.map((m) => [m.direction, m.text, m.payload]), [
    ["out", "¿Te ayudo?", { quick_replies: [{ title: "Sí, por favor", payload: "Not A Valid Payload" }] }],
    ["in", "Sí, por favor", {}],
  ]);
  assert.equal($$('[data-fd="message"][data-failed]').length, 0);
  assert.equal($$('[data-fd="message"][data-direction="in"]').length, 1);
  client.destroy();
});

test("message text, card text and link titles are never parsed as HTML; only http(s) links render", async () => {
  const { server, $, $$, client } = await mounted({ open: true });
  const evil = '<img src=x onerror="globalThis.pwned=1"><script>globalThis.pwned=2</script>';
  server.reply(evil, {
    cards: [{ service_id: "s", title: "<b>bold</b>", summary: "<iframe src=//evil>", price_text: "<i>0</i>" }],
    links: [
      { title: "bad", url: "javascript:alert(1)" },
      { title: "data", url: "data:text/html,<script>alert(1)</script>" },
      { title: "<u>ok</u>", url: "https://acme.example/" },
    ],
    quick_replies: [{ title: "<svg onload=alert(1)>", payload: "X" }],
  });
  await settle();
  const root = $(".fd") as HTMLElement;
  for (const tag of ["img", "script", "b", "iframe", "i", "u", "svg path[onload]"]) {
    assert.equal(root.querySelector(`.log ${tag}`), null, tag);
  }
  const [message] = $$('[data-fd="message"]');
  assert.equal(message?.querySelector("p")?.textContent, evil);
  const links = $$('[data-fd="message"] a');
  assert.deepEqual(links.map((a) => [a.getAttribute("href"), a.textContent]), [["https://acme.example/", "<u>ok</u>"]]);
  assert.equal($('[data-fd="quick-reply"]')?.textContent, "<svg onload=alert(1)>");
  assert.equal((globalThis as { pwned?: number }).pwned, undefined);
  client.destroy();
});

test("replies that arrive while closed count as unread until the panel opens", async () => {
  const { server, widget, $, client } = await mounted({ locale: "es" });
  const badge = $('[data-fd="unread"]') as HTMLElement;
  assert.equal(badge.hidden, true);
  server.reply("uno");
  server.reply("dos");
  await settle();
  assert.equal(widget.unread, 2);
  assert.equal(badge.hidden, false);
  assert.equal(badge.textContent, "2");
  assert.match($('[data-fd="launcher"]')?.getAttribute("aria-label") ?? "", /2 mensajes sin leer/);
  widget.open();
  assert.equal(widget.unread, 0);
  assert.equal(badge.hidden, true);
  server.reply("tres");
  await settle();
  assert.equal(widget.unread, 0, "read while open");
  client.destroy();
});

test("the typing indicator shows until the reply comes", async () => {
  const { server, $, client } = await mounted({ open: true });
  const typing = $('[data-fd="typing"]') as HTMLElement;
  assert.equal(typing.hidden, true);
  server.signal("typing", { typing: true });
  assert.equal(typing.hidden, false);
  server.reply("Listo");
  await settle();
  assert.equal(typing.hidden, true);
  client.destroy();
});

test("offline is shown; a message typed meanwhile waits as pending and is sent once back online", async () => {
  const server = new FakeServer();
  const tab = new SharedStorage().tab();
  const e = env(server, tab);
  const { $, $$, client } = mount(server, { open: true, locale: "es" }, e);
  await client.whenReady();
  await settle();
  const status = $('[data-fd="status"]') as HTMLElement;
  assert.equal(status.hidden, true);
  server.down = true;
  e.online.value = false;
  tab.window.dispatchEvent(new Event("offline"));
  await settle();
  assert.equal(status.hidden, false);
  assert.equal(status.textContent, STRINGS.es.offline);
  const input = $('[data-fd="input"]') as HTMLInputElement;
  input.value = "sin red";
  $('[data-fd="send"]')?.closest("form")?.dispatchEvent(new window.Event("submit", { cancelable: true }) as unknown as Event);
  await settle();
  assert.equal($$('[data-fd="message"][data-pending]').length, 1);
  server.down = false;
  e.online.value = true;
  tab.window.dispatchEvent(new Event("online"));
  await settle();
  assert.equal(status.hidden, true);
  assert.deepEqual(server.conversation().messages.map((m) => m.text), ["sin red"]);
  assert.equal($$('[data-fd="message"]').length, 1);
  assert.equal($$('[data-fd="message"][data-pending]').length, 0);
  client.destroy();
});

test("a refused origin is shown in the widget's own words, not as offline", async () => {
  for (const [locale, lang] of [["es-CO", "es"], ["en", "en"]] as const) {
    const server = new FakeServer();
    server.refuseOrigin = true;
    const { $, client, e } = mount(server, { open: true, locale });
    await settle();
    const status = $('[data-fd="status"]') as HTMLElement;
    assert.equal(status.textContent, STRINGS[lang].offline, "one unanswered request: offline for now");
    await e.clock.advance(1_000);
    assert.equal(client.connection, "refused");
    assert.equal(status.hidden, false);
    assert.equal(status.textContent, STRINGS[lang].refused);
    assert.equal(e.clock.pending, 0);
    client.destroy();
  }
});

test("the WhatsApp button gets the one-time link and opens it", async () => {
  const server = new FakeServer();
  const { $, client, e } = mount(server, { open: true });
  await client.whenReady();
  ($('[data-fd="transfer"]') as HTMLButtonElement).click();
  await settle();
  assert.deepEqual(e.opened, ["https://wa.me/573001112233?text=ABC123"]);
  client.destroy();
});

test("a blocked popup leaves a link to tap instead", async () => {
  const server = new FakeServer();
  const e = env(server, { open: () => false });
  const { $, client } = mount(server, { open: true }, e);
  await client.whenReady();
  ($('[data-fd="transfer"]') as HTMLButtonElement).click();
  await settle();
  assert.equal($('[data-fd="transfer-link"]')?.getAttribute("href"), "https://wa.me/573001112233?text=ABC123");
  client.destroy();
});

test("after a reload the widget shows the conversation's history in order", async () => {
  const server = new FakeServer();
  const shared = new SharedStorage();
  const before = new FrontDeskClient(OPTIONS, env(server, shared.tab()));
  await before.send("hola");
  server.reply("¡Hola! ¿Qué necesitas?");
  await before.send("una cita");
  before.destroy();
  const { $$, client } = mount(server, {}, env(server, shared.tab()));
  await client.whenReady();
  await settle();
  const shown = $$('[data-fd="message"]');
  assert.deepEqual(shown.map((m) => m.querySelector("p")?.textContent), ["hola", "¡Hola! ¿Qué necesitas?", "una cita"]);
  assert.deepEqual(shown.map((m) => m.getAttribute("data-direction")), ["in", "out", "in"]);
  client.destroy();
});

test("mount without a container goes on document.body, once per page", () => {
  const server = new FakeServer();
  const g = globalThis as { document?: unknown };
  const saved = g.document;
  g.document = document;
  try {
    const frontDesk = new FrontDeskSingleton(env(server));
    const api = createWidgetApi(frontDesk);
    assert.throws(() => api.mount(), /init/);
    const first = api.mount({ ...OPTIONS });
    const second = api.mount();
    assert.equal(document.querySelectorAll("#frontdesk-widget").length, 1);
    assert.equal(second.client, first.client);
    assert.equal(second.element.parentElement, document.body);
    assert.equal(second.element.shadowRoot?.querySelector(".fd")?.hasAttribute("data-inline"), false);
    frontDesk.destroy();
  } finally {
    g.document = saved;
  }
});
