"""Administration of workflows and steps, ticket types with SLA, opportunity stages and seats: each rule
refuses bad input naming the field, and work standing on a step follows it when the steps change."""

from __future__ import annotations

from fastapi.testclient import TestClient
from test_crm_api import bearer, client  # noqa: F401  (the fixture)

pytest_plugins = ["crm_core.testing"]

A = "/api/crm/admin"


def _refused(reply: object, field: str) -> str:
    assert reply.status_code == 422, reply.text  # type: ignore[attr-defined]
    detail = reply.json()["detail"][0]  # type: ignore[attr-defined]
    assert detail["loc"][1:] == field.split("."), detail
    return str(detail["msg"])


def test_ticket_workflow_steps_are_renumbered_and_tickets_follow_their_step(client: TestClient) -> None:  # noqa: F811
    admin = bearer(client, "admin")
    roles = {r["name"]: r["id"] for r in client.get(f"{A}/roles", headers=admin).json()}
    flow = client.post(f"{A}/workflows", json={"name": "投诉流程", "kind": "ticket"}, headers=admin).json()
    assert "已存在" in _refused(client.post(f"{A}/workflows", json={"name": "投诉流程"}, headers=admin), "name")
    steps = [
        {"name": "受理", "assignee_role_id": roles["agent"]},
        {"name": "处理", "assignee_role_id": roles["supervisor"]},
        {"name": "回访", "assignee_role_id": roles["agent"]},
    ]
    assert "须填写名称" in _refused(
        client.put(f"{A}/workflows/{flow['id']}/steps", json={"steps": [{"name": " "}]}, headers=admin), "steps.0.name"
    )
    no_handler = client.put(f"{A}/workflows/{flow['id']}/steps", json={"steps": [{"name": "x"}]}, headers=admin)
    assert "处理角色" in _refused(no_handler, "steps.0.assignee_role_id")
    saved = client.put(f"{A}/workflows/{flow['id']}/steps", json={"steps": steps}, headers=admin).json()
    assert [(s["position"], s["name"]) for s in saved["steps"]] == [(1, "受理"), (2, "处理"), (3, "回访")]

    kind = client.post(
        f"{A}/ticket-types",
        json={"code": "complaint2", "name": "投诉", "sla_hours": 4, "workflow_id": flow["id"]},
        headers=admin,
    ).json()
    ticket = client.post("/api/crm/tickets", json={"title": "送货延迟", "type_id": kind["id"]}, headers=admin).json()
    client.post(f"/api/crm/tickets/{ticket['id']}/pass", json={"note": "ok"}, headers=admin)  # now on 处理 (2)
    ids = {s["name"]: s["id"] for s in saved["steps"]}
    first = {"name": "登记", "assignee_role_id": roles["agent"]}
    reordered = [first, *({**s, "id": ids[s["name"]]} for s in steps)]
    moved = client.put(f"{A}/workflows/{flow['id']}/steps", json={"steps": reordered}, headers=admin).json()
    assert [s["name"] for s in moved["steps"]] == ["登记", "受理", "处理", "回访"]
    assert client.get(f"/api/crm/tickets/{ticket['id']}", headers=admin).json()["step_position"] == 3  # 处理 still
    gone = [s for s in reordered if s["name"] != "处理"]
    refused = client.put(f"{A}/workflows/{flow['id']}/steps", json={"steps": gone}, headers=admin)
    assert refused.status_code == 409 and "处理" in refused.json()["detail"]


def test_order_steps_need_an_action_and_ticket_types_a_sane_sla(client: TestClient) -> None:  # noqa: F811
    admin = bearer(client, "admin")
    roles = {r["name"]: r["id"] for r in client.get(f"{A}/roles", headers=admin).json()}
    flow = client.post(f"{A}/workflows", json={"name": "大单审批", "kind": "order"}, headers=admin).json()
    step = {"name": "审核", "assignee_role_id": roles["supervisor"], "action": "dance"}
    refused = client.put(f"{A}/workflows/{flow['id']}/steps", json={"steps": [step]}, headers=admin)
    assert "动作" in _refused(refused, "steps.0.action")
    ok = client.put(f"{A}/workflows/{flow['id']}/steps", json={"steps": [{**step, "action": "review"}]}, headers=admin)
    assert ok.status_code == 200
    bad = {"code": "Repair!", "name": "报修", "sla_hours": 8}
    assert "小写字母" in _refused(client.post(f"{A}/ticket-types", json=bad, headers=admin), "code")
    bad = {"code": "repair2", "name": "报修", "sla_hours": 0}
    assert "1 到 8760" in _refused(client.post(f"{A}/ticket-types", json=bad, headers=admin), "sla_hours")
    bad = {"code": "repair2", "name": "报修", "sla_hours": 8, "workflow_id": flow["id"]}
    assert "工单流程" in _refused(client.post(f"{A}/ticket-types", json=bad, headers=admin), "workflow_id")
    agent = bearer(client, "agent_a")
    assert client.post(f"{A}/ticket-types", json={**bad, "workflow_id": None}, headers=agent).status_code == 403


def test_stages_open_ones_before_closed_and_closed_stay_closed(client: TestClient) -> None:  # noqa: F811
    admin = bearer(client, "admin")
    before = client.get(f"{A}/opportunity-stages", headers=admin).json()
    new = client.post(f"{A}/opportunity-stages", json={"name": "方案报价", "probability": 55}, headers=admin).json()
    listed = client.get(f"{A}/opportunity-stages", headers=admin).json()
    outcomes = [s["outcome"] for s in listed]
    assert outcomes == sorted(outcomes, key=lambda o: o != "open")  # the new open stage sits before won/lost
    assert [s["id"] for s in listed if s["outcome"] == "open"][-1] == new["id"]
    won = next(s for s in before if s["outcome"] == "won")
    reopened = client.patch(
        f"{A}/opportunity-stages/{won['id']}", json={"name": won["name"], "outcome": "open"}, headers=admin
    )
    assert "保持关闭" in _refused(reopened, "outcome")
    ids = [s["id"] for s in listed]
    closed_first = [won["id"], *(i for i in ids if i != won["id"])]
    assert "最后" in _refused(
        client.put(f"{A}/opportunity-stages/order", json={"ids": closed_first}, headers=admin), "ids"
    )
    turned = [ids[1], ids[0], *ids[2:]]
    assert [
        s["id"] for s in client.put(f"{A}/opportunity-stages/order", json={"ids": turned}, headers=admin).json()
    ] == turned
    assert "0 到 100" in _refused(
        client.post(f"{A}/opportunity-stages", json={"name": "x", "probability": 150}, headers=admin), "probability"
    )


def test_seats_have_unique_names_and_extensions_and_agents_can_be_unbound(client: TestClient) -> None:  # noqa: F811
    admin = bearer(client, "admin")
    seat = client.post(f"{A}/seats", json={"name": "A区01", "extension": "8801"}, headers=admin).json()
    assert "2 到 20 位数字" in _refused(
        client.post(f"{A}/seats", json={"name": "A区02", "extension": "88a"}, headers=admin), "extension"
    )
    assert "其他座席" in _refused(
        client.post(f"{A}/seats", json={"name": "A区02", "extension": "8801"}, headers=admin), "extension"
    )
    assert "已存在" in _refused(
        client.post(f"{A}/seats", json={"name": "A区01", "extension": "8802"}, headers=admin), "name"
    )
    moved = client.patch(f"{A}/seats/{seat['id']}", json={"name": "A区01", "extension": "8803"}, headers=admin).json()
    assert moved["extension"] == "8803"
    bind = client.patch(
        f"{A}/seats/{seat['id']}", json={"name": "A区01", "extension": "8803", "user_id": 1}, headers=admin
    )
    assert "解除绑定" in _refused(bind, "user_id")


def test_menus_per_role_are_kept_beside_the_permissions(client: TestClient) -> None:  # noqa: F811
    admin, agent = bearer(client, "admin"), bearer(client, "agent_a")
    roles = {r["name"]: r for r in client.get(f"{A}/menus", headers=admin).json()}
    agent_role = roles["agent"]["id"]
    saved = client.put(f"{A}/roles/{agent_role}/menus", json={"hidden": ["/sales", "/recordings"]}, headers=admin)
    assert saved.json()["hidden"] == ["/recordings", "/sales"]
    assert client.get("/api/crm/menus/mine", headers=agent).json() == {"hidden": ["/recordings", "/sales"]}
    grants = client.get(f"{A}/roles", headers=admin).json()
    mine = next(r for r in grants if r["name"] == "agent")["permissions"]
    assert not any(p.startswith("menu_hidden") for p in mine)  # not a permission
    client.put(f"{A}/roles/{agent_role}/permissions", json={"permissions": mine}, headers=admin)
    assert client.get("/api/crm/menus/mine", headers=agent).json()["hidden"] == ["/recordings", "/sales"]
    assert "地址无效" in _refused(
        client.put(f"{A}/roles/{agent_role}/menus", json={"hidden": ["javascript:x"]}, headers=admin), "hidden.0"
    )
    admin_role = roles["admin"]["id"]
    assert "系统管理" in _refused(
        client.put(f"{A}/roles/{admin_role}/menus", json={"hidden": ["/admin"]}, headers=admin), "hidden"
    )
    assert client.put(f"{A}/roles/{agent_role}/menus", json={"hidden": []}, headers=agent).status_code == 403
