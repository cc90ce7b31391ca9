"""The call path end to end on the real PBX: calls placed on Asterisk, the product's outputs checked."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from stats.models import CallRow
from tests.live.harness import Product

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio(loop_scope="module")]


async def test_answered(product: Product) -> None:
    await product.queue_add("support", "1001")
    call = await product.call("13800000001", agent_talk=2)
    ended = await product.ended(call)
    assert ended["disposition"] == "answered"
    with product.db() as session:
        row = session.scalars(select(CallRow).where(CallRow.call_id == call.call_id)).one()
    assert row.agent == "1001"
