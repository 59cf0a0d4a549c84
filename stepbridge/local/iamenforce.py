"""``LocalCloud(app, enforce_iam=True)``: user code runs with its function's declared grants, enforced by moto.

moto can evaluate IAM policies on every request (``moto.settings.INITIAL_NO_AUTH_ACTION_COUNT``:
past that many requests, each one is authenticated by its access key and authorised against the
caller's identity policies). LocalCloud uses it like this:

* The framework (provisioning, the store, the queue, timers, events, secret reads) signs with an
  administrator user's key, so only *user* code is constrained - the framework's own grants are
  checked by the compiler's tests instead.
* Each function that runs user code - every declared step, and the orchestrator (workflow code and
  inline steps) - gets a moto IAM user whose policy is exactly the ``policies=`` the function declared
  (SAM templates expanded, intrinsics resolved for the local account and region). While the function
  runs, ``boto3``'s default session signs with that user's key: a ``boto3.client("s3")`` created in
  the step is allowed exactly what the compiled role would allow it, and a missing grant fails the
  local test with ``AccessDenied``, as it would fail in AWS.

Limits of moto's evaluation (moto 5.x): it matches resource ARNs for S3 only; for other services it
authorises the action against ``"*"``. So that a correct grant is never refused locally, statements
on other services are checked by action only (their ``Resource`` is widened to ``"*"`` here, never in
the template). Conditions are not evaluated, and ``secrets=`` reads go through the framework (their
check is :class:`~stepbridge.errors.SecretNotDeclared`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import boto3

from stepbridge.api.app import App
from stepbridge.api.deploy import FunctionConfig
from stepbridge.compiler.intrinsics import to_json
from stepbridge.compiler.userpolicies import policy_statements

ACCOUNT = "123456789012"  # moto's default account
_ADMIN = "stepbridge-local-admin"
_ORCHESTRATOR = "orchestrator"


def _resolve(value: object, variables: Mapping[str, str]) -> Any:
    """Resolve the intrinsics user statements contain (``Fn::Sub`` with pseudo parameters, ``Ref``)."""
    if isinstance(value, Mapping):
        if "Fn::Sub" in value:
            sub = value["Fn::Sub"]
            template, local = (sub, {}) if isinstance(sub, str) else (sub[0], sub[1])
            names = {**variables, **{k: _resolve(v, variables) for k, v in local.items()}}
            return re.sub(r"\$\{([^}]+)\}", lambda m: str(names.get(m.group(1), "*")), template)
        if "Ref" in value:
            return variables.get(value["Ref"], "*")
        return {k: _resolve(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, variables) for v in value]
    return value


def local_policy(where: str, config: FunctionConfig, *, region: str, stack: str) -> dict[str, object] | None:
    """The identity policy a function's user gets: its declared ``policies=``, as moto can evaluate them."""
    variables = {"AWS::Partition": "aws", "AWS::Region": region, "AWS::AccountId": ACCOUNT, "AWS::StackName": stack}
    out = []
    for stmt in _resolve(to_json(policy_statements(where, config)), variables):
        stmt = {k: v for k, v in stmt.items() if k != "Condition"}
        actions = stmt.get("Action", stmt.get("NotAction", []))
        actions = [actions] if isinstance(actions, str) else actions
        if not all(a.lower().startswith("s3:") for a in actions):
            stmt.pop("NotResource", None)
            stmt["Resource"] = "*"
        out.append(stmt)
    return {"Version": "2012-10-17", "Statement": out} if out else None


class IamEnforcer:
    """Creates the users, swaps the signing identity per invocation, and turns moto's checks on and off."""

    def __init__(self, app: App, *, region: str) -> None:
        self.app = app
        self.region = region
        self._keys: dict[str, tuple[str, str]] = {}
        self._saved: tuple[Any, Any] | None = None
        self._admin_key = ""

    @classmethod
    def bootstrap(cls, app: App, region: str) -> IamEnforcer:
        """An enforcer whose administrator the framework signs with from now on (LocalCloud restores
        the variables it saved when it stops)."""
        enforcer = cls(app, region=region)
        enforcer._create_admin()
        return enforcer

    def _create_admin(self) -> None:
        iam = boto3.client("iam", region_name=self.region)
        iam.create_user(UserName=_ADMIN)
        admin_policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        iam.put_user_policy(UserName=_ADMIN, PolicyName="admin", PolicyDocument=json.dumps(admin_policy))
        key = iam.create_access_key(UserName=_ADMIN)["AccessKey"]
        self._admin_key = key["AccessKeyId"]
        os.environ.update({"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]})
        for var in ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):  # an IAM user's key has no session token
            os.environ.pop(var, None)
        boto3.DEFAULT_SESSION = None  # the next default session reads the administrator's key

    def arm(self, store: Any, effects: Any) -> None:
        """Create the framework's clients now (signed as the administrator), the function users, and turn
        the checks on."""
        _ = (store.client, effects.sqs, effects.lambda_client, effects.scheduler, effects.events)
        self.create_function_users()
        self.enable()

    def create_function_users(self) -> None:
        """One user per function that runs user code, with exactly its declared policies."""
        iam = boto3.client("iam", region_name=self.region)
        configs = {_ORCHESTRATOR: ("App (the orchestrator)", self.app.orchestrator_config)}
        configs.update({f"step-{n}": (f"step '{n}'", s.config) for n, s in self.app.steps.items()})
        for index, (key, (where, config)) in enumerate(sorted(configs.items())):
            user = f"stepbridge-fn-{index}"
            iam.create_user(UserName=user)
            policy = local_policy(where, config, region=self.region, stack=self.app.name)
            if policy is not None:
                iam.put_user_policy(UserName=user, PolicyName="declared", PolicyDocument=json.dumps(policy))
            access = iam.create_access_key(UserName=user)["AccessKey"]
            self._keys[key] = (access["AccessKeyId"], access["SecretAccessKey"])

    def enable(self) -> None:
        """From now on moto authorises every request signed by a function's user.

        Requests signed by the administrator (the framework) skip moto's check altogether: they need
        no policy, and moto cannot verify some services' signatures (EventBridge Scheduler's are
        refused with ``SignatureDoesNotMatch``).
        """
        from moto import settings
        from moto.core.authorization import ActionAuthenticatorMixin

        original = ActionAuthenticatorMixin._authenticate_and_authorize_action
        admin = self._admin_key

        def authorize(response: Any, iam_request_cls: type, resource: str = "*") -> None:
            if f"Credential={admin}/" in str(response.headers.get("Authorization", "")):
                return
            original(response, iam_request_cls, resource)

        self._saved = (settings.INITIAL_NO_AUTH_ACTION_COUNT, original)
        settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
        ActionAuthenticatorMixin._authenticate_and_authorize_action = authorize  # type: ignore[method-assign,assignment]

    def disable(self) -> None:
        """Back to moto's default (no checks)."""
        from moto import settings
        from moto.core.authorization import ActionAuthenticatorMixin

        if self._saved is not None:
            settings.INITIAL_NO_AUTH_ACTION_COUNT, original = self._saved
            ActionAuthenticatorMixin._authenticate_and_authorize_action = original  # type: ignore[method-assign]
            self._saved = None
        boto3.DEFAULT_SESSION = None  # forget the administrator's and the functions' keys

    @contextmanager
    def running(self, step: str | None) -> Iterator[None]:
        """User code of ``step`` (``None``: the orchestrator) signs with that function's key meanwhile."""
        key = self._keys.get(_ORCHESTRATOR if step is None else f"step-{step}")
        if key is None:
            yield
            return
        previous = boto3.DEFAULT_SESSION
        boto3.DEFAULT_SESSION = boto3.Session(
            aws_access_key_id=key[0], aws_secret_access_key=key[1], region_name=self.region
        )
        try:
            yield
        finally:
            boto3.DEFAULT_SESSION = previous


__all__ = ["IamEnforcer", "local_policy"]
