"""Call commands over the AMI connection: validated, bounded in time, answered with the AMI reply.

Every command checks its arguments before anything is sent (``InvalidArgument``), and checks a
channel against the tracker's live channels when it names one (``UnknownChannel``). Every
action fails with ``CommandTimeout`` after ``timeout_s`` (an Originate also waits for its
ring timeout, since it resolves only on OriginateResponse); a ``Response: Error`` raises
``CommandError`` carrying Asterisk's message. Each command returns the AMI reply as a dict
(``Response``, ``Message``, ``ActionID``...).

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

import re
import secrets
from collections.abc import Callable, Mapping
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


class ActionSender(Protocol):
    """The part of ``AMIConnection`` the commands use."""

    async def action(
        self, action: dict[str, Any], as_list: bool | None = None, timeout_s: float | None = None
    ) -> Any: ...


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
    ) -> None:
        self.connection = connection
        self.timeout_s = timeout_s
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

    async def attended_transfer(
        self, channel: str, extension: str, context: str = "internal"
    ) -> dict[str, Any]:
        """Atxfer: ``channel`` (the agent's leg) consults ``extension`` before completing."""
        return await self._send(
            {
                "Action": "Atxfer",
                "Context": check_context(context),
                "Exten": check_extension(extension),
                "Channel": self._channel(channel),  # checked last: arguments first
            }
        )

    async def hold(
        self, channel: str, peer_channel: str | None = None, context: str = "cc-hold"
    ) -> dict[str, Any]:
        """Music on hold for ``channel`` (the customer) while ``peer_channel`` (the agent) waits.

        Without ``peer_channel`` the party ``channel`` is bridged with is used.
        """
        peer = self._peer(channel, peer_channel)
        reply = await self._send(
            {
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
        )
        self._held[channel] = peer
        return reply

    async def unhold(self, channel: str, peer_channel: str | None = None) -> dict[str, Any]:
        """Take the customer off hold: bridge both parties again (the peer remembered from hold)."""
        peer = peer_channel if peer_channel is not None else self._held.get(channel)
        if peer is None:
            raise CommandError(f"{channel} is not on hold here", zh=f"该通话未被保持：{channel}")
        reply = await self._send(
            {
                "Action": "Bridge",
                "Channel1": self._channel(channel),
                "Channel2": self._channel(peer),
                "Tone": "no",
            }
        )
        self._held.pop(channel, None)
        return reply

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

        Returns the Redirect reply with the third party's Originate reply under ``"Invite"``.
        """
        if room is None:
            room = str(10**8 + secrets.randbelow(9 * 10**8))
        if not isinstance(room, str) or not ROOM_RE.match(room):
            raise InvalidArgument(f"invalid conference room {room!r}", zh=f"会议室号无效：{room!r}")
        third = agent_interface(third_extension)
        moved = await self._send(
            {
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
        moved["Invite"] = await self._originate(invite, 30.0)
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

    async def pause(
        self, extension: str, paused: bool, reason: str = "", queue: str | None = None
    ) -> dict[str, Any]:
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

    async def spy(
        self, supervisor_extension: str, target_channel: str, mode: SpyMode = "listen"
    ) -> dict[str, Any]:
        """Ring the supervisor's extension, then ChanSpy on the target: listen, whisper or barge."""
        options = SPY_OPTIONS.get(mode)
        if options is None:
            raise InvalidArgument(f"invalid spy mode {mode!r}", zh=f"监听方式无效：{mode!r}")
        action = {
            "Action": "Originate",
            "Channel": agent_interface(supervisor_extension),
            "Application": "ChanSpy",
            "Data": f"{self._channel(target_channel)},{options}",
            "CallerID": f'"Spy" <{supervisor_extension}>',
            "Timeout": "30000",
            "Async": "true",
        }
        return await self._originate(action, 30.0)

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
