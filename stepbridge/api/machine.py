"""State machine definitions: ``StateMachine``, ``State`` and ``Transition`` (plain data).

Hooks (``guard``, ``action``, ``entry``, ``exit``) take ``(context)`` or ``(context, event)``;
an action returning a dict is merged into the context, ``None`` leaves it unchanged.
The engine that runs them lives in ``stepbridge.runtime.machines``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from stepbridge.errors import WorkflowDefinitionError

Hook = Callable[..., Any]


@dataclass(frozen=True)
class Transition:
    """Move to ``target`` when the event arrives, if ``guard`` (when given) returns true."""

    target: str
    guard: Hook | None = None
    action: Hook | None = None


@dataclass(frozen=True)
class State:
    """One state: its outgoing transitions keyed by machine event name, and entry/exit hooks."""

    on: Mapping[str, Transition] = field(default_factory=dict)
    entry: Hook | None = None
    exit: Hook | None = None

    @property
    def final(self) -> bool:
        """A state with no outgoing transitions is final."""
        return not self.on


@dataclass(frozen=True)
class StateMachine:
    """A named finite state machine; instances are keyed and persisted by the runtime."""

    name: str
    initial: str
    states: Mapping[str, State]
    context: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ``WorkflowDefinitionError`` naming the machine and state for any dangling reference."""
        if not self.states:
            raise WorkflowDefinitionError(f"state machine '{self.name}' has no states")
        if self.initial not in self.states:
            raise WorkflowDefinitionError(
                f"state machine '{self.name}': initial state '{self.initial}' is not among its states "
                f"{sorted(self.states)}"
            )
        for state_name, state in self.states.items():
            for event, transition in state.on.items():
                if transition.target not in self.states:
                    raise WorkflowDefinitionError(
                        f"state machine '{self.name}': transition '{event}' from state '{state_name}' "
                        f"targets unknown state '{transition.target}'"
                    )

    def events(self) -> list[str]:
        """All machine event names used by any transition, sorted."""
        return sorted({event for state in self.states.values() for event in state.on})

    def mermaid(self) -> str:
        """A Mermaid ``stateDiagram-v2`` of this machine."""
        lines = ["stateDiagram-v2", f"    [*] --> {self.initial}"]
        for state_name, state in self.states.items():
            for event, transition in state.on.items():
                label = event + (" [guard]" if transition.guard else "")
                lines.append(f"    {state_name} --> {transition.target}: {label}")
            if state.final:
                lines.append(f"    {state_name} --> [*]")
        return "\n".join(lines)
