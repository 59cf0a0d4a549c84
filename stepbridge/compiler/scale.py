"""Keeping a large app inside CloudFormation's and IAM's limits.

* **Resources per stack** - 500 (CloudFormation quotas, "Resources: maximum number of resources that
  you can declare in your AWS CloudFormation template", 500). Declared steps share one log group and
  (when they declare no grants) one role, so a step costs 2 resources after the SAM transform
  (function + ``EventInvokeConfig``), 3 with grants of its own (+ its role). See docs/DEPLOY.md.
* **Role policy size** - 10,240 characters (IAM quotas). The orchestrator may invoke exactly the
  declared step functions: up to :data:`INVOKE_LIST_MAX` steps it lists their ARNs; past that the
  list would not fit, so the grant names this stack's step functions by name prefix *and* by two
  tags: ``aws:cloudformation:stack-name`` (set by CloudFormation itself, not settable by users) and
  :data:`STEP_TAG` (only the step functions carry it). Lambda supports ``aws:ResourceTag`` on
  ``lambda:InvokeFunction`` (Lambda developer guide, "Attribute-based access control").
"""

from __future__ import annotations

from stepbridge.compiler.intrinsics import Sub
from stepbridge.compiler.model import AppModel

#: Tag every declared step's function carries (value ``"step"``).
STEP_TAG = "stepbridge:function"
#: Most step ARNs the orchestrator's invoke statement lists one by one (about 100 characters each once
#: resolved: 40 of them keep the orchestrator's policy well under IAM's 10,240 characters).
INVOKE_LIST_MAX = 40


def invoke_steps_statement(model: AppModel, statement: dict[str, object]) -> dict[str, object]:
    """``statement`` unchanged, unless it is the orchestrator's step-invoke grant of a large app:
    then the same grant by name prefix + tags."""
    if statement.get("Sid") != "InvokeDeclaredSteps" or len(model.steps) <= INVOKE_LIST_MAX:
        return statement
    return {
        "Sid": "InvokeDeclaredSteps",
        "Effect": "Allow",
        "Action": ["lambda:InvokeFunction"],
        "Resource": [Sub("arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}-*")],
        "Condition": {
            "StringEquals": {
                "aws:ResourceTag/aws:cloudformation:stack-name": Sub("${AWS::StackName}"),
                f"aws:ResourceTag/{STEP_TAG}": "step",
            }
        },
    }


__all__ = ["INVOKE_LIST_MAX", "STEP_TAG", "invoke_steps_statement"]
