"""An agent who changes his extension in one tab: his other open tab is told by the server (its socket is
closed as stale), reconnects under the new extension and shows it; the pops follow the new extension."""

from __future__ import annotations

import pytest
from conftest import EXTENSION, LiveDesk
from playwright.sync_api import Page, expect
from test_desk_browser import wait_for

pytestmark = pytest.mark.browser

WAIT_MS = 15_000
NEW_EXTENSION = "1009"


def test_the_other_tab_follows_a_new_extension_and_gets_its_pops(live: LiveDesk, desk_page: Page) -> None:
    expect(desk_page.locator("#agent-extension")).to_have_text(EXTENSION, timeout=WAIT_MS)
    other = desk_page.context.new_page()
    other.goto(f"{live.url}/desk")
    other.wait_for_function("() => window.deskApp && window.deskApp.socket && window.deskApp.socket.online")
    other.click("#bind-button")
    other.fill("#bind-form input[name=extension]", NEW_EXTENSION)
    other.click("#bind-form button[value=ok]")
    expect(other.locator("#agent-extension")).to_have_text(NEW_EXTENSION, timeout=WAIT_MS)
    # the first tab did nothing: the server closed its socket and it shows the seat of now
    expect(desk_page.locator("#agent-extension")).to_have_text(NEW_EXTENSION, timeout=WAIT_MS)
    desk_page.wait_for_function("() => window.deskApp.socket.online")
    caller = "13700002222"
    live.start_call("inbound_answered", caller=caller, agent=NEW_EXTENSION, queue="support", talk=30)
    expect(desk_page.locator("#pop-number")).to_have_text(caller, timeout=WAIT_MS)
    wait_for(lambda: any(p["caller"].get("number") == caller for p in live.published("screen.pop")))
    other.close()
