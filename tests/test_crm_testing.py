"""The PostgreSQL test database is put back to what the migrations left after every test, seeded rows too."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from crm_core.models import DictionaryItem, PauseReason

pytest_plugins = ["crm_core.testing"]

pytestmark = pytest.mark.postgres


def test_every_seeded_table_is_known(crm_pg_database: Any) -> None:
    seeded = {table.name for table, _ in crm_pg_database.seeded}
    assert {"roles", "permissions", "workflow_steps", "pause_reasons", "dictionary_items"} <= seeded
    assert "outbound_disposition_codes" in seeded
    assert "alembic_version" not in seeded and "customers" not in seeded


@pytest.mark.parametrize("turn", [1, 2])
def test_a_test_that_removes_seeded_rows_leaves_them_for_the_next(crm_pg_session: Session, turn: int) -> None:
    assert crm_pg_session.scalar(select(func.count()).select_from(PauseReason))
    assert crm_pg_session.scalar(select(func.count()).select_from(DictionaryItem))
    crm_pg_session.execute(delete(PauseReason))
    crm_pg_session.execute(delete(DictionaryItem))
    crm_pg_session.commit()
