"""How the call tracker reads a dialplan: which contexts are inbound, which channels are agents.

Channel names tell who a party is: ``Local/1001@agents-00000001;1`` (a queue member reached
through a Local channel in an agent context), ``PJSIP/1001-0000002a`` or ``SIP/1001-…`` (a phone
whose endpoint name is an extension) and ``Custom:1001`` (a queue member's StateInterface).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class TrackerConfig:
    """Limits and dialplan conventions of one PBX."""

    inbound_contexts: frozenset[str] = field(
        default_factory=lambda: frozenset({"from-pstn", "from-trunk", "from-external"})
    )
    # Local channels into these contexts are agents' extensions (queue members, click-to-dial).
    agent_contexts: frozenset[str] = field(default_factory=lambda: frozenset({"agents", "from-agents"}))
    # Calls that start in these contexts come from an extension (outbound or internal).
    internal_contexts: frozenset[str] = field(
        default_factory=lambda: frozenset({"internal", "from-internal", "outbound"})
    )
    # A PJSIP/SIP endpoint or Custom device whose name matches is an extension.
    extension_pattern: str = r"\d{2,6}"
    # Wrap-up after an agent's call; a queue member's own Wrapuptime wins when it is above 0.
    wrapup_s: float = 0.0
    # A call with no AMI event for this long is ended by tick() (its Hangup was never seen).
    phantom_call_expiry_s: float = 4 * 3600.0
    # Memory bounds: beyond them the oldest calls / bridges / agents are dropped and counted.
    max_live_calls: int = 20_000
    max_live_channels: int = 60_000
    max_bridges: int = 20_000
    max_agents: int = 20_000
    _extension_re: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.inbound_contexts = frozenset(self.inbound_contexts)
        self.agent_contexts = frozenset(self.agent_contexts)
        self.internal_contexts = frozenset(self.internal_contexts)
        self._extension_re = re.compile(self.extension_pattern)

    @classmethod
    def from_settings(cls, settings: Any) -> TrackerConfig:
        """The tracker's conventions from the platform settings (``config.Settings``, CC_TRACKER_*)."""
        defaults = cls()
        return cls(
            inbound_contexts=frozenset(getattr(settings, "tracker_inbound_contexts", defaults.inbound_contexts)),
            agent_contexts=frozenset(getattr(settings, "tracker_agent_contexts", defaults.agent_contexts)),
            internal_contexts=frozenset(getattr(settings, "tracker_internal_contexts", defaults.internal_contexts)),
            extension_pattern=getattr(settings, "tracker_extension_pattern", defaults.extension_pattern),
            wrapup_s=float(getattr(settings, "wrapup_s", defaults.wrapup_s)),
            phantom_call_expiry_s=float(
                getattr(settings, "tracker_phantom_call_expiry_s", defaults.phantom_call_expiry_s)
            ),
            max_live_calls=int(getattr(settings, "tracker_max_live_calls", defaults.max_live_calls)),
        )

    def is_extension(self, text: str) -> bool:
        return bool(text) and self._extension_re.fullmatch(text) is not None

    def is_trunk(self, name: str) -> bool:
        """A channel of an outside line: a SIP/PJSIP/IAX2 endpoint whose name is not a number
        (``SIP/voipgrid-siproute-docker-0000006a``, ``PJSIP/trunk-00000003``) or a DAHDI span.
        Phones are endpoints named by a number (``SIP/150010001-…``, ``PJSIP/1001``)."""
        if name.startswith("DAHDI/"):
            return True
        if not name.startswith(("PJSIP/", "SIP/", "IAX2/")):
            return False
        endpoint = endpoint_name(name)
        return not endpoint.isdigit() and not self.is_extension(endpoint)

    def extension_of(self, name: str) -> str | None:
        """The agent extension a channel name or queue interface stands for, or None.

        ``Local/1001@agents-00000001;1``, ``Local/1001@agents/n``, ``PJSIP/1001-0000002a``,
        ``PJSIP/1001``, ``SIP/1001-00000003`` and ``Custom:1001`` all give ``1001``.
        """
        if not isinstance(name, str):
            return None
        if name.startswith("Local/"):
            exten, at, rest = name[6:].partition("@")
            if not at:
                return None
            context = local_context(rest)
            return exten if context in self.agent_contexts and exten else None
        if name.startswith(("PJSIP/", "SIP/", "IAX2/")):
            endpoint = endpoint_name(name)
            return endpoint if self.is_extension(endpoint) else None
        if name.startswith("Custom:"):
            device = name[7:]
            return device if self.is_extension(device) else None
        return None


def endpoint_name(name: str) -> str:
    """The endpoint of a channel name: ``SIP/150010001-00000004`` -> ``150010001``, ``PJSIP/1001`` -> ``1001``."""
    endpoint = name.partition("/")[2]
    dash = endpoint.rfind("-")
    return endpoint[:dash] if dash > 0 else endpoint


def local_context(rest: str) -> str:
    """The context part of a Local channel name after the ``@``: ``agents-00000001;1`` -> ``agents``."""
    slash = rest.find("/")
    if slash >= 0:  # an interface or dial string: agents/n
        return rest[:slash]
    semi = rest.rfind(";")
    if semi >= 0:
        rest = rest[:semi]
    dash = rest.rfind("-")
    return rest[:dash] if dash > 0 else rest


def local_exten(name: str) -> str | None:
    """The extension a Local channel dials: ``Local/5559999@callers-sim-00000006;1`` -> ``5559999``."""
    if not name.startswith("Local/"):
        return None
    exten, at, _ = name[6:].partition("@")
    return exten if at and exten else None


def dial_string_number(dial_string: str) -> str | None:
    """The number in a dial string: ``5559999@callers-sim/n``, ``PJSIP/5559999@trunk``,
    ``Local/1001@agents/n`` and ``trunk/5559999`` give the digits part."""
    if not isinstance(dial_string, str) or not dial_string:
        return None
    tech, slash, rest = dial_string.partition("/")
    if slash and tech in _TECHNOLOGIES:
        dial_string = rest
    number = dial_string.partition("@")[0].rpartition("/")[2]
    # only a dialable number: ``150010002/150010002/172.20.0.13!!201`` carries a proxy route, not the callee
    return number if number and _DIALABLE.fullmatch(number) else None


def dialable(value: str | None) -> str | None:
    """``value`` if it is a number one could dial (digits, ``+``, ``*``, ``#``), else None."""
    return value if value and _DIALABLE.fullmatch(value) else None


_DIALABLE = re.compile(r"\+?[0-9*#]+")


_TECHNOLOGIES = frozenset({"PJSIP", "SIP", "IAX2", "Local", "DAHDI", "Custom"})
