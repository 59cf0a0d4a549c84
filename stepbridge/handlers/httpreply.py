"""The HTTP API's request/response primitives, shared by its route modules (handlers/api.py, taskroutes.py).

A module of its own so that route modules need not import the API that mounts them (no import cycle).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping

from aws_lambda_powertools.event_handler import Response

JSON_TYPE = "application/json"
Reply = Response[str]


class ApiError(Exception):
    """A request error answered as ``{"error": code, "message": message}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def json_reply(status: int, payload: object, headers: Mapping[str, str] | None = None) -> Reply:
    """A compact JSON response."""
    return Response(status_code=status, content_type=JSON_TYPE, body=json.dumps(payload, separators=(",", ":")),
                    headers=dict(headers or {}))


def raw_body(event: Mapping[str, object]) -> bytes:
    """The request body as sent (base64-decoded when ``isBase64Encoded``); ``b""`` when absent."""
    body = event.get("body")
    if body is None:
        return b""
    text = str(body)
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise ApiError(400, "bad_request", "the request body is marked base64-encoded but is not") from None
    return text.encode("utf-8")


__all__ = ["JSON_TYPE", "ApiError", "Reply", "json_reply", "raw_body"]
