"""What one deployed function needs beyond its code: grants, secrets, environment, concurrency, layers.

``@app.step(policies=, environment=, secrets=, reserved_concurrency=, layers=)`` and the same keywords
on ``App(...)`` (the orchestrator, where inline steps run) record a :class:`FunctionConfig`. Its
shape is checked here, when the decorator runs, with errors naming the function; what needs the
SAM policy-template catalogue (template names and parameters) is checked by the compiler
(``stepbridge/compiler/userpolicies.py``), since the runtime must not import aws-sam-translator.
Nothing here talks to AWS.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from stepbridge.errors import WorkflowDefinitionError

#: Lambda runtimes stepbridge supports (it needs Python 3.11+; AWS Lambda runtimes page lists 3.11-3.13).
RUNTIMES = ("python3.11", "python3.12", "python3.13")
#: The default runtime: the newest-but-one Python, supported by Lambda the longest of the 3.11+ runtimes
#: that every dependency (pydantic-core, Powertools) ships wheels for.
DEFAULT_RUNTIME = "python3.12"
#: Lambda instruction set architectures (CreateFunction ``Architectures``).
ARCHITECTURES = ("arm64", "x86_64")
#: arm64 (Graviton) costs about 20 % less per GB-second than x86_64 (AWS Lambda pricing).
DEFAULT_ARCHITECTURE = "arm64"

#: Environment variable keys: a letter, then letters, digits and '_' (Lambda ``Environment.Variables`` pattern).
_ENV_KEY_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]+$")
#: Keys Lambda reserves; a function may not set them (Lambda developer guide, "Defined runtime
#: environment variables": the reserved ones).
LAMBDA_RESERVED_ENV = frozenset(
    {
        "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
    }
)
#: Variables the framework sets on its functions (``stepbridge.config`` + Powertools); a user key may not collide.
FRAMEWORK_ENV = frozenset(
    {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_LOG_LEVEL", "POWERTOOLS_METRICS_NAMESPACE"}
)
FRAMEWORK_ENV_PREFIX = "STEPBRIDGE_"
#: Lambda's limit on all environment variables of a function together: 4 KB (Lambda quotas).
LAMBDA_ENV_BYTES = 4096
#: At most 5 layers per function (Lambda quotas); stepbridge's own runtime layer is one of them.
LAMBDA_MAX_LAYERS = 5
#: LayerVersionArn pattern of the Lambda API (``arn:aws:lambda:region:account:layer:name:version``).
_LAYER_ARN_RE = re.compile(
    r"^arn:aws[a-zA-Z-]*:lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d:\d{12}:layer:[a-zA-Z0-9_-]+:[0-9]+$"
)
#: Secrets Manager secret ARN (``arn:aws:secretsmanager:region:account:secret:name[-abcdef]``).
SECRET_ARN_RE = re.compile(r"^arn:aws[a-zA-Z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}$")
#: SSM parameter names: letters, digits and ``_.-/``; a hierarchy starts with '/' (SSM PutParameter).
_SSM_NAME_RE = re.compile(r"^/?[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*$")
#: SSM: the full parameter ARN may be at most 1011 characters; at most 15 hierarchy levels (SSM quotas).
SSM_NAME_MAX = 1011 - len("arn:aws:ssm:us-east-1:123456789012:parameter/")
SSM_MAX_DEPTH = 15
#: Secret names (the keys of ``secrets=``), as given to ``stepbridge.secret(name)``.
_SECRET_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,127}$")
#: IAM statement keys stepbridge accepts in a raw statement (``Principal`` belongs in resource policies).
_STATEMENT_KEYS = frozenset({"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"})
_ACTION_RE = re.compile(r"^([a-z0-9-]+:[A-Za-z0-9*?]+|\*)$")
_INTRINSIC_KEYS = frozenset({"Ref", "Fn::Sub", "Fn::GetAtt", "Fn::Join", "Fn::If", "Fn::ImportValue", "Fn::Select"})
#: Tags (CloudFormation resource tags): key 1-128, value 0-256 characters, no ``aws:`` prefix.
_TAG_KEY_MAX, _TAG_VALUE_MAX = 128, 256
#: Lambda allows 50 tags per function; SAM adds ``lambda:createdBy`` and stepbridge one more.
MAX_USER_TAGS = 48


@dataclass(frozen=True)
class SecretRef:
    """Where a declared secret lives: an SSM parameter name or a Secrets Manager secret ARN."""

    name: str
    source: str

    @property
    def kind(self) -> str:
        """``"secretsmanager"`` for a secret ARN, else ``"ssm"``."""
        return "secretsmanager" if self.source.startswith("arn:") else "ssm"


@dataclass(frozen=True)
class FunctionConfig:
    """A function's user-declared deployment settings (empty = the framework's own grants only)."""

    policies: tuple[Mapping[str, Any], ...] = ()
    environment: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict)
    reserved_concurrency: int | None = None
    layers: tuple[object, ...] = ()

    @property
    def has_grants(self) -> bool:
        """Whether the function needs a role of its own (policies or secrets beyond the framework's)."""
        return bool(self.policies or self.secrets)

    def secret_refs(self) -> list[SecretRef]:
        """The declared secrets, sorted by name."""
        return [SecretRef(name, self.secrets[name]) for name in sorted(self.secrets)]


def is_intrinsic(value: object) -> bool:
    """``{"Ref": ...}`` / ``{"Fn::Sub": ...}`` and the like: one key naming an intrinsic function."""
    return isinstance(value, Mapping) and len(value) == 1 and next(iter(value)) in _INTRINSIC_KEYS


def is_policy_template(item: Mapping[str, object]) -> bool:
    """A SAM policy template reference: one key (the template name) mapping to its parameters."""
    return len(item) == 1 and next(iter(item)) not in _STATEMENT_KEYS and "Statement" not in item


def function_config(
    where: str,
    *,
    policies: Sequence[Mapping[str, object]] | None = None,
    environment: Mapping[str, str] | None = None,
    secrets: Mapping[str, str] | None = None,
    reserved_concurrency: int | None = None,
    layers: Sequence[object] | None = None,
) -> FunctionConfig:
    """Check and freeze the keywords of ``@app.step`` / ``App`` for the function ``where`` names."""
    return FunctionConfig(
        policies=_policies(where, policies),
        environment=_environment(where, environment),
        secrets=_secrets(where, secrets),
        reserved_concurrency=_concurrency(where, reserved_concurrency),
        layers=_layers(where, layers),
    )


def _fail(where: str, message: str) -> WorkflowDefinitionError:
    return WorkflowDefinitionError(f"{where}: {message}")


def _policies(where: str, policies: Sequence[Mapping[str, object]] | None) -> tuple[Mapping[str, object], ...]:
    if policies is None:
        return ()
    if isinstance(policies, Mapping | str) or not isinstance(policies, Sequence):
        raise _fail(where, "policies= must be a list of SAM policy templates or IAM statements, e.g. "
                    "[{'S3WritePolicy': {'BucketName': 'invoices'}}]")
    out = []
    for i, item in enumerate(policies):
        if not isinstance(item, Mapping) or not item:
            raise _fail(where, f"policies[{i}] must be a dict (a SAM policy template or an IAM statement), "
                        f"got {item!r}")
        if is_policy_template(item):
            name, params = next(iter(item.items()))
            if not isinstance(name, str) or not re.match(r"^[A-Za-z0-9]+$", name):
                raise _fail(where, f"policies[{i}]: {name!r} is not a SAM policy template name")
            if not isinstance(params, Mapping):
                raise _fail(where, f"policies[{i}]: the parameters of {name} must be a dict, e.g. "
                            "{'TableName': 'orders'} ({} for templates without parameters)")
        else:
            check_statement(where, i, item)
        out.append(_plain(item))
    return tuple(out)


def check_statement(where: str, index: int, stmt: Mapping[str, Any]) -> None:
    """A raw IAM statement: Effect Allow/Deny, Action(s) ``service:Name``, Resource(s), optional Condition."""
    at = f"policies[{index}]"
    unknown = sorted(set(stmt) - _STATEMENT_KEYS)
    if unknown:
        raise _fail(where, f"{at} has unknown IAM statement key(s) {unknown}; allowed: {sorted(_STATEMENT_KEYS)} "
                    "(a SAM policy template is a dict with exactly one key, its name)")
    if stmt.get("Effect") not in ("Allow", "Deny"):
        raise _fail(where, f"{at}: Effect must be 'Allow' or 'Deny', got {stmt.get('Effect')!r}")
    if ("Action" in stmt) == ("NotAction" in stmt):
        raise _fail(where, f"{at}: give exactly one of Action or NotAction, e.g. 'Action': ['s3:GetObject']")
    actions = stmt.get("Action", stmt.get("NotAction"))
    for action in [actions] if isinstance(actions, str) else (actions or [None]):
        if not isinstance(action, str) or not _ACTION_RE.match(action):
            raise _fail(where, f"{at}: action {action!r} is not of the form 'service:Action' (e.g. 's3:GetObject')")
    if ("Resource" in stmt) == ("NotResource" in stmt):
        raise _fail(where, f"{at}: give exactly one of Resource or NotResource (an ARN, a list of ARNs, or '*')")
    resources = stmt.get("Resource", stmt.get("NotResource"))
    for res in [resources] if isinstance(resources, str) or is_intrinsic(resources) else (resources or [None]):
        if not (isinstance(res, str) and (res == "*" or res.startswith("arn:"))) and not is_intrinsic(res):
            raise _fail(where, f"{at}: resource {res!r} must be an ARN ('arn:...'), '*' or an intrinsic such as "
                        "{'Fn::Sub': 'arn:${AWS::Partition}:s3:::bucket/*'}")
    if "Condition" in stmt:
        cond = stmt["Condition"]
        if not isinstance(cond, Mapping) or not cond or not all(isinstance(v, Mapping) and v for v in cond.values()):
            raise _fail(where, f"{at}: Condition must map operators to {{key: value}}, e.g. "
                        "{'StringEquals': {'aws:RequestedRegion': 'eu-west-1'}}")
    if "Sid" in stmt and not (isinstance(stmt["Sid"], str) and re.match(r"^[A-Za-z0-9]*$", stmt["Sid"])):
        raise _fail(where, f"{at}: Sid must be letters and digits only, got {stmt['Sid']!r}")


def _environment(where: str, env: Mapping[str, str] | None) -> dict[str, str]:
    if env is None:
        return {}
    if not isinstance(env, Mapping):
        raise _fail(where, f"environment= must be a dict of str to str, got {type(env).__name__}")
    out: dict[str, str] = {}
    for key, value in env.items():
        if not isinstance(key, str) or not _ENV_KEY_RE.match(key):
            raise _fail(where, f"environment variable name {key!r} is invalid: use a letter, then letters, digits "
                        "or '_' (at least 2 characters)")
        if key.startswith(FRAMEWORK_ENV_PREFIX) or key in FRAMEWORK_ENV:
            raise _fail(where, f"environment variable {key!r} collides with one stepbridge sets itself "
                        f"({FRAMEWORK_ENV_PREFIX}* and {sorted(FRAMEWORK_ENV)}); rename it")
        if key in LAMBDA_RESERVED_ENV:
            raise _fail(where, f"environment variable {key!r} is reserved by AWS Lambda; rename it")
        if not isinstance(value, str):
            raise _fail(where, f"environment variable {key!r} must be a string, got {type(value).__name__} "
                        "(Lambda environment values are strings: use str(...) or json.dumps(...))")
        out[key] = value
    return out


def _secrets(where: str, secrets: Mapping[str, str] | None) -> dict[str, str]:
    if secrets is None:
        return {}
    if not isinstance(secrets, Mapping):
        raise _fail(where, "secrets= must map a name to an SSM parameter name or a Secrets Manager ARN, e.g. "
                    "{'STRIPE_KEY': '/acme/stripe/api-key'}")
    out: dict[str, str] = {}
    for name, source in secrets.items():
        if not isinstance(name, str) or not _SECRET_NAME_RE.match(name):
            raise _fail(where, f"secret name {name!r} is invalid: use a letter or '_', then letters, digits, "
                        "'_', '.' or '-' (at most 128)")
        check_secret_source(f"{where}: secret {name!r}", source)
        out[name] = source
    return out


def check_secret_source(where: str, source: object) -> None:
    """An SSM parameter name (``/acme/stripe/api-key``) or a Secrets Manager ARN; raise naming ``where``."""
    if not isinstance(source, str) or not source:
        raise WorkflowDefinitionError(f"{where}: give an SSM parameter name or a Secrets Manager ARN, got {source!r}")
    if source.startswith("arn:"):
        if not SECRET_ARN_RE.match(source):
            raise WorkflowDefinitionError(
                f"{where}: {source!r} is not a Secrets Manager secret ARN "
                "(arn:aws:secretsmanager:<region>:<account>:secret:<name>); SSM parameters are given by name"
            )
        return
    if "/" in source and not source.startswith("/"):
        raise WorkflowDefinitionError(
            f"{where}: SSM parameter {source!r} has a hierarchy, so it must begin with '/' (e.g. '/{source}')"
        )
    if not _SSM_NAME_RE.match(source) or len(source) > SSM_NAME_MAX:
        raise WorkflowDefinitionError(
            f"{where}: {source!r} is not a valid SSM parameter name (letters, digits, '_', '.', '-', "
            "'/'-separated levels, e.g. '/acme/stripe/api-key')"
        )
    if source.strip("/").count("/") + 1 > SSM_MAX_DEPTH:
        raise WorkflowDefinitionError(f"{where}: {source!r} has more than {SSM_MAX_DEPTH} levels (SSM's limit)")
    if source.lstrip("/").lower().startswith(("aws", "ssm")):
        raise WorkflowDefinitionError(f"{where}: SSM parameter names may not begin with 'aws' or 'ssm': {source!r}")


def _concurrency(where: str, value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _fail(where, f"reserved_concurrency must be an int >= 1, got {value!r}")
    return value


def _layers(where: str, layers: Sequence[object] | None) -> tuple[object, ...]:
    if layers is None:
        return ()
    if isinstance(layers, str | Mapping) or not isinstance(layers, Sequence):
        raise _fail(where, "layers= must be a list of layer version ARNs")
    if len(layers) > LAMBDA_MAX_LAYERS - 1:
        raise _fail(where, f"{len(layers)} layers given; Lambda allows {LAMBDA_MAX_LAYERS} per function and "
                    "stepbridge's runtime layer is one of them")
    for layer in layers:
        if not (isinstance(layer, str) and _LAYER_ARN_RE.match(layer)) and not is_intrinsic(layer):
            raise _fail(where, f"layer {layer!r} is not a layer version ARN "
                        "(arn:aws:lambda:<region>:<account>:layer:<name>:<version>) or an intrinsic ({'Ref': ...})")
    return tuple(_plain(layer) if isinstance(layer, Mapping) else layer for layer in layers)


def check_runtime(runtime: object, architecture: object) -> None:
    """``App(runtime=, architecture=)``: one of :data:`RUNTIMES` and :data:`ARCHITECTURES`."""
    if runtime not in RUNTIMES:
        raise WorkflowDefinitionError(f"App runtime {runtime!r} is not supported; use one of {list(RUNTIMES)}")
    if architecture not in ARCHITECTURES:
        raise WorkflowDefinitionError(
            f"App architecture {architecture!r} is not supported; use one of {list(ARCHITECTURES)}"
        )


def check_tags(tags: object) -> dict[str, str]:
    """``App(tags=)``: CloudFormation tag keys 1-128 characters without ``aws:``, values up to 256."""
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise WorkflowDefinitionError(f"App tags must be a dict of str to str, got {type(tags).__name__}")
    if len(tags) > MAX_USER_TAGS:
        raise WorkflowDefinitionError(f"App has {len(tags)} tags; at most {MAX_USER_TAGS} (Lambda allows 50 per "
                                      "function, two of which SAM and stepbridge set)")
    for key, value in tags.items():
        if not isinstance(key, str) or not 1 <= len(key) <= _TAG_KEY_MAX or key.lower().startswith("aws:"):
            raise WorkflowDefinitionError(f"App tag key {key!r} is invalid: 1-{_TAG_KEY_MAX} characters, "
                                          "not starting with 'aws:'")
        if not isinstance(value, str) or len(value) > _TAG_VALUE_MAX:
            raise WorkflowDefinitionError(f"App tag {key!r}: the value must be a string of at most "
                                          f"{_TAG_VALUE_MAX} characters")
    return dict(tags)


def env_bytes(variables: Mapping[str, str]) -> int:
    """Bytes Lambda counts against :data:`LAMBDA_ENV_BYTES`: the variables as JSON text, UTF-8 (Lambda's
    error names it: "exceeded the 4KB limit. String measured: {"KEY":"value",...}")."""
    return len(json.dumps(dict(variables), separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def _plain(value: object) -> Any:
    """A JSON-only deep copy (so a later mutation of the user's dict cannot change the recorded one)."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as exc:
        raise WorkflowDefinitionError(f"{value!r} is not JSON-serialisable: {exc}") from None


__all__ = [
    "ARCHITECTURES",
    "DEFAULT_ARCHITECTURE",
    "DEFAULT_RUNTIME",
    "RUNTIMES",
    "FunctionConfig",
    "SecretRef",
    "check_runtime",
    "check_secret_source",
    "check_tags",
    "function_config",
]
