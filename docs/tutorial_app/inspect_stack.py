"""Inspect an expense approval on the deployed stack (docs/TUTORIAL.md, step 9).

    python inspect_stack.py expense-tutorial exp-1
"""

from __future__ import annotations

import sys

from stepbridge.client import Client


def report(client: Client, execution_id: str) -> str:
    """Status, result and history of one execution, as text."""
    d = client.describe(execution_id)
    lines = [f"{d.execution_id} ({d.workflow}): {d.status}"]
    if d.result is not None:
        lines.append(f"result: {d.result}")
    for event in client.history(execution_id):
        name = event.detail.get("name", "")
        lines.append(f"  {event.time}  {event.detail_type}  {name}")
    return "\n".join(lines)


if __name__ == "__main__":
    stack, execution_id = sys.argv[1], sys.argv[2]
    print(report(Client.for_stack(stack), execution_id))
