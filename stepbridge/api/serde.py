"""The ``serde=`` hook: how values of types stepbridge does not know are stored (issue 14, item 5).

stepbridge stores every value as readable JSON and rebuilds it from the annotation of the step or
workflow that produces or takes it: pydantic models, dataclasses, ``datetime``, ``date``, ``Decimal``,
``UUID``, ``bytes`` (base64url text), enums, and ``list[...]``/``dict[...]`` of them need nothing. For
anything else, give ``App(serde=...)``, ``@app.step(serde=...)`` or ``@app.workflow(serde=...)`` an object
with two methods; either may return ``NotImplemented`` to fall back to the default for that value::

    class MoneySerde:
        def encode(self, value):            # any value -> JSON-compatible data
            return {"amount": str(value.amount), "currency": value.currency} if isinstance(value, Money) \
                else NotImplemented
        def decode(self, data, tp):         # JSON data + the annotation -> the value
            return Money(Decimal(data["amount"]), data["currency"]) if tp is Money else NotImplemented

A declared step's ``serde`` covers its arguments and result, a workflow's its input and result; the app's
covers the rest (inline step results) and is the default of both.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Serde(Protocol):
    """Encode values to JSON-compatible data and decode them back, given the annotated type."""

    def encode(self, value: Any) -> Any:
        """JSON-compatible data for ``value``, or ``NotImplemented`` for the default encoding."""

    def decode(self, data: Any, tp: Any) -> Any:
        """The value of type ``tp`` that ``data`` encodes, or ``NotImplemented`` for the default decoding."""


def check_serde(serde: Any, where: str) -> Serde | None:
    """``serde`` if it has ``encode`` and ``decode``; a clear definition error otherwise."""
    if serde is None:
        return None
    if not isinstance(serde, Serde):
        from stepbridge.errors import WorkflowDefinitionError

        raise WorkflowDefinitionError(
            f"{where}: serde= needs an object with encode(value) and decode(data, tp) methods, got {serde!r}"
        )
    return serde
