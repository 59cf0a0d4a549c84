"""Turn AWS SDK failures into one clear sentence for the command line (never a traceback).

``with aws_errors(stack="acme"):`` around client calls re-raises missing credentials, a missing
region, an unreachable endpoint or a service error (missing stack, access denied, expired token)
as :class:`AwsAccessError`, whose message says what to fix.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)

from stepbridge.errors import StepbridgeError

_CREDENTIAL_CODES = {
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
}


class AwsAccessError(StepbridgeError):
    """An AWS call failed for a reason the operator has to fix (credentials, region, stack, permissions)."""


def explain(exc: BaseException, *, stack: str | None = None) -> str | None:
    """One sentence for an AWS SDK exception, or ``None`` when ``exc`` is not one."""
    where = f" for stack '{stack}'" if stack else ""
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return (
            f"no usable AWS credentials{where}: configure a profile (AWS_PROFILE, `aws configure`/`aws sso login`) "
            "or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
        )
    if isinstance(exc, ProfileNotFound):
        return f"{exc}; check AWS_PROFILE"
    if isinstance(exc, NoRegionError):
        return f"no AWS region{where}: pass --region or set AWS_REGION / AWS_DEFAULT_REGION"
    if isinstance(exc, EndpointConnectionError):
        return f"cannot reach AWS{where}: {exc}"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Error"))
        message = str(error.get("Message", exc))
        operation = exc.operation_name
        if code in _CREDENTIAL_CODES:
            return f"AWS rejected the credentials{where} ({code}: {message}); refresh them and try again"
        if code.startswith("AccessDenied") or code == "AuthorizationError":
            return f"access denied{where} calling {operation}: {message}"
        if operation == "DescribeStacks" and "does not exist" in message:
            return f"stack '{stack}' does not exist in this account/region ({message}); check --stack and --region"
        return f"AWS {operation} failed{where}: {code}: {message}"
    if isinstance(exc, BotoCoreError):
        return f"AWS SDK error{where}: {exc}"
    return None


@contextmanager
def aws_errors(*, stack: str | None = None) -> Iterator[None]:
    """Re-raise AWS SDK exceptions raised in the block as :class:`AwsAccessError`."""
    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        raise AwsAccessError(explain(exc, stack=stack) or str(exc)) from None
