"""What the back-office browser tests (sales, purchasing, manager statistics) share: one server per module
with the test's seed, a logged-in tab that fails on any page error, hash routes and documentation shots."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import LiveDesk, log_in
from playwright.sync_api import Browser, Page, expect

DOCS = Path(__file__).resolve().parents[2] / "docs"
WAIT_MS = 15_000


def serve(desk_class: type[LiveDesk], tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveDesk]:
    desk = desk_class(tmp_path_factory.mktemp(desk_class.__name__.lower()))
    desk.start()
    try:
        yield desk
    finally:
        desk.stop()


def logged_in_tab(live: LiveDesk, browser: Browser, username: str, path: str, rendered: str) -> Iterator[Page]:
    """A tab on ``path`` as ``username`` once the page shows ``rendered`` (its body[data-rendered])."""
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN", accept_downloads=True)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.goto(f"{live.url}{path}")
    log_in(tab, live, username, path)
    expect(tab.locator("body")).to_have_attribute("data-rendered", rendered, timeout=WAIT_MS)
    yield tab
    context.close()
    assert errors == [], errors


def open_route(page: Page, hash_route: str) -> None:
    page.evaluate("(target) => { location.hash = target; }", hash_route)
    expect(page.locator("body")).to_have_attribute("data-rendered", hash_route, timeout=WAIT_MS)


def shot(page: Page, name: str) -> None:
    """Documentation shots are rewritten only on request (CC_SCREENSHOTS=1), not by every CI run."""
    if os.environ.get("CC_SCREENSHOTS") == "1":
        DOCS.mkdir(exist_ok=True)
        page.screenshot(path=str(DOCS / name), full_page=True)
