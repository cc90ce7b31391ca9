"""While the app runs, the garbage collector leaves the start-up objects alone and collects young objects
late enough that a call's objects die young instead of reaching the oldest generation."""

from __future__ import annotations

import gc
from pathlib import Path

from fastapi.testclient import TestClient

from agent_desk.app import GC_THRESHOLDS, create_app
from config import Settings
from crm_core.db import migrate


def test_the_running_app_freezes_its_start_up_objects_and_collects_young_objects_late(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    migrate(url)
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # Python's defaults, whatever an earlier test left
    try:
        with TestClient(create_app(Settings(database_url=url, data_dir=tmp_path))) as client:
            assert client.get("/login").status_code == 200
            assert gc.get_threshold() == GC_THRESHOLDS
            assert GC_THRESHOLDS[0] > 700
            assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
