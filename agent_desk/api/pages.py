"""The pages: ``/``, the logged-in pages of ``LOGGED_IN_PAGES``, ``/login``, ``/static/*`` and ``/vendor/*``.

Pages are plain HTML and ES modules; they hold no data. Everything they show comes from the JSON API
and the websocket, which check the session themselves; ``/desk`` also sends a visitor without a session
to the login page before any script runs. A page whose data its visitor may not read (the wallboard for
an agent) is answered with the not-allowed page instead (403).

Each page is served with two ``<meta>`` tags in its head, the display settings every script reads
(inline scripts are forbidden by the Content-Security-Policy): ``cc-language`` (``CC_LANGUAGE``, the
language a page opens in until the user picks another) and ``cc-timezone`` (``CC_TIMEZONE``, the business
time zone every time is shown in).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from html import escape
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from agent_desk.deps import authenticate_request, get_session
from agent_desk.pages import NODE_MODULES, STATIC_DIR, BundleError, safe_path, vendor_bundle, vendor_path

router = APIRouter(include_in_schema=False)

# Pages change with a release, not per user: let browsers revalidate instead of caching blindly.
NO_CACHE = {"Cache-Control": "no-cache"}


_HEAD = re.compile(r"<head[^>]*>", re.IGNORECASE)
_HTML_LANG = re.compile(r'(<html[^>]*\blang=")[^"]*(")', re.IGNORECASE)


def with_display_settings(html: str, language: str, timezone: str) -> str:
    """The page with the server's default language and business time zone in its head."""
    tags = (
        f'\n  <meta name="cc-language" content="{escape(language)}">'
        f'\n  <meta name="cc-timezone" content="{escape(timezone)}">'
    )
    head = _HEAD.search(html)
    if head is None:
        return html
    html = html[: head.end()] + tags + html[head.end() :]
    return _HTML_LANG.sub(lambda m: f"{m.group(1)}{escape(language)}{m.group(2)}", html, count=1)


def _page(request: Request, name: str, status_code: int = 200) -> Response:
    settings = request.app.state.settings
    html = (STATIC_DIR / name).read_text(encoding="utf-8")
    return Response(
        with_display_settings(html, settings.language, settings.timezone),
        status_code=status_code,
        media_type="text/html; charset=utf-8",
        headers=NO_CACHE,
    )


def _login_redirect(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/login?next={quote(request.url.path, safe='/')}", status_code=303)


@router.get("/")
def home(request: Request, session: Session = Depends(get_session)) -> Response:
    if authenticate_request(request, session) is None:
        return _login_redirect(request)
    return RedirectResponse("/desk", status_code=303)


@router.get("/login")
def login_page(request: Request) -> Response:
    return _page(request, "login.html")


# Pages behind a login: address -> file in static/. A visitor without a session goes to the login page
# before any script runs; what each page may show is checked again by the API it calls.
LOGGED_IN_PAGES = {
    "/desk": "desk.html",
    "/wallboard": "wallboard.html",
    "/reports": "reports.html",
    "/recordings": "recordings.html",
    "/crm": "crm.html",
    "/voicemail": "voicemail.html",
    "/admin/ivr": "ivr-admin.html",
    "/admin/calendar": "calendar.html",
    "/admin/outbound": "outbound.html",
    "/admin": "admin.html",
    "/sales": "sales.html",
    "/sales/print": "sales-print.html",
    "/purchasing": "purchasing.html",
    "/manager": "manager.html",
}


# Pages whose data needs a permission (the one their API asks for): (resource, action).
PAGE_PERMISSIONS = {
    "/manager": ("report", "read"),
    "/wallboard": ("report", "read"),
    "/reports": ("report", "read"),
}
NOT_ALLOWED_PAGE = "not-allowed.html"


def _logged_in_page(address: str, name: str) -> Callable[..., Response]:
    needed = PAGE_PERMISSIONS.get(address)

    def page(request: Request, session: Session = Depends(get_session)) -> Response:
        login = authenticate_request(request, session)
        if login is None:
            return _login_redirect(request)
        if needed is not None and not login.user.has_permission(*needed):
            return _page(request, NOT_ALLOWED_PAGE, status_code=403)
        return _page(request, name)

    page.__name__ = f"page_{name.split('.')[0].replace('-', '_')}"
    return page


for _address, _name in LOGGED_IN_PAGES.items():
    router.add_api_route(_address, _logged_in_page(_address, _name), methods=["GET"])


@router.get("/favicon.ico")
def favicon() -> Response:
    return Response(status_code=204)


@router.get("/static/{path:path}")
def static_file(path: str) -> FileResponse:
    found = safe_path(STATIC_DIR, path)
    if found is None:
        raise HTTPException(404, "Not found")
    return FileResponse(found, headers=NO_CACHE)


@router.get("/vendor/{path:path}")
def vendor_file(path: str) -> Response:
    """Browser libraries installed by npm (``make``): a file of an allowed package, or a bundle."""
    try:
        bundle = vendor_bundle(NODE_MODULES, path)
    except BundleError as exc:
        raise HTTPException(503, str(exc)) from exc
    if bundle is not None:
        return Response(bundle, media_type="text/javascript; charset=utf-8", headers=NO_CACHE)
    found = vendor_path(NODE_MODULES, path)
    if found is None:
        raise HTTPException(404, "Not found")
    return FileResponse(found, headers=NO_CACHE)
