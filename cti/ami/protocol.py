"""The AMI connection: panoramisk's protocol and ``Manager`` with our parser on the event path.

panoramisk 1.4 does the action layer well (ActionIDs, matching replies and list replies to the
action's future), so we keep it. What we change, and why:

- ``AMIStreamProtocol.data_received`` feeds raw bytes to our sans-I/O ``AMIParser`` instead of
  decoding each read on its own (panoramisk drops a UTF-8 character split across reads and a
  last header with an empty value). Replies go to panoramisk's response matching; events go
  as plain dicts straight to one sink (no fnmatch dispatch per event).
- ``AMIConnection.open`` connects and waits for the banner; the caller then logs in. panoramisk
  1.4 has no MD5 challenge login, so ``login`` does Challenge + Login(AuthType=MD5, Key).
- Reconnect is not panoramisk's fixed-delay loop: a lost connection fails every pending action
  at once and tells the owner (the bridge), which reconnects with capped backoff and jitter.
  Actions pending at a drop are never re-sent on the next connection (panoramisk would resend
  them on FullyBooted: a re-sent Originate would ring the customer twice).
- Keep-alive: a Ping every ``ping_s``; no reply within the action timeout closes the
  connection, so a half-open TCP link is noticed.
- Which replies are lists: panoramisk 1.4's ``Action.multi`` reads ``self['async']`` for every
  reply ending in "successfully queued", so Atxfer, CancelAtxfer, PlayDTMF, SendFlash and an
  Originate without ``Async`` (all sent without that header, all answered "... successfully
  queued": tests/fixtures/ami/atxfer_reply.raw, queued_replies.raw) raise ``KeyError`` inside
  ``data_received``, which kills the transport. It also takes "Added interface to queue"
  (QueueAdd) and "Added AGI command to queue" (AGI) for list starts and waits for a list that
  never comes. ``AMIAction`` decides instead: a reply is a list when it says so (EventList,
  "will follow"), or for an asynchronous Originate, whose OriginateResponse follows. And a
  reply that still breaks the action layer fails that one action, never the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from panoramisk import Manager
from panoramisk.actions import Action as PanoramiskAction
from panoramisk.actions import Command as PanoramiskCommand
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message as PanoramiskMessage

from cti.ami.parser import AMIParser, Message

log = logging.getLogger(__name__)

EventSink = Callable[[Message], None]
DISPATCH_SLICE = 100  # AMI messages routed per turn of the event loop (see AMIStreamProtocol._dispatch)
READ_BYTES = 32 * 1024  # at most this is read from the PBX per turn of the loop
Reply = PanoramiskMessage | list[PanoramiskMessage]


class AMIError(Exception):
    """Base of the AMI connection errors."""


class AMIConnectionLost(AMIError):
    """The connection closed before the action got its reply."""


class AMIActionTimeout(AMIError):
    """No reply within the action timeout."""


class AMIAuthError(AMIError):
    """The PBX refused the login."""


class AMIReplyError(AMIError):
    """A reply came that the action layer could not match to its action."""


# Asterisk's ast_true(): the values an ``Async`` header counts as yes.
_TRUE = frozenset({"yes", "true", "y", "t", "1", "on"})


class _RepliesRight:
    """``multi`` (is this reply the start of a list?) decided from what Asterisk 22 sends."""

    responses: list[PanoramiskMessage]
    as_list: bool | None

    if TYPE_CHECKING:  # from the dict it is mixed into

        def get(self, key: str, default: Any = None) -> Any: ...

    @property
    def multi(self) -> bool:
        if self.as_list is not None:
            return bool(self.as_list)
        first = self.responses[0]
        if first.get("Response") not in ("Success", "Follows"):
            return False
        if str(first.get("EventList", "")).lower() == "start" or first.get("SubEvent") == "Start":
            return True
        message = str(first.get("Message", "")).lower()
        if "will follow" in message:
            return True
        if message == "originate successfully queued":
            return str(self.get("Async", "")).lower() in _TRUE  # OriginateResponse follows
        return False


class AMIAction(_RepliesRight, PanoramiskAction):
    """An action whose replies are matched right (see the module doc)."""


class AMICommand(_RepliesRight, PanoramiskCommand):
    """A CLI ``Command`` action, likewise."""


def raw(message: PanoramiskMessage) -> Message:
    """The plain dict our parser made for a panoramisk reply message (original header case)."""
    return getattr(message, "raw", None) or {k: v for k, v in message.items() if k != "content"}


class AMIStreamProtocol(AMIProtocol):
    """panoramisk's protocol with our parser and a direct event sink."""

    parser: AMIParser
    event_sink: EventSink | None
    banner_seen: asyncio.Future[str]
    factory: Any

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.parser = AMIParser()
        self.event_sink = None
        self.banner_seen = asyncio.get_running_loop().create_future()
        if hasattr(transport, "max_size"):
            transport.max_size = READ_BYTES  # bounded reads: a burst is parsed a slice at a time
        self._backlog: deque[Message] = deque()
        self._dispatching = False
        self._reading_paused = False

    def data_received(self, data: bytes) -> None:
        stats = self.parser.stats
        bad_before = stats.malformed + stats.oversized + stats.bad_lines
        messages = self.parser.feed(data)
        bad = stats.malformed + stats.oversized + stats.bad_lines - bad_before
        if bad:
            self.factory.on_malformed(bad)
        if self.parser.banner is not None and not self.banner_seen.done():
            self.version = self.parser.banner.partition("/")[2].strip()
            self.banner_seen.set_result(self.parser.banner)
        self._backlog.extend(messages)
        if not self._dispatching:
            self._dispatch()

    def _dispatch(self) -> None:
        """Route at most ``DISPATCH_SLICE`` messages, in order; while more are waiting, reading is
        paused and the rest follows on the next turns of the loop, so a flood from the PBX slows the
        event path (TCP pushes back on the PBX) and never the other work of the process."""
        self._dispatching = False
        for _ in range(min(DISPATCH_SLICE, len(self._backlog))):
            self._route(self._backlog.popleft())
        transport: Any = self.transport
        if self._backlog:
            if not self._reading_paused and transport is not None and not transport.is_closing():
                transport.pause_reading()
                self._reading_paused = True
            self._dispatching = True
            asyncio.get_running_loop().call_soon(self._dispatch)
        elif self._reading_paused:
            self._reading_paused = False
            if transport is not None and not transport.is_closing():
                transport.resume_reading()

    def connection_lost(self, exc: BaseException | None) -> None:
        while self._backlog:  # what was received is routed before the loss is told
            self._route(self._backlog.popleft())
        super().connection_lost(exc)

    def send(self, data: Any, as_list: bool | None = None) -> asyncio.Future[Any]:
        """panoramisk's send, with ``AMIAction`` / ``AMICommand`` for plain dicts."""
        if not isinstance(data, PanoramiskAction):
            klass = AMICommand if "Command" in data else AMIAction
            data = klass(data, as_list=as_list)
        future: asyncio.Future[Any] = super().send(data, as_list=as_list)
        return future

    def _route(self, msg: Message) -> None:
        action_id = msg.get("ActionID")
        if action_id and action_id in self.responses:
            message = PanoramiskMessage(msg)
            message.raw = msg
            try:
                self.handle_message(message)
            except Exception as exc:
                # One reply the action layer cannot take fails its action, not the connection.
                log.exception("AMI: reply to action %s could not be matched", action_id)
                self._fail(str(action_id), exc)
            if msg.get("Event") != "OriginateResponse":
                return
        if "Event" in msg and self.event_sink is not None:
            self.event_sink(msg)
            if msg["Event"] == "Shutdown":
                self.connection_lost(None)


    def _fail(self, action_id: str, exc: Exception) -> None:
        action = self.responses.pop(action_id, None)
        if action is None:
            return
        for key in [key for key, pending in self.responses.items() if pending is action]:
            self.responses.pop(key, None)
        if not action.future.done():
            action.future.set_exception(AMIReplyError(f"reply to {action.get('Action')} not understood: {exc!r}"))


class AMIConnection(Manager):
    """One AMI connection at a time; ``open`` + ``login`` per (re)connect, driven by its owner."""

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: str,
        auth: str = "md5",
        action_timeout_s: float = 5.0,
        ping_s: float = 10.0,
        on_event: EventSink | None = None,
        on_lost: Callable[[BaseException | None], None] | None = None,
        on_malformed: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__(
            host=host,
            port=port,
            protocol_factory=AMIStreamProtocol,
            encoding="utf-8",
            ping_delay=max(1, int(ping_s)),
            ping_interval=max(1, int(ping_s)),
            loop=None,
        )
        # No fnmatch dispatch, no resend of pending actions on FullyBooted (see module doc).
        self.callbacks.clear()
        self.patterns.clear()
        self.username = username
        self.secret = secret
        self.auth = auth
        self.action_timeout_s = action_timeout_s
        self.ping_s = ping_s
        self.on_event = on_event
        self.on_lost = on_lost
        self._on_malformed = on_malformed
        self.protocol: AMIStreamProtocol | None = None
        self.banner: str | None = None
        self._pinger_task: asyncio.Task[None] | None = None
        self._listeners: list[EventSink] = []

    @property
    def connected(self) -> bool:
        return self.protocol is not None and not self.protocol.closed

    @property
    def parser(self) -> AMIParser | None:
        return self.protocol.parser if self.protocol is not None else None

    async def open(self) -> None:
        """Connect and wait for the banner; raises ``OSError`` / ``AMIError`` on failure."""
        self.loop = asyncio.get_running_loop()
        async with asyncio.timeout(self.action_timeout_s):
            _transport, protocol = await self.loop.create_connection(
                AMIStreamProtocol, self.config["host"], self.config["port"]
            )
            protocol.factory = self
            protocol.log = self.log
            protocol.config = self.config
            protocol.encoding = self.encoding = "utf-8"
            protocol.event_sink = self._on_event
            self.protocol = protocol
            self.responses = protocol.responses
            self._connected = True
            self.banner = await protocol.banner_seen

    async def login(self) -> PanoramiskMessage:
        """Log in with the plain secret or the MD5 challenge; ``AMIAuthError`` when refused."""
        if self.auth == "md5":
            challenge = await self.action({"Action": "Challenge", "AuthType": "MD5"})
            if not challenge.success or not challenge.get("Challenge"):
                raise AMIAuthError(f"MD5 challenge refused: {challenge.get('Message', '')}")
            key = hashlib.md5((challenge["Challenge"] + self.secret).encode()).hexdigest()
            login = {"Action": "Login", "AuthType": "MD5", "Username": self.username, "Key": key}
        else:
            login = {"Action": "Login", "Username": self.username, "Secret": self.secret}
        reply = await self.action({**login, "Events": "off"})
        if not reply.success:
            raise AMIAuthError(f"login refused: {reply.get('Message', '')}")
        self.authenticated = True
        self._start_pinger()
        return reply

    async def action(
        self, action: dict[str, Any], as_list: bool | None = None, timeout_s: float | None = None
    ) -> Any:
        """Send one action; its reply (a list for list actions) or ``AMIActionTimeout``."""
        protocol = self.protocol
        if protocol is None or protocol.closed:
            raise AMIConnectionLost("not connected to the PBX")
        future = protocol.send(dict(action), as_list=as_list)
        try:
            async with asyncio.timeout(self.action_timeout_s if timeout_s is None else timeout_s):
                return await future
        except TimeoutError:
            self._forget(future)
            raise AMIActionTimeout(f"no reply to {action.get('Action')} within the timeout") from None

    def _forget(self, future: asyncio.Future[Any]) -> None:
        protocol = self.protocol
        if protocol is None:
            return
        for key, pending in list(protocol.responses.items()):
            if pending.future is future:
                protocol.responses.pop(key, None)

    def on_malformed(self, count: int) -> None:
        """Called by the protocol when a read held frames or lines it could not use."""
        log.warning("AMI: %d malformed frame(s) or line(s) skipped", count)
        if self._on_malformed is not None:
            self._on_malformed(count)

    def add_listener(self, listener: EventSink) -> Callable[[], None]:
        """Also hand every event to ``listener`` (a command waiting for its outcome) until the
        returned function is called. A listener must be quick; what it raises is logged."""
        self._listeners.append(listener)

        def remove() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return remove

    def _on_event(self, msg: Message) -> None:
        if self.on_event is not None:
            self.on_event(msg)
        for listener in tuple(self._listeners):
            try:
                listener(msg)
            except Exception:
                log.exception("AMI event listener failed on %s", msg.get("Event"))

    def _start_pinger(self) -> None:
        if self._pinger_task is None or self._pinger_task.done():
            self._pinger_task = asyncio.get_running_loop().create_task(self._ping_loop())

    async def _ping_loop(self) -> None:
        while self.connected:
            await asyncio.sleep(self.ping_s)
            try:
                await self.action({"Action": "Ping"})
            except AMIActionTimeout:
                log.warning("AMI keep-alive: no reply to Ping, closing the connection")
                self.close()
                return
            except AMIConnectionLost:
                return

    def ping(self) -> None:  # panoramisk's timer-based pinger is replaced by _ping_loop
        return None

    def connection_made(self, f: Any) -> None:  # connect() is replaced by open()
        raise NotImplementedError("use AMIConnection.open()")

    def connection_lost(self, exc: BaseException | None) -> None:
        """Called by the protocol: fail what is pending and tell the owner."""
        if not self._connected:
            return
        self._connected = False
        self.authenticated = False
        protocol = self.protocol
        pending = list(self.awaiting_actions)  # panoramisk's close() moves unanswered actions here
        if protocol is not None:
            pending.extend(protocol.responses.values())
            protocol.responses.clear()
        self.awaiting_actions.clear()
        for action in pending:
            if not action.future.done():
                action.future.set_exception(AMIConnectionLost("the AMI connection closed"))
        if self._pinger_task is not None:
            self._pinger_task.cancel()
            self._pinger_task = None
        if self.on_lost is not None:
            self.on_lost(exc)

    def close(self) -> None:
        """Close the connection; pending actions fail with ``AMIConnectionLost``."""
        protocol = self.protocol
        if protocol is not None and not protocol.closed:
            with contextlib.suppress(Exception):
                protocol.transport.close()
            protocol.closed = True
            self.connection_lost(None)
