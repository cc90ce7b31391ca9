"""The project stands on its own: its tests read only files inside the repository.

The bridge and reconnect tests replay recorded transcripts; they run here from a copy of the
repository's tracked files in an empty folder, with nothing beside it, as on a user's machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _tracked_files() -> list[str]:
    done = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True)
    return [name for name in done.stdout.decode().split("\0") if name]


def test_no_tracked_file_points_outside_the_repository() -> None:
    # the folder the checkout sits in, and a relative path into any folder beside it
    siblings = [p.name for p in REPO.parent.iterdir() if p.is_dir() and p != REPO]
    outside = [str(REPO.parent) + "/", *(f"../{name}/" for name in siblings)]
    offenders = []
    for name in _tracked_files():
        path = REPO / name
        skip = name.endswith((".png", ".raw", ".lock", "package-lock.json"))
        if skip or not path.is_file():
            continue
        text = path.read_text(errors="replace")
        offenders += [f"{name}: {needle}" for needle in outside if needle in text]
    assert offenders == []


def test_bridge_tests_run_from_a_copy_with_nothing_beside_it(tmp_path: Path) -> None:
    copy = tmp_path / "alone" / "callcenter"
    for name in _tracked_files():
        source = REPO / name
        if source.is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CC_")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_bridge.py",
         "tests/test_reconnect.py"],
        cwd=copy, env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "skipped" not in done.stdout
