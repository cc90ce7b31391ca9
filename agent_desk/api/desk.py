"""REST for the agent desk: seat and extension binding, agent state, call control, pop actions, history.

Every route needs a session. Call-control routes act only on calls the agent takes part in (403
otherwise); the channel to act on is resolved on the server from the live call, so a browser cannot name
somebody else's channel. State changes go to Asterisk as commands; the state the desk shows comes back
as ``agent.state`` events on the websocket.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import or_, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from agent_desk.api.ws import announce_binding, is_supervisor
from agent_desk.deps import app_sessionmaker, csrf_protect, current_user, get_session
from agent_desk.desk_calls import CallParties, NotYourCall, agent_channel, messages_for, parties_of
from crm_core.errors import CrmError
from crm_core.models import Product, Seat, TicketType, User
from crm_core.permissions import ensure_agent
from crm_core.schemas import PlainText
from crm_core.services.calls import link_call, link_dialled
from crm_core.services.customers import add_followup, add_phone
from crm_core.services.orders import create_order
from crm_core.services.records import create_row
from crm_core.services.resources import CUSTOMERS
from crm_core.services.tickets import open_ticket
from crm_core.services.users import ensure_extension, sit_at
from cti.commands import (
    CommandError,
    CommandTimeout,
    InvalidArgument,
    NotCarriedOut,
    NotConnected,
    UnknownChannel,
)
from stats.models import CallLegRow, CallRow

log = logging.getLogger(__name__)
# a click-to-dial link tried this many times while the database is busy; the dial never fails for it
LINK_ATTEMPTS = 3

router = APIRouter(prefix="/api", tags=["desk"])

CurrentUser = Annotated[Any, Depends(current_user)]
DbSession = Annotated[Session, Depends(get_session)]
Unsafe = [Depends(csrf_protect)]
CallId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]

EXTENSION = r"^[0-9]{2,15}$"
QUEUE = r"^[A-Za-z0-9_-]{1,64}$"
PauseReason = Literal["lunch", "meeting", "training", "after_call_work", ""]


# --- request bodies ----------------------------------------------------------------------------------
class SeatBody(BaseModel):
    seat: str = Field(min_length=1, max_length=50)


class ExtensionBody(BaseModel):
    extension: str = Field(pattern=EXTENSION)


class QueuesBody(BaseModel):
    queues: list[Annotated[str, Field(pattern=QUEUE)]] = Field(min_length=1, max_length=32)


class QueueLoginBody(QueuesBody):
    paused: bool = Field(False, description="Log in paused (置忙), not ready for calls.")
    reason: PauseReason = ""


class StateBody(BaseModel):
    paused: bool
    reason: PauseReason = ""


class DialBody(BaseModel):
    number: str = Field(min_length=2, max_length=32, pattern=r"^\+?[0-9*#()\- ]{2,32}$")


class ChannelBody(BaseModel):
    channel: str | None = Field(None, max_length=200)


class TransferBody(ChannelBody):
    extension: str = Field(pattern=EXTENSION)
    kind: Literal["blind", "attended"] = "blind"


class ConferenceBody(ChannelBody):
    extension: str = Field(pattern=EXTENSION)


class LinkBody(BaseModel):
    customer_id: int | None = None
    ticket_id: int | None = None
    order_id: int | None = None


class SupervisorSpyBody(BaseModel):
    extension: str = Field(pattern=EXTENSION, description="The agent to listen to.")
    mode: Literal["listen", "whisper", "barge"] = "listen"


class SupervisorPauseBody(BaseModel):
    extension: str = Field(pattern=EXTENSION)
    paused: bool = True
    reason: PauseReason = ""


class SupervisorAgentBody(BaseModel):
    extension: str = Field(pattern=EXTENSION)


class SupervisorLogoutBody(BaseModel):
    extension: str = Field(pattern=EXTENSION)
    queues: list[Annotated[str, Field(pattern=QUEUE)]] = Field(min_length=1, max_length=32)


# --- shared pieces -----------------------------------------------------------------------------------
def runtime_of(request: Request) -> Any:
    runtime = getattr(request.app.state, "runtime", None)
    if runtime is None or getattr(runtime, "commands", None) is None:
        raise HTTPException(503, "电话系统未连接 / The telephony link is not running")
    return runtime


def extension_of(user: Any) -> str:
    if not user.extension:
        raise HTTPException(409, "请先绑定座席或分机 / Bind a seat or an extension first")
    return str(user.extension)


COMMAND_STATUS: dict[type[CommandError], int] = {
    InvalidArgument: 422,  # the PBX refusing the request otherwise gives 409
    UnknownChannel: 404,
    NotCarriedOut: 409,  # the PBX took the action but the call did not do it (no hold music, no conference)
    NotConnected: 503,
    CommandTimeout: 504,
}


async def run_command(action: Awaitable[Any]) -> dict[str, Any]:
    """Await one CTI command and map its typed errors to HTTP statuses once, here. A success carries
    the PBX's reply and, for commands whose effect comes later, the events that showed it."""
    try:
        result = await action
    except CommandError as exc:
        status = COMMAND_STATUS.get(type(exc), 409)
        raise HTTPException(status, f"{exc.text['zh-CN']} / {exc.text['en']}") from exc
    return {"ok": True, "response": result if isinstance(result, dict) else None}


async def each_queue(queues: list[str], send: Callable[[str], Awaitable[Any]]) -> dict[str, Any]:
    """One command per queue; the others still run when one is refused (e.g. already a member).
    Fails only when every queue refused, with the first refusal."""
    results: dict[str, Any] = {}
    first: HTTPException | None = None
    for queue in queues:
        try:
            results[queue] = await run_command(send(queue))
        except HTTPException as exc:
            results[queue] = {"ok": False, "detail": exc.detail}
            first = first or exc
    if first is not None and all(not r.get("ok") for r in results.values()):
        raise first
    return {"ok": True, "queues": results}


def command(request: Request, name: str) -> Any:
    """A call command the PBX link may not offer (hold, three-way): 501 when it does not."""
    found = getattr(runtime_of(request).commands, name, None)
    if found is None:
        raise HTTPException(501, f"此功能不可用 / Not available with this PBX link: {name}")
    return found


def my_call(request: Request, user: Any, call_id: str) -> CallParties:
    """The live call ``call_id`` with the agent's own leg, or 403 when the agent is not in it."""
    runtime = runtime_of(request)
    snapshot = runtime.tracker_snapshot() if hasattr(runtime, "tracker_snapshot") else {}
    try:
        return parties_of(snapshot, call_id, extension_of(user))
    except NotYourCall as exc:
        raise HTTPException(403, f"不是您的通话 / Not your call: {exc}") from exc


def chosen_channel(call: CallParties, channel: str | None, default: str) -> str:
    """A channel named by the browser must belong to the agent's call; otherwise use ``default``."""
    if channel is None:
        return default
    if channel not in call.channels:
        raise HTTPException(403, "不是您的通话 / That channel is not in your call")
    return channel


# --- who am I, seat and extension ------------------------------------------------------------------------
@router.get("/desk/me")
async def desk_me(request: Request, user: CurrentUser) -> dict[str, Any]:
    settings = request.app.state.settings
    return {
        "user": {
            "id": user.id,
            "username": user.username,
            "display_name": user.display_name,
            "extension": user.extension,
            "roles": list(getattr(user, "role_names", [])),
        },
        "supervisor": is_supervisor(user),
        "sip": {"wss_url": settings.sip_wss_url, "extension": user.extension},
        "wrapup_s": settings.wrapup_s,
        "pause_reasons": ["lunch", "meeting", "training", "after_call_work"],
        "queues": list(settings.desk_queues),
        "self_bind_extension": settings.desk_self_bind_extension,
    }


@router.post("/desk/seat", dependencies=Unsafe)
def bind_seat(request: Request, body: SeatBody, user: CurrentUser, session: DbSession) -> dict[str, Any]:
    """Log in at a seat of one's departments that nobody else is logged in at (crm_core.services.users)."""
    me = session.get(User, user.id)
    assert me is not None
    previous = me.extension
    with crm_work(session):
        seat = sit_at(session, me, body.seat)
    user.extension = seat.extension
    announce_binding(request.app, user.id, previous, seat.extension)
    return {"seat": seat.name, "extension": seat.extension}


@router.post("/desk/extension", dependencies=Unsafe)
def bind_extension(request: Request, body: ExtensionBody, user: CurrentUser, session: DbSession) -> dict[str, Any]:
    """Bind an extension by hand, where the administrator allows it."""
    allowed = request.app.state.settings.desk_self_bind_extension or user.has_permission("extension", "bind")
    if not allowed:
        raise HTTPException(403, "管理员不允许自行绑定分机 / Binding an extension yourself is not allowed")
    taken = session.scalar(select(User.id).where(User.extension == body.extension, User.id != user.id))
    seat_owner = session.scalar(select(Seat.user_id).where(Seat.extension == body.extension))
    if taken is not None or (seat_owner is not None and seat_owner != user.id):
        raise HTTPException(409, "分机已被占用 / That extension is in use")
    with crm_work(session):  # a seat's extension only within one's departments
        ensure_extension(session, user, body.extension)
    me = session.get(User, user.id)
    assert me is not None
    previous, me.extension = me.extension, body.extension
    session.commit()
    user.extension = body.extension
    announce_binding(request.app, user.id, previous, body.extension)
    return {"extension": body.extension}


# --- agent state -------------------------------------------------------------------------------------
def snapshot_of(runtime: Any) -> Any:
    return runtime.tracker_snapshot() if hasattr(runtime, "tracker_snapshot") else {}


def agent_row(snapshot: Any, extension: str) -> dict[str, Any] | None:
    """The tracker's row of one agent (state, reason, queues), or None when it knows nothing of him."""
    rows = snapshot.get("agents") if isinstance(snapshot, dict) else None
    return next((r for r in rows or () if isinstance(r, dict) and r.get("extension") == extension), None)


def live_calls_of(snapshot: Any, extension: str) -> list[dict[str, Any]]:
    """The calls in progress the agent takes part in, as the desk shows them."""
    calls = snapshot.get("calls") if isinstance(snapshot, dict) else None
    out = []
    for call in calls or ():
        parties = [p for p in call.get("parties") or () if isinstance(p, dict)]
        mine = [p for p in parties if p.get("extension") == extension]
        states = {p.get("state") for p in mine}
        if not states & {"up", "ringing"}:
            continue  # not (yet) ringing for this agent
        others = [p for p in parties if p.get("extension") != extension]
        other = others[0] if others else {}
        out.append(
            {
                "call_id": call.get("call_id"),
                "direction": call.get("direction"),
                "caller": {"number": other.get("number") or "", "name": other.get("name") or ""},
                "queue": call.get("queue"),
                "state": "talking" if "up" in states else "ringing",
                "on_hold": bool(call.get("on_hold")),
                "channel": mine[0].get("channel"),
            }
        )
    return out


def wrapup_until(runtime: Any, extension: str) -> str | None:
    agents = getattr(runtime, "desk_agents", None)
    deadline = agents.wrapup_deadline(extension) if agents is not None else None
    return datetime.fromtimestamp(deadline, UTC).isoformat() if deadline is not None else None


@router.get("/desk/live")
async def desk_live(request: Request, user: CurrentUser) -> dict[str, Any]:
    """Where the agent stands now, as the server knows it: state, calls in progress, the wrap-up's deadline
    and a pause chosen before queue login. The desk reconciles its view with it (load, reconnect, state)."""
    runtime, ext = runtime_of(request), extension_of(user)
    snapshot = snapshot_of(runtime)
    row = agent_row(snapshot, ext) or {"state": "logged_out", "reason": None, "queues": []}
    agents = getattr(runtime, "desk_agents", None)
    return {
        "agent": {"state": row.get("state"), "reason": row.get("reason") or "", "queues": row.get("queues") or []},
        "calls": live_calls_of(snapshot, ext),
        "wrapup_until": wrapup_until(runtime, ext),
        "pending_pause": agents.pending_pause(ext) if agents is not None else None,
    }


@router.post("/desk/queues/login", dependencies=Unsafe)
async def queues_login(request: Request, body: QueueLoginBody, user: CurrentUser) -> dict[str, Any]:
    """Log in to queues ready, or paused (the choice, or a 置忙 chosen before): no call rings a paused agent."""
    runtime, ext = runtime_of(request), extension_of(user)
    commands = runtime.commands
    name = user.display_name or user.username
    agents = getattr(runtime, "desk_agents", None)
    pending = agents.pending_pause(ext) if agents is not None else None
    paused = body.paused or pending is not None
    reason = body.reason if body.paused else pending or ""

    async def login(queue: str) -> Any:
        if not paused:
            return await commands.queue_login(queue, ext, name)
        result = await commands.queue_login(queue, ext, name, 0, True)
        if reason:  # the pause's reason in that queue
            await commands.pause(ext, True, reason, queue)
        return result

    result = await each_queue(body.queues, login)
    if agents is not None:
        agents.clear_pending(ext)
    result["paused"] = paused
    return result


@router.post("/desk/queues/logout", dependencies=Unsafe)
async def queues_logout(request: Request, body: QueuesBody, user: CurrentUser) -> dict[str, Any]:
    commands, ext = runtime_of(request).commands, extension_of(user)
    return await each_queue(body.queues, lambda q: commands.queue_logout(q, ext))


@router.post("/desk/state", dependencies=Unsafe)
async def set_state(request: Request, body: StateBody, user: CurrentUser) -> dict[str, Any]:
    """置忙 (paused, with a reason) / 置闲 (available) in every queue the agent is in. 置忙 in no queue is
    kept for the next queue login; 置闲 in no queue asks for a queue login first. 置闲 ends a wrap-up."""
    runtime, ext = runtime_of(request), extension_of(user)
    row = agent_row(snapshot_of(runtime), ext)
    agents = getattr(runtime, "desk_agents", None)
    if (row is None or not row.get("queues")) and agents is not None:
        if body.paused:
            agents.choose_pause(ext, body.reason)
            return {"ok": True, "pending": True, "response": None}
        agents.clear_pending(ext)
        raise HTTPException(409, "请先签入队列 / Log in to a queue first")
    if agents is not None and not body.paused:
        agents.planner.end(ext)  # the agent's own 置闲 ends the wrap-up; the unpause below is the rule
    return await run_command(runtime.commands.pause(ext, body.paused, body.reason if body.paused else ""))


@router.post("/desk/wrapup/end", dependencies=Unsafe)
async def end_own_wrapup(request: Request, user: CurrentUser) -> dict[str, Any]:
    """结束话后处理: the agent's wrap-up ends now, by the same rule as at its deadline."""
    ext = extension_of(user)
    return await run_command(end_wrapup_of(request, ext))


async def end_wrapup_of(request: Request, extension: str) -> dict[str, Any]:
    """The wrap-up ends by its rule (``agent_desk.desk_agents``); with no server timing, the agent is unpaused."""
    runtime = runtime_of(request)
    agents = getattr(runtime, "desk_agents", None)
    if agents is None:
        return dict(await runtime.commands.pause(extension, False, ""))
    commands = await agents.end_wrapup(extension)
    return {"commands": [{"paused": c.paused, "reason": c.reason} for c in commands]}


# --- call control ------------------------------------------------------------------------------------
@router.post("/desk/dial", dependencies=Unsafe)
async def click_to_dial(request: Request, body: DialBody, user: CurrentUser) -> dict[str, Any]:
    commands, ext = runtime_of(request).commands, extension_of(user)
    number = "".join(ch for ch in body.number if ch.isdigit() or ch in "+*#")
    from agent_desk.api.outbound_desk import refuse_do_not_call  # a do-not-call number is refused (409)

    region = request.app.state.settings.default_region
    await asyncio.to_thread(refuse_do_not_call, app_sessionmaker(request.app), number, region)
    result = await run_command(commands.originate_click_to_dial(ext, number))
    call_id = str((result["response"] or {}).get("Uniqueid") or "")  # the originated leg starts the call
    if call_id:  # the pop first: the agent sees whom he is calling while the link is stored
        await pop_dialled(request, user, call_id, number)
    result["customer_id"] = await link_dialled_customer(request, user, call_id, number) if call_id else None
    return result


async def pop_dialled(request: Request, user: User, call_id: str, number: str) -> None:
    """A click-to-dial call pops the number dialled for the agent, as a ringing call pops its caller:
    the same lookup and the same data scope (``cti.screen_pop``)."""
    from cti.screen_pop import crm_lookup, crm_scope, lookup_fields

    settings = request.app.state.settings
    factory = app_sessionmaker(request.app)
    ext = str(user.extension)

    def card() -> dict[str, Any]:
        found = lookup_fields(crm_lookup(factory, settings.default_region)(number))
        return dict(crm_scope(factory)(ext, found))

    try:
        crm = await asyncio.to_thread(card)
    except Exception:  # the agent still gets the pop with the number, as an unknown party
        crm = lookup_fields({})
    pop = {
        "type": "screen.pop",
        "ts": datetime.now(UTC).isoformat(),
        "pbx": settings.pbx,
        "call_id": call_id,
        "agent": ext,
        "channel": None,
        "caller": {"number": number, "name": ""},
        "direction": "outbound",
        "queue": None,
        "wait_s": None,
        "ivr_path": [],
        **crm,
    }
    await runtime_of(request).bus.publish(pop)


async def link_dialled_customer(request: Request, user: User, call_id: str, number: str) -> int | None:
    """Store the link of a click-to-dial call to the customer dialled (CRM call link, then the call history
    through the bus: ``call.linked``), as an inbound pop links the caller. None when nobody is linked."""
    settings = request.app.state.settings

    def link() -> tuple[int, int | None] | None:
        with app_sessionmaker(request.app)() as session:
            row = link_dialled(
                session,
                user,
                call_id,
                number,
                region=settings.default_region,
                area_code=settings.default_area_code,
                pbx=settings.pbx,
            )
            session.commit()
            return (row.customer_id, row.contact_id) if row is not None and row.customer_id is not None else None

    linked = None
    for attempt in range(LINK_ATTEMPTS):
        try:
            linked = await asyncio.to_thread(link)
            break
        except OperationalError:
            # a database busy with other writers (SQLite's lock): the dial stands, the link is tried again
            if attempt == LINK_ATTEMPTS - 1:
                log.warning("click-to-dial call %s left unlinked: the database stayed busy", call_id)
                return None
            await asyncio.sleep(0.2 * (attempt + 1))
    if linked is None:
        return None
    event = {
        "type": "call.linked",
        "ts": datetime.now(UTC).isoformat(),
        "pbx": settings.pbx,
        "call_id": call_id,
        "customer_id": linked[0],
        "contact_id": linked[1],
        "agent": user.extension,
    }
    await runtime_of(request).bus.publish(event)
    return linked[0]


@router.post("/desk/calls/{call_id}/hangup", dependencies=Unsafe)
async def hangup(request: Request, call_id: CallId, body: ChannelBody, user: CurrentUser) -> dict[str, Any]:
    call = my_call(request, user, call_id)
    channel = chosen_channel(call, body.channel, call.own)
    return await run_command(runtime_of(request).commands.hangup(channel))


@router.post("/desk/calls/{call_id}/hold", dependencies=Unsafe)
async def hold(request: Request, call_id: CallId, body: ChannelBody, user: CurrentUser) -> dict[str, Any]:
    call = my_call(request, user, call_id)
    channel = chosen_channel(call, body.channel, call.remote)
    return await run_command(command(request, "hold")(channel))


@router.post("/desk/calls/{call_id}/unhold", dependencies=Unsafe)
async def unhold(request: Request, call_id: CallId, body: ChannelBody, user: CurrentUser) -> dict[str, Any]:
    call = my_call(request, user, call_id)
    channel = chosen_channel(call, body.channel, call.remote)
    return await run_command(command(request, "unhold")(channel))


@router.post("/desk/calls/{call_id}/transfer", dependencies=Unsafe)
async def transfer(request: Request, call_id: CallId, body: TransferBody, user: CurrentUser) -> dict[str, Any]:
    """Blind: the other party goes to ``extension`` (Redirect). Attended: the agent consults (Atxfer)."""
    call = my_call(request, user, call_id)
    commands = runtime_of(request).commands
    if body.kind == "blind":
        channel = chosen_channel(call, body.channel, call.remote)
        return await run_command(commands.blind_transfer(channel, body.extension))
    channel = chosen_channel(call, body.channel, call.own)
    return await run_command(commands.attended_transfer(channel, body.extension))


@router.post("/desk/calls/{call_id}/transfer/complete", dependencies=Unsafe)
async def complete_transfer(request: Request, call_id: CallId, user: CurrentUser) -> dict[str, Any]:
    """End a consultation by leaving it: Asterisk joins the other party to the consulted extension
    (answered once Asterisk reports the AttendedTransfer)."""
    call = my_call(request, user, call_id)
    return await run_command(command(request, "complete_attended_transfer")(call.own))


@router.post("/desk/calls/{call_id}/transfer/cancel", dependencies=Unsafe)
async def cancel_transfer(request: Request, call_id: CallId, body: ConferenceBody, user: CurrentUser) -> dict[str, Any]:
    """Drop the consulted extension's leg; answered once the agent is back with the other party."""
    call = my_call(request, user, call_id)
    runtime = runtime_of(request)
    snapshot = runtime.tracker_snapshot() if hasattr(runtime, "tracker_snapshot") else {}
    try:
        consulted = parties_of(snapshot, call_id, body.extension)
    except NotYourCall as exc:
        raise HTTPException(404, f"没有正在咨询的分机 / No consultation with {body.extension}") from exc
    return await run_command(command(request, "cancel_attended_transfer")(consulted.own, call.own))


@router.post("/desk/calls/{call_id}/conference", dependencies=Unsafe)
async def conference(request: Request, call_id: CallId, body: ConferenceBody, user: CurrentUser) -> dict[str, Any]:
    """Three-way: the agent, the other party and ``extension`` meet in a conference bridge."""
    call = my_call(request, user, call_id)
    return await run_command(command(request, "three_way")(call.own, call.remote, body.extension))


# --- pop actions: a customer, ticket, order or note from the pop, each linked to the call ----------------
# Routes that work on the database are plain functions: FastAPI runs them in worker threads, so a slow
# query never holds up the event loop that carries the pops.
class CustomerFromPopBody(BaseModel):
    name: PlainText = Field(min_length=1, max_length=200)
    phone: PlainText = Field(min_length=2, max_length=50)
    kind: Literal["company", "person"] = "person"
    category: PlainText = Field("", max_length=50)
    region: PlainText = Field("", max_length=100)
    notes: PlainText = Field("", max_length=2000)


class TicketFromPopBody(BaseModel):
    customer_id: int | None = None
    type_id: int
    title: PlainText = Field(min_length=1, max_length=200)
    description: PlainText = Field("", max_length=5000)
    priority: Literal["low", "normal", "high", "urgent"] = "normal"


class OrderLineBody(BaseModel):
    product_id: int
    quantity: int = Field(ge=1, le=100_000)


class OrderFromPopBody(BaseModel):
    customer_id: int
    lines: list[OrderLineBody] = Field(min_length=1, max_length=50)
    notes: PlainText = Field("", max_length=2000)


class NoteBody(BaseModel):
    customer_id: int
    note: PlainText = Field(min_length=1, max_length=2000)


@contextmanager
def crm_work(session: Session) -> Iterator[None]:
    """One CRM unit of work: committed as a whole, or rolled back with the rule's message and status."""
    try:
        yield
        session.commit()
    except CrmError as exc:
        session.rollback()
        raise HTTPException(exc.status, str(exc)) from exc


@router.post("/desk/calls/{call_id}/link", dependencies=Unsafe)
def link(call_id: CallId, body: LinkBody, user: CurrentUser, session: DbSession) -> dict[str, Any]:
    """Save the link of a call to a customer, a ticket and/or an order."""
    if body.customer_id is None and body.ticket_id is None and body.order_id is None:
        raise HTTPException(422, "请选择客户、工单或订单 / Choose a customer, a ticket or an order")
    with crm_work(session):
        row = link_call(session, call_id, body.customer_id, body.ticket_id, body.order_id, user)
    return {
        "ok": True,
        "call_id": call_id,
        "customer_id": row.customer_id,
        "ticket_id": row.ticket_id,
        "order_id": row.order_id,
    }


@router.post("/desk/calls/{call_id}/customer", dependencies=Unsafe)
def customer_from_pop(
    request: Request, call_id: CallId, body: CustomerFromPopBody, user: CurrentUser, session: DbSession
) -> dict[str, Any]:
    """An unknown caller becomes a customer (owned by the agent) with the number, linked to the call."""
    data = body.model_dump(exclude={"phone"})
    with crm_work(session):
        customer = create_row(session, user, CUSTOMERS, data)
        add_phone(session, customer.id, body.phone, region=request.app.state.settings.default_region)
        link_call(session, call_id, customer.id, user=user)
    return {"ok": True, "call_id": call_id, "customer": {"id": customer.id, "name": customer.name}}


@router.post("/desk/calls/{call_id}/ticket", dependencies=Unsafe)
def ticket_from_pop(call_id: CallId, body: TicketFromPopBody, user: CurrentUser, session: DbSession) -> dict[str, Any]:
    with crm_work(session):
        ticket = open_ticket(session, user, body.model_dump())
        link_call(session, call_id, ticket.customer_id, ticket_id=ticket.id, user=user)
    return {"ok": True, "call_id": call_id, "ticket": {"id": ticket.id, "title": ticket.title}}


@router.post("/desk/calls/{call_id}/order", dependencies=Unsafe)
def order_from_pop(call_id: CallId, body: OrderFromPopBody, user: CurrentUser, session: DbSession) -> dict[str, Any]:
    lines = [line.model_dump() for line in body.lines]
    with crm_work(session):
        order = create_order(session, user, {"customer_id": body.customer_id, "notes": body.notes}, lines)
        link_call(session, call_id, order.customer_id, order_id=order.id, user=user)
    return {"ok": True, "call_id": call_id, "order": {"id": order.id, "number": order.number}}


@router.post("/desk/calls/{call_id}/note", dependencies=Unsafe)
def note_from_pop(call_id: CallId, body: NoteBody, user: CurrentUser, session: DbSession) -> dict[str, Any]:
    with crm_work(session):
        add_followup(session, user, body.customer_id, body.note)
        link_call(session, call_id, body.customer_id, user=user)
    return {"ok": True, "call_id": call_id}


@router.get("/desk/catalog")
def pop_catalog(user: CurrentUser, session: DbSession) -> dict[str, Any]:
    """What the pop's forms offer: ticket types and active products."""
    types = session.execute(select(TicketType.id, TicketType.name).order_by(TicketType.id)).all()
    products = session.execute(
        select(Product.id, Product.name, Product.price).where(Product.is_active).order_by(Product.name).limit(500)
    ).all()
    return {
        "ticket_types": [{"id": i, "name": n} for i, n in types],
        "products": [{"id": i, "name": n, "price": str(p)} for i, n, p in products],
    }


# --- history and messages ------------------------------------------------------------------------------
def _epoch(day: str | None, end: bool = False) -> float | None:
    if not day:
        return None
    try:
        moment = datetime.fromisoformat(day)
    except ValueError as exc:
        raise HTTPException(422, f"日期格式错误 / Bad date: {day}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp() + (86400 if end and len(day) <= 10 else 0)


@router.get("/desk/calls")
def call_history(
    user: CurrentUser,
    session: DbSession,
    start: Annotated[str | None, Query(alias="from", max_length=32)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=32)] = None,
    direction: Literal["inbound", "outbound", "internal"] | None = None,
    disposition: Annotated[str | None, Query(max_length=20)] = None,
    number: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """The agent's own calls, newest first."""
    ext = extension_of(user)
    legs = select(CallLegRow.call_id).where(CallLegRow.extension == ext)
    query = select(CallRow).where(or_(CallRow.agent == ext, CallRow.call_id.in_(legs)))
    since, until = _epoch(start), _epoch(end, end=True)
    if since is not None:
        query = query.where(CallRow.started_at >= since)
    if until is not None:
        query = query.where(CallRow.started_at < until)
    if direction:
        query = query.where(CallRow.direction == direction)
    if disposition:
        query = query.where(CallRow.disposition == disposition)
    if number:
        digits = "".join(ch for ch in number if ch.isdigit())
        query = query.where(or_(CallRow.caller_number.contains(digits), CallRow.dialed.contains(digits)))
    rows = session.scalars(query.order_by(CallRow.started_at.desc()).limit(limit).offset(offset)).all()
    return {"items": [_call_row(r) for r in rows], "limit": limit, "offset": offset}


def _call_row(row: Any) -> dict[str, Any]:
    keys = (
        "call_id",
        "direction",
        "caller_number",
        "caller_name",
        "dialed",
        "queue",
        "agent",
        "started_at",
        "answered_at",
        "ended_at",
        "wait_s",
        "talk_s",
        "duration_s",
        "disposition",
        "customer_id",
        "ticket_id",
        "order_id",
        "recording_id",
    )
    return {k: getattr(row, k, None) for k in keys}


@router.get("/desk/messages")
def message_box(user: CurrentUser, session: DbSession) -> dict[str, Any]:
    """Tickets assigned to the agent, order steps waiting for the agent, and current announcements."""
    return messages_for(session, user, datetime.now(UTC))


# --- supervisor ------------------------------------------------------------------------------------------
def supervisor_only(user: CurrentUser) -> Any:
    if not is_supervisor(user):
        raise HTTPException(403, "仅限班长 / Supervisors only")
    return user


Supervisor = [*Unsafe, Depends(supervisor_only)]


def in_scope(session: Session, user: Any, extension: str) -> None:
    """Supervisor actions reach only the agents of the supervisor's departments (crm_core.permissions)."""
    with crm_work(session):
        ensure_agent(session, user, extension)


@router.post("/supervisor/spy", dependencies=Supervisor)
async def supervisor_spy(
    request: Request, body: SupervisorSpyBody, user: CurrentUser, session: DbSession
) -> dict[str, Any]:
    """Listen, whisper or barge on the agent's current call from the supervisor's own extension."""
    runtime = runtime_of(request)
    snapshot = runtime.tracker_snapshot() if hasattr(runtime, "tracker_snapshot") else {}
    in_scope(session, user, body.extension)
    target = agent_channel(snapshot, body.extension)
    if target is None:
        raise HTTPException(404, "该座席当前没有通话 / That agent is not on a call")
    return await run_command(runtime.commands.spy(extension_of(user), target, body.mode))


@router.post("/supervisor/pause", dependencies=Supervisor)
async def supervisor_pause(
    request: Request, body: SupervisorPauseBody, user: CurrentUser, session: DbSession
) -> dict[str, Any]:
    in_scope(session, user, body.extension)
    commands = runtime_of(request).commands
    return await run_command(commands.pause(body.extension, body.paused, body.reason if body.paused else ""))


@router.post("/supervisor/available", dependencies=Supervisor)
async def supervisor_available(
    request: Request, body: SupervisorAgentBody, user: CurrentUser, session: DbSession
) -> dict[str, Any]:
    """置闲 for an agent: out of a pause or a wrap-up, ready for calls in every queue he is in."""
    in_scope(session, user, body.extension)
    runtime = runtime_of(request)
    agents = getattr(runtime, "desk_agents", None)
    if agents is not None:
        agents.planner.end(body.extension)
    return await run_command(runtime.commands.pause(body.extension, False, ""))


@router.post("/supervisor/wrapup/end", dependencies=Supervisor)
async def supervisor_end_wrapup(
    request: Request, body: SupervisorAgentBody, user: CurrentUser, session: DbSession
) -> dict[str, Any]:
    """结束话后处理 for an agent: his wrap-up ends now, by the rule of its deadline (wrapup_then)."""
    in_scope(session, user, body.extension)
    return await run_command(end_wrapup_of(request, body.extension))


@router.post("/supervisor/logout", dependencies=Supervisor)
async def supervisor_logout(
    request: Request, body: SupervisorLogoutBody, user: CurrentUser, session: DbSession
) -> dict[str, Any]:
    in_scope(session, user, body.extension)
    runtime = runtime_of(request)
    commands = runtime.commands
    result = await each_queue(body.queues, lambda q: commands.queue_logout(q, body.extension))
    # the PBX is asked again what calls are up: a call it no longer has leaves nobody "on call"
    resync = getattr(getattr(runtime, "bridge", None), "resync", None)
    if resync is not None:
        await resync()
    return result
