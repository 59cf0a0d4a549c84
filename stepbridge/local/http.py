"""Build API Gateway HTTP API events (payload format 2.0) for LocalCloud and tests.

The shape follows "Working with AWS Lambda proxy integrations for HTTP APIs" (payload format
version 2.0): header names lower-cased, repeated query parameters joined with commas, cookies
moved from the ``cookie`` header into ``cookies``, ``body`` absent when there is none, and a
body that is not UTF-8 text sent base64-encoded with ``isBase64Encoded: true``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlencode

#: What LocalCloud's fake API looks like (account, API id, caller address).
ACCOUNT_ID = "123456789012"
API_ID = "a1b2c3d4e5"
SOURCE_IP = "203.0.113.10"
USER_AGENT = "stepbridge-local/1.0"


def _encode_body(body: object) -> tuple[str | None, bool, str | None]:
    """``(text, is_base64, default content type)`` for a request body."""
    if body is None:
        return None, False, None
    if isinstance(body, bytes | bytearray):
        try:
            return bytes(body).decode("utf-8"), False, "application/json"
        except UnicodeDecodeError:  # API Gateway base64-encodes binary bodies
            return base64.b64encode(bytes(body)).decode("ascii"), True, "application/octet-stream"
    if isinstance(body, str):
        return body, False, "application/json"
    return json.dumps(body), False, "application/json"


def _query(path: str, query: Mapping[str, str | Sequence[str]] | None) -> tuple[str, list[tuple[str, str]]]:
    """Split ``?a=b`` off ``path`` and merge ``query``; returns ``(path, pairs)``."""
    pairs: list[tuple[str, str]] = []
    raw_path, _, raw_query = path.partition("?")
    for part in filter(None, raw_query.split("&")):
        key, _, value = part.partition("=")
        pairs.append((unquote(key), unquote(value)))
    for key, given in (query or {}).items():
        values = [given] if isinstance(given, str) else list(given)
        pairs.extend((key, str(v)) for v in values)
    return raw_path or "/", pairs


def _ids(method: str, path: str, now: datetime, body: str | None) -> tuple[str, str]:
    """``(requestId, X-Amzn-Trace-Id)`` shaped like API Gateway's, stable for equal requests."""
    digest = hashlib.sha256(f"{method}|{path}|{now.isoformat()}|{body}".encode()).digest()
    request_id = base64.b64encode(digest[:10]).decode("ascii")  # like "JKJaXmPLvHcESHA="
    return request_id, f"Root=1-{int(now.timestamp()):08x}-{digest[10:22].hex()}"


def api_gateway_event(
    method: str,
    path: str,
    *,
    body: object = None,
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, str | Sequence[str]] | None = None,
    now: datetime | None = None,
    caller: str | None = None,
) -> dict[str, object]:
    """An HTTP API (payload format 2.0) Lambda event for ``method path``.

    ``body``: ``bytes`` are decoded as UTF-8 (base64 when they are not text), a ``str`` is sent
    as is, anything else as JSON. ``headers`` keep their values; names are lower-cased.
    ``now`` (default: the wall clock) gives ``requestContext.time`` / ``timeEpoch``.
    ``caller`` is the authenticated identity API Gateway's authorizer would add: an IAM principal
    ARN (``requestContext.authorizer.iam``) or ``jwt:<sub>`` (``requestContext.authorizer.jwt``).
    """
    when = now or datetime.now(UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    method = method.upper()
    raw_path, pairs = _query(path, query)
    text, is_base64, content_type = _encode_body(body)
    request_id, trace_id = _ids(method, path, when, text)

    hdrs: dict[str, str] = {
        "accept": "*/*",
        "host": f"{API_ID}.execute-api.us-east-1.amazonaws.com",
        "user-agent": USER_AGENT,
        "x-amzn-trace-id": trace_id,
        "x-forwarded-for": SOURCE_IP,
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    }
    if text is not None:
        raw = base64.b64decode(text) if is_base64 else text.encode("utf-8")
        hdrs["content-length"] = str(len(raw))
        if content_type:
            hdrs["content-type"] = content_type
    for name, value in (headers or {}).items():
        hdrs[name.lower()] = str(value)
    cookies = [c.strip() for c in hdrs.pop("cookie", "").split(";") if c.strip()]

    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)

    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": urlencode(pairs),
        "headers": hdrs,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "domainName": hdrs["host"],
            "domainPrefix": hdrs["host"].split(".", 1)[0],
            "http": {
                "method": method,
                "path": unquote(raw_path),
                "protocol": "HTTP/1.1",
                "sourceIp": SOURCE_IP,
                "userAgent": hdrs["user-agent"],
            },
            "requestId": request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": when.astimezone(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(when.timestamp() * 1000),
        },
        "isBase64Encoded": is_base64,
    }
    if caller is not None:
        authorizer: dict[str, object]
        if caller.startswith("jwt:"):
            authorizer = {"jwt": {"claims": {"sub": caller[4:]}, "scopes": None}}
        else:
            account = caller.split(":")[4] if caller.count(":") >= 5 else ACCOUNT_ID
            authorizer = {"iam": {"accessKey": "ASIAEXAMPLE", "accountId": account, "callerId": "AROAEXAMPLE",
                                  "cognitoIdentity": None, "principalOrgId": None, "userArn": caller,
                                  "userId": "AROAEXAMPLE"}}
        event["requestContext"]["authorizer"] = authorizer
    if cookies:
        event["cookies"] = cookies
    if grouped:
        event["queryStringParameters"] = {k: ",".join(v) for k, v in grouped.items()}
    if text is not None:
        event["body"] = text
    return event


__all__ = ["api_gateway_event"]
