"""RFC 9457 problem details: the one error shape every exchange response uses."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:exchange:problem:"


class Problem(Exception):
    """Raise anywhere below a route; the exception handler answers it as problem+json."""

    def __init__(
        self,
        status: int,
        slug: str | None,
        detail: str,
        *,
        title: str | None = None,
        field: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        # "about:blank" is RFC 9457's type for a plain HTTP status with no extra meaning.
        self.type = TYPE_PREFIX + slug if slug else "about:blank"
        self.title = title or HTTPStatus(status).phrase
        self.detail = detail
        self.field = field
        self.errors = errors
        self.headers = headers or {}
        self.extensions = extensions

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.field is not None:
            body["field"] = self.field
        if self.errors is not None:
            body["errors"] = self.errors
        body.update(self.extensions)
        return body

    def response(self) -> JSONResponse:
        return problem_response(self.status, self.to_dict(), self.headers)


def problem_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


def invalid(field: str, detail: str, **extensions: Any) -> Problem:
    """422 for a value that is well-formed but not acceptable (e.g. a date on a Sunday)."""
    return Problem(
        422,
        "invalid-value",
        f"{field}: {detail}",
        title="Invalid value",
        field=field,
        errors=[{"field": field, "message": detail}],
        **extensions,
    )


def not_found(what: str, detail: str) -> Problem:
    return Problem(404, f"unknown-{what}", detail, title=f"Unknown {what.replace('-', ' ')}")


class ProblemModel(BaseModel):
    """Documents the problem+json body in the OpenAPI schema."""

    type: str
    title: str
    status: int
    detail: str
    field: str | None = None
    errors: list[dict[str, Any]] | None = None


def _doc(description: str) -> dict[str, Any]:
    return {"model": ProblemModel, "description": description}


AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _doc("Missing or invalid signature headers, unknown client, stale or replayed request"),
    403: _doc("The purpose is not allowed for this client or this resource"),
    422: _doc("Invalid input; `field` names the first offending field"),
}
READ_RESPONSES = {**AUTH_RESPONSES, 404: _doc("Unknown person or resource")}
WRITE_RESPONSES = {
    **AUTH_RESPONSES,
    409: _doc("Idempotency-Key reused with another body, or a duplicate open application"),
}
