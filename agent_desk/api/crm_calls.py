"""Call link routes: link a call (Linkedid) to a customer, a ticket and an order; list links."""

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from agent_desk.api.crm_crud import crm_router, crud_router
from agent_desk.deps import get_session, require
from crm_core.models import CallLink, Customer, User
from crm_core.permissions import ensure_visible
from crm_core.schemas import output_schema
from crm_core.services import resources as res
from crm_core.services.calls import link_call

CallLinkOut = output_schema(CallLink)
links = crm_router("/call-links", "calls")


class LinkIn(BaseModel):
    call_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
    pbx: str = Field("", max_length=50, pattern=r"^[A-Za-z0-9._-]*$")
    customer_id: int | None = None
    contact_id: int | None = None
    ticket_id: int | None = None
    order_id: int | None = None


@links.post("", response_model=CallLinkOut, status_code=201, summary="Link a call to customer/ticket/order")
def link(
    body: LinkIn,
    request: Request,
    user: User = Depends(require("call_link", "create")),
    session: Session = Depends(get_session),
) -> Any:
    row = link_call(
        session,
        body.call_id,
        body.customer_id,
        body.ticket_id,
        body.order_id,
        user,
        contact_id=body.contact_id,
        pbx=body.pbx,
    )
    if row.customer_id is not None:
        ensure_visible(session, user, Customer, row.customer_id)
    session.commit()
    return CallLinkOut.model_validate(row)


router = APIRouter()
router.include_router(links)
router.include_router(crud_router(res.CALL_LINKS, "/call-links", "calls", actions=("list", "get", "delete")))
