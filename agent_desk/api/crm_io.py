"""Import and export routes: upload customers (Excel/CSV/TXT), download customers, tickets and orders.

A download takes the list page's search: every query parameter but ``format``, ``lang``, ``per_customer``
and the list's paging/sorting is one of the list's filters (``status=pool``, ``owner_id=4``,
``due_at__lte=…``), and ``q`` its search text, so the file holds the rows the list shows, all pages.
"""

from typing import Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from agent_desk.api.crm_crud import crm_router
from agent_desk.deps import current_user, get_session
from crm_core.errors import InvalidInput
from crm_core.exporter import Search, export_customers, export_orders, export_tickets
from crm_core.importer import ImportReport, error_report, import_customers
from crm_core.models import User
from crm_core.tabular import FORMATS
from crm_core.xlsx_reader import ReadLimits

MEDIA = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "txt": "text/plain; charset=utf-8",
}

io_routes = crm_router("", "import and export")


def _download(data: bytes, name: str, fmt: str) -> Response:
    return Response(
        data, media_type=MEDIA[fmt], headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'}
    )


NOT_FILTERS = frozenset({"format", "lang", "per_customer", "page", "size", "sort", "q"})


def _search(request: Request) -> Search:
    """The list's filters and search text, as the list page sent them to its list route."""
    params = request.query_params
    filters = {k: v for k, v in params.items() if k not in NOT_FILTERS}
    return Search(filters, params.get("q", "")[:100], str(request.app.state.settings.timezone))


def _format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise InvalidInput(f"格式须为 format must be one of {', '.join(FORMATS)}", "format")
    return fmt


def import_limits(settings: Any) -> ReadLimits:
    return ReadLimits(
        max_bytes=settings.import_max_unzipped_mb * 1024 * 1024,
        max_rows=settings.import_max_rows,
        max_cells=settings.import_max_cells,
    )


async def _check_and_import(
    request: Request, file: UploadFile, user: User, session: Session, valid_only: bool, dry_run: bool = False
) -> ImportReport:
    """Read the upload (refusing one over the size limit) and import it off the event loop."""
    settings = request.app.state.settings
    limit = settings.upload_max_mb * 1024 * 1024
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise InvalidInput(f"文件超过 {settings.upload_max_mb} MB file too large", "file")
    return await run_in_threadpool(
        lambda: import_customers(
            session,
            data,
            file.filename or "",
            user=user,
            valid_only=valid_only,
            dry_run=dry_run,
            region=settings.default_region,
            area_code=settings.default_area_code,
            limits=import_limits(settings),
        )
    )


PLAN_ROWS = 500  # rows of the plan sent back (the counts cover every row)


@io_routes.post(
    "/import/customers",
    summary="Import customers: create new ones, update matches (by id, else phone); all-or-nothing unless "
    "valid_only; dry_run plans without writing",
)
async def upload(
    request: Request,
    file: UploadFile = File(...),
    valid_only: bool = Form(False),
    dry_run: bool = Form(False),
    user: User = Depends(current_user),
    session: Session = Depends(get_session),
) -> dict[str, Any]:
    report = await _check_and_import(request, file, user, session, valid_only, dry_run)
    if report.imported and not dry_run:
        session.commit()
    else:
        session.rollback()
    return {
        "total": report.total,
        "imported": report.imported,
        "created": report.created,
        "updated": report.updated,
        "skipped": report.skipped,
        "errors": [{"row": e.row, "column": e.column, "message": e.message} for e in report.errors],
        "plan": [
            {"row": p.row, "action": p.action, "customer_id": p.customer_id, "name": p.name, "changes": p.changes}
            for p in report.plan[:PLAN_ROWS]
        ],
        "dry_run": dry_run,
        "mode": "valid_only" if valid_only else "all_or_nothing",
    }


@io_routes.post("/import/customers/errors", summary="Check a file and download its error report (CSV)")
async def upload_errors(
    request: Request,
    file: UploadFile = File(...),
    user: User = Depends(current_user),
    session: Session = Depends(get_session),
) -> Response:
    report = await _check_and_import(request, file, user, session, valid_only=False)
    session.rollback()  # a check only: nothing is kept
    return _download(error_report(report), "import-errors", "csv")


@io_routes.get("/export/customers", summary="Download customers (xlsx, csv, txt)")
def download_customers(
    request: Request,
    fmt: str = Query("xlsx", alias="format"),
    lang: str = Query("", max_length=5, description="zh-CN or en (default: CC_LANGUAGE)"),
    user: User = Depends(current_user),
    session: Session = Depends(get_session),
) -> Response:
    language = _language(request, lang)
    data = export_customers(session, user, _format(fmt), language, _search(request))
    return _download(data, "customers", fmt)


@io_routes.get("/export/tickets", summary="Download the tickets of the list's search (xlsx, csv, txt)")
def download_tickets(
    request: Request,
    fmt: str = Query("xlsx", alias="format"),
    lang: str = Query("", max_length=5, description="zh-CN or en (default: CC_LANGUAGE)"),
    user: User = Depends(current_user),
    session: Session = Depends(get_session),
) -> Response:
    language = _language(request, lang)
    return _download(export_tickets(session, user, _format(fmt), language, _search(request)), "tickets", fmt)


@io_routes.get("/export/orders", summary="Download order lines; per_customer: one Excel sheet per customer")
def download_orders(
    request: Request,
    fmt: str = Query("xlsx", alias="format"),
    per_customer: bool = False,
    lang: str = Query("", max_length=5, description="zh-CN or en (default: CC_LANGUAGE)"),
    user: User = Depends(current_user),
    session: Session = Depends(get_session),
) -> Response:
    language = _language(request, lang)
    data = export_orders(session, user, _format(fmt), per_customer, language, _search(request))
    return _download(data, "orders", fmt)


def _language(request: Request, asked: str) -> str:
    """The language a file is written in: the page's choice, else the server's default."""
    return asked if asked in ("zh-CN", "en") else str(request.app.state.settings.language)


router = APIRouter()
router.include_router(io_routes)
