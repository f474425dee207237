"""Exception handlers: every error leaves as application/problem+json.

Errors FastAPI raises before a route's own dependencies ran (malformed JSON, an
unknown path, a wrong method) still require a valid signature first, so an
unsigned caller learns nothing but "401".
"""

from __future__ import annotations

import logging
import traceback
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from exchange.api.deps import verify_request
from exchange.core.problems import Problem, problem_response

logger = logging.getLogger("exchange.errors")

PUBLIC_PATHS = frozenset({"/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})


async def _unauthenticated(request: Request) -> Problem | None:
    """The auth problem of a request no route dependency has verified yet, if any."""
    if getattr(request.state, "caller", None) is not None or request.url.path in PUBLIC_PATHS:
        return None
    app = request.app
    try:
        body = await request.body()
    except RuntimeError:  # body stream already consumed by a route that failed early
        body = getattr(request, "_body", b"")

    def check() -> None:
        with app.state.sessions() as session:
            verify_request(
                request, body, settings=app.state.settings, session=session,
                now=app.state.clock(), accepted=None,
            )  # fmt: skip

    try:
        await run_in_threadpool(check)
    except Problem as problem:
        return problem
    except OperationalError:
        return _database_problem()
    return None


def _field(location: tuple) -> str:
    # ("body", "id_number") -> "id_number"; ("query", "months") -> "months"; ("body",) -> "body"
    parts = [str(part) for part in location[1:]] or [str(part) for part in location]
    return ".".join(parts)


async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    if problem := await _unauthenticated(request):
        return problem.response()
    errors = [
        {"field": _field(tuple(error.get("loc", ()))), "message": error.get("msg", "invalid")}
        for error in exc.errors()
    ]
    first = errors[0] if errors else {"field": "body", "message": "invalid"}
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return Problem(
        422,
        "invalid-request",
        f"{first['field']}: {first['message']}{more}",
        title="Invalid request",
        field=first["field"],
        errors=errors,
    ).response()


async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    if exc.status_code in (400, 404, 405) and (problem := await _unauthenticated(request)):
        return problem.response()
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    body = {
        "type": "about:blank",
        "title": HTTPStatus(exc.status_code).phrase,
        "status": exc.status_code,
        "detail": detail,
    }
    return problem_response(exc.status_code, body, dict(exc.headers or {}))


async def problem_error(_request: Request, exc: Problem) -> JSONResponse:
    return exc.response()


def _database_problem() -> Problem:
    return Problem(
        503, "database-unavailable", "The exchange database is not reachable; try again shortly.",
        title="Service unavailable", headers={"Retry-After": "5"},
    )  # fmt: skip


async def database_unavailable(_request: Request, exc: OperationalError) -> JSONResponse:
    # Only the exception class is logged: a statement's parameters may hold personal data.
    logger.error("database unavailable: %s", type(exc.orig).__name__)
    return _database_problem().response()


class ContainUnexpectedErrors:
    """Answer any unhandled exception with a 500 problem, and log it without its message.

    Starlette's own last-resort handler re-raises, and the server then logs the full
    exception text, which for a database error includes the statement's parameters
    (names, ID numbers). Here only the exception type and the code location are logged.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:  # noqa: BLE001 - last resort by design; logged below
            frames = "".join(traceback.format_tb(exc.__traceback__))
            logger.error("unexpected %s while answering a request:\n%s", type(exc).__name__, frames)
            if started:  # too late for another response; the server closes the connection
                return
            response = Problem(
                500, "internal-error",
                "The exchange could not answer this request. It has been logged.",
                title="Internal error",
            ).response()  # fmt: skip
            await response(scope, receive, send)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Problem, problem_error)
    app.add_exception_handler(OperationalError, database_unavailable)
    app.add_middleware(ContainUnexpectedErrors)
