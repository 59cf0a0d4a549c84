"""``App(tags={...})`` on every taggable resource the compiler emits.

SAM types take a ``Tags`` map (functions get theirs through ``Globals.Function.Tags``, which SAM
merges with a function's own); CloudFormation types take a list of ``{Key, Value}``. Types whose
CloudFormation schema has no ``Tags`` (layer versions, schedules, permissions, EventBridge rules)
are left alone. CloudFormation also tags what it creates with ``aws:cloudformation:*`` itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Resource types that take a ``Tags`` list of ``{"Key", "Value"}`` (CloudFormation resource reference).
LIST_TAGGED = frozenset(
    {
        "AWS::DynamoDB::Table",
        "AWS::SQS::Queue",
        "AWS::Events::EventBus",
        "AWS::Logs::LogGroup",
        "AWS::IAM::Role",
        "AWS::Scheduler::ScheduleGroup",
        "AWS::S3::Bucket",
    }
)
#: SAM resource types that take a ``Tags`` map (the function's come from Globals).
MAP_TAGGED = frozenset({"AWS::Serverless::HttpApi"})


def apply_tags(template: dict[str, Any], tags: Mapping[str, str]) -> None:
    """Add ``tags`` to every taggable resource of ``template`` (in place); a no-op without tags."""
    if not tags:
        return
    ordered = dict(sorted(tags.items()))
    template["Globals"]["Function"]["Tags"] = dict(ordered)
    for resource in template["Resources"].values():
        kind = resource.get("Type")
        props = resource.setdefault("Properties", {})
        if kind in LIST_TAGGED:
            existing = list(props.get("Tags", []))
            keys = {t["Key"] for t in existing}
            props["Tags"] = existing + [{"Key": k, "Value": v} for k, v in ordered.items() if k not in keys]
        elif kind in MAP_TAGGED:
            props["Tags"] = {**ordered, **dict(props.get("Tags", {}))}


__all__ = ["LIST_TAGGED", "MAP_TAGGED", "apply_tags"]
