"""A recording played in a real browser from its call's row: stream, waveform, jump, audit."""

from __future__ import annotations

import math
import wave
from array import array
from collections.abc import Iterator

import pytest
from conftest import AGENT, LiveDesk, log_in
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from crm_core.db import make_engine, make_sessionmaker
from crm_core.models import AuditEntry, User
from recordings.models import Recording

pytestmark = pytest.mark.browser

CALL_ID = "1795460000.20"
FILE = "q-support-20261123-170000-1795460000.21.wav"
SECONDS = 6
WAIT_MS = 15_000


def _seed_recording(live: LiveDesk) -> int:
    monitor = live.root / "monitor"
    monitor.mkdir(exist_ok=True)
    second = array("h", (int(9000 * math.sin(2 * math.pi * 350 * i / 8000)) for i in range(8000))).tobytes()
    with wave.open(str(monitor / FILE), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(second * SECONDS)
    engine = make_engine(live.settings().effective_database_url)
    with make_sessionmaker(engine)() as session:
        agent = session.scalars(select(User).where(User.username == AGENT)).one()
        existing = session.scalars(select(Recording).where(Recording.file_name == FILE)).first()
        row = existing or Recording(file_name=FILE)
        row.status, row.call_id, row.uniqueid, row.queue = "ready", CALL_ID, "1795460000.21", "support"
        row.agent, row.agent_user_id, row.caller_number = "1001", agent.id, "13812345678"
        row.duration_s, row.format, row.size_bytes = float(SECONDS), "wav", (monitor / FILE).stat().st_size
        session.add(row)
        session.commit()
        recording_id = row.id
    engine.dispose()
    return recording_id


def _plays(live: LiveDesk, recording_id: int) -> list[str]:
    engine = make_engine(live.settings().effective_database_url)
    with make_sessionmaker(engine)() as session:
        rows = session.scalars(
            select(AuditEntry.username).where(
                AuditEntry.action == "play",
                AuditEntry.resource == "recording",
                AuditEntry.object_id == str(recording_id),
            )
        )
        names = list(rows)
    engine.dispose()
    return names


@pytest.fixture
def agent_page(live: LiveDesk, browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{live.url}/login")
    log_in(page, live, AGENT, "/desk")
    yield page
    context.close()


def test_one_click_on_the_call_row_plays_it_and_the_waveform_seeks(live: LiveDesk, agent_page: Page) -> None:
    recording_id = _seed_recording(live)
    page = agent_page
    page.goto(f"{live.url}/static/recordings.html?call_id={CALL_ID}")
    row = page.locator(f"tr.rec-row[data-call-id='{CALL_ID}']")
    expect(row).to_have_count(1, timeout=WAIT_MS)
    expect(row.locator("td").nth(2)).to_have_text("support")

    row.locator("button.rec-play").click()
    player = page.locator("#player .rp")
    expect(player).to_have_attribute("data-playing", "1", timeout=WAIT_MS)
    page.wait_for_function(
        "() => parseFloat(document.querySelector('#player .rp').dataset.position) > 0.3", timeout=WAIT_MS
    )
    # the waveform is drawn from the server's peaks
    page.wait_for_function(
        """() => {
            const c = document.querySelector('#player canvas');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let painted = 0;
            for (let i = 3; i < d.length; i += 4) if (d[i] > 0) painted += 1;
            return painted > c.width * 10;
        }""",
        timeout=WAIT_MS,
    )
    # paused, a click at three quarters of the waveform jumps there (and nowhere else)
    page.locator("#player button.rp-play").click()
    expect(player).to_have_attribute("data-playing", "0", timeout=WAIT_MS)
    canvas = page.locator("#player canvas")
    box = canvas.bounding_box()
    assert box is not None
    canvas.click(position={"x": box["width"] * 0.75, "y": box["height"] / 2})
    page.wait_for_function(
        f"() => Math.abs(parseFloat(document.querySelector('#player .rp').dataset.position) - {SECONDS * 0.75}) < 0.3",
        timeout=WAIT_MS,
    )
    expect(player).to_have_attribute("data-playing", "0")
    expect(page.locator("#player .rp-message")).to_have_text("")
    assert _plays(live, recording_id) == [AGENT]


def test_a_call_recorded_twice_is_one_row_with_two_files_and_the_counters_match(
    live: LiveDesk, agent_page: Page
) -> None:
    _seed_recording(live)
    cti_file = "cti-1795460000.22.wav"
    monitor = live.root / "monitor"
    (monitor / cti_file).write_bytes((monitor / FILE).read_bytes())
    engine = make_engine(live.settings().effective_database_url)
    with make_sessionmaker(engine)() as session:
        agent = session.scalars(select(User).where(User.username == AGENT)).one()
        if session.scalars(select(Recording).where(Recording.file_name == cti_file)).first() is None:
            session.add(
                Recording(
                    file_name=cti_file,
                    status="ready",
                    call_id=CALL_ID,
                    uniqueid="1795460000.22",
                    agent="1001",
                    agent_user_id=agent.id,
                    duration_s=5.0,
                    format="wav",
                    size_bytes=(monitor / cti_file).stat().st_size,
                )
            )
            session.commit()
    engine.dispose()
    page = agent_page
    page.goto(f"{live.url}/static/recordings.html")
    row = page.locator(f"tr.rec-row[data-call-id='{CALL_ID}']")
    expect(row).to_have_count(1, timeout=WAIT_MS)
    expect(row.locator("button.rec-play")).to_have_count(2)
    expect(row.locator("button.rec-play").first).to_contain_text("队列录音")
    rows = page.locator("tr.rec-row").count()
    expect(page.locator("#rec-status [data-count='total'] b")).to_have_text(str(rows))
