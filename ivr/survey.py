"""Post-call survey rules: who the agent was and what counts as a score.

The queue leaves MEMBERNAME and MEMBERINTERFACE on the caller's channel once an agent answered;
the dialplan may also pass the agent as the first AGI argument. A key outside 1..scale, or no key
at all, is "not rated": never a score.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NOT_RATED = "not_rated"
_INTERFACE = re.compile(r"^(?:[A-Za-z]+)/(?P<ext>[^@/;-]+)")


@dataclass(frozen=True, slots=True)
class SurveyAgent:
    agent: str
    extension: str | None = None


def extension_of(interface: str) -> str | None:
    """``Local/1001@agents/n`` or ``PJSIP/1001-0000002a`` -> ``1001``."""
    match = _INTERFACE.match(interface.strip())
    return match["ext"] if match else None


def resolve_agent(
    args: tuple[str, ...], member_name: str | None, member_interface: str | None
) -> SurveyAgent:
    """The agent to credit: the AGI argument first, then the queue's MEMBERNAME, then the interface."""
    extension = extension_of(member_interface) if member_interface else None
    if args and args[0].strip():
        return SurveyAgent(args[0].strip(), extension)
    if member_name and member_name.strip():
        return SurveyAgent(member_name.strip(), extension)
    return SurveyAgent(extension or "", extension)


def parse_score(digits: str, scale: int) -> int | None:
    """One key 1..scale is a score; anything else (including nothing) is no score."""
    if len(digits) == 1 and digits.isdigit() and 1 <= int(digits) <= scale:
        return int(digits)
    return None
