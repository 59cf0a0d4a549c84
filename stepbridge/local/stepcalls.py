"""LocalCloud's synchronous step invoke (``Effects.call_step``, runtime/stepreply.py): the step runs at once.

In AWS the orchestrator's ``RequestResponse`` Invoke blocks until the step's Lambda returns. Here the step
handler runs nested in the orchestrator's invocation, in the step's warm container, as its own function (its
environment without the orchestrator's, its IAM identity, fault target ``step``), and its response is what the
orchestrator reads. When things go wrong:

* ``step.timeout``: the function is killed at its timeout before reporting (as for an asynchronous invoke).
* A crash of the step's container (``Crash``) or an exception out of its handler is a function error: no
  answer, and no asynchronous invoke for it (the step may have run); the deadline timer stands in.
* Throttling, a crash of the orchestrator around the call and a lost answer (``ambiguous.write``) are injected
  by the fault wrapper of the orchestrator's effects, as for every port call (local/faults.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stepbridge.api.deploy import FunctionConfig
from stepbridge.infra.aws import invoke_request
from stepbridge.local import awslimits
from stepbridge.local.functionenv import outside_function
from stepbridge.local.values import Crash
from stepbridge.runtime.records import StepInvocation, WakeMessage

if TYPE_CHECKING:
    from stepbridge.local.cloud import LocalCloud


def call_step(cloud: LocalCloud, invocation: StepInvocation) -> WakeMessage | None:
    """One synchronous Invoke of a declared step's function; the wake-up it answered with, or ``None``."""
    request = invoke_request(cloud.app.name, invocation, sync=True)
    awslimits.check("lambda", "Invoke", request)
    cloud.calls["lambda.Invoke"] += 1
    if cloud.faults is not None:
        cloud.faults.on_step_call()  # fault hook: the function times out before reporting
    cloud.step_containers.sent(invocation, request["Payload"])
    response = run_step(cloud, invocation, inside=cloud.app.orchestrator_config)
    reply = response.get("reply") if response is not None else None
    return WakeMessage.from_dict(reply) if isinstance(reply, dict) else None


def run_step(
    cloud: LocalCloud, invocation: StepInvocation, *, inside: FunctionConfig | None = None
) -> dict[str, object] | None:
    """One invocation of a step's function in its warm container, as that function (run from inside the function
    of ``inside``: without its environment); its response, or ``None`` when its container died (``Crash``) or its
    handler raised (kept in ``failed_deliveries``): a function error either way."""
    try:
        with outside_function(inside), cloud._invoking("step"), cloud._as_function(invocation.step):
            return cloud.step_containers.run(cloud.env, invocation, cloud._lambda_context(invocation))
    except Crash:
        cloud.crashes["step"] += 1
        return None
    except Exception as exc:
        cloud._delivery_failed("step", invocation.to_dict(), exc)
        return None
