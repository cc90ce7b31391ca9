"""The whole product for browser tests, one server per test module: against the PBX simulator
(``LiveDesk``) or against the real Asterisk of ``asterisk-dev/rootfs.sh`` (``RealPBXDesk``).

The runtime (AMI bridge, FastAGI, screen-pop, hub, ...) and uvicorn (and the simulator) run on an event
loop in a background thread; tests drive Debian's chromium with Playwright's sync API from the main thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Coroutine, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Browser, Dialog, Page, Response, sync_playwright
from sqlalchemy import select

from agent_desk.app import create_app
from agent_desk.runtime import build_runtime
from config import Settings
from crm_core.db import make_engine, make_sessionmaker, migrate
from crm_core.models import Customer, Order, Product, Ticket, TicketType
from crm_core.services.customers import add_phone
from crm_core.services.users import create_user
from cti.simulator import PBXSimulator
from tests.live_pbx import RealPBX

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# For the WebRTC softphone: a fake microphone that needs no permission prompt, Asterisk's self-signed
# certificate accepted, and ICE host candidates with real addresses (Asterisk cannot resolve the mDNS
# ``*.local`` names Chromium puts in their place by default).
CHROMIUM_WEBRTC_ARGS = [
    *CHROMIUM_ARGS,
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--ignore-certificate-errors",
    "--autoplay-policy=no-user-gesture-required",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]
AGENT = "agent1001"
EXTENSION = "1001"
KNOWN_CALLER = "13812345678"
KNOWN_NAME = "<img src=x onerror=alert(1)>"
PASSWORD_FILE = "agent-password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ActionLog:
    """Every AMI action the simulator receives, in order (wraps its action handler)."""

    def __init__(self, sim: PBXSimulator) -> None:
        self.actions: list[dict[str, Any]] = []
        handler = sim._actions
        original = handler.handle

        def handle(session: Any, action: Any) -> bool:
            self.actions.append({k.lower(): v for k, v in _headers(action)})
            return original(session, action)

        handler.handle = handle  # type: ignore[method-assign]

    def named(self, name: str) -> list[dict[str, Any]]:
        return [a for a in self.actions if str(a.get("action", "")).lower() == name.lower()]


def _headers(action: Any) -> list[tuple[str, Any]]:
    if isinstance(action, dict):
        return list(action.items())
    return list(action)


class DeskServer:
    """The running product: ``url``, ``runtime`` and ``run(coro)`` on its loop; the PBX is the subclass's."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.password = "desk-test-password"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="live-desk", daemon=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.runtime: Any = None
        self.server: uvicorn.Server | None = None
        self._serving: asyncio.Future[Any] | None = None

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 30.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def settings(self) -> Settings:
        raise NotImplementedError

    async def _pbx_start(self) -> None:
        """Bring up the PBX side before the product starts (nothing when the PBX runs already)."""

    async def _pbx_stop(self) -> None:
        """Stop what ``_pbx_start`` started."""

    def seed(self, url: str) -> None:
        migrate(url)
        engine = make_engine(url)
        with make_sessionmaker(engine)() as session:
            create_user(session, AGENT, self.password, display_name="Wang Fang", roles=["agent"],
                        extension=EXTENSION)
            customer = Customer(name=KNOWN_NAME, kind="person", level="VIP", region="Beijing", status="active")
            session.add(customer)
            session.flush()
            add_phone(session, customer.id, KNOWN_CALLER)
            kind = session.scalars(select(TicketType).order_by(TicketType.id)).first()
            assert kind is not None, "the migrations seed the ticket types"
            session.add(Ticket(title="Invoice not received", type_id=kind.id, customer_id=customer.id,
                               priority="high", status="open"))
            product = Product(sku="RT-100", name="Router RT-100", price=Decimal("399.00"), stock=50)
            session.add(product)
            session.flush()
            session.add(Order(number="SO2026112300001", customer_id=customer.id, status="completed",
                              total=Decimal("399.00")))
            session.commit()
        engine.dispose()

    async def _start(self) -> None:
        await self._pbx_start()
        settings = self.settings()
        await asyncio.to_thread(self.seed, settings.effective_database_url)
        self.runtime = build_runtime(settings)
        app = create_app(settings, self.runtime)
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self._serving = asyncio.ensure_future(self.server.serve())
        for _ in range(1500):
            if self.server.started and self.runtime.bridge.connected:
                return
            if self._serving.done():
                self._serving.result()
            await asyncio.sleep(0.02)
        raise RuntimeError("the desk server or its AMI bridge did not come up")

    async def _stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        if self._serving is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._serving, 15)
        await self._pbx_stop()

    def start(self) -> None:
        self.thread.start()
        self.run(self._start(), timeout=60)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.run(self._stop(), timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    # --- helpers for tests ------------------------------------------------------------------------
    def published(self, kind: str, **match: Any) -> list[dict[str, Any]]:
        """Events of ``kind`` in the bus history whose fields equal ``match``."""
        events = self.run(self.runtime.bus.history(0, 10_000, [kind]))
        return [e for e in events if all(e.get(k) == v for k, v in match.items())]

    def drop_agent_sockets(self) -> int:
        async def drop() -> int:
            return int(self.runtime.hub.disconnect(EXTENSION))

        return int(self.run(drop()))


class LiveDesk(DeskServer):
    """The product against the PBX simulator: also ``sim`` and the ``actions`` it received."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.sim = PBXSimulator("127.0.0.1", 0, "cti", "sim-secret", speed=4.0)
        self.actions = ActionLog(self.sim)

    def settings(self) -> Settings:
        return Settings(
            data_dir=self.root,
            database_url=f"sqlite:///{self.root / 'desk.db'}",
            ami_host="127.0.0.1",
            ami_port=self.sim.port,
            ami_user="cti",
            ami_secret="sim-secret",
            ami_auth="md5",
            agi_host="127.0.0.1",
            agi_port=free_port(),
            recordings_dir=self.root / "monitor",
            voicemail_dir=self.root / "voicemail",
            wrapup_s=0,
            http_port=self.port,
        )

    async def _pbx_start(self) -> None:
        await self.sim.start()

    async def _pbx_stop(self) -> None:
        await self.sim.stop()

    def start_call(self, scenario: str = "inbound_answered", **params: Any) -> None:
        """Start a simulated call in the background."""

        async def start() -> None:
            self.sim.start_scenario(scenario, **params)

        self.run(start())


class RealPBXDesk(DeskServer):
    """The product against the real Asterisk (``tests/live_pbx.py``): its AMI, its FastAGI port (the
    dialplan's ``agi://`` target), its spool and its WebRTC websocket for the browser softphone.
    ``flows_dir``: the IVR flows the PBX's callers go through."""

    def __init__(self, root: Path, pbx: RealPBX, flows_dir: Path) -> None:
        super().__init__(root)
        self.pbx = pbx
        self.flows_dir = flows_dir

    def settings(self) -> Settings:
        pbx = self.pbx
        return Settings(
            data_dir=self.root,
            database_url=f"sqlite:///{self.root / 'desk.db'}",
            ami_host=pbx.host,
            ami_port=pbx.ami_port,
            ami_user=pbx.ami_user,
            ami_secret=pbx.ami_secret,
            ami_auth="md5",
            agi_host="127.0.0.1",
            agi_port=pbx.agi_port,
            recordings_dir=pbx.recordings_dir,
            recordings_pbx_dir=pbx.recordings_pbx_dir,
            voicemail_dir=pbx.voicemail_dir,
            ivr_flows_dir=self.flows_dir,
            sip_wss_url=pbx.wss_url,
            desk_queues=["support"],
            wrapup_s=0,
            http_port=self.port,
        )


def log_in(page: Page, live: DeskServer, username: str, lands_on: str, timeout_ms: float | None = None) -> None:
    """Fill the open login form as ``username`` and wait until the browser lands on ``lands_on``."""
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", live.password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live.url}{lands_on}", timeout=timeout_ms)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveDesk]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    desk = LiveDesk(tmp_path_factory.mktemp("live-desk"))
    desk.start()
    try:
        yield desk
    finally:
        desk.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def watch(page: Page, dialogs: list[str]) -> None:
    """Record JavaScript dialogs (an injected alert would open one) and print browser-side errors."""

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    def on_response(response: Response) -> None:
        if response.status >= 500:
            print(f"[http {response.status}] {response.request.method} {response.url}")

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda error: print(f"[browser error] {error}"))
    page.on("response", on_response)


@pytest.fixture(scope="module")
def agent_login(live: LiveDesk, browser: Browser) -> dict[str, Any]:
    """Log in once through the login page; later tests open the desk with the same cookies."""
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.goto(f"{live.url}/desk")
    page.wait_for_url(f"{live.url}/login?next=/desk")
    log_in(page, live, AGENT, "/desk")
    state: Any = context.storage_state()
    context.close()
    return state


@pytest.fixture(scope="module")
def desk_page(live: LiveDesk, browser: Browser, agent_login: dict[str, Any]) -> Iterator[Page]:
    """A logged-in desk, its websocket online, shared by the module's tests as an agent's shift is: each
    test leaves no call behind. Any JavaScript dialog (an injected alert would open one) fails."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, locale="zh-CN",
                                  storage_state=agent_login)  # type: ignore[arg-type]
    page = context.new_page()
    dialogs: list[str] = []
    watch(page, dialogs)
    page.goto(f"{live.url}/desk")
    page.wait_for_function("() => window.deskApp && window.deskApp.socket && window.deskApp.socket.online")
    yield page
    context.close()
    assert dialogs == [], f"a script ran from data: {dialogs}"
