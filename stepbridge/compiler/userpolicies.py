"""User-declared grants: ``policies=`` and ``secrets=`` of a step (or of the App, for the orchestrator).

Kept apart from :mod:`stepbridge.compiler.iam`, which holds the framework's own least-privilege
grants: this module only *adds* statements to the role of the function that declared them.

* A SAM policy template (``{"S3WritePolicy": {"BucketName": "invoices"}}``) is checked against the
  catalogue that aws-sam-translator ships (``samtranslator/policy_templates_data/policy_templates.json``,
  the same one ``sam deploy`` expands) and expanded here into plain statements. SAM would ignore a
  function's ``Policies`` because stepbridge gives every function its own ``Role``.
* A raw IAM statement was checked for shape by ``stepbridge.api.deploy``; it is copied as is.
* A secret grants read access to exactly that one parameter or secret, plus ``kms:Decrypt`` only
  through that service and only for that parameter/secret (``kms:ViaService`` +
  ``kms:EncryptionContext:*``), so a customer managed key works too while the grant stays as narrow as
  the read itself. (The AWS managed keys ``aws/ssm`` and ``aws/secretsmanager`` need no identity-policy
  grant at all: their key policy already allows use through the service; the scoped statement is
  harmless there.) SSM encrypts a SecureString with the encryption context ``PARAMETER_ARN`` and
  Secrets Manager with ``SecretARN`` (AWS KMS developer guide, "How AWS Systems Manager Parameter
  Store uses AWS KMS" and "Secret encryption and decryption in AWS Secrets Manager").
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Mapping
from typing import Any

from stepbridge.api.deploy import FunctionConfig, SecretRef, is_intrinsic, is_policy_template
from stepbridge.compiler.intrinsics import Sub, to_json
from stepbridge.errors import WorkflowDefinitionError

Statement = dict[str, Any]

#: A full Secrets Manager ARN ends in '-' plus 6 random characters; a partial one (the name only) does not.
_FULL_SECRET_ARN_RE = re.compile(r"-[A-Za-z0-9]{6}$")
#: IAM: a role's inline policies may total 10,240 characters, whitespace excluded (IAM quotas,
#: "Role policy size"). Checked on the statements as compiled (intrinsics not yet resolved).
ROLE_POLICY_CHARS = 10_240


@functools.lru_cache(maxsize=1)
def _catalogue() -> dict[str, Any]:
    """SAM's policy templates, from the installed aws-sam-translator (the ``compile`` extra)."""
    try:
        from samtranslator.policy_template_processor.processor import (  # type: ignore[import-untyped]
            PolicyTemplatesProcessor,
        )
    except ImportError:  # pragma: no cover - the compile extra installs it
        raise WorkflowDefinitionError(
            "SAM policy templates need aws-sam-translator: pip install 'stepbridge[compile]'"
        ) from None
    templates: dict[str, object] = PolicyTemplatesProcessor.get_default_policy_templates_json()["Templates"]
    return templates


def template_names() -> list[str]:
    """Every SAM policy template name (sorted)."""
    return sorted(_catalogue())


def expand_template(where: str, name: str, params: Mapping[str, object]) -> list[Statement]:
    """The statements of SAM policy template ``name`` with ``params`` substituted; raise naming ``where``."""
    from samtranslator.policy_template_processor.exceptions import (  # type: ignore[import-untyped]
        InsufficientParameterValues,
    )
    from samtranslator.policy_template_processor.template import Template  # type: ignore[import-untyped]

    catalogue = _catalogue()
    if name not in catalogue:
        close = difflib.get_close_matches(name, list(catalogue), n=3, cutoff=0.6)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise WorkflowDefinitionError(
            f"{where}: {name!r} is not a SAM policy template{hint}; see "
            "https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/"
            "serverless-policy-template-list.html"
        )
    expected = sorted(catalogue[name].get("Parameters", {}))
    unknown = sorted(set(params) - set(expected))
    missing = sorted(set(expected) - set(params))
    if unknown or missing:
        raise WorkflowDefinitionError(
            f"{where}: SAM policy template {name} takes the parameters {expected}"
            + (f"; missing {missing}" if missing else "")
            + (f"; unknown {unknown}" if unknown else "")
        )
    for key, value in params.items():
        if not isinstance(value, str | int) and not is_intrinsic(value):
            raise WorkflowDefinitionError(
                f"{where}: parameter {key} of {name} must be a string or an intrinsic ({{'Ref': ...}}), got {value!r}"
            )
    try:
        document = Template.from_dict(name, catalogue[name]).to_statement(dict(params))
    except InsufficientParameterValues as exc:  # pragma: no cover - checked above
        raise WorkflowDefinitionError(f"{where}: {exc}") from None
    statements = document.get("Statement", [])
    return [dict(s) for s in ([statements] if isinstance(statements, Mapping) else statements)]


def policy_statements(where: str, config: FunctionConfig) -> list[Statement]:
    """``policies=`` as plain statements, each with a unique ``Sid`` (``User1``, ``User2`` ... unless given)."""
    out: list[Statement] = []
    for i, item in enumerate(config.policies):
        if is_policy_template(item):
            name, params = next(iter(item.items()))
            expanded = expand_template(f"{where}: policies[{i}]", name, params)
            for j, stmt in enumerate(expanded):
                out.append({"Sid": f"{name}{i}x{j}" if len(expanded) > 1 else f"{name}{i}", **stmt})
        else:
            stmt = dict(item)
            stmt.setdefault("Sid", f"User{i}")
            out.append(stmt)
    sids = [s["Sid"] for s in out]
    for sid in sids:
        if sids.count(sid) > 1:
            raise WorkflowDefinitionError(f"{where}: Sid {sid!r} is used by two policies; Sids must be unique")
    return out


def _sid(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", name.title())


def parameter_arn(name: str) -> Sub:
    """The ARN of SSM parameter ``name`` in the stack's region and account."""
    return Sub(f"arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter/{name.lstrip('/')}")


def secret_resource(arn: str) -> str:
    """The IAM resource of a Secrets Manager ARN: exact for a full ARN, ``name-??????`` for a partial one."""
    return arn if _FULL_SECRET_ARN_RE.search(arn) else f"{arn}-??????"


def secret_statements(refs: list[SecretRef]) -> list[Statement]:
    """Read access to exactly each declared secret, and decryption through its service for it alone."""
    out: list[Statement] = []
    for ref in refs:
        sid = _sid(ref.name)
        if ref.kind == "ssm":
            param = parameter_arn(ref.source)
            out.append({"Sid": f"ReadSecret{sid}", "Effect": "Allow", "Action": ["ssm:GetParameter"],
                        "Resource": [param]})
            out.append({
                "Sid": f"DecryptSecret{sid}",
                "Effect": "Allow",
                "Action": ["kms:Decrypt"],
                "Resource": [Sub("arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*")],
                "Condition": {"StringEquals": {
                    "kms:ViaService": Sub("ssm.${AWS::Region}.amazonaws.com"),
                    "kms:EncryptionContext:PARAMETER_ARN": param,
                }},
            })
        else:
            resource = secret_resource(ref.source)
            _, partition, _, region, account = ref.source.split(":")[:5]
            out.append({"Sid": f"ReadSecret{sid}", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
                        "Resource": [resource]})
            out.append({
                "Sid": f"DecryptSecret{sid}",
                "Effect": "Allow",
                "Action": ["kms:Decrypt"],
                "Resource": [f"arn:{partition}:kms:{region}:{account}:key/*"],
                "Condition": {
                    "StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"},
                    "StringLike": {"kms:EncryptionContext:SecretARN": resource},
                },
            })
    return out


def user_statements(where: str, config: FunctionConfig) -> list[Statement]:
    """Everything ``config`` grants (policies, then secrets); raises ``WorkflowDefinitionError`` naming ``where``."""
    statements = policy_statements(where, config) + secret_statements(config.secret_refs())
    sids = [s["Sid"] for s in statements]
    clash = sorted({s for s in sids if sids.count(s) > 1})
    if clash:
        raise WorkflowDefinitionError(f"{where}: statement Sid(s) {clash} are used twice; rename them")
    return statements


def policy_chars(statements: list[Statement]) -> int:
    """Characters of a policy document, whitespace excluded, as IAM counts them (before intrinsics resolve)."""
    text = json.dumps({"Version": "2012-10-17", "Statement": to_json(statements)}, separators=(",", ":"))
    return len(text)


def check_role_size(where: str, statements: list[Statement]) -> None:
    """Fail when a role's policy would exceed IAM's 10,240-character limit (deploy would fail)."""
    size = policy_chars(statements)
    if size > ROLE_POLICY_CHARS:
        raise WorkflowDefinitionError(
            f"{where}: its role policy would be about {size} characters, over IAM's {ROLE_POLICY_CHARS}; "
            "use fewer or broader statements (e.g. one statement with several resources)"
        )


__all__ = [
    "ROLE_POLICY_CHARS",
    "check_role_size",
    "expand_template",
    "parameter_arn",
    "policy_statements",
    "secret_statements",
    "template_names",
    "user_statements",
]
