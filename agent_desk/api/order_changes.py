"""Order changes: replace a draft's lines before approval, order an abnormal or voided order again."""

from typing import Any

from fastapi import Depends
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from agent_desk.api.crm_crud import crm_router
from agent_desk.api.crm_orders import LineIn, OrderWithLines
from agent_desk.deps import current_user, get_session
from crm_core.models import User
from crm_core.services import order_changes

router = crm_router("/orders", "orders")


class LinesIn(BaseModel):
    lines: list[LineIn] = Field(min_length=1, max_length=200)


@router.put("/{order_id}/lines", response_model=OrderWithLines, summary="Replace a draft's lines (before approval)")
def edit_lines(
    order_id: int, body: LinesIn, user: User = Depends(current_user), session: Session = Depends(get_session)
) -> Any:
    order = order_changes.edit_lines(session, user, order_id, [line.model_dump() for line in body.lines])
    session.commit()
    return OrderWithLines.model_validate(order)


@router.post("/{order_id}/reorder", response_model=OrderWithLines, status_code=201, summary="Order it again")
def reorder(order_id: int, user: User = Depends(current_user), session: Session = Depends(get_session)) -> Any:
    order = order_changes.reorder(session, user, order_id)
    session.commit()
    return OrderWithLines.model_validate(order)
