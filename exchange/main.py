"""The exchange application factory."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from exchange.api import errors
from exchange.api.main import api_router
from exchange.api.routes import health
from exchange.core.clock import Clock, system_clock
from exchange.core.config import Settings
from exchange.core.db import create_db_engine, session_factory
from exchange.core.problems import PROBLEM_MEDIA_TYPE
from exchange.core.signing import REQUIRED_HEADERS

DESCRIPTION = """
Reference implementation of a government data-sharing exchange (政务数据共享交换平台).

Every `/v1` request must be signed. Headers: `X-Client-Id`, `X-Request-Id` (unique per
request), `X-Timestamp` (RFC 3339 UTC with microseconds, within 5 minutes of the
exchange clock), `X-Purpose` (why the data is needed) and `X-Signature` =
hex HMAC-SHA256(secret, METHOD + "\\n" + PATH?QUERY + "\\n" + X-Timestamp + "\\n" +
hex SHA256(body)). Writes accept `Idempotency-Key`. Errors are RFC 9457
`application/problem+json`. See exchange/README.md.
"""


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """Build the app; the engine is created here, never at import time.

    Tables are not created here: `python -m exchange serve`/`seed` do that (init_db).
    """
    app = FastAPI(title="Data-sharing exchange", version="1.0.0", description=DESCRIPTION)
    errors.install(app)
    app.include_router(health.router)
    app.include_router(api_router)
    app.openapi = lambda: _openapi(app)
    attach(app, settings or Settings(), clock=clock)
    return app


def attach(app: FastAPI, settings: Settings, *, clock: Clock | None = None) -> None:
    """Bind an app to its settings, database and clock; everything per-request reads these.

    Separate from create_app so tests can rebind one app (building FastAPI's routes is
    the slow part) to a fresh database per test.
    """
    engine = create_db_engine(settings)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = session_factory(engine)
    app.state.clock = clock or system_clock


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema, corrected in two places FastAPI cannot express.

    The five signature headers are required together (one security requirement, not
    five alternatives), and error bodies are application/problem+json.
    """
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    for path_item in schema["paths"].values():
        for operation in path_item.values():
            if operation.get("security"):
                operation["security"] = [{name: [] for name in REQUIRED_HEADERS}]
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status[0] in "45" and "application/json" in content:
                    response["content"] = {PROBLEM_MEDIA_TYPE: content["application/json"]}
    app.openapi_schema = schema
    return schema
