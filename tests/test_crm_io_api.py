"""The import/export routes: a dry run plans without writing, a re-import updates, downloads take the list's
filters (customers, tickets, orders)."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient
from test_crm_api import bearer, client  # noqa: F401  (the fixture)

pytest_plugins = ["crm_core.testing"]


def _rows(content: bytes) -> list[list[str]]:
    from crm_core.tabular import read_rows

    return list(read_rows(content, "csv"))


def test_dry_run_then_import_then_re_import_of_the_export(client: TestClient) -> None:  # noqa: F811
    supervisor = bearer(client, "sup_a")
    data = "客户名称,电话,等级\n甲公司,13800000001,007\n乙公司,13800000002,2/4\n".encode()
    files = {"file": ("c.csv", data, "text/csv")}
    plan = client.post("/api/crm/import/customers", files=files, data={"dry_run": "true"}, headers=supervisor).json()
    assert (plan["created"], plan["updated"], plan["skipped"], plan["imported"]) == (2, 0, 0, 0)
    assert [(p["row"], p["action"]) for p in plan["plan"]] == [(2, "create"), (3, "create")]
    listed = client.get("/api/crm/customers", params={"q": "公司"}, headers=supervisor).json()
    assert listed["total"] == 0  # the dry run stored nothing
    assert client.post("/api/crm/import/customers", files=files, headers=supervisor).json()["created"] == 2

    exported = client.get("/api/crm/export/customers", params={"format": "csv"}, headers=supervisor).content
    rows = _rows(exported)
    level = rows[0].index("等级")
    changed = [
        row if i == 0 else [*row[:level], "金" if row[1] == "甲公司" else row[level], *row[level + 1 :]]
        for i, row in enumerate(rows)
    ]
    out = io.StringIO()
    csv.writer(out).writerows(changed)
    again = client.post(
        "/api/crm/import/customers", files={"file": ("c.csv", out.getvalue().encode(), "text/csv")}, headers=supervisor
    ).json()
    assert (again["errors"], again["created"], again["updated"], again["skipped"]) == ([], 0, 1, 1)
    assert [p["changes"] for p in again["plan"] if p["action"] == "update"] == [["level"]]


def test_downloads_hold_what_the_list_searched(client: TestClient) -> None:  # noqa: F811
    supervisor = bearer(client, "sup_a")
    for name, level in (("甲公司", "A"), ("乙公司", "B"), ("丙公司", "A")):
        client.post("/api/crm/customers", json={"name": name, "level": level}, headers=supervisor)
    found = client.get("/api/crm/export/customers", params={"format": "csv", "level": "A"}, headers=supervisor)
    assert sorted(row[1] for row in _rows(found.content)[1:]) == ["丙公司", "甲公司"]
    searched = client.get("/api/crm/export/customers", params={"format": "csv", "q": "乙"}, headers=supervisor)
    assert [row[1] for row in _rows(searched.content)[1:]] == ["乙公司"]
    refused = client.get("/api/crm/export/customers", params={"format": "csv", "colour": "red"}, headers=supervisor)
    assert refused.status_code == 422

    types = client.get("/api/crm/ticket-types", headers=supervisor).json()
    type_id = (types["items"] if isinstance(types, dict) else types)[0]["id"]
    for title, priority in (("送货延迟", "high"), ("咨询价格", "normal")):
        client.post(
            "/api/crm/tickets", json={"title": title, "type_id": type_id, "priority": priority}, headers=supervisor
        )
    tickets = client.get(
        "/api/crm/export/tickets", params={"format": "csv", "priority": "high", "lang": "en"}, headers=supervisor
    )
    assert tickets.status_code == 200 and tickets.headers["content-disposition"].endswith('tickets.csv"')
    assert [row[1] for row in _rows(tickets.content)[1:]] == ["送货延迟"]
    agent = bearer(client, "agent_a")
    assert client.get("/api/crm/export/tickets", headers=agent).status_code == 403
