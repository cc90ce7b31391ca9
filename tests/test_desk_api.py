"""The desk's REST API: sessions required, commands reach the PBX only for the agent's own calls."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from test_desk_support import RecordedCommands, snapshot_during

from crm_core.lookup import lookup
from crm_core.models import CallLink, Customer, Seat, Ticket, User
from crm_core.services.customers import add_phone
from cti.commands import CommandTimeout, NotCarriedOut, UnknownChannel
from stats.models import CallRow

pytest_plugins = ["crm_core.testing", "test_desk_support"]

CALL = "1795451267.14"  # transcript 06: 5551237 answered by agent 1001


@pytest.fixture
def on_call(desk):
    desk.runtime.snapshot = snapshot_during("06_blind_transfer_redirect.jsonl", "BridgeEnter", 2)
    return desk


def test_every_route_needs_a_session(desk):
    client = desk.logout()
    assert client.get("/api/desk/me").status_code == 401
    assert client.post("/api/desk/state", json={"paused": True, "reason": "lunch"}).status_code == 401
    assert client.post(f"/api/desk/calls/{CALL}/hangup", json={}).status_code == 401
    assert client.get("/api/desk/calls").status_code == 401
    assert desk.runtime.commands.sent == []


def test_unsafe_methods_need_the_csrf_token(desk):
    client = desk.login("agent_a")
    client.headers.pop("X-CSRF-Token")
    assert client.post("/api/desk/state", json={"paused": True, "reason": "lunch"}).status_code == 403
    assert desk.runtime.commands.sent == []


def test_me_tells_the_desk_its_extension_and_options(desk):
    me = desk.login("agent_a").get("/api/desk/me").json()
    assert me["user"]["extension"] == "1001"
    assert me["wrapup_s"] == 5
    assert me["sip"]["wss_url"] == ""
    assert "lunch" in me["pause_reasons"] and me["supervisor"] is False


def test_busy_with_reason_and_ready_go_to_the_pbx_as_pause_commands(desk):
    client = desk.login("agent_a")
    assert client.post("/api/desk/state", json={"paused": True, "reason": "meeting"}).status_code == 200
    assert client.post("/api/desk/state", json={"paused": False, "reason": "meeting"}).status_code == 200
    sent = desk.runtime.commands.sent
    assert sent == [("pause", ("1001", True, "meeting")), ("pause", ("1001", False, ""))]


def test_an_unknown_pause_reason_is_refused(desk):
    response = desk.login("agent_a").post("/api/desk/state", json={"paused": True, "reason": "<script>"})
    assert response.status_code == 422
    assert desk.runtime.commands.sent == []


def test_queue_login_and_logout_use_the_bound_extension(desk):
    client = desk.login("agent_a")
    assert client.post("/api/desk/queues/login", json={"queues": ["support", "sales"]}).status_code == 200
    assert client.post("/api/desk/queues/logout", json={"queues": ["sales"]}).status_code == 200
    assert desk.runtime.commands.sent == [
        ("queue_login", ("support", "1001", "agent_a")),
        ("queue_login", ("sales", "1001", "agent_a")),
        ("queue_logout", ("sales", "1001")),
    ]
    assert client.post("/api/desk/queues/login", json={"queues": ["bad queue!"]}).status_code == 422


def test_queue_login_goes_on_when_one_queue_refuses_and_fails_when_all_do(desk):
    from cti.commands import CommandError

    client = desk.login("agent_a")
    refusals = iter([CommandError("QueueAdd: Unable to add interface: Already there"), None])
    original = desk.runtime.commands.__getattr__("queue_login")

    async def queue_login(*args):
        error = next(refusals, None)
        if error is not None:
            raise error
        return await original(*args)

    desk.runtime.commands.queue_login = queue_login
    result = client.post("/api/desk/queues/login", json={"queues": ["support", "sales"]}).json()
    assert result["queues"]["support"]["ok"] is False and result["queues"]["sales"]["ok"] is True
    desk.runtime.commands.fail = CommandError("QueueAdd: Unable to add interface: Already there")
    response = client.post("/api/desk/queues/login", json={"queues": ["support"]})
    assert response.status_code == 409 and "Already there" in response.json()["detail"]


def test_click_to_dial_rings_the_agent_first(desk):
    client = desk.login("agent_a")
    assert client.post("/api/desk/dial", json={"number": "138-0013-8000"}).status_code == 200
    assert desk.runtime.commands.sent == [("originate_click_to_dial", ("1001", "13800138000"))]
    assert client.post("/api/desk/dial", json={"number": "1; DROP"}).status_code == 422


def test_an_agent_without_extension_is_told_to_bind_one(desk):
    with desk.sessionmaker() as session:
        session.get(User, desk.org.agent_a.id).extension = None
        session.commit()
    response = desk.login("agent_a").post("/api/desk/state", json={"paused": True, "reason": "lunch"})
    assert response.status_code == 409


def test_hangup_acts_on_the_agents_own_leg(on_call):
    client = on_call.login("agent_a")
    assert client.post(f"/api/desk/calls/{CALL}/hangup", json={}).status_code == 200
    assert on_call.runtime.commands.sent == [("hangup", ("Local/1001@agents-00000008;1",))]


def test_blind_transfer_redirects_the_caller_leg_bridged_to_the_agent(on_call):
    client = on_call.login("agent_a")
    response = client.post(f"/api/desk/calls/{CALL}/transfer", json={"extension": "1002", "kind": "blind"})
    assert response.status_code == 200
    caller_leg = "Local/5551237@from-pstn-00000007;2"
    assert on_call.runtime.commands.sent == [("blind_transfer", (caller_leg, "1002"))]


def test_attended_transfer_starts_from_the_agents_leg(on_call):
    client = on_call.login("agent_a")
    body = {"extension": "1002", "kind": "attended"}
    assert client.post(f"/api/desk/calls/{CALL}/transfer", json=body).status_code == 200
    assert on_call.runtime.commands.sent == [("attended_transfer", ("Local/1001@agents-00000008;1", "1002"))]


def test_commands_on_somebody_elses_call_are_refused(on_call):
    client = on_call.login("agent_a2")  # extension 1002 is not in the call
    assert client.post(f"/api/desk/calls/{CALL}/hangup", json={}).status_code == 403
    body = {"extension": "1003", "kind": "blind"}
    assert client.post(f"/api/desk/calls/{CALL}/transfer", json=body).status_code == 403
    assert on_call.runtime.commands.sent == []


def test_a_channel_outside_the_agents_call_is_refused(on_call):
    client = on_call.login("agent_a")
    response = client.post(f"/api/desk/calls/{CALL}/hangup", json={"channel": "PJSIP/2001-00000001"})
    assert response.status_code == 403
    assert on_call.runtime.commands.sent == []


def test_a_finished_call_is_refused(desk):
    assert desk.login("agent_a").post(f"/api/desk/calls/{CALL}/hangup", json={}).status_code == 403


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (UnknownChannel("no such channel"), 404),
        (CommandTimeout("Hangup: no answer"), 504),
        (NotCarriedOut("Redirect: the caller was not put on hold", zh="Redirect：客户未被保持"), 409),
    ],
)
def test_command_errors_map_to_statuses_with_both_languages(on_call, error, status):
    on_call.runtime.commands.fail = error
    response = on_call.login("agent_a").post(f"/api/desk/calls/{CALL}/hangup", json={})
    assert response.status_code == status
    assert " / " in response.json()["detail"]


def test_supervisor_routes_need_a_supervisor(on_call):
    body = {"extension": "1001", "mode": "whisper"}
    assert on_call.login("agent_a2").post("/api/supervisor/spy", json=body).status_code == 403
    on_call.runtime.commands.sent.clear()
    with on_call.sessionmaker() as session:
        session.get(User, on_call.org.supervisor_a.id).extension = "1009"
        session.commit()
    assert on_call.login("sup_a").post("/api/supervisor/spy", json=body).status_code == 200
    assert on_call.runtime.commands.sent == [("spy", ("1009", "Local/1001@agents-00000008;1", "whisper"))]
    pause = {"extension": "1001", "paused": True, "reason": "training"}
    assert on_call.client.post("/api/supervisor/pause", json=pause).status_code == 200
    logout = {"extension": "1001", "queues": ["support"]}
    assert on_call.client.post("/api/supervisor/logout", json=logout).status_code == 200
    assert on_call.runtime.commands.names()[-2:] == ["pause", "queue_logout"]


def test_binding_a_seat_uses_its_extension_and_an_extension_in_use_is_refused(desk):
    with desk.sessionmaker() as session:
        session.add(Seat(name="A-07", extension="1007"))
        session.commit()
    client = desk.login("agent_a")
    assert client.post("/api/desk/seat", json={"seat": "A-07"}).json()["extension"] == "1007"
    assert client.get("/api/desk/me").json()["user"]["extension"] == "1007"
    assert client.post("/api/desk/extension", json={"extension": "1002"}).status_code == 409
    assert client.post("/api/desk/extension", json={"extension": "1008"}).status_code == 200
    assert client.post("/api/desk/seat", json={"seat": "nope"}).status_code == 404


def test_unknown_caller_becomes_a_customer_linked_to_the_call(desk):
    client = desk.login("agent_a")
    name = "王五 & Sons"
    response = client.post(f"/api/desk/calls/{CALL}/customer", json={"name": name, "phone": "13812345678"})
    assert response.status_code == 200, response.text
    customer_id = response.json()["customer"]["id"]
    with desk.sessionmaker() as session:
        assert session.get(Customer, customer_id).name == name
        link = session.scalar(select(CallLink).where(CallLink.call_id == CALL))
        assert link.customer_id == customer_id
        found = lookup(session, "+86 138 1234 5678")
        assert found.customer is not None and found.customer["id"] == customer_id


def test_a_ticket_from_the_pop_is_linked_with_its_customer(desk):
    client = desk.login("agent_a")
    customer_id = client.post(f"/api/desk/calls/{CALL}/customer", json={"name": "张三", "phone": "13900001111"}).json()[
        "customer"
    ]["id"]
    catalog = client.get("/api/desk/catalog").json()
    body = {"customer_id": customer_id, "type_id": catalog["ticket_types"][0]["id"], "title": "退货咨询"}
    response = client.post(f"/api/desk/calls/{CALL}/ticket", json=body)
    assert response.status_code == 200, response.text
    ticket_id = response.json()["ticket"]["id"]
    with desk.sessionmaker() as session:
        links = session.scalars(select(CallLink).where(CallLink.call_id == CALL)).all()
        assert [(li.customer_id, li.ticket_id) for li in links] == [(customer_id, ticket_id)]
        assert session.get(Ticket, ticket_id).customer_id == customer_id


def test_linking_needs_something_to_link_and_an_existing_record(desk):
    client = desk.login("agent_a")
    assert client.post(f"/api/desk/calls/{CALL}/link", json={}).status_code == 422
    assert client.post(f"/api/desk/calls/{CALL}/link", json={"customer_id": 999999}).status_code == 422
    assert client.post("/api/desk/calls/bad id!/link", json={"customer_id": 1}).status_code in (404, 422)


def test_call_history_shows_only_the_agents_calls_with_filters(desk):
    start = datetime(2026, 11, 20, 9, 0, tzinfo=UTC).timestamp()
    rows = [
        ("c1", "inbound", "13800000001", "1001", "answered", start),
        ("c2", "outbound", "13800000002", "1001", "no_answer", start + 86400),
        ("c3", "inbound", "13800000003", "1002", "answered", start),
    ]
    with desk.sessionmaker() as session:
        for call_id, direction, number, agent, disposition, at in rows:
            session.add(
                CallRow(
                    pbx="pbx1",
                    call_id=call_id,
                    direction=direction,
                    caller_number=number,
                    agent=agent,
                    disposition=disposition,
                    started_at=at,
                    hour=9,
                )
            )
        session.commit()
    client = desk.login("agent_a")
    assert [c["call_id"] for c in client.get("/api/desk/calls").json()["items"]] == ["c2", "c1"]
    inbound = client.get("/api/desk/calls", params={"direction": "inbound"}).json()["items"]
    assert [c["call_id"] for c in inbound] == ["c1"]
    day = client.get("/api/desk/calls", params={"from": "2026-11-21", "to": "2026-11-21"}).json()["items"]
    assert [c["call_id"] for c in day] == ["c2"]
    assert client.get("/api/desk/calls", params={"number": "0003"}).json()["items"] == []
    assert client.get("/api/desk/calls", params={"from": "yesterday"}).status_code == 422


def test_message_box_lists_tickets_assigned_to_the_agent(desk):
    client = desk.login("agent_a")
    catalog = client.get("/api/desk/catalog").json()
    with desk.sessionmaker() as session:
        session.add(
            Ticket(
                title="回访客户",
                type_id=catalog["ticket_types"][0]["id"],
                assignee_id=desk.org.agent_a.id,
                status="open",
            )
        )
        session.add(
            Ticket(
                title="别人的", type_id=catalog["ticket_types"][0]["id"], assignee_id=desk.org.agent_b.id, status="open"
            )
        )
        session.commit()
    box = client.get("/api/desk/messages").json()
    assert [t["title"] for t in box["tickets"]] == ["回访客户"]
    assert set(box) == {"tickets", "order_steps", "announcements"}


class TransferCommands(RecordedCommands):
    """The recorded commands plus completing and cancelling an attended transfer."""

    def __getattr__(self, name: str):
        if name not in ("complete_attended_transfer", "cancel_attended_transfer"):
            return super().__getattr__(name)

        async def command(*args):
            self.sent.append((name, args))
            return {"Response": "Success", "Message": "Channel Hungup", "Outcome": [{"Event": "AttendedTransfer"}]}

        return command


def test_completing_an_attended_transfer_leaves_from_the_agents_leg_and_waits_for_the_pbx(on_call):
    on_call.runtime.commands = TransferCommands()
    response = on_call.login("agent_a").post(f"/api/desk/calls/{CALL}/transfer/complete")
    assert response.status_code == 200 and response.json()["ok"] is True
    assert on_call.runtime.commands.sent == [("complete_attended_transfer", ("Local/1001@agents-00000008;1",))]
    assert response.json()["response"]["Outcome"] == [{"Event": "AttendedTransfer"}]


def test_a_pbx_link_without_completion_says_so(on_call):
    response = on_call.login("agent_a").post(f"/api/desk/calls/{CALL}/transfer/complete")
    assert response.status_code == 501
    assert on_call.runtime.commands.sent == []


def test_a_hold_the_pbx_did_not_carry_out_is_an_error_in_both_languages(on_call):
    on_call.runtime.commands.fail = NotCarriedOut(
        "Redirect: the PBX accepted it, but the caller was not put on hold (no music on hold) within 10 s",
        zh="Redirect：交换机已接受，但客户未被保持（未开始播放等待音乐）（10 秒内）",
    )
    response = on_call.login("agent_a").post(f"/api/desk/calls/{CALL}/hold", json={})
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert "客户未被保持" in detail and "not put on hold" in detail
    assert "ok" not in response.json()


def consulting_1002(snapshot):
    """Transcript 06's call while agent 1001 consults 1002, with the channels Asterisk 22 makes for an
    Atxfer to 1002@internal (tests/fixtures/ami/desk_outcomes.jsonl): 1001's leg leaves the caller's
    bridge for the consultation bridge."""
    channels = [dict(row) for row in snapshot["channels"]]
    for row in channels:
        if row["channel"] == "Local/1001@agents-00000008;1":
            row["bridge"] = "consultation"
    channels += [
        {"channel": "Local/1002@internal-00000009;1", "call_id": CALL, "bridge": "consultation", "extension": None},
        {"channel": "Local/1002@internal-00000009;2", "call_id": CALL, "bridge": "target", "extension": None},
        {"channel": "Local/1002@agents-0000000a;1", "call_id": CALL, "bridge": "target", "extension": "1002"},
        {"channel": "Local/1002@agents-0000000a;2", "call_id": CALL, "bridge": None, "extension": "1002"},
    ]
    return {**snapshot, "channels": channels}


def test_cancelling_an_attended_transfer_drops_the_consulted_leg_for_the_agent(on_call):
    on_call.runtime.snapshot = consulting_1002(on_call.runtime.snapshot)
    on_call.runtime.commands = TransferCommands()
    client = on_call.login("agent_a")
    response = client.post(f"/api/desk/calls/{CALL}/transfer/cancel", json={"extension": "1002"})
    assert response.status_code == 200, response.text
    assert on_call.runtime.commands.sent == [
        ("cancel_attended_transfer", ("Local/1002@agents-0000000a;1", "Local/1001@agents-00000008;1"))
    ]
    missing = client.post(f"/api/desk/calls/{CALL}/transfer/cancel", json={"extension": "1003"})
    assert missing.status_code == 404


# --- the day's dead ends: login paused, busy before login, wrap-up on the server, live state -------------
@pytest.fixture
def timed(desk):
    """The desk with the server's wrap-up and pause keeping (agent_desk.desk_agents), agent 1001 in support."""
    from agent_desk.desk_agents import DeskAgents
    from config import Settings

    settings = Settings(wrapup_s=30, wrapup_then="available")
    desk.runtime.desk_agents = DeskAgents(settings, lambda: desk.runtime.commands, clock=lambda: 1000.0)
    desk.runtime.snapshot = {
        "agents": [{"agent": "1001", "extension": "1001", "state": "available", "reason": None, "queues": ["support"]}],
        "calls": [],
    }
    return desk


def test_queue_login_paused_adds_the_member_paused_with_the_reason(desk):
    client = desk.login("agent_a")
    body = {"queues": ["support"], "paused": True, "reason": "training"}
    result = client.post("/api/desk/queues/login", json=body).json()
    assert result["paused"] is True
    assert desk.runtime.commands.sent == [
        ("queue_login", ("support", "1001", "agent_a", 0, True)),
        ("pause", ("1001", True, "training", "support")),
    ]


def test_busy_before_queue_login_is_kept_for_the_login_and_ready_asks_for_a_login(timed):
    timed.runtime.snapshot = {"agents": [], "calls": []}
    client = timed.login("agent_a")
    response = client.post("/api/desk/state", json={"paused": True, "reason": "lunch"})
    assert response.status_code == 200 and response.json()["pending"] is True
    assert timed.runtime.commands.sent == []  # no QueuePause for an interface in no queue
    assert client.get("/api/desk/live").json()["pending_pause"] == "lunch"
    assert client.post("/api/desk/queues/login", json={"queues": ["support"]}).json()["paused"] is True
    assert timed.runtime.commands.sent == [
        ("queue_login", ("support", "1001", "agent_a", 0, True)),
        ("pause", ("1001", True, "lunch", "support")),
    ]
    response = client.post("/api/desk/state", json={"paused": False})
    assert response.status_code == 409 and "Log in to a queue first" in response.json()["detail"]


def test_the_wrap_up_deadline_is_the_servers_and_the_agent_can_end_it(timed):
    agents = timed.runtime.desk_agents
    client = timed.login("agent_a")
    asyncio.run(agents.handle({"type": "agent.state", "extension": "1001", "state": "available"}))
    asyncio.run(agents.handle({"type": "call.ended", "agent": "1001", "queue": "support", "answered": True}))
    assert timed.runtime.commands.sent == [("pause", ("1001", True, "after_call_work"))]
    live = client.get("/api/desk/live").json()
    assert live["wrapup_until"] == datetime.fromtimestamp(1030.0, UTC).isoformat()
    assert client.post("/api/desk/wrapup/end").status_code == 200
    assert timed.runtime.commands.sent[-1] == ("pause", ("1001", False, ""))
    assert client.get("/api/desk/live").json()["wrapup_until"] is None


def test_a_supervisor_makes_an_agent_available_or_ends_his_wrap_up_in_his_departments_only(timed):
    agents = timed.runtime.desk_agents
    asyncio.run(agents.handle({"type": "agent.state", "extension": "1001", "state": "available"}))
    asyncio.run(agents.handle({"type": "call.ended", "agent": "1001", "queue": "support", "answered": True}))
    client = timed.login("sup_a")
    assert client.post("/api/supervisor/wrapup/end", json={"extension": "1001"}).status_code == 200
    assert timed.runtime.commands.sent[-1] == ("pause", ("1001", False, ""))
    assert client.post("/api/supervisor/available", json={"extension": "1001"}).status_code == 200
    assert timed.runtime.commands.sent[-1] == ("pause", ("1001", False, ""))
    before = len(timed.runtime.commands.sent)
    assert client.post("/api/supervisor/available", json={"extension": "2001"}).status_code == 403
    assert client.post("/api/supervisor/wrapup/end", json={"extension": "2001"}).status_code == 403
    assert timed.login("agent_a2").post("/api/supervisor/available", json={"extension": "1001"}).status_code == 403
    assert len(timed.runtime.commands.sent) == before


def test_live_state_lists_the_agents_calls_from_the_tracker(on_call):
    live = on_call.login("agent_a").get("/api/desk/live").json()
    assert [c["call_id"] for c in live["calls"]] == [CALL]
    assert live["calls"][0]["state"] == "talking" and live["calls"][0]["on_hold"] is False


def test_click_to_dial_pops_the_customer_dialled_within_the_agents_scope(desk):
    with desk.sessionmaker() as session:
        customer = Customer(
            name="北京华鑫科技有限公司", status="active", department_id=desk.org.dept_a.id, owner_id=desk.org.agent_a.id
        )
        session.add(customer)
        session.flush()
        add_phone(session, customer.id, "13812345678")
        session.commit()

    async def originate_click_to_dial(*args):
        desk.runtime.commands.sent.append(("originate_click_to_dial", args))
        return {"Response": "Success", "Uniqueid": "1790000000.77", "Reason": "4"}

    desk.runtime.commands.originate_click_to_dial = originate_click_to_dial
    pops = desk.runtime.bus.subscribe(["screen.pop"])
    assert desk.login("agent_a").post("/api/desk/dial", json={"number": "138 1234 5678"}).status_code == 200
    pop = asyncio.run(asyncio.wait_for(pops.__anext__(), 2))
    assert (pop["call_id"], pop["agent"], pop["direction"]) == ("1790000000.77", "1001", "outbound")
    assert pop["caller"]["number"] == "13812345678"
    assert pop["customer"]["name"] == "北京华鑫科技有限公司"
