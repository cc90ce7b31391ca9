"""The AMI actions the simulator answers, with Asterisk 22's reply texts.

``ActionHandler.handle(session, action)`` sends the reply (and any events the action causes)
and returns False when the connection must close (Logoff, failed login). Reply texts and
header orders are those of the recorded transcripts; error texts are Asterisk's own
(``manager.c``, ``app_queue.c``).
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cti.simulator import listings
from cti.simulator.dialer_calls import CALLEE_CONTEXT
from cti.simulator.protocol import Action, Message, error, header, headers, response
from cti.simulator.queues import add_member, pause_member, remove_member
from cti.simulator.scenarios import ScenarioError
from cti.simulator.state import ChannelRecord, QueueError, snapshot_headers

if TYPE_CHECKING:
    from cti.simulator.server import PBXSimulator, Session

log = logging.getLogger(__name__)
Handler = Callable[["Session", Action], bool]
_OPEN_ACTIONS = {"login", "challenge", "logoff"}
_LOCAL = re.compile(r"^Local/(?P<exten>[^@]+)@(?P<context>[^/]+)(?:/n)?$")


def _truthy(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


def _variables(action: Action) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in headers(action, "Variable"):
        for assignment in item.split(","):
            name, sep, value = assignment.partition("=")
            if sep:
                out[name.strip().lstrip("_").upper()] = value.strip()
    return out


def _caller_id(value: str) -> tuple[str, str]:
    match = re.match(r'^\s*"?([^"<]*?)"?\s*<([^>]*)>\s*$', value)
    if match:
        return match.group(2), match.group(1)
    return value.strip(), ""


class ActionHandler:
    def __init__(self, sim: PBXSimulator) -> None:
        self.sim = sim
        self.pbx = sim.pbx
        self._table: dict[str, Handler] = {
            name[3:]: getattr(self, name) for name in dir(self) if name.startswith("on_")
        }

    def handle(self, session: Session, action: Action) -> bool:
        name = header(action, "Action").lower()
        if not name:
            session.send(error(action, "Missing action in request"))
            return True
        if not session.authenticated and name not in _OPEN_ACTIONS:
            session.send(error(action, "Permission denied"))
            return True
        handler = self._table.get(name)
        if handler is None:
            session.send(error(action, "Invalid/unknown command"))
            return True
        try:
            return handler(session, action)
        except (QueueError, ScenarioError) as exc:
            session.send(error(action, str(exc)))
            return True

    def _send_all(self, session: Session, messages: list[Message]) -> bool:
        for message in messages:
            session.send(message)
        return True

    # --- login and session ----------------------------------------------------------------------
    def on_challenge(self, session: Session, action: Action) -> bool:
        if header(action, "AuthType").lower() != "md5":
            session.send(error(action, "Must specify AuthType"))
            return True
        session.challenge = str(random.randint(100_000_000, 999_999_999))
        session.send(response(action, "Success", None, ("Challenge", session.challenge)))
        return True

    def on_login(self, session: Session, action: Action) -> bool:
        if not self._credentials_ok(session, action):
            session.send(error(action, "Authentication failed"))
            return False
        session.authenticated = True
        session.username = header(action, "Username")
        session.event_classes = _event_mask(header(action, "Events", "on"))
        session.send(response(action, "Success", "Authentication accepted"))
        self.sim.private_events(session, self._login_events(session))
        return True

    def _credentials_ok(self, session: Session, action: Action) -> bool:
        if header(action, "Username") != self.sim.username:
            return False
        if header(action, "AuthType").lower() == "md5":
            if not session.challenge:
                return False
            expected = hashlib.md5((session.challenge + self.sim.secret).encode()).hexdigest()
            return header(action, "Key").lower() == expected
        return header(action, "Secret") == self.sim.secret

    def _login_events(self, session: Session) -> list[Message]:
        uptime = str(self.sim.uptime)
        tv = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"
        out: list[Message] = []
        if session.wants("system"):
            out.append(
                [
                    ("Event", "FullyBooted"),
                    ("Privilege", "system,all"),
                    ("Uptime", uptime),
                    ("LastReload", uptime),
                    ("Status", "Fully Booted"),
                ]
            )
        if session.wants("security"):
            out.append(
                [
                    ("Event", "SuccessfulAuth"),
                    ("Privilege", "security,all"),
                    ("EventTV", tv),
                    ("Severity", "Informational"),
                    ("Service", "AMI"),
                    ("EventVersion", "1"),
                    ("AccountID", session.username),
                    ("SessionID", f"0x{id(session):x}"),
                    ("LocalAddress", f"IPV4/TCP/{self.sim.host}/{self.sim.port}"),
                    ("RemoteAddress", f"IPV4/TCP/{session.peer}"),
                    ("UsingPassword", "0"),
                    ("SessionTV", tv),
                ]
            )
        return out

    def on_logoff(self, session: Session, action: Action) -> bool:
        session.send(response(action, "Goodbye", "Thanks for all the fish."))
        return False

    def on_ping(self, session: Session, action: Action) -> bool:
        stamp = f"{self.sim._clock():.6f}"
        session.send(response(action, "Success", None, ("Ping", "Pong"), ("Timestamp", stamp)))
        return True

    def on_events(self, session: Session, action: Action) -> bool:
        session.event_classes = _event_mask(header(action, "EventMask", "on"))
        state = "Off" if session.event_classes == set() else "On"
        session.send(response(action, "Success", None, ("Events", state)))
        return True

    def on_command(self, session: Session, action: Action) -> bool:
        command = header(action, "Command").strip()
        if command == "core show version":
            output = "Asterisk 22.10.1 (PBX simulator)"
        elif command == "core show uptime":
            output = f"System uptime: {self.sim.uptime} seconds"
        else:
            output = f"No such command '{command}' (type 'core show help {command}' for other possible commands)"
        session.send(response(action, "Success", "Command output follows", ("Output", output)))
        return True

    # --- queues ---------------------------------------------------------------------------------
    def on_queueadd(self, session: Session, action: Action) -> bool:
        queue, interface = header(action, "Queue"), header(action, "Interface")
        if not queue:
            raise QueueError("'Queue' not specified.")
        if not interface:
            raise QueueError("'Interface' not specified.")
        events = add_member(
            self.pbx.state,
            queue,
            interface,
            self.sim._clock(),
            state_interface=header(action, "StateInterface"),
            member_name=header(action, "MemberName"),
            penalty=int(header(action, "Penalty", "0") or 0),
            paused=_truthy(header(action, "Paused")),
            reason=header(action, "Reason"),
        )
        session.send(response(action, "Success", "Added interface to queue"))
        self.pbx.emit_events(events)
        return True

    def on_queueremove(self, session: Session, action: Action) -> bool:
        queue, interface = header(action, "Queue"), header(action, "Interface")
        if not queue or not interface:
            raise QueueError("Need 'Queue' and 'Interface' parameters.")
        events = remove_member(self.pbx.state, queue, interface)
        session.send(response(action, "Success", "Removed interface from queue"))
        self.pbx.emit_events(events)
        return True

    def on_queuepause(self, session: Session, action: Action) -> bool:
        interface, paused_text = header(action, "Interface"), header(action, "Paused")
        if not interface or not paused_text:
            raise QueueError("Need 'Interface' and 'Paused' parameters.")
        paused = _truthy(paused_text)
        events = pause_member(
            self.pbx.state,
            interface,
            paused,
            self.sim._clock(),
            queue_name=header(action, "Queue"),
            reason=header(action, "Reason"),
        )
        text = "Interface paused successfully" if paused else "Interface unpaused successfully"
        session.send(response(action, "Success", text))
        self.pbx.emit_events(events)
        return True

    def on_queuestatus(self, session: Session, action: Action) -> bool:
        now = self.sim._clock()
        return self._send_all(
            session,
            listings.queue_status(
                self.pbx.state,
                header(action, "ActionID"),
                now,
                header(action, "Queue"),
                header(action, "Member"),
            ),
        )

    def on_queuesummary(self, session: Session, action: Action) -> bool:
        now = self.sim._clock()
        return self._send_all(
            session,
            listings.queue_summary(self.pbx.state, header(action, "ActionID"), now, header(action, "Queue")),
        )

    # --- channels -------------------------------------------------------------------------------
    def on_coreshowchannels(self, session: Session, action: Action) -> bool:
        now = self.sim._clock()
        return self._send_all(session, listings.core_show_channels(self.pbx.state, header(action, "ActionID"), now))

    def on_status(self, session: Session, action: Action) -> bool:
        now = self.sim._clock()
        messages = listings.status(self.pbx.state, header(action, "ActionID"), now, header(action, "Channel"))
        return self._send_all(session, messages)

    def on_bridgelist(self, session: Session, action: Action) -> bool:
        return self._send_all(session, listings.bridge_list(self.pbx.state, header(action, "ActionID")))

    def _channel(self, action: Action, missing: str = "No such channel") -> ChannelRecord:
        name = header(action, "Channel")
        if not name:
            raise QueueError("No channel specified")
        chan = self.pbx.state.channel_by_name(name)
        if chan is None:
            raise QueueError(missing)
        return chan

    def on_getvar(self, session: Session, action: Action) -> bool:
        variable = header(action, "Variable")
        if not variable:
            raise QueueError("No variable specified")
        value = ""
        if header(action, "Channel"):
            chan = self._channel(action)
            for name in (variable, f"_{variable}", f"__{variable}"):
                if name in chan.variables:
                    value = chan.variables[name]
                    break
        session.send(response(action, "Success", None, ("Variable", variable), ("Value", value)))
        return True

    def on_hangup(self, session: Session, action: Action) -> bool:
        chan = self._channel(action)
        run = self.pbx.call_of(chan.name)
        if run is None:
            raise QueueError("No such channel")
        session.send(response(action, "Success", "Channel Hungup"))
        self.pbx.hangup(run, chan.name)
        return True

    def on_redirect(self, session: Session, action: Action) -> bool:
        name = header(action, "Channel")
        chan = self._channel(action, missing=f"Channel does not exist: {name}")
        run = self.pbx.call_of(chan.name)
        exten, context = header(action, "Exten"), header(action, "Context")
        if not exten:
            raise QueueError("Exten not specified")
        both = bool(header(action, "ExtraChannel"))
        if run is None or not self.pbx.can_move(run) or (context in ("cc-hold", "cc-conference") and not both):
            raise QueueError("Redirect failed")
        if context == "cc-hold":
            self.pbx.put_on_hold(run)
        elif context == "cc-conference":
            self.pbx.conference(run, exten)
        else:
            self.pbx.redirect(run, exten)
        session.send(response(action, "Success", "Dual Redirect successful" if both else "Redirect successful"))
        return True

    def on_bridge(self, session: Session, action: Action) -> bool:
        first, second = header(action, "Channel1"), header(action, "Channel2")
        if self.pbx.state.channel_by_name(first) is None:
            raise QueueError(f"Channel1 does not exist: {first}")
        if self.pbx.state.channel_by_name(second) is None:
            raise QueueError(f"Channel2 does not exist: {second}")
        run = self.pbx.call_of(first)
        if run is None or not run.held:
            raise QueueError("Unable to bridge channels")
        session.send(response(action, "Success", "Channels have been bridged"))
        self.pbx.take_off_hold(run)
        return True

    def on_atxfer(self, session: Session, action: Action) -> bool:
        chan = self._channel(action, missing="Channel specified does not exist")
        exten = header(action, "Exten")
        if not exten:
            raise QueueError("No extension specified")
        run = self.pbx.call_of(chan.name)
        if run is None or not self.pbx.attended_transfer(run, exten):
            raise QueueError("Atxfer failed")
        session.send(response(action, "Success", "Atxfer successfully queued"))
        return True

    def on_originate(self, session: Session, action: Action) -> bool:
        channel = header(action, "Channel")
        if not channel:
            raise QueueError("Channel not specified")
        name, params = self._originate_plan(channel, action)
        session.send(response(action, "Success", "Originate successfully queued"))
        if name:  # a spy or a conference invite joined a call already
            self.pbx.start(name, params, action_id=header(action, "ActionID"), with_cti=False)
        return True

    def _originate_plan(self, channel: str, action: Action) -> tuple[str, dict[str, str]]:
        match = _LOCAL.match(channel)
        if match is None:
            log.warning("simulator cannot originate %s (only Local channels)", channel)
            raise ScenarioError("Originate failed")
        exten, context = match.group("exten"), match.group("context")
        variables = _variables(action)
        number, name = _caller_id(header(action, "CallerID"))
        params = {"talk": variables.get("AGENT_TALK", "30")}
        moh = header(action, "Data").partition(",")[2]
        if moh.isdigit():
            params["moh"] = moh
        if context == "from-pstn":
            params.update(
                caller=exten,
                caller_name=name or f"PSTN {exten}",
                queue=variables.get("QUEUE_NAME", "support"),
                record=variables.get("RECORD", "yes").lower(),
                survey=variables.get("SURVEY", "no").lower(),
            )
            return self.pbx.inbound_for_originate(params), params
        if context == CALLEE_CONTEXT and header(action, "Exten"):  # a campaign's customer (cti.dialer)
            return self.pbx.dialer_callee(exten, number, header(action, "Exten"), variables, params), params
        if context == "agents" and header(action, "Context") == "outbound" and header(action, "Exten"):
            params.update(agent=exten, number=header(action, "Exten"))
            return "click_to_dial", params
        if context == "agents" and header(action, "Application").lower() == "chanspy":
            target, _, options = header(action, "Data").partition(",")
            self.pbx.spy(target, options, exten, header(action, "ActionID"), params["talk"])
            return "", params
        if context == "agents" and header(action, "Context") == "cc-conference":
            if not self.pbx.invite(header(action, "Exten"), exten, header(action, "ActionID")):
                raise ScenarioError("Originate failed")
            return "", params
        if context == "leave-vm":
            params.update(mailbox=exten, caller=number or "anonymous", caller_name=name or f"PSTN {number}")
            return "voicemail", params
        log.warning("simulator has no scenario for Originate of %s to %s", channel, header(action, "Context"))
        raise ScenarioError("Originate failed")

    # --- recording ------------------------------------------------------------------------------
    def _bridge_peers(self, chan: ChannelRecord) -> list[Message]:
        """The BRIDGEPEER VarSets Asterisk repeats when a bridged channel's audio hooks change."""
        bridge = self.pbx.state.bridges.get(chan.bridge)
        if bridge is None:
            return []
        members = [self.pbx.state.channels[u] for u in bridge.channels if u in self.pbx.state.channels]
        out = []
        for member in members:
            peers = ",".join(m.name for m in members if m is not member)
            out.append(_varset(member, "BRIDGEPEER", peers))
        return out

    def on_mixmonitor(self, session: Session, action: Action) -> bool:
        chan = self._channel(action)
        file = header(action, "File") or f"{chan.uniqueid}.wav"
        path = file if file.startswith("/") else f"/var/spool/asterisk/monitor/{file}"
        session.send(response(action))
        events = [
            _varset(chan, "MIXMONITOR_FILENAME", path),
            [("Event", "MixMonitorStart"), ("Privilege", "call,all"), *snapshot_headers(chan)],
        ]
        for event in events + self._bridge_peers(chan):
            self.pbx.emit(event)
        return True

    def on_mixmonitormute(self, session: Session, action: Action) -> bool:
        chan = self._channel(action)
        session.send(response(action))
        self.pbx.emit(
            [
                ("Event", "MixMonitorMute"),
                ("Privilege", "call,all"),
                *snapshot_headers(chan),
                ("Direction", header(action, "Direction", "both")),
                ("State", "1" if _truthy(header(action, "State")) else "0"),
            ]
        )
        return True

    def on_stopmixmonitor(self, session: Session, action: Action) -> bool:
        chan = self._channel(action)
        session.send(response(action))
        self.pbx.emit([("Event", "MixMonitorStop"), ("Privilege", "call,all"), *snapshot_headers(chan)])
        for event in self._bridge_peers(chan):
            self.pbx.emit(event)
        return True

    # --- voicemail ------------------------------------------------------------------------------
    def on_mailboxcount(self, session: Session, action: Action) -> bool:
        mailbox = header(action, "Mailbox")
        new = self.pbx.state.mailboxes.get(mailbox, 0)
        session.send(
            response(
                action,
                "Success",
                "Mailbox Message Count",
                ("Mailbox", mailbox),
                ("UrgMessages", "0"),
                ("NewMessages", str(new)),
                ("OldMessages", "0"),
            )
        )
        return True

    def on_mailboxstatus(self, session: Session, action: Action) -> bool:
        mailbox = header(action, "Mailbox")
        waiting = "1" if self.pbx.state.mailboxes.get(mailbox, 0) else "0"
        session.send(response(action, "Success", "Mailbox Status", ("Mailbox", mailbox), ("Waiting", waiting)))
        return True


def _varset(chan: ChannelRecord, name: str, value: str) -> Message:
    return [
        ("Event", "VarSet"),
        ("Privilege", "dialplan,all"),
        *snapshot_headers(chan),
        ("Variable", name),
        ("Value", value),
    ]


def _event_mask(value: str) -> set[str] | None:
    value = value.strip().lower()
    if value in ("", "on", "all", "yes", "true"):
        return None
    if value in ("off", "no", "false"):
        return set()
    return {part.strip() for part in value.split(",") if part.strip()}
