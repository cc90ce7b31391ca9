"""The FastAPI application: routers, static pages and the runtime's lifespan.

Routers are found, not listed: every module in ``agent_desk.api`` that defines ``router``
(an ``APIRouter``) is included, so a new resource needs no edit here.
"""

from __future__ import annotations

import gc
import importlib
import pkgutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI

from agent_desk import api
from agent_desk.http_headers import SecurityHeaders
from config import Settings, get_settings


def _routers() -> list[APIRouter]:
    found: list[APIRouter] = []
    for info in sorted(pkgutil.iter_modules(api.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{api.__name__}.{info.name}")
        router = getattr(module, "router", None)
        if isinstance(router, APIRouter):
            found.append(router)
    return found


GC_THRESHOLDS = (50_000, 20, 100)  # the collector's thresholds while the app runs (see the lifespan)


def create_app(settings: Settings | None = None, runtime: Any = None) -> FastAPI:
    """Build the app. ``runtime`` (an ``agent_desk.runtime.Runtime``) is started and stopped with it."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if runtime is not None:
            await runtime.start()
        # Start-up objects live for the whole process: keep them out of the collector's full passes,
        # which otherwise stall the event loop (and every screen-pop) for hundreds of milliseconds.
        gc.freeze()
        # A call's objects live for seconds: with the default thresholds (700, 10, 10) they reach the
        # oldest generation, and a full pass over the sockets' million objects follows every few seconds
        # at 100 calls/s (600 ms each, bench/capacity.py). Collected later, most die young instead.
        gc.set_threshold(*GC_THRESHOLDS)
        try:
            yield
        finally:
            if runtime is not None:
                await runtime.stop()

    app = FastAPI(title="Call Center CTI + CRM", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.runtime = runtime
    for router in _routers():
        app.include_router(router)
    app.add_middleware(SecurityHeaders, sip_wss_url=settings.sip_wss_url)
    return app
