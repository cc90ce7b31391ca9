"""The IVR administration, business calendar and voicemail pages: served, behind a login, translated."""

from __future__ import annotations

import json
import re
from dataclasses import fields

from agent_desk.pages import STATIC_DIR
from ivr.agi import IVRStats
from ivr.calendar import WEEKDAYS
from ivr.flow import Node
from ivr.tree import _SUMMARIES

pytest_plugins = ["crm_core.testing", "test_desk_support"]

I18N = STATIC_DIR / "i18n"
PAGES = {"ivr-admin.html": "ivr-admin.js", "calendar.html": "calendar.js", "voicemail.html": "voicemail.js"}
SCRIPTS = list(PAGES.values())
# The APIs each page loads its data from; without a session they answer 401 and api.js goes to /login.
PAGE_DATA = {
    "ivr-admin.html": "/api/ivr/flows",
    "calendar.html": "/api/ivr/calendar",
    "voicemail.html": "/api/ivr/voicemail",
}
KEY = r"ivr\.[a-z_]+\.[a-z_]+|ivr\.[a-z_]+"


def translations(lang: str, namespaces: tuple[str, ...] = ("ivr", "common")) -> dict[str, str]:
    """The pages' texts: their own namespace and the common one (top bar, product name)."""
    loaded: dict[str, str] = {}
    for ns in namespaces:
        loaded |= json.loads((I18N / f"{ns}.{lang}.json").read_text(encoding="utf-8"))
    return loaded


def static_keys() -> set[str]:
    """Keys written out in the pages: data-i18n attributes and quoted 'ivr.*' strings in the scripts."""
    used: set[str] = set()
    for name in [*PAGES, *SCRIPTS]:
        text = (STATIC_DIR / name).read_text(encoding="utf-8")
        used |= set(re.findall(r'data-i18n(?:-title|-placeholder)?="([^"]+)"', text))
        used |= set(re.findall(rf"'({KEY})'", text))
    return used


def dynamic_families() -> dict[str, set[str]]:
    """Keys built at run time (t(`ivr.type.${type}`)) and the values the server can give them."""
    node_types = {cls.__name__.removesuffix("Node").lower() for cls in _SUMMARIES if issubclass(cls, Node)}
    stats = {f.name for f in fields(IVRStats)} | {"port"}
    return {"ivr.type.": node_types, "ivr.stats.": stats, "ivr.weekday.": set(WEEKDAYS)}


def test_a_logged_in_admin_gets_every_page_and_its_data(desk):
    client = desk.login("admin")
    for page, script in PAGES.items():
        response = client.get(f"/static/{page}")
        assert response.status_code == 200, page
        assert response.headers["content-type"].startswith("text/html")
        assert f'src="/static/{script}"' in response.text
        assert client.get(f"/static/{script}").status_code == 200
        assert client.get(PAGE_DATA[page]).status_code == 200, PAGE_DATA[page]
    assert client.get("/static/admin.css").status_code == 200
    flows = {flow["name"]: flow for flow in client.get("/api/ivr/flows").json()}
    assert flows["ivr"]["valid"]


def test_without_a_session_the_pages_get_no_data(desk):
    client = desk.logout()
    for page, url in PAGE_DATA.items():
        response = client.get(url)
        assert response.status_code == 401, page
    assert client.get("/api/ivr/voicemail/100@default").status_code == 401
    assert client.put("/api/ivr/calendar", json={}).status_code == 401


def test_an_agent_without_the_ivr_permission_is_refused(desk):
    client = desk.login("agent_a")
    assert client.get("/api/ivr/flows").status_code == 403
    assert client.put("/api/ivr/flows/ivr", json={"text": "nodes: {a: {type: hangup}}"}).status_code == 403


def test_both_languages_have_the_same_keys_and_placeholders():
    zh, en = translations("zh-CN", ("ivr",)), translations("en", ("ivr",))
    assert set(zh) == set(en)
    for key in zh:
        assert zh[key].strip() and en[key].strip(), key
        assert set(re.findall(r"\{(\w+)\}", zh[key])) == set(re.findall(r"\{(\w+)\}", en[key])), key


def test_every_key_the_pages_use_exists_in_both_languages():
    used = static_keys()
    assert {"ivr.flows.title", "ivr.cal.title", "ivr.vm.title", "ivr.editor.issue_line"} <= used
    for prefix, values in dynamic_families().items():
        used |= {prefix + value for value in values}
    for lang in ("zh-CN", "en"):
        missing = used - set(translations(lang))
        assert not missing, f"{lang} lacks {sorted(missing)}"


def test_the_scripts_build_keys_only_from_the_known_families():
    families = set(dynamic_families())
    for script in SCRIPTS:
        text = (STATIC_DIR / script).read_text(encoding="utf-8")
        for prefix in re.findall(r"t\(`(ivr\.[a-z_.]*)\$\{", text):
            assert prefix in families, f"{script}: t(`{prefix}${{...}}`)"


def test_the_pages_never_parse_data_as_html():
    for name in [*PAGES, *SCRIPTS]:
        text = (STATIC_DIR / name).read_text(encoding="utf-8")
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write(", "eval("):
            assert sink not in text, f"{name} uses {sink}"
