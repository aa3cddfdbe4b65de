"""The widget and SDK in real headless Chromium, against a real server, from another origin."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from playwright.async_api import Browser, BrowserContext, Page, expect

from frontdesk.engine.packs import default_pack_dir, load_pack
from frontdesk.engine.responder import format_price
from tests.browser.conftest import VERIFIED_TENANT, WHATSAPP_NUMBER, FrontDesk

PACK = load_pack(default_pack_dir())
QUESTION = "¿Cuánto cuesta una tienda en línea?"
WIDGET = "#frontdesk-widget"


async def stored_session(page: Page, tenant: str) -> dict[str, Any]:
    """What the SDK keeps in localStorage for ``tenant``."""
    value: dict[str, Any] | None = await page.evaluate(
        "(key) => JSON.parse(localStorage.getItem(key))", f"frontdesk:{tenant}"
    )
    assert value is not None, "no session stored"
    return value


async def events(page: Page, name: str) -> list[Any]:
    recorded: list[dict[str, Any]] = await page.evaluate("window.fdEvents")
    return [event["data"] for event in recorded if event["name"] == name]


async def open_widget(page: Page) -> None:
    await page.locator(f'{WIDGET} [data-fd="launcher"]').click()
    await expect(page.locator(f'{WIDGET} [data-fd="panel"]')).to_be_visible()


async def ask(page: Page, text: str) -> None:
    await page.locator(f'{WIDGET} [data-fd="input"]').fill(text)
    await page.locator(f'{WIDGET} [data-fd="send"]').click()


def replies(page: Page) -> Any:
    return page.locator(f'{WIDGET} [data-fd="message"][data-direction="out"]')


async def ready(page: Page) -> None:
    """Until the client has its session (``ready``)."""
    await page.wait_for_function("window.fdEvents.some((e) => e.name === 'ready')")


async def test_the_widget_loads_with_its_sri_hash_and_opens(
    page: Page, frontdesk: FrontDesk
) -> None:
    await page.goto(frontdesk.page("/load.html"))
    script = page.locator('script[src$="/sdk/v1/frontdesk.js"]')
    assert await script.get_attribute("integrity") == frontdesk.integrity["frontdesk.js"]
    assert await script.get_attribute("crossorigin") == "anonymous"
    host = page.locator(WIDGET)
    await expect(host).to_have_count(1)
    assert await page.evaluate(f"document.querySelector('{WIDGET}').shadowRoot.mode") == "open"
    panel = page.locator(f'{WIDGET} [data-fd="panel"]')
    await expect(panel).to_be_hidden()
    await open_widget(page)
    await expect(page.locator(f'{WIDGET} [data-fd="input"]')).to_be_focused()
    await ready(page)


async def test_a_tampered_bundle_is_refused_by_the_browser(
    page: Page, frontdesk: FrontDesk
) -> None:
    # The hash of other content: the browser must not run the script.
    wrong = "sha384-" + "A" * 64
    await page.goto(frontdesk.page("/tampered.html", integrity=wrong))
    await page.wait_for_load_state("load")
    assert await page.evaluate("typeof window.FrontDesk") == "undefined"
    await expect(page.locator(WIDGET)).to_have_count(0)


async def test_a_spanish_question_gets_the_price_from_the_pack(
    page: Page, frontdesk: FrontDesk, screenshots: Path
) -> None:
    store = PACK.service("online-store")
    assert store is not None
    await page.goto(frontdesk.page("/ask.html"))
    await open_widget(page)
    await ask(page, QUESTION)
    sent = page.locator(f'{WIDGET} [data-fd="message"][data-direction="in"]')
    await expect(sent).to_have_count(1)
    await expect(sent).to_contain_text(QUESTION)
    await expect(replies(page).first).to_contain_text(format_price(store.price, "es"))
    await expect(page.locator(f'{WIDGET} [data-fd="quick-reply"]').first).to_be_visible()
    await page.locator(f'{WIDGET} [data-fd="panel"]').screenshot(
        path=screenshots / "widget-panel.png"
    )
    await page.screenshot(path=screenshots / "widget.png")


async def test_a_tapped_quick_reply_is_sent_with_its_payload_and_answered(
    page: Page, frontdesk: FrontDesk
) -> None:
    await page.goto(frontdesk.page("/quick.html"))
    await open_widget(page)
    await ask(page, QUESTION)
    await expect(replies(page)).to_have_count(1)
    button = page.locator(f'{WIDGET} [data-fd="quick-reply"]').first
    await expect(button).to_be_visible()
    title = (await button.inner_text()).strip()
    await button.click()

    sent = page.locator(f'{WIDGET} [data-fd="message"][data-direction="in"]')
    await expect(sent).to_have_count(2)
    await expect(sent.nth(1)).to_contain_text(title)
    await expect(replies(page)).to_have_count(2)

    conversation = (await stored_session(page, frontdesk.owner))["conversation_id"]
    stored = await frontdesk.stored_messages(conversation)
    tapped = [m for m in stored if m["direction"] == "in"][1]
    first_reply = next(m for m in stored if m["direction"] == "out")
    offered = {q["title"]: q["payload"] for q in first_reply["payload"]["quick_replies"]}
    assert tapped["text"] == title
    assert tapped["payload"]["payload"] == offered[title]
    answer = [m for m in stored if m["direction"] == "out"][1]
    await expect(replies(page).nth(1)).to_contain_text(answer["text"].split("\n")[0])


async def test_a_reload_keeps_the_history(page: Page, frontdesk: FrontDesk) -> None:
    url = frontdesk.page("/reload.html")
    await page.goto(url)
    await open_widget(page)
    await ask(page, QUESTION)
    await expect(replies(page)).to_have_count(1)
    before = await page.locator(f'{WIDGET} [data-fd="message"]').all_inner_texts()
    conversation = (await stored_session(page, frontdesk.owner))["conversation_id"]

    await page.reload()
    await open_widget(page)
    messages = page.locator(f'{WIDGET} [data-fd="message"]')
    await expect(messages).to_have_count(len(before))
    assert await messages.all_inner_texts() == before
    assert (await stored_session(page, frontdesk.owner))["conversation_id"] == conversation


async def test_messages_typed_offline_arrive_once_each_in_order(
    context: BrowserContext, page: Page, frontdesk: FrontDesk
) -> None:
    await page.goto(frontdesk.page("/offline.html"))
    await open_widget(page)
    await ready(page)
    await ask(page, "Hola")
    await expect(replies(page)).to_have_count(1)
    conversation = (await stored_session(page, frontdesk.owner))["conversation_id"]

    await context.set_offline(True)
    await page.wait_for_function(
        "window.fdEvents.some((e) => e.name === 'connection' && e.data !== 'online')"
    )
    typed = ["Primero: una tienda", "Segundo: con pagos PSE", "Tercero: ¿cuánto tarda?"]
    for text in typed:
        await ask(page, text)
    # Nothing reached the server while offline.
    assert [m["text"] for m in await frontdesk.stored_messages(conversation)].count(typed[0]) == 0
    await context.set_offline(False)

    inbound: list[str] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        inbound = [
            m["text"]
            for m in await frontdesk.stored_messages(conversation)
            if m["direction"] == "in"
        ]
        if all(text in inbound for text in typed):
            break
        await asyncio.sleep(0.2)
    assert inbound == ["Hola", *typed]
    # Each shown once in the panel too, in the same order.
    shown = page.locator(f'{WIDGET} [data-fd="message"][data-direction="in"]')
    await expect(shown).to_have_count(len(inbound))
    assert [text.strip() for text in await shown.all_inner_texts()] == inbound


async def test_the_whatsapp_transfer_opens_the_link_with_the_code(
    page: Page, frontdesk: FrontDesk
) -> None:
    await page.goto(frontdesk.page("/transfer.html"))
    await open_widget(page)
    await ask(page, "Hola")
    await expect(replies(page)).to_have_count(1)
    await page.locator(f'{WIDGET} [data-fd="transfer"]').click()
    await page.wait_for_function("window.fdOpened.length > 0")
    opened: list[str] = await page.evaluate("window.fdOpened")
    issued = [e for e in await events(page, "transfer") if e.get("state") == "issued"]
    assert len(opened) == 1
    assert len(issued) == 1
    digits = re.sub(r"\D", "", WHATSAPP_NUMBER)
    assert opened[0].startswith(f"https://wa.me/{digits}?text=")
    assert issued[0]["link"] == opened[0]
    code = issued[0]["code"]
    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}", code)
    assert code in unquote(opened[0])


async def test_a_page_on_an_origin_the_tenant_did_not_allow_is_refused(
    page: Page, frontdesk: FrontDesk
) -> None:
    before = await frontdesk.conversation_count()
    chat = f"{frontdesk.url}/web/v1/{frontdesk.owner}/"
    refused: list[str] = []
    sent: list[str] = []
    probes: list[int] = []
    page.on(
        "requestfailed",
        lambda request: refused.append(request.url) if "/conversations" in request.url else None,
    )
    page.on("request", lambda request: sent.append(request.url))
    page.on(
        "response",
        lambda response: (
            probes.append(response.status)
            if response.url == f"{frontdesk.url}/sdk/v1/manifest.json"
            else None
        ),
    )
    # The same page server, reached as localhost: another origin, not in the owner's list.
    origin = frontdesk.pages.origin("localhost")
    await page.goto(frontdesk.page("/elsewhere.html", host="localhost"))
    await open_widget(page)
    await ask(page, "Hola")
    # The browser hides the refusal (the preflight is refused) as a network error; the SDK asks
    # the SDK's manifest, which any origin may read: it answers, so this origin is refused.
    error = await first_error(page)
    assert error["code"] == "origin-not-allowed"
    assert error["status"] == 403
    assert error["type"] == "/problems/origin-not-allowed"
    assert origin in error["message"]
    assert "allowed origins" in error["message"]
    assert probes
    assert all(status == 200 for status in probes)
    assert (await events(page, "connection"))[-1] == "refused"
    status = page.locator(f'{WIDGET} [data-fd="status"]')
    await expect(status).to_be_visible()
    await expect(status).to_have_text("Este sitio no está autorizado para este chat.")
    assert len(refused) >= 2
    assert all(url.startswith(chat) for url in refused)
    # No retry loop: nothing more goes to the server, well past the next backoff step (≤ 2 s).
    settled = len(sent)
    await page.wait_for_timeout(4_000)
    assert len(sent) == settled, sent[settled:]
    # One error for the client, and one for the message typed, if that came after the refusal.
    assert {e["code"] for e in await events(page, "error")} == {"origin-not-allowed"}
    assert await events(page, "ready") == []
    assert await events(page, "message") == []
    assert await frontdesk.conversation_count() == before


async def open_verified_shop(page: Page, frontdesk: FrontDesk, path: str, user: Any = None) -> None:
    """A page of the tenant that requires verified users, as ``user`` (none: anonymous)."""
    options = {"user": user} if user else None
    await page.goto(
        frontdesk.page(path, tenant=VERIFIED_TENANT, key=frontdesk.verified_key, options=options)
    )


async def first_error(page: Page) -> Any:
    await page.wait_for_function("window.fdEvents.some((e) => e.name === 'error')")
    return (await events(page, "error"))[0]


async def test_an_unverified_visitor_is_refused_where_verification_is_required(
    page: Page, frontdesk: FrontDesk
) -> None:
    await open_verified_shop(page, frontdesk, "/anonymous.html")
    await open_widget(page)
    refused = await first_error(page)
    assert refused["status"] == 401
    assert "identity-required" in str(refused)
    assert await events(page, "ready") == []
    await expect(page.locator(f'{WIDGET} [data-fd="status"]')).to_be_visible()


async def test_a_verified_user_with_a_valid_proof_chats(page: Page, frontdesk: FrontDesk) -> None:
    user = {"id": "user-42", "proof": frontdesk.proof("user-42"), "name": "Ana"}
    await open_verified_shop(page, frontdesk, "/verified.html", user)
    await open_widget(page)
    await ready(page)
    assert (await events(page, "ready"))[0]["verified"] is True
    await ask(page, QUESTION)
    await expect(replies(page)).to_have_count(1)
    assert await events(page, "error") == []


async def test_a_forged_proof_is_refused(page: Page, frontdesk: FrontDesk) -> None:
    await open_verified_shop(
        page, frontdesk, "/forged.html", {"id": "user-42", "proof": frontdesk.proof("user-43")}
    )
    assert (await first_error(page))["status"] == 401
    assert await events(page, "ready") == []


HOSTILE = """<style>
* { all: unset; display: none !important; font-size: 0 !important; }
html, body { display: block !important; }
div, button, input, span, p { color: red !important; background: lime !important;
  border: 9px dashed blue !important; padding: 40px !important; margin: 40px !important;
  font: 40px/3 "Comic Sans MS", cursive !important; letter-spacing: 10px !important;
  text-transform: uppercase !important; box-sizing: content-box !important;
  position: static !important; transform: rotate(3deg) !important; visibility: visible; }
#frontdesk-widget { opacity: .2 !important; filter: blur(4px) !important; }
[data-fd] { display: none !important; }
button:hover, button:focus { outline: 20px solid red !important; }
:root { --fd-color: red; --brand: red; color-scheme: dark; }
</style>"""

MEASURE = """() => {
  const root = document.querySelector('#frontdesk-widget').shadowRoot;
  const out = {};
  for (const name of ['launcher', 'panel', 'messages', 'input', 'send', 'transfer']) {
    const el = root.querySelector(`[data-fd="${name}"]`);
    const s = getComputedStyle(el), r = el.getBoundingClientRect();
    out[name] = {
      box: [r.x, r.y, r.width, r.height].map(Math.round),
      style: ['display', 'color', 'background-color', 'font-size', 'font-family',
              'line-height', 'padding-top', 'margin-top', 'border-top-width', 'letter-spacing',
              'text-transform', 'position', 'transform', 'opacity', 'visibility']
        .map((p) => s.getPropertyValue(p)),
    };
  }
  const host = getComputedStyle(document.querySelector('#frontdesk-widget'));
  out.host = {style: ['display', 'opacity', 'filter', 'visibility'].map((p) => host.getPropertyValue(p))};
  return out;
}"""


SETTLED = """() => Promise.all(document.querySelector('#frontdesk-widget').shadowRoot
  .getAnimations().map((animation) => animation.finished))"""
"""Until the widget's opening transitions have finished."""


async def test_hostile_page_css_does_not_change_the_widget(
    context: BrowserContext, frontdesk: FrontDesk, screenshots: Path
) -> None:
    measured = []
    for path, head in (("/clean.html", ""), ("/hostile.html", HOSTILE)):
        page = await context.new_page()
        await page.goto(frontdesk.page(path, head=head))
        await page.evaluate("window.fdWidget.open()")
        await page.evaluate(SETTLED)
        measured.append(await page.evaluate(MEASURE))
        if head:
            await page.screenshot(path=screenshots / "widget-hostile-page.png")
        await page.close()
    clean, hostile = measured
    for name in clean:
        assert hostile[name] == clean[name], name


async def test_the_widget_fits_a_phone(
    browser: Browser, frontdesk: FrontDesk, screenshots: Path
) -> None:
    phone = await browser.new_context(
        viewport={"width": 375, "height": 667}, is_mobile=True, has_touch=True, locale="es-CO"
    )
    try:
        page = await phone.new_page()
        await page.goto(frontdesk.page("/phone.html"))
        await page.locator(f'{WIDGET} [data-fd="launcher"]').tap()
        panel = page.locator(f'{WIDGET} [data-fd="panel"]')
        await expect(panel).to_be_visible()
        await page.evaluate(SETTLED)
        box = await panel.bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= 375 + 1
        assert box["y"] + box["height"] <= 667 + 1
        await ask(page, QUESTION)
        await expect(replies(page)).to_have_count(1)
        await page.screenshot(path=screenshots / "widget-phone.png")
    finally:
        await phone.close()
