"""Dependencies: settings, clock, session, and the verified caller of each route.

A route declares the purposes it serves with ``read_call(...)`` or
``write_call(...)``; the dependency verifies the signature (and purpose) and
hands the route a ``Call`` that runs its service function in one audited
transaction.
"""

# No `from __future__ import annotations` here: FastAPI reads the annotations of the
# dependency closures below at runtime, and their names are local to the factories.
import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Header, Path, Request
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from exchange.core import signing
from exchange.core.clock import Clock
from exchange.core.codes import Purpose
from exchange.core.config import Settings
from exchange.core.problems import PROBLEM_MEDIA_TYPE
from exchange.core.security import Caller, authenticate, forget_old_requests
from exchange.schemas import PERSON_REF_PATTERN
from exchange.services import audit, idempotency


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_clock(request: Request) -> Clock:
    return request.app.state.clock


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
ClockDep = Annotated[Clock, Depends(get_clock)]
SessionDep = Annotated[Session, Depends(get_session)]
PersonRefPath = Annotated[str, Path(pattern=PERSON_REF_PATTERN, description="From identity/verify")]

# Router-level dependencies that only make OpenAPI document the five signature headers
# as security schemes; the values are read and checked together in `verify_request`.
SIGNATURE_HEADER_DOCS = [
    Depends(APIKeyHeader(name=name, auto_error=False, scheme_name=name))
    for name in signing.REQUIRED_HEADERS
]


def request_target(request: Request) -> str:
    """Path and query exactly as they came on the request line (what the client signed)."""
    raw_path = request.scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else quote(request.scope["path"])
    query = request.scope.get("query_string", b"").decode("latin-1")
    return f"{path}?{query}" if query else path


def verify_request(
    request: Request, body: bytes, *, settings: Settings, session: Session, now: dt.datetime,
    accepted: frozenset[str] | None,
) -> Caller:  # fmt: skip
    caller = authenticate(
        headers=request.headers,
        method=request.method,
        target=request_target(request),
        body=body,
        settings=settings,
        session=session,
        now=now,
        accepted=accepted,
    )
    request.state.caller = caller
    return caller


def require_caller(*purposes: Purpose) -> Callable[..., Any]:
    """A dependency that verifies the request and accepts these purposes (none = any)."""
    accepted = frozenset(p.value for p in (purposes or tuple(Purpose)))

    async def verified_caller(
        request: Request, settings: SettingsDep, session: SessionDep, clock: ClockDep
    ) -> Caller:
        body = await request.body()
        return await run_in_threadpool(
            verify_request, request, body, settings=settings, session=session, now=clock(),
            accepted=accepted,
        )  # fmt: skip

    return verified_caller


# A verified caller with any purpose (routes normally use read_call/write_call instead).
CallerDep = Annotated[Caller, Depends(require_caller())]


@dataclass
class Call:
    """One verified request: runs a service function in a single audited transaction."""

    session: Session
    caller: Caller
    settings: Settings
    now: dt.datetime
    idempotency_key: str | None = None
    fingerprint: str = ""

    def _begin(self) -> None:
        # First statement of the transaction: lock the audit chain. Every transaction
        # locks it first, so writes serialise without deadlocks.
        audit.lock_chain(self.session)
        forget_old_requests(self.session, now=self.now, settings=self.settings)

    def read(self, operation: Callable[..., Any], /, **arguments: Any) -> Any:
        try:
            self._begin()
            result = operation(session=self.session, caller=self.caller, now=self.now, **arguments)
            self.session.commit()
            return result
        except BaseException:
            self.session.rollback()
            raise

    def write(
        self, operation: Callable[..., idempotency.Outcome], /, **arguments: Any
    ) -> JSONResponse:
        def perform() -> idempotency.Outcome:
            return operation(session=self.session, caller=self.caller, now=self.now, **arguments)

        try:
            self._begin()
        except BaseException:
            self.session.rollback()
            raise
        outcome = idempotency.execute(
            session=self.session,
            client_id=self.caller.client_id,
            key=self.idempotency_key,
            request_fingerprint=self.fingerprint,
            now=self.now,
            perform=perform,
        )
        media_type = PROBLEM_MEDIA_TYPE if outcome.status_code >= 400 else "application/json"
        return JSONResponse(
            outcome.body, status_code=outcome.status_code, headers=outcome.headers,
            media_type=media_type,
        )  # fmt: skip


IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=128,
        pattern=r"^[\x21-\x7e]+$",
        description="Same key and body: the first result again. Same key, other body: 409.",
    ),
]


def read_call(*purposes: Purpose) -> Any:
    """``Annotated[Call, ...]`` for a read serving these purposes (none = any purpose)."""
    verified = require_caller(*purposes)

    def dependency(
        session: SessionDep,
        settings: SettingsDep,
        clock: ClockDep,
        caller: Annotated[Caller, Depends(verified)],
    ) -> Call:
        return Call(session, caller, settings, clock())

    return Annotated[Call, Depends(dependency)]


def write_call(*purposes: Purpose) -> Any:
    """``Annotated[Call, ...]`` for a write; also takes the Idempotency-Key header."""
    verified = require_caller(*purposes)

    async def dependency(
        request: Request,
        session: SessionDep,
        settings: SettingsDep,
        clock: ClockDep,
        caller: Annotated[Caller, Depends(verified)],
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Call:
        fingerprint = idempotency.fingerprint(
            request.method, request.url.path, await request.body()
        )
        return Call(session, caller, settings, clock(), idempotency_key, fingerprint)

    return Annotated[Call, Depends(dependency)]
