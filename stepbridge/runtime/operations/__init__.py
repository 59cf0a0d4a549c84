"""One class per durable operation: a pure ``state(records)`` and a pure ``decide(state, now)``.

Each operation reads where it stands from its journal records with ``state`` (a frozen
dataclass, the only reading of those records: the engine, the sweeper, the orchestrator's
clean-up and the history all call it) and decides what to do next with ``decide``, which returns
an action (``actions.py``: record, set a timer, dispatch, suspend, return, raise). The engine's
operation bodies (``steps.py``, ``waits.py``, ``children.py``, ``context.py``) carry the actions
out with ``interpret.py``; the decision tables are unit-tested without any cloud
(``tests/unit/test_operation_*.py``).

Modules: ``declared`` (a step run by its own Lambda), ``inline`` (a step run in the orchestrator),
``sleep``, ``wait`` (``wait_for`` an event), ``child`` (a child workflow), ``send``, ``progress``,
``patch``; ``actions`` and ``interpret``.
"""
