"""Call commands over the AMI connection: validated, bounded in time, answered with the AMI reply.

Every command checks its arguments before anything is sent (``InvalidArgument``), and checks a
channel against the tracker's live channels when it names one (``UnknownChannel``). Every
action fails with ``CommandTimeout`` after ``timeout_s`` (an Originate also waits for its
ring timeout, since it resolves only on OriginateResponse); a ``Response: Error`` raises
``CommandError`` carrying Asterisk's message. Each command returns the AMI reply as a dict
(``Response``, ``Message``, ``ActionID``...).

A "Success" reply often only means Asterisk queued the work (Atxfer queues DTMF, a Redirect only
moves channels into dialplan that may fail), so the commands whose effect comes later wait for the
events that show it happened, as Asterisk 22.10.1 sends them, and put them under ``"Outcome"``:

    hold             MusicOnHoldStart of the held party
    unhold           BridgeEnter of both parties into one bridge
    attended transfer  Newchannel of the consultation call Local/<exten>@<context>-...
    complete transfer  AttendedTransfer with Result Success
    cancel transfer  BridgeEnter and Unhold of the agent's leg, back with the other party
    three-way        ConfbridgeJoin of both parties, then of the third party
    spy              ChanSpyStart of the supervisor's leg on the target

No such event within ``outcome_s`` raises ``NotCarriedOut``; a Hangup of a party first raises it
at once. The watch starts before the action is sent: the proving event may come before the reply.

Dialplan names follow asterisk-dev: agents' extensions are reached as ``Local/<ext>@agents/n``
with device state ``Custom:<ext>``; click-to-dial continues in the ``outbound`` context.

Hold and three-way calls need two small dialplan contexts, because AMI has no action that puts a
bridged channel on music on hold or into a conference by itself (moving one leg out of a two-party
bridge hangs the other one up, as transcript 06 shows). Both parties are moved together with a
Redirect + ExtraChannel:

    [cc-hold]                                  [cc-conference]
    exten => hold,1,MusicOnHold(default)       exten => _X.,1,ConfBridge(${EXTEN})
    exten => wait,1,Wait(3600)

Unhold bridges the two parties again with the ``Bridge`` action. A hold done on the phone itself
(Hold/Unhold events) needs none of this.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Literal, Protocol

from cti.ami.protocol import AMIActionTimeout, AMIConnectionLost, raw

EXTENSION_RE = re.compile(r"^[0-9*#]{2,15}$")
QUEUE_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
NUMBER_RE = re.compile(r"^\+?[0-9]{2,20}$")
VARIABLE_RE = re.compile(r"^_{0,2}[A-Za-z][A-Za-z0-9_]{0,63}$")
CONTEXT_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
ROOM_RE = re.compile(r"^[0-9]{1,20}$")
_NUMBER_PUNCTUATION = re.compile(r"[\s().-]")

SpyMode = Literal["listen", "whisper", "barge"]
SPY_OPTIONS: dict[str, str] = {"listen": "q", "whisper": "qw", "barge": "qB"}

# OriginateResponse Reason codes (Asterisk's AST_CONTROL_* values) and what they mean to a user.
ORIGINATE_REASONS: dict[str, tuple[str, str]] = {
    "0": ("呼叫失败", "the call failed"),
    "1": ("对方已挂机", "the line hung up"),
    "3": ("分机无人接听", "the extension did not answer"),
    "5": ("分机忙", "the extension is busy"),
    "8": ("线路拥塞", "the line is congested"),
}


class CommandError(Exception):
    """A call command failed; ``text`` holds the user-facing message per language."""

    code = "command_failed"

    def __init__(self, message: str, *, zh: str | None = None, response: Mapping[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.response = dict(response) if response is not None else None
        self.text = {"zh-CN": zh or f"呼叫命令失败：{message}", "en": message}


class InvalidArgument(CommandError):
    code = "invalid_argument"


class UnknownChannel(CommandError):
    code = "unknown_channel"


class CommandTimeout(CommandError):
    code = "timeout"


class NotConnected(CommandError):
    code = "not_connected"


class NotCarriedOut(CommandError):
    """The PBX accepted the action, but the call did not do what was asked (see the module doc)."""

    code = "not_carried_out"


Event = dict[str, Any]
Check = Callable[[Event], bool]
Failure = Callable[[Event], CommandError]


class ActionSender(Protocol):
    """The part of ``AMIConnection`` the commands use."""

    async def action(
        self, action: dict[str, Any], as_list: bool | None = None, timeout_s: float | None = None
    ) -> Any: ...

    def add_listener(self, listener: Callable[[Event], None]) -> Callable[[], None]: ...


class Outcome:
    """The events that show one command was carried out: each ``needed`` check must match an event
    (in any order); an event matching a ``fatal`` check ends the wait with its error."""

    def __init__(self, needed: Mapping[str, Check], fatal: Sequence[tuple[Check, Failure]] = ()) -> None:
        self.needed = dict(needed)
        self.fatal = list(fatal)
        self.seen: dict[str, Event] = {}
        self.done: asyncio.Future[dict[str, Event]] = asyncio.get_running_loop().create_future()

    def feed(self, event: Event) -> None:
        if self.done.done():
            return
        for check, failure in self.fatal:
            if check(event):
                self.done.set_exception(failure(event))
                return
        for key, check in self.needed.items():
            if key not in self.seen and check(event):
                self.seen[key] = event
        if len(self.seen) == len(self.needed):
            self.done.set_result(dict(self.seen))

    def events(self) -> list[Event]:
        return [self.seen[key] for key in self.needed if key in self.seen]

    def close(self) -> None:
        """Stop waiting; an error nobody awaited (the action itself failed) is dropped."""
        if not self.done.done():
            self.done.cancel()
        elif not self.done.cancelled():
            self.done.exception()


def event_is(name: str, **headers: str) -> Check:
    """A check: the event ``name`` with these header values."""
    return lambda e: e.get("Event") == name and all(e.get(k) == v for k, v in headers.items())


def hung_up(channel: str, zh: str, en: str) -> tuple[Check, Failure]:
    """A fatal check: ``channel`` hung up before the command's outcome."""
    return (
        event_is("Hangup", Channel=channel),
        lambda e: NotCarriedOut(f"{en}: {channel} hung up (cause {e.get('Cause', '?')})", zh=f"{zh}：{channel} 已挂断"),
    )


# --- validation (pure) ---------------------------------------------------------------------------
def check_extension(extension: str) -> str:
    if not isinstance(extension, str) or not EXTENSION_RE.match(extension):
        raise InvalidArgument(f"invalid extension {extension!r}", zh=f"分机号无效：{extension!r}")
    return extension


def check_queue(queue: str) -> str:
    if not isinstance(queue, str) or not QUEUE_RE.match(queue):
        raise InvalidArgument(f"invalid queue name {queue!r}", zh=f"队列名称无效：{queue!r}")
    return queue


def check_context(context: str) -> str:
    if not isinstance(context, str) or not CONTEXT_RE.match(context):
        raise InvalidArgument(f"invalid dialplan context {context!r}", zh=f"拨号方案上下文无效：{context!r}")
    return context


def normalise_number(number: str) -> str:
    """Digits with an optional leading +; spaces, dots, dashes and brackets are dropped."""
    cleaned = _NUMBER_PUNCTUATION.sub("", number) if isinstance(number, str) else ""
    if not NUMBER_RE.match(cleaned):
        raise InvalidArgument(f"invalid phone number {number!r}", zh=f"电话号码无效：{number!r}")
    return cleaned


def check_text(value: str, what: str, max_len: int = 128) -> str:
    """Free text that goes into one AMI header: no line breaks (they would inject headers)."""
    if not isinstance(value, str) or "\r" in value or "\n" in value or len(value) > max_len:
        raise InvalidArgument(f"invalid {what} {value!r}", zh=f"{what} 无效：{value!r}")
    return value


def check_variables(variables: Mapping[str, Any] | None) -> list[str]:
    out: list[str] = []
    for key, value in (variables or {}).items():
        if not VARIABLE_RE.match(str(key)):
            raise InvalidArgument(f"invalid channel variable name {key!r}", zh=f"通道变量名无效：{key!r}")
        out.append(f"{key}={check_text(str(value), 'channel variable value', 512)}")
    return out


def agent_interface(extension: str) -> str:
    return f"Local/{check_extension(extension)}@agents/n"


# --- commands ------------------------------------------------------------------------------------
class CallCommands:
    """The call commands of one PBX connection."""

    def __init__(
        self,
        connection: ActionSender,
        timeout_s: float = 5.0,
        channel_exists: Callable[[str], bool] | None = None,
        peer_of: Callable[[str], str | None] | None = None,
        outcome_s: float = 10.0,
    ) -> None:
        self.connection = connection
        self.timeout_s = timeout_s
        self.outcome_s = outcome_s
        self.channel_exists = channel_exists
        self.peer_of = peer_of
        self._held: dict[str, str] = {}  # held channel -> the party waiting for it

    async def originate_click_to_dial(
        self,
        extension: str,
        number: str,
        caller_id: str | None = None,
        variables: Mapping[str, Any] | None = None,
        ring_timeout_s: float = 30.0,
    ) -> dict[str, Any]:
        """Ring the agent's extension; when it answers, dial ``number`` from context ``outbound``.

        Resolves on OriginateResponse (the agent answered, Reason 4); a failed originate raises
        ``CommandError`` saying why (no answer, busy...).
        """
        action: dict[str, Any] = {
            "Action": "Originate",
            "Channel": agent_interface(extension),
            "Context": "outbound",
            "Exten": normalise_number(number),
            "Priority": "1",
            "Timeout": str(int(ring_timeout_s * 1000)),
            "Async": "true",
        }
        if caller_id is not None:
            action["CallerID"] = check_text(caller_id, "caller id")
        if variables:
            action["Variable"] = check_variables(variables)
        return await self._originate(action, ring_timeout_s)

    async def originate_customer_first(
        self,
        number: str,
        callee_context: str,
        context: str,
        exten: str,
        caller_id: str | None = None,
        variables: Mapping[str, Any] | None = None,
        ring_timeout_s: float = 30.0,
    ) -> dict[str, Any]:
        """A campaign call (cti.dialer): ring ``Local/<number>@<callee_context>/n``; once the customer
        answers, his leg continues at ``context``/``exten`` (a queue). Resolves on OriginateResponse:
        answered (``Uniqueid`` is the call's Linkedid), else ``CommandError`` with the Reason (busy...)."""
        action: dict[str, Any] = {
            "Action": "Originate",
            "Channel": f"Local/{normalise_number(number)}@{check_context(callee_context)}/n",
            "Context": check_context(context),
            "Exten": check_queue(exten),
            "Priority": "1",
            "Timeout": str(int(ring_timeout_s * 1000)),
            "Async": "true",
        }
        if caller_id:
            action["CallerID"] = check_text(caller_id, "caller id")
        if variables:
            action["Variable"] = check_variables(variables)
        return await self._originate(action, ring_timeout_s)

    async def hangup(self, channel: str, cause: int = 16) -> dict[str, Any]:
        if not isinstance(cause, int) or not 0 <= cause <= 127:
            raise InvalidArgument(f"invalid hangup cause {cause!r}", zh=f"挂机原因码无效：{cause!r}")
        return await self._send({"Action": "Hangup", "Channel": self._channel(channel), "Cause": str(cause)})

    async def blind_transfer(self, channel: str, extension: str, context: str = "internal") -> dict[str, Any]:
        """Redirect ``channel`` (the party that stays, usually the customer) to ``extension``."""
        return await self._send(
            {
                "Action": "Redirect",
                "Context": check_context(context),
                "Exten": check_extension(extension),
                "Priority": "1",
                "Channel": self._channel(channel),  # checked last: arguments first
            }
        )

    async def attended_transfer(self, channel: str, extension: str, context: str = "internal") -> dict[str, Any]:
        """Atxfer: ``channel`` (the agent's leg) consults ``extension`` before completing.

        Asterisk answers "Atxfer successfully queued" once it has queued the feature code; the
        consultation has begun when the call to ``Local/<extension>@<context>`` exists
        (``"Consultation"``: its channel).
        """
        prefix = f"Local/{check_extension(extension)}@{check_context(context)}-"
        outcome = Outcome(
            {"consultation": lambda e: e.get("Event") == "Newchannel" and str(e.get("Channel", "")).startswith(prefix)},
            [hung_up(channel, "转接失败", "attended transfer failed")],
        )
        action = {"Action": "Atxfer", "Context": context, "Exten": extension, "Channel": self._channel(channel)}
        result = await self._carry_out(
            action,
            outcome,
            zh=f"未能发起对 {extension} 的咨询呼叫",
            en=f"the consultation call to {extension} did not start",
        )
        result["Consultation"] = result["Outcome"][0]["Channel"]
        return result

    async def complete_attended_transfer(self, channel: str) -> dict[str, Any]:
        """End the consultation by hanging up the agent's leg ``channel``: Asterisk joins the other
        party to the consulted one and reports AttendedTransfer (its Result is the outcome)."""

        def transferred(event: Event) -> bool:
            return event.get("Event") == "AttendedTransfer" and channel in (
                event.get("OrigTransfererChannel"),
                event.get("SecondTransfererChannel"),
            )

        outcome = Outcome({"transfer": transferred})
        action = {"Action": "Hangup", "Channel": self._channel(channel), "Cause": "16"}
        result = await self._carry_out(action, outcome, zh="转接未完成", en="the transfer was not completed")
        event = result["Outcome"][0]
        if event.get("Result") != "Success":
            why = str(event.get("Result", ""))
            raise NotCarriedOut(f"attended transfer failed: {why}", zh=f"转接失败：{why}", response=event)
        return result

    async def cancel_attended_transfer(self, consulted_channel: str, channel: str) -> dict[str, Any]:
        """Drop the consulted party's leg: the agent's leg ``channel`` goes back to the other party
        (Asterisk bridges it there again and sends Unhold for it)."""
        outcome = Outcome(
            {"back": event_is("BridgeEnter", Channel=channel), "unhold": event_is("Unhold", Channel=channel)},
            [hung_up(channel, "取消转接失败", "cancelling the transfer failed")],
        )
        action = {"Action": "Hangup", "Channel": self._channel(consulted_channel), "Cause": "16"}
        return await self._carry_out(
            action, outcome, zh="坐席未回到原通话", en="the agent was not put back to the other party"
        )

    async def hold(self, channel: str, peer_channel: str | None = None, context: str = "cc-hold") -> dict[str, Any]:
        """Music on hold for ``channel`` (the customer) while ``peer_channel`` (the agent) waits.

        Without ``peer_channel`` the party ``channel`` is bridged with is used. Done when the
        customer hears the music (MusicOnHoldStart).
        """
        peer = self._peer(channel, peer_channel)
        outcome = Outcome(
            {"music": event_is("MusicOnHoldStart", Channel=channel)},
            [hung_up(channel, "保持失败", "hold failed"), hung_up(peer, "保持失败", "hold failed")],
        )
        action = {
            "Action": "Redirect",
            "Context": check_context(context),
            "Exten": "hold",
            "Priority": "1",
            "ExtraContext": context,
            "ExtraExten": "wait",
            "ExtraPriority": "1",
            "Channel": self._channel(channel),
            "ExtraChannel": peer,
        }
        result = await self._carry_out(
            action,
            outcome,
            zh="客户未被保持（未开始播放等待音乐）",
            en="the caller was not put on hold (no music on hold)",
        )
        self._held[channel] = peer
        return result

    async def unhold(self, channel: str, peer_channel: str | None = None) -> dict[str, Any]:
        """Take the customer off hold: bridge both parties again (the peer remembered from hold).
        Done when both have entered the same bridge."""
        peer = peer_channel if peer_channel is not None else self._held.get(channel)
        if peer is None:
            raise CommandError(f"{channel} is not on hold here", zh=f"该通话未被保持：{channel}")
        outcome = Outcome(
            {"held": event_is("BridgeEnter", Channel=channel), "peer": event_is("BridgeEnter", Channel=peer)},
            [hung_up(channel, "取消保持失败", "unhold failed"), hung_up(peer, "取消保持失败", "unhold failed")],
        )
        action = {"Action": "Bridge", "Channel1": self._channel(channel), "Channel2": self._channel(peer), "Tone": "no"}
        result = await self._carry_out(
            action, outcome, zh="双方未能重新接通", en="the two parties were not bridged again"
        )
        first, second = result["Outcome"]
        if first.get("BridgeUniqueid") != second.get("BridgeUniqueid"):
            raise NotCarriedOut(
                "unhold: the two parties are in different bridges", zh="取消保持失败：双方不在同一通话中"
            )
        self._held.pop(channel, None)
        return result

    async def three_way(
        self,
        channel: str,
        peer_channel: str,
        third_extension: str,
        room: str | None = None,
        context: str = "cc-conference",
    ) -> dict[str, Any]:
        """Move both parties into ConfBridge ``room`` (a new one when None), then ring
        ``third_extension`` into it.

        Done when both parties have joined the room (ConfbridgeJoin) and the third party has
        answered and joined too. Returns the Redirect reply with the third party's Originate
        reply under ``"Invite"``; ``"Conference"`` is the room.
        """
        if room is None:
            room = str(10**8 + secrets.randbelow(9 * 10**8))
        if not isinstance(room, str) or not ROOM_RE.match(room):
            raise InvalidArgument(f"invalid conference room {room!r}", zh=f"会议室号无效：{room!r}")
        third = agent_interface(third_extension)
        moved_out = Outcome(
            {
                "channel": event_is("ConfbridgeJoin", Conference=room, Channel=channel),
                "peer": event_is("ConfbridgeJoin", Conference=room, Channel=peer_channel),
            },
            [
                hung_up(channel, "三方通话失败", "three-way call failed"),
                hung_up(peer_channel, "三方通话失败", "three-way call failed"),
            ],
        )
        action = {
            "Action": "Redirect",
            "Context": check_context(context),
            "Exten": room,
            "Priority": "1",
            "ExtraContext": context,
            "ExtraExten": room,
            "ExtraPriority": "1",
            "Channel": self._channel(channel),
            "ExtraChannel": self._channel(peer_channel),
        }
        moved = await self._carry_out(
            action, moved_out, zh="通话双方未能进入三方会议", en="the two parties did not join the conference"
        )
        moved["Conference"] = room
        joined = Outcome(
            {
                "third": lambda e: (
                    e.get("Event") == "ConfbridgeJoin"
                    and e.get("Conference") == room
                    and e.get("Channel") not in (channel, peer_channel)
                )
            }
        )
        invite = {
            "Action": "Originate",
            "Channel": third,
            "Context": context,
            "Exten": room,
            "Priority": "1",
            "Timeout": "30000",
            "Async": "true",
        }
        with self._watching(joined):
            try:
                moved["Invite"] = await self._originate(invite, 30.0)
            except CommandError as exc:
                raise type(exc)(
                    f"three-way: {third_extension} was not reached ({exc.text['en']}); "
                    f"the other two parties are in conference {room}",
                    zh=f"三方通话：未能接通 {third_extension}（{exc.text['zh-CN']}），另外两方仍在会议 {room} 中",
                    response=exc.response,
                ) from exc
            await self._outcome(
                "Originate",
                joined,
                zh=f"{third_extension} 未能进入三方会议",
                en=f"{third_extension} did not join the conference",
            )
        moved["Outcome"] = moved["Outcome"] + joined.events()
        return moved

    async def queue_login(
        self, queue: str, extension: str, member_name: str, penalty: int = 0, paused: bool = False
    ) -> dict[str, Any]:
        if not isinstance(penalty, int) or not 0 <= penalty <= 1000:
            raise InvalidArgument(f"invalid penalty {penalty!r}", zh=f"优先级无效：{penalty!r}")
        return await self._send(
            {
                "Action": "QueueAdd",
                "Queue": check_queue(queue),
                "Interface": agent_interface(extension),
                "StateInterface": f"Custom:{extension}",
                "MemberName": check_text(member_name, "member name"),
                "Penalty": str(penalty),
                "Paused": "true" if paused else "false",
            },
            as_list=False,  # panoramisk would take "Added interface to queue" for a list start
        )

    async def queue_logout(self, queue: str, extension: str) -> dict[str, Any]:
        return await self._send(
            {"Action": "QueueRemove", "Queue": check_queue(queue), "Interface": agent_interface(extension)},
            as_list=False,
        )

    async def pause(self, extension: str, paused: bool, reason: str = "", queue: str | None = None) -> dict[str, Any]:
        """置忙/置闲: pause or unpause the member in ``queue``, or in every queue when None."""
        action: dict[str, Any] = {
            "Action": "QueuePause",
            "Interface": agent_interface(extension),
            "Paused": "true" if paused else "false",
        }
        if queue is not None:
            action["Queue"] = check_queue(queue)
        if reason:
            action["Reason"] = check_text(reason, "pause reason")
        return await self._send(action, as_list=False)

    async def spy(self, supervisor_extension: str, target_channel: str, mode: SpyMode = "listen") -> dict[str, Any]:
        """Ring the supervisor's extension, then ChanSpy on the target: listen, whisper or barge.

        Done when the supervisor answered (OriginateResponse) and ChanSpy started on the target
        (ChanSpyStart); otherwise the supervisor's leg is hung up and ``NotCarriedOut`` raised.
        """
        options = SPY_OPTIONS.get(mode)
        if options is None:
            raise InvalidArgument(f"invalid spy mode {mode!r}", zh=f"监听方式无效：{mode!r}")
        spyer: dict[str, str] = {}
        outcome = Outcome(
            {"spy": lambda e: e.get("Event") == "ChanSpyStart" and e.get("SpyeeChannel") == target_channel},
            [
                hung_up(target_channel, "监听失败", "listening failed"),
                (
                    lambda e: e.get("Event") == "Hangup" and e.get("Channel") == spyer.get("channel"),
                    lambda e: NotCarriedOut(
                        "listening failed: the supervisor's line hung up", zh="监听失败：班长线路已挂断"
                    ),
                ),
            ],
        )
        action = {
            "Action": "Originate",
            "Channel": agent_interface(supervisor_extension),
            "Application": "ChanSpy",
            "Data": f"{self._channel(target_channel)},{options}",
            "CallerID": f'"Spy" <{supervisor_extension}>',
            "Timeout": "30000",
            "Async": "true",
        }
        with self._watching(outcome):
            result = await self._originate(action, 30.0)
            spyer["channel"] = str(result.get("Channel", ""))
            try:
                await self._outcome("ChanSpy", outcome, zh="未能开始监听", en="listening did not start")
            except CommandError:
                if spyer["channel"]:
                    with contextlib.suppress(CommandError):
                        await self._send({"Action": "Hangup", "Channel": spyer["channel"], "Cause": "16"})
                raise
        result["Outcome"] = outcome.events()
        return result

    # --- sending ---------------------------------------------------------------------------------
    def _peer(self, channel: str, peer_channel: str | None) -> str:
        if peer_channel is not None:
            return self._channel(peer_channel)
        self._channel(channel)
        peer = self.peer_of(channel) if self.peer_of is not None else None
        if peer is None:
            raise CommandError(
                f"{channel} is not talking to exactly one other party", zh=f"找不到与 {channel} 通话的另一方"
            )
        return peer

    def _channel(self, channel: str) -> str:
        check_text(channel, "channel name", 256)
        if not channel or "," in channel:
            raise InvalidArgument(f"invalid channel name {channel!r}", zh=f"通道名称无效：{channel!r}")
        if self.channel_exists is not None and not self.channel_exists(channel):
            raise UnknownChannel(f"no such channel: {channel}", zh=f"通道不存在：{channel}")
        return channel

    async def _send(
        self, action: dict[str, Any], as_list: bool | None = None, wait_s: float | None = None
    ) -> dict[str, Any]:
        name = action["Action"]
        try:
            reply = await self.connection.action(
                action, as_list=as_list, timeout_s=self.timeout_s if wait_s is None else wait_s
            )
        except AMIActionTimeout:
            raise CommandTimeout(
                f"{name}: no answer from the PBX within {self.timeout_s:g} s",
                zh=f"{name}：交换机在 {self.timeout_s:g} 秒内未响应",
            ) from None
        except AMIConnectionLost as exc:
            raise NotConnected(f"{name}: {exc}", zh=f"{name}：未连接到交换机") from None
        replies = reply if isinstance(reply, list) else [reply]
        first = raw(replies[0])
        if first.get("Response") != "Success":
            message = str(first.get("Message") or first.get("Response") or "error")
            raise CommandError(f"{name}: {message}", zh=f"{name} 失败：{message}", response=first)
        result: dict[str, Any] = dict(first)
        for extra in replies[1:]:
            result.setdefault("Events", []).append(raw(extra))
        return result

    @contextlib.contextmanager
    def _watching(self, outcome: Outcome) -> Iterator[Outcome]:
        """Feed every AMI event to ``outcome`` while the block runs."""
        remove = self.connection.add_listener(outcome.feed)
        try:
            yield outcome
        finally:
            remove()
            outcome.close()

    async def _outcome(self, name: str, outcome: Outcome, *, zh: str, en: str) -> dict[str, Event]:
        """Wait for ``outcome`` (already watched); ``NotCarriedOut`` when it does not come in time."""
        try:
            async with asyncio.timeout(self.outcome_s):
                return await asyncio.shield(outcome.done)
        except TimeoutError:
            raise NotCarriedOut(
                f"{name}: the PBX accepted it, but {en} within {self.outcome_s:g} s",
                zh=f"{name}：交换机已接受，但{zh}（{self.outcome_s:g} 秒内）",
            ) from None

    async def _carry_out(self, action: dict[str, Any], outcome: Outcome, *, zh: str, en: str) -> dict[str, Any]:
        """Send ``action`` and wait for its ``outcome``; the reply with the events under "Outcome"."""
        with self._watching(outcome):
            result = await self._send(action)
            await self._outcome(str(action["Action"]), outcome, zh=zh, en=en)
        result["Outcome"] = outcome.events()
        return result

    async def _originate(self, action: dict[str, Any], ring_timeout_s: float) -> dict[str, Any]:
        result = await self._send(action, wait_s=self.timeout_s + ring_timeout_s)
        outcome = next((e for e in result.get("Events", []) if e.get("Event") == "OriginateResponse"), None)
        if outcome is None:
            return result
        for key in ("Channel", "Uniqueid", "Reason"):
            if key in outcome:
                result[key] = outcome[key]
        if outcome.get("Response") != "Success":
            reason = str(outcome.get("Reason", ""))
            zh, en = ORIGINATE_REASONS.get(reason, ("呼叫失败", "the call failed"))
            raise CommandError(
                f"Originate: {en} (reason {reason})", zh=f"外呼失败：{zh}（原因 {reason}）", response=outcome
            )
        return result
