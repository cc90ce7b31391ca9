"""Files named by the index, opened only inside their folder.

Names come from our own rows (recordings) or from validated parts (voicemail); this is the last guard
that a name, a symlink or a ``..`` cannot make the server read outside the folder.
"""

from __future__ import annotations

from pathlib import Path

from recordings.index import UnsafeFileName, safe_relative_name


def resolve_inside(root: Path, relative: str) -> Path:
    """``root/relative`` after checking that it names a file inside ``root`` (symlinks resolved)."""
    name = safe_relative_name(relative)
    base = root.resolve()
    path = (base / name).resolve()
    if not path.is_relative_to(base):
        raise UnsafeFileName(f"{relative!r} leaves the folder")
    return path
