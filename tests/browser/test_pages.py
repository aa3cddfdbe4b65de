"""Front Desk's own pages in Chromium: the demo at ``/`` (the widget through the snippet) and
``/examples/sdk`` (the core SDK from the page's code), under their real CSP."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import ConsoleMessage, Page, expect

from frontdesk.engine.packs import default_pack_dir, load_pack
from frontdesk.engine.responder import format_price
from tests.browser.conftest import WHATSAPP_NUMBER, FrontDesk

PACK = load_pack(default_pack_dir())
QUESTION = "¿Cuánto cuesta una tienda en línea?"
WIDGET = "#frontdesk-widget"


def watch_csp(page: Page) -> list[str]:
    """The page's Content-Security-Policy violations, as the console reports them."""
    violations: list[str] = []

    def seen(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            violations.append(message.text)

    page.on("console", seen)
    return violations


def price() -> str:
    store = PACK.service("online-store")
    assert store is not None
    return format_price(store.price, "es")


def test_the_demo_page_chats_through_the_widget(
    page: Page, frontdesk: FrontDesk, screenshots: Path
) -> None:
    violations = watch_csp(page)
    page.goto(f"{frontdesk.url}/")
    # Mounted open by the snippet's queued calls, replayed once the SDK arrived.
    panel = page.locator(f'{WIDGET} [data-fd="panel"]')
    expect(panel).to_be_visible()
    page.locator(f'{WIDGET} [data-fd="input"]').fill(QUESTION)
    page.locator(f'{WIDGET} [data-fd="send"]').click()
    reply = page.locator(f'{WIDGET} [data-fd="message"][data-direction="out"]').first
    expect(reply).to_contain_text(price())
    page.screenshot(path=screenshots / "demo.png")
    assert violations == []


def test_the_example_page_uses_the_sdk_without_the_widget(page: Page, frontdesk: FrontDesk) -> None:
    violations = watch_csp(page)
    page.goto(f"{frontdesk.url}/examples/sdk")
    expect(page.locator("#status")).to_have_text("online")
    page.locator("#text").fill(QUESTION)
    page.locator("#composer button").click()
    expect(page.locator("#messages li.in")).to_have_text([QUESTION])
    expect(page.locator("#messages li.out").first).to_contain_text(price())
    assert page.locator(WIDGET).count() == 0

    choice = page.locator("#choices button").first
    title = choice.inner_text()
    choice.click()
    expect(page.locator("#messages li.in")).to_have_text([QUESTION, title])
    expect(page.locator("#messages li.out")).to_have_count(2)

    page.locator("#transfer").click()
    link = page.locator("#link a")
    expect(link).to_be_visible()
    digits = re.sub(r"\D", "", WHATSAPP_NUMBER)
    assert (link.get_attribute("href") or "").startswith(f"https://wa.me/{digits}?text=")
    assert page.evaluate("window.fdOpened") == []
    assert violations == []
