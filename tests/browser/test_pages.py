"""Front Desk's own pages in Chromium: the demo at ``/`` (the widget through the snippet) and
``/examples/sdk`` (the core SDK from the page's code), under their real CSP."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.async_api import ConsoleMessage, Page, expect

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


async def test_the_demo_page_chats_through_the_widget(
    page: Page, frontdesk: FrontDesk, screenshots: Path
) -> None:
    violations = watch_csp(page)
    await page.goto(f"{frontdesk.url}/")
    # Mounted open by the snippet's queued calls, replayed once the SDK arrived.
    panel = page.locator(f'{WIDGET} [data-fd="panel"]')
    await expect(panel).to_be_visible()
    await page.locator(f'{WIDGET} [data-fd="input"]').fill(QUESTION)
    await page.locator(f'{WIDGET} [data-fd="send"]').click()
    reply = page.locator(f'{WIDGET} [data-fd="message"][data-direction="out"]').first
    await expect(reply).to_contain_text(price())
    await page.screenshot(path=screenshots / "demo.png")
    assert violations == []


async def test_the_example_page_uses_the_sdk_without_the_widget(
    page: Page, frontdesk: FrontDesk, screenshots: Path
) -> None:
    violations = watch_csp(page)
    await page.goto(f"{frontdesk.url}/examples/sdk")
    await expect(page.locator("#status")).to_have_text("online")
    await page.locator("#text").fill(QUESTION)
    await page.locator("#composer button").click()
    await expect(page.locator("#messages li.in")).to_have_text([QUESTION])
    await expect(page.locator("#messages li.out").first).to_contain_text(price())
    assert await page.locator(WIDGET).count() == 0

    choice = page.locator("#choices button").first
    title = await choice.inner_text()
    await choice.click()
    await expect(page.locator("#messages li.in")).to_have_text([QUESTION, title])
    await expect(page.locator("#messages li.out")).to_have_count(2)

    await page.locator("#transfer").click()
    link = page.locator("#link a")
    await expect(link).to_be_visible()
    digits = re.sub(r"\D", "", WHATSAPP_NUMBER)
    assert (await link.get_attribute("href") or "").startswith(f"https://wa.me/{digits}?text=")
    assert await page.evaluate("window.fdOpened") == []
    await page.screenshot(path=screenshots / "example-sdk.png", full_page=True)
    assert violations == []
