"""The desk's pages, static files, vendored browser libraries and translations."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from agent_desk.pages import STATIC_DIR, BundleError, commonjs_bundle, safe_path

pytest_plugins = ["crm_core.testing", "test_desk_support"]

I18N = STATIC_DIR / "i18n"
DESK_FILES = ["desk.html", "login.html", "desk.js", "login.js", "callstate.js"]


def test_the_desk_page_needs_a_session_and_the_login_page_does_not(desk):
    client = desk.logout()
    response = client.get("/desk", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert client.get("/", follow_redirects=False).headers["location"].startswith("/login")
    assert client.get("/login").status_code == 200
    assert "login.js" in client.get("/login").text


def test_a_logged_in_agent_gets_the_desk(desk):
    client = desk.login("agent_a")
    assert client.get("/", follow_redirects=False).headers["location"] == "/desk"
    page = client.get("/desk")
    assert page.status_code == 200 and 'src="/static/desk.js"' in page.text


def test_static_files_are_served_and_nothing_outside_the_folder(desk):
    client = desk.logout()
    assert client.get("/static/desk.js").headers["content-type"].startswith(("text/javascript",
                                                                            "application/javascript"))
    assert client.get("/static/i18n/desk.en.json").json()["desk.title"] == "Agent desk"
    assert client.get("/static/../deps.py").status_code == 404
    assert client.get("/static/%2e%2e/deps.py").status_code == 404
    assert client.get("/static/nope.js").status_code == 404


def test_safe_path_refuses_escapes_and_hidden_files(tmp_path):
    (tmp_path / "a.js").write_text("x")
    (tmp_path / ".secret").write_text("x")
    assert safe_path(tmp_path, "a.js") == (tmp_path / "a.js").resolve()
    assert safe_path(tmp_path, "../a.js") is None
    assert safe_path(tmp_path, ".secret") is None
    assert safe_path(tmp_path, "") is None


def test_vendor_serves_chart_js_and_a_jssip_bundle_only(desk):
    client = desk.logout()
    assert client.get("/vendor/chart.js/dist/chart.umd.js").status_code == 200
    bundle = client.get("/vendor/jssip.js")
    assert bundle.status_code == 200
    assert 'window["JsSIP"] = load(0);' in bundle.text and "jssip/lib/UA.js" in bundle.text
    assert client.get("/vendor/debug/package.json").status_code == 404
    assert client.get("/vendor/jssip/../../agent_desk/deps.py").status_code == 404


def test_commonjs_bundle_resolves_relative_and_package_requires(tmp_path):
    pkg = tmp_path / "demo"
    (pkg / "lib").mkdir(parents=True)
    (pkg / "package.json").write_text(json.dumps({"main": "lib/index.js"}))
    (pkg / "lib" / "index.js").write_text("module.exports = require('./part') + require('dep');")
    (pkg / "lib" / "part.js").write_text("module.exports = 1;")
    dep = tmp_path / "dep"
    dep.mkdir()
    (dep / "package.json").write_text(json.dumps({"main": "./main", "browser": "./browser.js"}))
    (dep / "browser.js").write_text("module.exports = 2;")
    bundle = commonjs_bundle(tmp_path, "demo", "Demo")
    assert "demo/lib/part.js" in bundle and "dep/browser.js" in bundle
    (pkg / "lib" / "part.js").write_text("module.exports = require('missing');")
    with pytest.raises(BundleError, match="missing"):
        commonjs_bundle(tmp_path, "demo", "Demo")


def keys_used() -> set[str]:
    used: set[str] = set()
    for name in DESK_FILES:
        text = (STATIC_DIR / name).read_text(encoding="utf-8")
        used |= set(re.findall(r'data-i18n(?:-title|-placeholder)?="([^"]+)"', text))
        used |= set(re.findall(r"\bt\('([a-z_]+\.[a-z_.]+)'", text))
    return used


def test_every_text_the_desk_uses_is_translated_in_both_languages():
    merged: dict[str, dict[str, str]] = {}
    for lang in ("zh-CN", "en"):
        merged[lang] = {}
        for ns in ("common", "desk"):
            merged[lang].update(json.loads((I18N / f"{ns}.{lang}.json").read_text(encoding="utf-8")))
    assert set(merged["zh-CN"]) == set(merged["en"])
    missing = keys_used() - set(merged["en"])
    assert not missing, f"untranslated keys: {sorted(missing)}"


def test_pages_never_put_data_into_inner_html():
    for name in ("desk.js", "login.js", "ws.js", "dom.js", "softphone.js", "i18n.js", "api.js"):
        text = (STATIC_DIR / name).read_text(encoding="utf-8")
        assert "innerHTML" not in text and "insertAdjacentHTML" not in text, name
        assert not Path(STATIC_DIR / name).read_text(encoding="utf-8").count("document.write("), name
