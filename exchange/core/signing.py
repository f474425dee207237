"""Request signing shared by the exchange (verifies) and its client (signs).

String to sign (UTF-8), four lines joined by "\\n":

    METHOD            e.g. POST
    TARGET            the path and query exactly as sent on the request line,
                      percent-encoding included, e.g. /v1/outlets?city=%E6%88%90%E9%83%BD
    X-Timestamp       exactly as sent: RFC 3339 UTC with microseconds, 2025-06-02T02:00:00.123456Z
    SHA256(body)      lowercase hex of the raw body bytes (of b"" when there is none)

X-Signature = lowercase hex HMAC-SHA256(client secret, string to sign).

X-Client-Id, X-Request-Id and X-Purpose are not part of the string; the server
closes that gap by refusing a signature it has already seen within the replay
window (the microsecond timestamp makes two honest signatures differ).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import uuid

HEADER_CLIENT_ID = "X-Client-Id"
HEADER_REQUEST_ID = "X-Request-Id"
HEADER_TIMESTAMP = "X-Timestamp"
HEADER_PURPOSE = "X-Purpose"
HEADER_SIGNATURE = "X-Signature"
REQUIRED_HEADERS = (
    HEADER_CLIENT_ID,
    HEADER_REQUEST_ID,
    HEADER_TIMESTAMP,
    HEADER_PURPOSE,
    HEADER_SIGNATURE,
)

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})"
)


def format_timestamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(text: str) -> dt.datetime | None:
    """An aware datetime for an RFC 3339 date-time, or None when it is not one."""
    match = _RFC3339.fullmatch(text.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    if offset in ("Z", "z"):
        tz = dt.timezone.utc
    else:
        sign = 1 if offset[0] == "+" else -1
        hours, minutes = int(offset[1:3]), int(offset[4:6])
        if hours > 23 or minutes > 59:
            return None
        tz = dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))
    try:
        return dt.datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second),
            int((fraction or "0")[:6].ljust(6, "0")), tzinfo=tz,
        )  # fmt: skip
    except ValueError:
        return None


def body_sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def string_to_sign(method: str, target: str, timestamp: str, body: bytes) -> str:
    return "\n".join((method.upper(), target, timestamp, body_sha256(body)))


def sign(secret: str, method: str, target: str, timestamp: str, body: bytes) -> str:
    message = string_to_sign(method, target, timestamp, body).encode("utf-8")
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_matches(
    secret: str, signature: str, method: str, target: str, timestamp: str, body: bytes
) -> bool:
    expected = sign(secret, method, target, timestamp, body)
    # Constant time, so the comparison leaks nothing about the expected value.
    return hmac.compare_digest(expected, signature.strip().lower())


def new_request_id() -> str:
    return uuid.uuid4().hex


def signed_headers(
    *,
    client_id: str,
    secret: str,
    purpose: str,
    method: str,
    target: str,
    body: bytes = b"",
    request_id: str | None = None,
    timestamp: str | None = None,
) -> dict[str, str]:
    """All five X-Road-style headers for one request."""
    timestamp = timestamp or format_timestamp(dt.datetime.now(dt.timezone.utc))
    return {
        HEADER_CLIENT_ID: client_id,
        HEADER_REQUEST_ID: request_id or new_request_id(),
        HEADER_TIMESTAMP: timestamp,
        HEADER_PURPOSE: purpose,
        HEADER_SIGNATURE: sign(secret, method, target, timestamp, body),
    }
