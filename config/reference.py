"""The reference of every setting (``docs/settings.md``, ``callcenter settings``), made from ``Settings``.

The descriptions and defaults live once, on the fields of :class:`config.settings.Settings`; this module only
lays them out, so the document cannot drift from the code (a test compares the two).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from config.settings import Settings

HEADER = """# Settings

Every setting is read from the environment (prefix `CC_`) or a `.env` file in the working directory; none is
needed for `callcenter demo`. This page is made from `config/settings.py` (`callcenter settings --markdown`
prints it; `callcenter settings` prints the values in effect, secrets masked).

| variable | default | meaning |
|---|---|---|
"""

SECRET_WORDS = ("secret", "password", "key", "token")
ROOT = Path(__file__).resolve().parent.parent


def env_name(field: str) -> str:
    return f"CC_{field.upper()}"


def is_secret(field: str) -> bool:
    return any(word in field for word in SECRET_WORDS) and not field.endswith("_s")


def default_text(field: str, info: FieldInfo) -> str:
    """The default as a reader writes it in the environment (JSON for lists and maps)."""
    if info.default_factory is not None:
        if is_secret(field):
            return "generated per process"
        value: Any = info.default_factory()  # type: ignore[call-arg]
    elif info.default is PydanticUndefined:
        return "required"
    else:
        value = info.default
    if value is None or value == "":
        return "–"
    if isinstance(value, Path):
        if str(value) in ("", "."):
            return "–"
        # a folder of the installed package: shown where it lies in the repository, not on this machine
        return str(value.relative_to(ROOT)) if value.is_absolute() and value.is_relative_to(ROOT) else str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict | tuple):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown() -> str:
    rows = [
        f"| `{env_name(name)}` | `{_cell(default_text(name, info))}` | {_cell(info.description or '')} |"
        for name, info in Settings.model_fields.items()
    ]
    return HEADER + "\n".join(rows) + "\n"


def current(settings: Settings) -> list[tuple[str, str]]:
    """(variable, value in effect) for every setting, secrets masked."""
    out = []
    for name in Settings.model_fields:
        value = getattr(settings, name)
        shown = "****" if is_secret(name) and value else json.dumps(value, ensure_ascii=False, default=str)
        out.append((env_name(name), shown))
    return out
