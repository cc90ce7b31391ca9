"""The CRM pages: served with their scripts, data only behind a login, every text in both languages."""

from __future__ import annotations

import json
import re
from typing import get_args

from sqlalchemy import select

from agent_desk.pages import STATIC_DIR
from crm_core.importer import CUSTOMER_FIELDS
from crm_core.models import Workflow, WorkflowStep
from crm_core.services import customers, orders, tickets
from cti.events import Direction, Disposition

pytest_plugins = ["crm_core.testing", "test_desk_support"]

I18N = STATIC_DIR / "i18n"
PAGE = "crm.html"
SCRIPTS = ["crm.js", "crm-customers.js", "crm-tickets.js", "crm-orders.js", "crm-kb.js"]
# What the pages load first; without a session each answers 401 and api.js sends the browser to /login.
PAGE_DATA = [
    "/api/auth/me",
    "/api/crm/customers?status__in=active,pool&sort=-id&size=20",
    "/api/crm/tickets?sort=-id&size=20",
    "/api/crm/orders?sort=-id&size=20",
    "/api/crm/ticket-types?size=200",
    "/api/crm/announcements/current",
    "/api/crm/kb-articles?status=published&sort=-updated_at",
]
# Namespaces the page loads besides its own, for keys like 'common.search' or t(`priority.${p}`).
OTHER_NAMESPACES = ("common", "ivr")
STATIC_FAMILIES = {
    "priority.": {"low", "normal", "high", "urgent"},
    "direction.": set(get_args(Direction)),
    "disposition.": set(get_args(Disposition)),
    "crm.kind.": {"company", "person"},
    "crm.phone_kind.": {"mobile", "landline", "tollfree", "other"},
    "crm.channel.": {"phone", "visit", "wechat", "email", "other"},
    "crm.kb_status.": {"draft", "pending", "published", "rejected"},
    "crm.return_status.": {"requested", "approved", "rejected", "done"},
    # the columns an import preview says a row changes
    "crm.io_field.": {*CUSTOMER_FIELDS, "custom", "owner", "phones", "contact_name", "contact_phones"},
}


def translations(namespace: str, lang: str) -> dict[str, str]:
    loaded: dict[str, str] = json.loads((I18N / f"{namespace}.{lang}.json").read_text(encoding="utf-8"))
    return loaded


def sources() -> dict[str, str]:
    return {name: (STATIC_DIR / name).read_text(encoding="utf-8") for name in [PAGE, *SCRIPTS]}


def written_keys() -> set[str]:
    """Keys spelled out in the page and the scripts: data-i18n attributes and quoted 'ns.key' strings."""
    used: set[str] = set()
    for text in sources().values():
        used |= set(re.findall(r'data-i18n(?:-title|-placeholder)?="([^"]+)"', text))
        used |= set(re.findall(r"'((?:crm|common|ivr)\.[a-z_]+(?:\.[a-z_]+)*)'", text))
    return used


def label_families() -> set[str]:
    """Families of keys the scripts build at run time with label('<family>', value)."""
    families: set[str] = set()
    for text in sources().values():
        families |= set(re.findall(r"\blabel\('([a-z_]+)'", text))
    return families


def server_families(order_actions: set[str]) -> dict[str, set[str]]:
    """The values the server can give each family: its own constants and the seeded workflow steps."""
    requested = {
        f"{kind}_{state}"
        for kind in ("return", "exchange")
        for state in ("requested", "approved", "rejected", "received")
    }
    return {
        "crm.status.": {customers.ACTIVE, customers.POOL, customers.MERGED},
        "crm.ticket_status.": {tickets.OPEN, tickets.IN_PROGRESS, tickets.RETURNED, tickets.RESOLVED, tickets.CLOSED},
        "crm.ticket_action.": {"create", "pass", "resolve", "return", "note", "close", "visit_planned", "visit"},
        "crm.order_status.": {orders.DRAFT, orders.IN_APPROVAL, orders.COMPLETED, orders.VOID, orders.RETURNED},
        "crm.order_action.": order_actions
        | {"create", "submit", "approve", "return", "void", "abnormal", "normal", "edit", "reorder"}
        | requested,
    }


def test_a_logged_in_user_gets_the_page_its_scripts_and_its_data(desk):
    client = desk.login("agent_a")
    page = client.get(f"/static/{PAGE}")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert 'src="/static/crm.js"' in page.text
    for script in SCRIPTS:
        response = client.get(f"/static/{script}")
        assert response.status_code == 200, script
        assert "javascript" in response.headers["content-type"], script
    assert client.get("/static/crm.css").status_code == 200
    for lang in ("zh-CN", "en"):
        assert client.get(f"/static/i18n/crm.{lang}.json").status_code == 200
    for url in PAGE_DATA:
        assert client.get(url).status_code == 200, url
    assert client.get("/api/auth/me").json()["username"] == "agent_a"


def test_without_a_session_the_page_gets_no_data(desk):
    client = desk.logout()
    for url in PAGE_DATA:
        assert client.get(url).status_code == 401, url
    assert client.post("/api/crm/customers", json={"name": "x"}).status_code in (401, 403)
    assert client.post("/api/desk/dial", json={"number": "13800138000"}).status_code in (401, 403)


def test_the_scripts_import_only_modules_that_exist():
    for name, text in sources().items():
        for target in re.findall(r"from '/static/([^']+)'", text):
            assert (STATIC_DIR / target).is_file(), f"{name} imports {target}"
        for src in re.findall(r'(?:src|href)="/static/([^"]+)"', text):
            assert (STATIC_DIR / src).is_file(), f"{name} links {src}"


def test_data_never_becomes_markup():
    for name, text in sources().items():
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in text, f"{name} uses {sink}"


def test_both_languages_have_the_same_keys_and_placeholders():
    zh, en = translations("crm", "zh-CN"), translations("crm", "en")
    assert set(zh) == set(en)
    for key in zh:
        assert set(re.findall(r"\{\w+\}", zh[key])) == set(re.findall(r"\{\w+\}", en[key])), key
        assert zh[key].strip() and en[key].strip(), key
    assert all(key.startswith("crm.") for key in zh)


def test_every_key_the_pages_use_exists_in_both_languages(desk):
    with desk.sessionmaker() as session:
        order_actions = set(
            session.scalars(
                select(WorkflowStep.action)
                .join(Workflow, Workflow.id == WorkflowStep.workflow_id)
                .where(Workflow.kind == "order", WorkflowStep.action != "")
            )
        )
    assert {"review", "manager_review", "shipping", "payment", "receipt", "followup"} <= order_actions
    families = server_families(order_actions) | STATIC_FAMILIES
    assert {f"crm.{family}." for family in label_families()} <= set(families)
    for lang in ("zh-CN", "en"):
        known: dict[str, str] = translations("crm", lang)
        for namespace in OTHER_NAMESPACES:
            known |= translations(namespace, lang)
        missing = sorted(key for key in written_keys() if key not in known)
        assert missing == [], f"{lang}: {missing}"
        for prefix, values in families.items():
            absent = sorted(f"{prefix}{value}" for value in values if f"{prefix}{value}" not in known)
            assert absent == [], f"{lang}: {absent}"


def called_paths() -> set[str]:
    """API paths the scripts call, with each ${...} path segment as {} and query builders cut off."""
    paths: set[str] = set()
    for text in sources().values():
        for raw in re.findall(r"[`'](/api/[^`'?]*)", text):
            path = raw.split("${qs(")[0]
            paths.add(re.sub(r"\$\{[^}]*\}", "{}", path))
    return paths


def test_every_api_path_the_scripts_call_exists(desk):
    templates = [re.sub(r"\{[^}]+\}", "{}", path) for path in desk.client.app.openapi()["paths"]]

    def served(path: str) -> bool:
        parts = path.strip("/").split("/")
        for template in templates:
            other = template.strip("/").split("/")
            if len(other) == len(parts) and all(a in (b, "{}") or b == "{}" for a, b in zip(parts, other, strict=True)):
                return True
        return False

    paths = called_paths()
    assert {"/api/crm/customers", "/api/crm/customers/{}/claim", "/api/desk/dial"} <= paths
    assert [path for path in sorted(paths) if not served(path)] == []
