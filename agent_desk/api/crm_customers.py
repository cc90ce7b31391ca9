"""Customer routes: customers and contacts (CRUD), phones, the public pool, transfer, merge, lookup."""

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field, create_model
from sqlalchemy import select
from sqlalchemy.orm import Session

from agent_desk.api.crm_crud import OWNER_FIELDS, crm_router, crud_router
from agent_desk.deps import client_ip, current_user, get_session, require
from crm_core import audit
from crm_core.lookup import lookup
from crm_core.models import Customer, FollowUp, Phone, User
from crm_core.permissions import check, ensure_visible, visible_lookup
from crm_core.schemas import PlainText, input_schema, output_schema
from crm_core.services import customers as svc
from crm_core.services import records
from crm_core.services import resources as res
from crm_core.services.calls import customer_calls

# Server-managed customer fields: the pool rules and merges set them.
CUSTOMER_MANAGED = frozenset({"status", "claimed_at", "last_followup_at", "merged_into_id"})

customers = crm_router("/customers", "customers")
# The owner's display name travels with the row: an agent cannot read the user list, yet sees who owns a customer.
CustomerOut = create_model(
    "CustomerOut", __base__=output_schema(Customer, name="CustomerRow"), owner_name=(str | None, None)
)
PhoneOut = output_schema(Phone)
FollowUpOut = output_schema(FollowUp)
PhoneText = Field(min_length=1, max_length=50)
CustomerCreate = create_model(
    "CustomerCreate",
    __base__=input_schema(Customer, exclude=CUSTOMER_MANAGED | OWNER_FIELDS),
    phones=(list[PlainText], Field(default_factory=list, max_length=20, description="Phone numbers")),
)


def _settings(request: Request) -> Any:
    return request.app.state.settings


@customers.post("", response_model=CustomerOut, status_code=201, summary="Create a customer with its phones")
def create_customer(
    payload: CustomerCreate,
    request: Request,
    user: User = Depends(current_user),
    session: Session = Depends(get_session),
) -> Any:
    data = payload.model_dump(exclude_unset=True)
    numbers = data.pop("phones", [])
    customer = records.create_row(session, user, res.CUSTOMERS, data, client_ip(request))
    settings = _settings(request)
    for raw in numbers:
        svc.add_phone(session, customer.id, raw, region=settings.default_region, area_code=settings.default_area_code)
    session.commit()
    return CustomerOut.model_validate(customer)


class NewPhone(BaseModel):
    number: PlainText = PhoneText
    contact_id: int | None = None
    label: PlainText = Field("", max_length=30)


@customers.get("/{customer_id}/phones", response_model=list[PhoneOut], summary="A customer's numbers")  # type: ignore[valid-type]
def list_phones(
    customer_id: int,
    user: User = Depends(require("customer", "read")),
    session: Session = Depends(get_session),
) -> Any:
    ensure_visible(session, user, Customer, customer_id)
    rows = session.scalars(select(Phone).where(Phone.customer_id == customer_id).order_by(Phone.id))
    return [PhoneOut.model_validate(row) for row in rows]


@customers.post("/{customer_id}/phones", response_model=PhoneOut, status_code=201, summary="Add a number")
def add_phone(
    customer_id: int,
    body: NewPhone,
    request: Request,
    user: User = Depends(require("customer", "update")),
    session: Session = Depends(get_session),
) -> Any:
    ensure_visible(session, user, Customer, customer_id)
    settings = _settings(request)
    phone = svc.add_phone(
        session,
        customer_id,
        body.number,
        contact_id=body.contact_id,
        label=body.label,
        region=settings.default_region,
        area_code=settings.default_area_code,
    )
    audit.record(session, user, "add_phone", "customer", customer_id, {"phone": body.number}, client_ip(request))
    session.commit()
    return PhoneOut.model_validate(phone)


@customers.delete("/{customer_id}/phones/{phone_id}", status_code=204, summary="Remove a number")
def delete_phone(
    customer_id: int,
    phone_id: int,
    request: Request,
    user: User = Depends(require("customer", "update")),
    session: Session = Depends(get_session),
) -> None:
    ensure_visible(session, user, Customer, customer_id)
    phone = session.get(Phone, phone_id)
    if phone is not None and phone.customer_id == customer_id:
        audit.record(session, user, "delete_phone", "customer", customer_id, {"phone": phone.raw}, client_ip(request))
        session.delete(phone)
        session.commit()


@customers.post("/{customer_id}/claim", response_model=CustomerOut, summary="Claim a customer from the pool")
def claim(customer_id: int, user: User = Depends(current_user), session: Session = Depends(get_session)) -> Any:
    customer = svc.claim(session, user, customer_id)
    session.commit()
    return CustomerOut.model_validate(customer)


@customers.post("/{customer_id}/release", response_model=CustomerOut, summary="Return a customer to the pool")
def release(customer_id: int, user: User = Depends(current_user), session: Session = Depends(get_session)) -> Any:
    customer = svc.release(session, user, customer_id)
    session.commit()
    return CustomerOut.model_validate(customer)


class NewFollowUp(BaseModel):
    note: PlainText = Field(min_length=1, max_length=5000)
    channel: PlainText = Field("phone", max_length=20)


@customers.post(
    "/{customer_id}/followups",
    response_model=FollowUpOut,
    status_code=201,
    summary="Record a follow-up (keeps the customer out of the pool)",
)
def followup(
    customer_id: int,
    body: NewFollowUp,
    user: User = Depends(current_user),
    session: Session = Depends(get_session),
) -> Any:
    row = svc.add_followup(session, user, customer_id, body.note, body.channel)
    session.commit()
    return FollowUpOut.model_validate(row)


class Transfer(BaseModel):
    customer_ids: list[int] = Field(min_length=1, max_length=1000)
    new_owner_id: int


class Merge(BaseModel):
    survivor_id: int
    duplicate_ids: list[int] = Field(min_length=1, max_length=50)


@customers.post("/transfer", summary="Hand customers to another owner")
def transfer(body: Transfer, user: User = Depends(current_user), session: Session = Depends(get_session)) -> Any:
    moved = svc.transfer(session, user, body.customer_ids, body.new_owner_id)
    session.commit()
    return {"moved": moved}


@customers.post("/merge", response_model=CustomerOut, summary="Merge duplicates into one customer")
def merge(body: Merge, user: User = Depends(current_user), session: Session = Depends(get_session)) -> Any:
    survivor = svc.merge(session, user, body.survivor_id, body.duplicate_ids)
    session.commit()
    return CustomerOut.model_validate(survivor)


@customers.post("/pool/return-stale", summary="Return customers with no follow-up for N days to the pool")
def return_stale(
    request: Request,
    user: User = Depends(require("customer", "transfer")),
    session: Session = Depends(get_session),
) -> dict[str, Any]:
    returned = svc.return_stale_to_pool(session, _settings(request).pool_return_days)
    session.commit()
    return {"returned": returned}


@customers.get("/duplicates", summary="Groups of customers sharing a phone number")
def duplicates(
    user: User = Depends(require("customer", "merge")), session: Session = Depends(get_session)
) -> list[list[int]]:
    return svc.duplicate_groups(session)


@customers.get("/{customer_id}/calls", summary="The customer's calls, newest first")
def calls(
    customer_id: int,
    user: User = Depends(require("customer", "read")),
    session: Session = Depends(get_session),
) -> list[dict[str, Any]]:
    ensure_visible(session, user, Customer, customer_id)
    return customer_calls(session, customer_id)


lookups = crm_router("/lookup", "customers")


@lookups.get("", summary="Caller lookup (screen-pop): customers and contacts by phone number")
def caller_lookup(
    request: Request,
    number: str = Query(min_length=1, max_length=50),
    user: User = Depends(current_user),
    session: Session = Depends(get_session),
) -> dict[str, Any]:
    check(user, "customer", "read")
    settings = _settings(request)
    found = lookup(session, number, settings.default_region, area_code=settings.default_area_code)
    # Matches outside the user's scope are shown as "known caller" only, without details.
    return visible_lookup(session, user, asdict(found))


# Fixed paths (/customers/duplicates) go before the generic /customers/{id} routes.
router = APIRouter()
router.include_router(customers)
router.include_router(lookups)
router.include_router(
    crud_router(
        res.CUSTOMERS,
        "/customers",
        "customers",
        exclude=CUSTOMER_MANAGED,
        actions=("list", "get", "update", "delete"),
        out=CustomerOut,
    )
)
router.include_router(crud_router(res.CONTACTS, "/contacts", "customers"))
router.include_router(crud_router(res.FOLLOWUPS, "/followups", "customers", actions=("list", "get")))
