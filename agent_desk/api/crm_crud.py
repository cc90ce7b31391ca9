"""One router factory for every CRM resource: list (pagination, filters, sorting, search), get,
create, update, delete; each route checks permission and data scope and writes the audit log.

List filters are the query parameters that are not ``page``/``size``/``q``/``sort``:
``field=value``, ``field__gte=``, ``field__lte=``, ``field__in=a,b``, ``custom.key=value``.

(No ``from __future__ import annotations`` here: FastAPI must see the generated schema classes.)
"""

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, create_model
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from agent_desk.deps import client_ip, current_user, get_session
from crm_core.errors import CrmError, InvalidInput
from crm_core.models import User
from crm_core.schemas import input_schema, output_schema
from crm_core.services import records
from crm_core.services.records import Resource

LIST_PARAMS = frozenset({"page", "size", "q", "sort"})
OWNER_FIELDS = frozenset({"created_by", "author_id", "approved_by", "uploaded_by"})


def error_response(exc: CrmError) -> JSONResponse:
    """A service error as JSON; input errors use FastAPI's 422 shape so clients parse one format."""
    if isinstance(exc, InvalidInput):
        detail: Any = [{"loc": ["body", *exc.field.split(".")], "msg": str(exc), "type": "value_error"}]
    else:
        detail = str(exc)
    return JSONResponse({"detail": detail}, status_code=exc.status)


class CrmRoute(APIRoute):
    """Maps the services' typed errors to HTTP statuses, once for every CRM route."""

    def get_route_handler(self) -> Callable[..., Any]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except CrmError as exc:
                return error_response(exc)
            except IntegrityError:
                return JSONResponse(
                    {"detail": "与其他记录冲突或仍被引用 conflicts with or is still used by other records"},
                    status_code=409,
                )

        return guarded


def crm_router(prefix: str, tag: str) -> APIRouter:
    return APIRouter(prefix=f"/api/crm{prefix}", tags=[tag], route_class=CrmRoute)


def page_schema(out: type[BaseModel]) -> type[BaseModel]:
    return create_model(
        f"{out.__name__}Page",
        items=(list[out], ...),  # type: ignore[valid-type]
        total=(int, ...),
        page=(int, ...),
        size=(int, ...),
    )


def to_page(page: records.Page, out: type[BaseModel]) -> dict[str, Any]:
    return {
        "items": [out.model_validate(row) for row in page.items],
        "total": page.total,
        "page": page.page,
        "size": page.size,
    }


def crud_router(
    resource: Resource,
    path: str,
    tag: str,
    *,
    exclude: frozenset[str] = frozenset(),
    actions: tuple[str, ...] = ("list", "get", "create", "update", "delete"),
    out: type[BaseModel] | None = None,
) -> APIRouter:
    """Routes for ``resource`` under ``/api/crm{path}``; ``exclude`` are fields clients never send."""
    router = crm_router(path, tag)
    model = resource.model
    out_schema = out or output_schema(model, hidden=resource.hidden)
    page_out = page_schema(out_schema)
    hidden_input = exclude | OWNER_FIELDS | resource.hidden
    create_in = input_schema(model, exclude=hidden_input)
    update_in = input_schema(model, exclude=hidden_input, partial=True)

    if "list" in actions:

        @router.get("", response_model=page_out, summary=f"List {model.__name__}")
        def list_items(
            request: Request,
            page: int = Query(1, ge=1, le=1_000_000),
            size: int = Query(50, ge=1, le=records.MAX_PAGE_SIZE),
            q: str = Query("", max_length=100, description="Search text"),
            sort: str = Query("", max_length=100, description="Fields, '-' for descending: -created_at,name"),
            user: User = Depends(current_user),
            session: Session = Depends(get_session),
        ) -> Any:
            filters = {k: v for k, v in request.query_params.items() if k not in LIST_PARAMS}
            found = records.list_rows(session, user, resource, filters=filters, q=q, sort=sort, page=page, size=size)
            return to_page(found, out_schema)

    if "get" in actions:

        @router.get("/{item_id}", response_model=out_schema, summary=f"Get {model.__name__}")
        def get_item(item_id: int, user: User = Depends(current_user), session: Session = Depends(get_session)) -> Any:
            return out_schema.model_validate(records.get_row(session, user, resource, item_id))

    if "create" in actions:

        @router.post("", response_model=out_schema, status_code=201, summary=f"Create {model.__name__}")
        def create_item(
            payload: create_in,  # type: ignore[valid-type]
            request: Request,
            user: User = Depends(current_user),
            session: Session = Depends(get_session),
        ) -> Any:
            data = payload.model_dump(exclude_unset=True)  # type: ignore[attr-defined]
            row = records.create_row(session, user, resource, data, client_ip(request))
            session.commit()
            return out_schema.model_validate(row)

    if "update" in actions:

        @router.patch("/{item_id}", response_model=out_schema, summary=f"Update {model.__name__}")
        def update_item(
            item_id: int,
            payload: update_in,  # type: ignore[valid-type]
            request: Request,
            user: User = Depends(current_user),
            session: Session = Depends(get_session),
        ) -> Any:
            data = payload.model_dump(exclude_unset=True)  # type: ignore[attr-defined]
            row = records.update_row(session, user, resource, item_id, data, client_ip(request))
            session.commit()
            return out_schema.model_validate(row)

    if "delete" in actions:

        @router.delete("/{item_id}", status_code=204, summary=f"Delete {model.__name__}")
        def delete_item(
            item_id: int,
            request: Request,
            user: User = Depends(current_user),
            session: Session = Depends(get_session),
        ) -> Response:
            records.delete_row(session, user, resource, item_id, client_ip(request))
            session.commit()
            return Response(status_code=204)

    return router
