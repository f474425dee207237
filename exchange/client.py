"""The one client for the exchange: signing, timeouts, retries, idempotency, typed errors.

``AsyncExchangeClient`` is the main one (rasa-sdk actions are async);
``ExchangeClient`` is the same API, blocking. Both share every rule below: the
resource methods describe a call, ``_attempts`` decides retries, and only the
two tiny drivers differ (await vs. block).

Retries: connection errors always (the request never reached the exchange);
timeouts and 502/503/504 only for idempotent calls - GETs, and writes that carry
an Idempotency-Key, which is sent unchanged on every attempt. Each attempt is
signed afresh (new X-Request-Id and timestamp), as the exchange refuses replays.

    async with AsyncExchangeClient(url, "assistant", secret) as exchange:
        ref = await exchange.verify_identity(name, id_number, phone_last4)
        key = idempotency_key("transfer", conversation_id, ref)
        application = await exchange.create_transfer(ref, ..., idempotency_key=key)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import httpx

from exchange.core import signing
from exchange.core.codes import Purpose

RETRY_STATUSES = frozenset({502, 503, 504})


class ExchangeError(Exception):
    """Any failure talking to the exchange."""

    def __init__(self, message: str, *, status: int | None = None, problem: dict | None = None):
        super().__init__(message)
        self.status = status
        self.problem = problem or {}

    @property
    def detail(self) -> str | None:
        return self.problem.get("detail")

    @property
    def field(self) -> str | None:
        return self.problem.get("field")


class ExchangeUnavailable(ExchangeError):
    """Could not connect, timed out, or the exchange failed (5xx) - try again later."""


class NotFound(ExchangeError):
    """404: no such person, application or hall."""


class Rejected(ExchangeError):
    """400/401/403/409/422 (and other 4xx): the exchange refused the request as sent."""

    @property
    def errors(self) -> list[dict]:
        return self.problem.get("errors") or []


class Locked(ExchangeError):
    """423: identity verification is locked; ``retry_after`` seconds until it opens."""

    def __init__(self, message: str, *, retry_after: int, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


def idempotency_key(*parts: object) -> str:
    """A stable key for "this write": the same parts give the same key in every process."""
    joined = "\x1f".join(str(part) for part in parts)
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()[:40]


class SigningAuth(httpx.Auth):
    """Adds the five signature headers; runs again for every attempt."""

    requires_request_body = True

    def __init__(
        self, client_id: str, secret: str, clock: Callable[[], dt.datetime] | None = None
    ) -> None:
        self.client_id = client_id
        self._secret = secret
        self._clock = clock or (lambda: dt.datetime.now(dt.timezone.utc))

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.update(
            signing.signed_headers(
                client_id=self.client_id,
                secret=self._secret,
                purpose=request.headers.get(signing.HEADER_PURPOSE, ""),
                method=request.method,
                target=request.url.raw_path.decode("ascii"),
                body=request.content,
                timestamp=signing.format_timestamp(self._clock()),
            )
        )
        yield request


@dataclass(frozen=True)
class _Call:
    method: str
    path: str
    purpose: str
    params: dict[str, Any] | None = None
    body: dict[str, Any] | None = None
    idempotency_key: str | None = None
    unwrap: Callable[[Any], Any] = field(default=lambda data: data)

    @property
    def idempotent(self) -> bool:
        return self.method == "GET" or self.idempotency_key is not None


def _problem(response: httpx.Response) -> dict:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _error(response: httpx.Response) -> ExchangeError:
    problem = _problem(response)
    status = response.status_code
    message = (
        f"{status} {problem.get('title') or response.reason_phrase}: {problem.get('detail', '')}"
    )
    if status == 404:
        return NotFound(message, status=status, problem=problem)
    if status == 423:
        header = response.headers.get("Retry-After", "")
        retry_after = int(header) if header.isdigit() else int(problem.get("retry_after") or 0)
        return Locked(message, retry_after=retry_after, status=status, problem=problem)
    if status >= 500:
        return ExchangeUnavailable(message, status=status, problem=problem)
    return Rejected(message, status=status, problem=problem)


class _Api:
    """Resource methods shared by both clients; ``_run`` is sync or async."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        secret: str,
        timeout: float = 3.0,
        retries: int = 2,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
        *,
        backoff: float = 0.2,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.retries = retries
        self.backoff = backoff
        self._options = {
            "base_url": base_url,
            "timeout": httpx.Timeout(timeout),
            "auth": SigningAuth(client_id, secret, clock),
            "transport": transport,
            "headers": {"Accept": "application/json"},
        }

    def _run(self, call: _Call) -> Any:
        raise NotImplementedError

    # How one call goes: yields requests to send or seconds to wait; gets responses or
    # transport errors back; returns the result or raises the typed error.
    def _attempts(self, call: _Call, build: Callable[..., httpx.Request]) -> Generator:
        content = b"" if call.body is None else json.dumps(call.body, ensure_ascii=False).encode()
        headers = {signing.HEADER_PURPOSE: call.purpose}
        if call.body is not None:
            headers["Content-Type"] = "application/json"
        if call.idempotency_key:
            headers["Idempotency-Key"] = call.idempotency_key
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            request = build(
                call.method, call.path, params=call.params, content=content, headers=headers
            )
            outcome = yield request
            if isinstance(outcome, httpx.TransportError):
                # A failed connect never reached the exchange, so even a keyless write may
                # be sent again; after that, only idempotent calls are.
                never_sent = isinstance(outcome, httpx.ConnectError | httpx.ConnectTimeout)
                retryable = never_sent or call.idempotent
                if last or not retryable:
                    kind = type(outcome).__name__
                    raise ExchangeUnavailable(
                        f"exchange unreachable ({kind}) on {call.method} {call.path}"
                    )
            elif outcome.status_code in RETRY_STATUSES and call.idempotent and not last:
                pass
            elif outcome.status_code >= 400:
                raise _error(outcome)
            else:
                try:
                    return call.unwrap(outcome.json())
                except ValueError:
                    raise ExchangeUnavailable(
                        f"exchange sent a malformed answer to {call.method} {call.path}",
                        status=outcome.status_code,
                    ) from None
            yield self.backoff * 2**attempt
        raise AssertionError("unreachable")  # pragma: no cover

    # Identity

    def verify_identity(
        self, name: str, id_number: str, phone_last4: str, *,
        purpose: str = Purpose.IDENTITY_VERIFICATION, idempotency_key: str | None = None,
    ) -> Any:  # fmt: skip
        """The person_ref (str) for a matching name, ID number and phone digits."""
        body = {"name": name, "id_number": id_number, "phone_last4": phone_last4}
        return self._run(
            _Call("POST", "/v1/identity/verify", _value(purpose), body=body,
                  idempotency_key=idempotency_key, unwrap=lambda data: data["person_ref"])
        )  # fmt: skip

    # Reads about a person

    def social_insurance(
        self, person_ref: str, *, purpose: str = Purpose.SOCIAL_INSURANCE_TRANSFER
    ) -> Any:
        return self._get(f"/v1/persons/{person_ref}/social-insurance", purpose)

    def pension_certification(
        self, person_ref: str, *, purpose: str = Purpose.PENSION_CERTIFICATION
    ) -> Any:
        return self._get(f"/v1/persons/{person_ref}/pension-certification", purpose)

    def pension_payments(
        self, person_ref: str, months: int = 3, *, purpose: str = Purpose.PENSION_PAYMENT_QUERY
    ) -> Any:
        return self._get(
            f"/v1/persons/{person_ref}/pension-payments", purpose, params={"months": months}
        )

    def id_card(self, person_ref: str, *, purpose: str = Purpose.ID_CARD_RENEWAL) -> Any:
        return self._get(f"/v1/persons/{person_ref}/id-card", purpose)

    def social_security_card(
        self, person_ref: str, *, purpose: str = Purpose.SOCIAL_SECURITY_CARD
    ) -> Any:
        return self._get(f"/v1/persons/{person_ref}/social-security-card", purpose)

    def senior_card(self, person_ref: str, *, purpose: str = Purpose.SENIOR_CARD) -> Any:
        """Age, eligibility, the mailing address down to the street, an open application."""
        return self._get(f"/v1/persons/{person_ref}/senior-card", purpose)

    def applications(self, person_ref: str, *, purpose: str = Purpose.APPLICATION_STATUS) -> Any:
        """The person's applications (list of dicts), newest first."""
        return self._get(
            f"/v1/persons/{person_ref}/applications", purpose,
            unwrap=lambda data: data["applications"],
        )  # fmt: skip

    def access_log(
        self, person_ref: str, limit: int = 20, *, purpose: str = Purpose.ACCESS_LOG_REVIEW
    ) -> Any:
        """Who used the person's data (list of dicts), newest first."""
        return self._get(
            f"/v1/persons/{person_ref}/access-log", purpose, params={"limit": limit},
            unwrap=lambda data: data["entries"],
        )  # fmt: skip

    def application(self, application_no: str, *, purpose: str = Purpose.APPLICATION_STATUS) -> Any:
        return self._get(f"/v1/applications/{application_no}", purpose)

    def outlets(
        self, city: str | None = None, service: str | None = None, *,
        purpose: str = Purpose.SERVICE_HALL_LOOKUP,
    ) -> Any:  # fmt: skip
        """Service halls (list of dicts); ``city`` may be 成都 or 成都市."""
        params = {k: _value(v) for k, v in (("city", city), ("service", service)) if v}
        return self._get("/v1/outlets", purpose, params=params or None)

    # Writes: each returns the application dict (201, or the stored one on a retry).

    def create_transfer(
        self, person_ref: str, from_province: str, from_city: str, to_province: str,
        to_city: str, *, idempotency_key: str | None = None,
        purpose: str = Purpose.SOCIAL_INSURANCE_TRANSFER,
    ) -> Any:  # fmt: skip
        body = {"person_ref": person_ref, "from_province": from_province, "from_city": from_city,
                "to_province": to_province, "to_city": to_city}  # fmt: skip
        return self._post("/v1/social-insurance/transfers", purpose, body, idempotency_key)

    def certify_pension(
        self, person_ref: str, channel: str, proxy_name: str | None = None,
        proxy_relation: str | None = None, *, idempotency_key: str | None = None,
        purpose: str = Purpose.PENSION_CERTIFICATION,
    ) -> Any:  # fmt: skip
        body = {"person_ref": person_ref, "channel": channel}
        if proxy_name is not None or proxy_relation is not None:
            body.update(proxy_name=proxy_name, proxy_relation=proxy_relation)
        return self._post("/v1/pension-certifications", purpose, body, idempotency_key)

    def file_medical_insurance(
        self, person_ref: str, insured_province: str, destination_province: str,
        destination_city: str, reason: str, *, idempotency_key: str | None = None,
        purpose: str = Purpose.MEDICAL_INSURANCE_FILING,
    ) -> Any:  # fmt: skip
        body = {"person_ref": person_ref, "insured_province": insured_province,
                "destination_province": destination_province,
                "destination_city": destination_city, "reason": reason}  # fmt: skip
        return self._post("/v1/medical-insurance/filings", purpose, body, idempotency_key)

    def request_social_security_card(
        self, person_ref: str, request_type: str, *, idempotency_key: str | None = None,
        purpose: str = Purpose.SOCIAL_SECURITY_CARD,
    ) -> Any:  # fmt: skip
        body = {"person_ref": person_ref, "request_type": request_type}
        return self._post("/v1/social-security-cards/requests", purpose, body, idempotency_key)

    def apply_senior_card(
        self, person_ref: str, delivery: str, *, idempotency_key: str | None = None,
        purpose: str = Purpose.SENIOR_CARD,
    ) -> Any:  # fmt: skip
        """``delivery``: hall (picked up) or mail (to the address on record)."""
        body = {"person_ref": person_ref, "delivery": delivery}
        return self._post("/v1/senior-cards/applications", purpose, body, idempotency_key)

    def book_id_card_appointment(
        self, person_ref: str, reason: str, outlet_id: str, date: dt.date | str, *,
        idempotency_key: str | None = None, purpose: str = Purpose.ID_CARD_RENEWAL,
    ) -> Any:  # fmt: skip
        day = date.isoformat() if isinstance(date, dt.date) else date
        body = {"person_ref": person_ref, "reason": reason, "outlet_id": outlet_id, "date": day}
        return self._post("/v1/id-card/appointments", purpose, body, idempotency_key)

    # The handover queue (agent view).

    def create_handover(
        self, conversation_id: str, summary: dict, *, service: str | None = None,
        channel: str = "web", idempotency_key: str | None = None,
        purpose: str = Purpose.HANDOVER,
    ) -> Any:  # fmt: skip
        """Queue a conversation for staff: {handover_id, position, wait_minutes, ...}."""
        body = {"conversation_id": conversation_id, "service": service, "channel": channel,
                "summary": summary}  # fmt: skip
        return self._post("/v1/handovers", purpose, body, idempotency_key)

    def handovers(self, status: str | None = None, *, purpose: str = Purpose.HANDOVER) -> Any:
        """The queue (list of dicts), oldest first; ``status`` is open or taken."""
        params = {"status": status} if status else None
        return self._get("/v1/handovers", purpose, params=params,
                         unwrap=lambda body: body["handovers"])  # fmt: skip

    def take_handover(
        self, handover_id: str, *, agent: str, idempotency_key: str | None = None,
        purpose: str = Purpose.HANDOVER,
    ) -> Any:  # fmt: skip
        path = f"/v1/handovers/{handover_id}/take"
        return self._post(path, purpose, {"agent": agent}, idempotency_key)

    def _get(
        self, path: str, purpose: str, *, params: dict | None = None,
        unwrap: Callable[[Any], Any] | None = None,
    ) -> Any:  # fmt: skip
        call = _Call("GET", path, _value(purpose), params=params)
        return self._run(call if unwrap is None else _replace_unwrap(call, unwrap))

    def _post(self, path: str, purpose: str, body: dict, key: str | None) -> Any:
        return self._run(_Call("POST", path, _value(purpose), body=body, idempotency_key=key))


def _value(value: Any) -> str:
    return getattr(value, "value", value)


def _replace_unwrap(call: _Call, unwrap: Callable[[Any], Any]) -> _Call:
    return _Call(call.method, call.path, call.purpose, call.params, call.body,
                 call.idempotency_key, unwrap)  # fmt: skip


class AsyncExchangeClient(_Api):
    """Async client (the one rasa-sdk actions use). Close with ``aclose`` or ``async with``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._http = httpx.AsyncClient(**self._options)

    async def _run(self, call: _Call) -> Any:
        flow = self._attempts(call, self._http.build_request)
        step = next(flow)
        while True:
            try:
                step = flow.send(await self._io(step))
            except StopIteration as done:
                return done.value

    async def _io(self, step: httpx.Request | float) -> Any:
        if not isinstance(step, httpx.Request):
            await asyncio.sleep(step)
            return None
        try:
            return await self._http.send(step)
        except httpx.TransportError as exc:
            return exc

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncExchangeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class ExchangeClient(_Api):
    """Blocking client with the same methods (scripts, benchmarks)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._http = httpx.Client(**self._options)

    def _run(self, call: _Call) -> Any:
        flow = self._attempts(call, self._http.build_request)
        step = next(flow)
        while True:
            try:
                step = flow.send(self._io(step))
            except StopIteration as done:
                return done.value

    def _io(self, step: httpx.Request | float) -> Any:
        if not isinstance(step, httpx.Request):
            time.sleep(step)
            return None
        try:
            return self._http.send(step)
        except httpx.TransportError as exc:
            return exc

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ExchangeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
