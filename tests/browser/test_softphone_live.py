"""The desk's browser softphone on the real Asterisk: a queue call rings in Chromium, is answered with the
desk's button, carries audio both ways, is hung up from the desk and lands in the call history.

The product runs against ``asterisk-dev/rootfs.sh`` (``RealPBXDesk``): the desk's JsSIP phone registers
over WSS to the WebRTC endpoint 1001 (DTLS-SRTP, ICE), the agent logs in to ``support`` from the desk
(QueueAdd ``Local/1001@agents/n``), and a PSTN caller is a Local channel into ``from-pstn`` that plays
music on hold; the dialplan's ``[agents]`` context rings ``PJSIP/1001`` because it is registered.
Chromium uses a fake microphone (a tone), so both directions carry sound.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    AGENT,
    CHROMIUM,
    CHROMIUM_WEBRTC_ARGS,
    EXTENSION,
    RealPBXDesk,
    log_in,
    watch,
)
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy import select

from crm_core.db import make_engine, make_sessionmaker
from crm_core.models import Customer, Ticket, TicketType
from crm_core.services.customers import add_phone
from cti.ami.parser import Message
from cti.simulator.recorder import AMIRecorder
from stats.models import CallRow, QueueCallRow
from tests.live_pbx import RealPBX, real_pbx

pytestmark = [pytest.mark.asterisk, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
FLOWS = ROOT / "tests" / "fixtures" / "flows" / "live_desk"
CALLER = "13900001111"
CUSTOMER = "李娜"
QUEUE = "support"
MEMBER = f"Local/{EXTENSION}@agents/n"
WAIT_MS = 60_000  # a loaded 2-core machine: ICE, DTLS and the IVR's prompt all take their time
WAIT_S = WAIT_MS / 1000
PACKETS = 50  # a second of G.711 in 20 ms packets: media flows, it did not just start


class SoftphoneDesk(RealPBXDesk):
    """The product on the real PBX with a customer whose number calls in."""

    customer_id: int | None = None

    def seed(self, url: str) -> None:
        super().seed(url)
        engine = make_engine(url)
        with make_sessionmaker(engine)() as session:
            customer = Customer(name=CUSTOMER, kind="person", level="VIP", region="上海", status="active")
            session.add(customer)
            session.flush()
            add_phone(session, customer.id, CALLER)
            kind = session.scalars(select(TicketType).order_by(TicketType.id)).first()
            assert kind is not None
            session.add(Ticket(title="路由器无法上网", type_id=kind.id, customer_id=customer.id,
                               priority="high", status="open"))
            session.commit()
            self.customer_id = customer.id
        engine.dispose()

    def history(self, call_id: str) -> tuple[CallRow | None, list[QueueCallRow]]:
        """The call's history row once it is closed (``ended_at``), and its stays in queues."""
        engine = make_engine(self.settings().effective_database_url)
        try:
            with make_sessionmaker(engine)() as session:
                call = session.scalar(select(CallRow).where(CallRow.call_id == call_id, CallRow.ended_at.is_not(None)))
                stays = session.scalars(select(QueueCallRow).where(QueueCallRow.call_id == call_id)).all()
                session.expunge_all()
                return call, list(stays)
        finally:
            engine.dispose()


class PBXLink:
    """An AMI connection of the test's own (on the desk's loop): it places the caller and reads the PBX."""

    def __init__(self, desk: RealPBXDesk) -> None:
        self.desk = desk
        self.rec: AMIRecorder | None = None

    def open(self) -> None:
        pbx = self.desk.pbx

        async def connect() -> AMIRecorder:
            rec = AMIRecorder(pbx.host, pbx.ami_port, timeout_s=WAIT_S)
            await rec.connect()
            await rec.login(pbx.ami_user, pbx.ami_secret)
            return rec

        self.rec = self.desk.run(connect())

    def close(self) -> None:
        if self.rec is not None:
            self.desk.run(self.rec.close())

    def request(self, action: str, **fields: str | list[str]) -> Message:
        assert self.rec is not None
        return dict(self.desk.run(self.rec.request(action, **fields), timeout=WAIT_S + 5))

    def mark(self) -> int:
        assert self.rec is not None
        return len(self.rec.messages)

    def wait_for(self, predicate: Callable[[Message], bool], start: int) -> Message:
        assert self.rec is not None
        return dict(self.desk.run(self.rec.wait_for(predicate, start), timeout=WAIT_S + 5))

    def device_state(self, device: str) -> str:
        reply = self.request("Getvar", Variable=f"DEVICE_STATE({device})")
        return str(reply.get("Value", ""))


def _wait(check: Callable[[], Any], what: str, timeout: float = WAIT_S) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def channel_rtp(pbx: RealPBX, endpoint: str) -> tuple[int, int]:
    """RTP packets Asterisk received from and sent to the endpoint's channel (``pjsip show channelstats``);
    (0, 0) while it has none.

    A row reads ``<bridge> <endpoint>-<n> <uptime> <codec> <rx count> <rx lost> <rx pct> <rx jitter>
    <tx count> ...`` (the channel without its ``PJSIP/``); counts may read ``12K``."""
    for line in pbx.cli("pjsip show channelstats").splitlines():
        fields = line.split()
        named = [i for i, word in enumerate(fields) if word.startswith(f"{endpoint}-")]
        if named and len(fields) >= named[0] + 8:
            i = named[0]
            return _count(fields[i + 3]), _count(fields[i + 7])
    return 0, 0


def _count(text: str) -> int:
    scale = {"K": 1_000, "M": 1_000_000}.get(text[-1], 1)
    return int(float(text.rstrip("KM")) * scale)


@pytest.fixture(scope="module")
def pbx() -> RealPBX:
    found = real_pbx()
    if not found.wss_url or not found.webrtc_password:
        pytest.fail("CC_TEST_SIP_WSS_URL and CC_TEST_WEBRTC_PASSWORD are needed (asterisk-dev/rootfs.sh env)")
    return found


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory, pbx: RealPBX) -> Iterator[SoftphoneDesk]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    server = SoftphoneDesk(tmp_path_factory.mktemp("softphone-desk"), pbx, FLOWS)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def ami(desk: SoftphoneDesk) -> Iterator[PBXLink]:
    link = PBXLink(desk)
    link.open()
    # A run that died half-way may have left the agent in the queue or his device state in use.
    link.request("QueueRemove", Queue=QUEUE, Interface=MEMBER)
    link.request("Command", Command=f"devstate change Custom:{EXTENSION} NOT_INUSE")
    try:
        yield link
    finally:
        link.request("QueueRemove", Queue=QUEUE, Interface=MEMBER)
        link.close()


@pytest.fixture(scope="module")
def webrtc_browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_WEBRTC_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(desk: SoftphoneDesk, webrtc_browser: Browser, ami: PBXLink) -> Iterator[Page]:
    """The desk in zh-CN, logged in, websocket online; at the end the phone unregisters, so that the
    PBX's simulated agent answers for 1001 again in the other live tests."""
    context = webrtc_browser.new_context(viewport={"width": 1600, "height": 1000}, locale="zh-CN",
                                         ignore_https_errors=True)
    opened = context.new_page()
    dialogs: list[str] = []
    watch(opened, dialogs)
    opened.goto(f"{desk.url}/desk")
    opened.wait_for_url(f"{desk.url}/login?next=/desk")
    log_in(opened, desk, AGENT, "/desk", timeout_ms=WAIT_MS)
    opened.wait_for_function("() => window.deskApp && window.deskApp.socket && window.deskApp.socket.online",
                             timeout=WAIT_MS)
    try:
        yield opened
    finally:
        if not opened.is_closed():
            opened.evaluate("window.deskApp.softphone && window.deskApp.softphone.stop()")
        _wait(lambda: ami.device_state(f"PJSIP/{EXTENSION}") == "UNAVAILABLE", "the phone to unregister")
        context.close()
    assert dialogs == []


def register(page: Page, pbx: RealPBX, ami: PBXLink) -> None:
    expect(page.locator("#softphone")).to_be_visible()
    page.fill("#sip-password", pbx.webrtc_password)
    page.click("#softphone-start")
    page.wait_for_function("() => window.deskApp.softphone.status === 'registered'", timeout=WAIT_MS)
    expect(page.locator("#softphone-status")).to_have_text("已注册")
    # the PBX sees it too: the dialplan's test for a registered phone
    _wait(lambda: ami.device_state(f"PJSIP/{EXTENSION}") == "NOT_INUSE", "PJSIP/1001 to be reachable")


def place_caller(ami: PBXLink) -> int:
    """A PSTN caller (Local/<number>@from-pstn) that plays music to whoever answers; the AMI mark."""
    start = ami.mark()
    reply = ami.request(
        "Originate",
        Channel=f"Local/{CALLER}@from-pstn",
        Application="MusicOnHold",
        Data="default,300",
        CallerID=f'"PSTN {CALLER}" <{CALLER}>',
        Timeout="30000",
        Async="true",
        Variable=["RECORD=no", "SURVEY=no"],
    )
    assert (reply.get("Response"), reply.get("Message")) == ("Success", "Originate successfully queued")
    return start


def queue_log_line(pbx: RealPBX, uniqueid: str, events: tuple[str, ...]) -> list[str] | None:
    """The PBX's queue_log entry of one of ``events`` for the caller leg ``uniqueid``, split on '|'."""
    log = pbx.home / "log" / "queue_log"
    if not log.exists():
        return None
    for line in log.read_text(errors="replace").splitlines():
        fields = line.split("|")
        if len(fields) > 6 and fields[1] == uniqueid and fields[4] in events:
            return fields
    return None


def media_stats(page: Page) -> dict[str, float]:
    stats = page.evaluate("window.deskApp.softphone.mediaStats()")
    return stats or {"sent": 0, "received": 0, "energy": 0}


def test_a_queue_call_rings_in_the_browser_is_answered_heard_hung_up_and_recorded(
    desk: SoftphoneDesk, pbx: RealPBX, ami: PBXLink, page: Page
) -> None:
    register(page, pbx, ami)

    page.click("#queues-login")
    expect(page.locator("#agent-state")).to_have_attribute("data-state", "available", timeout=WAIT_MS)

    start = place_caller(ami)

    # it rings in the browser: the JsSIP session and the desk's call, with the pop of the customer
    page.wait_for_function("() => window.deskApp.softphone.ringing", timeout=WAIT_MS)
    expect(page.locator("#call-state")).to_have_attribute("data-state", "ringing", timeout=WAIT_MS)
    expect(page.locator("#softphone-status")).to_have_text("来电振铃")
    expect(page.locator("#pop-customer .customer-name")).to_have_text(CUSTOMER, timeout=WAIT_MS)
    expect(page.locator("#pop-number")).to_have_text(CALLER)
    expect(page.locator("#pop-queue")).to_have_text(QUEUE)
    answer = page.locator("[data-action=answer]")
    expect(answer).to_be_enabled()

    answer.click()
    page.wait_for_function("() => window.deskApp.softphone.status === 'in_call'", timeout=WAIT_MS)
    expect(page.locator("#call-state")).to_have_attribute("data-state", "talking", timeout=WAIT_MS)
    connect = ami.wait_for(
        lambda m: m.get("Event") == "AgentConnect" and m.get("Queue") == QUEUE, start
    )
    assert str(connect.get("Interface")) == MEMBER

    # media both ways: the browser's RTP counters and the PBX's, and music heard in the browser
    heard = _wait(
        lambda: (s := media_stats(page))["sent"] >= PACKETS and s["received"] >= PACKETS and s["energy"] > 0 and s,
        f"{PACKETS} RTP packets both ways in the browser, with sound",
    )
    rx, tx = _wait(lambda: min(c := channel_rtp(pbx, EXTENSION)) >= PACKETS and c,
                   f"{PACKETS} RTP packets both ways on PJSIP/{EXTENSION}")
    print(f"browser getStats: {heard}; pjsip channelstats PJSIP/{EXTENSION}: rx {rx} tx {tx}")
    # and the far end's audio plays in the page
    assert page.evaluate(
        """() => { const audio = document.querySelector('#remote-audio');
                   const tracks = audio.srcObject ? audio.srcObject.getAudioTracks() : [];
                   return !audio.paused && tracks.length === 1 && tracks[0].readyState === 'live'; }"""
    )

    if os.environ.get("CC_SCREENSHOTS") == "1":
        DOCS.mkdir(exist_ok=True)
        page.screenshot(path=str(DOCS / "desk-real-call.png"))

    # the desk's hang-up button ends the call on the browser phone: a BYE, so the agent's device hangs up
    call_id = str(connect.get("Linkedid", ""))
    hung = ami.mark()
    page.click("[data-action=hangup]")
    expect(page.locator("#pop-status")).to_be_visible(timeout=WAIT_MS)  # the pop stays for the wrap-up
    page.wait_for_function("() => window.deskApp.softphone.status === 'registered'", timeout=WAIT_MS)
    phone = ami.wait_for(
        lambda m: m.get("Event") == "Hangup" and str(m.get("Channel", "")).startswith(f"PJSIP/{EXTENSION}-"),
        hung,
    )
    assert (phone.get("Cause"), phone.get("Cause-txt")) == ("16", "Normal Clearing")
    ended = _wait(lambda: desk.published("call.ended", call_id=call_id), "call.ended on the bus")
    assert ended[0]["disposition"] == "answered"

    # Asterisk's own account, from its queue log (written with AgentComplete, which the AMI link of a loaded
    # machine has been seen to miss): the agent hung up, after this many seconds of talk
    caller_leg = str(connect.get("Uniqueid", ""))
    complete = _wait(lambda: queue_log_line(pbx, caller_leg, ("COMPLETEAGENT", "COMPLETECALLER")),
                     "the queue log's account of the call")
    assert complete[4] == "COMPLETEAGENT"  # queue_log: time|uniqueid|queue|member|event|holdtime|calltime|position
    talk_time = int(complete[6])

    # the call history (CDR) and the queue stay: answered in support by 1001, the customer linked
    row, stays = _wait(lambda: (h := desk.history(call_id))[0] is not None and h, "the call's history row")
    assert row.direction == "inbound"
    assert (row.caller_number, row.queue, row.agent) == (CALLER, QUEUE, EXTENSION)
    assert row.disposition == "answered"
    assert row.customer_id == desk.customer_id
    assert row.answered_at is not None and row.answered_at >= row.started_at
    assert row.hangup_by == "callee"  # the agent (the AMI Hangup of his Local leg would read "system")
    assert row.talk_s is not None and abs(row.talk_s - talk_time) <= 1  # TalkTime is in whole seconds
    assert [(q.queue, q.outcome, q.agent) for q in stays] == [(QUEUE, "answered", EXTENSION)]
    assert stays[0].talk_s is not None and abs(stays[0].talk_s - talk_time) <= 1


def test_a_wrong_sip_password_is_refused_by_the_pbx_and_said_so(pbx: RealPBX, ami: PBXLink, page: Page) -> None:
    page.fill("#sip-password", "not-" + pbx.webrtc_password)
    page.click("#softphone-start")
    page.wait_for_function("() => window.deskApp.softphone.status === 'failed'", timeout=WAIT_MS)
    expect(page.locator("#softphone-status")).to_have_text("注册失败")
    assert ami.device_state(f"PJSIP/{EXTENSION}") == "UNAVAILABLE"
    # the right password then registers the same phone (one registration, not a second phone)
    register(page, pbx, ami)
    assert page.evaluate("() => window.deskApp.softphone.status") == "registered"


def test_closing_the_tab_takes_the_phone_off_the_pbx(pbx: RealPBX, ami: PBXLink, page: Page) -> None:
    """No unregistration is sent: the PBX drops the contact when its websocket closes, so queue calls
    for 1001 do not ring a phone that is gone."""
    register(page, pbx, ami)
    page.close()
    _wait(lambda: ami.device_state(f"PJSIP/{EXTENSION}") == "UNAVAILABLE", "the PBX to drop the closed phone")
