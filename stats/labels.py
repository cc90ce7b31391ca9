"""Names of the codes a call row carries (direction, disposition, who hung up) in each language.

Exported files show these names, never the codes; the pages show the same names from their translation
files (``common`` and ``wallboard`` namespaces), which a test keeps equal to this table.
"""

from __future__ import annotations

from typing import Any

# column key -> code -> (zh-CN, en)
CALL_VALUE_LABELS: dict[str, dict[str, tuple[str, str]]] = {
    "direction": {
        "inbound": ("呼入", "Inbound"),
        "outbound": ("呼出", "Outbound"),
        "internal": ("内部", "Internal"),
    },
    "disposition": {
        "answered": ("已接听", "Answered"),
        "abandoned": ("放弃", "Abandoned"),
        "no_answer": ("未接", "No answer"),
        "busy": ("忙", "Busy"),
        "failed": ("失败", "Failed"),
        "voicemail": ("语音信箱", "Voicemail"),
    },
    "hangup_by": {
        "caller": ("主叫", "Caller"),
        "callee": ("被叫", "Callee"),
        "system": ("系统", "System"),
    },
}


def value_label(key: str, value: Any, lang: str) -> Any:
    """The name of ``value`` in column ``key`` for ``lang``; any other value as it is."""
    names = CALL_VALUE_LABELS.get(key, {}).get(value) if isinstance(value, str) else None
    if names is None:
        return value
    return names[1] if lang == "en" else names[0]
