"""CloudFormation intrinsic functions as small values the YAML emitter prints in short form.

``Ref("Table")`` prints as ``!Ref Table``, ``GetAtt("Table", "Arn")`` as ``!GetAtt Table.Arn`` and
``Sub("${AWS::StackName}-bus")`` as ``!Sub ${AWS::StackName}-bus``. :func:`to_json` turns a
template built from them into the plain long-form JSON (``{"Ref": ...}``) that the SAM
translator, cfn-lint and CloudFormation APIs take.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Ref:
    """``!Ref name``: a resource's default value (name, URL, ...) or a pseudo parameter."""

    name: str


@dataclass(frozen=True)
class GetAtt:
    """``!GetAtt resource.attribute``."""

    resource: str
    attribute: str


@dataclass(frozen=True)
class Sub:
    """``!Sub template``: ``${Resource}``, ``${Resource.Attr}`` and ``${AWS::...}`` substituted."""

    template: str


def arn(service: str, resource: str, *, region: bool = True, account: bool = True) -> Sub:
    """``arn:${AWS::Partition}:service:${AWS::Region}:${AWS::AccountId}:resource`` as a ``!Sub``."""
    reg = "${AWS::Region}" if region else ""
    acct = "${AWS::AccountId}" if account else ""
    return Sub(f"arn:${{AWS::Partition}}:{service}:{reg}:{acct}:{resource}")


def to_json(value: object) -> object:
    """Long-form JSON of a template (or fragment) that may contain intrinsic values."""
    if isinstance(value, Ref):
        return {"Ref": value.name}
    if isinstance(value, GetAtt):
        return {"Fn::GetAtt": [value.resource, value.attribute]}
    if isinstance(value, Sub):
        return {"Fn::Sub": value.template}
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value
