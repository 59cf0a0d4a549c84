"""``Suspend``: how a workflow stops at an operation that must wait, and the guard against work while it unwinds."""

from __future__ import annotations

import sys

from stepbridge.runtime.guard import EngineSignal


class Suspend(EngineSignal):
    """The workflow must wait for something outside this invocation (a step, timer, event or child).

    ``consumed`` is set when the engine itself settles it (``ctx.gather``/``ctx.map`` keep a waiting
    branch and go on); a suspension that neither reaches the engine nor was consumed was swallowed
    by user code (``except BaseException``), and the engine suspends the execution anyway.
    """

    consumed = False


def refuse_while_suspending() -> None:
    """Raise ``Suspend`` again when called while a suspension unwinds the workflow.

    The workflow suspends by raising ``Suspend`` through the user's code, so a plain ``finally:``
    (or ``except BaseException:``) block runs at that moment. An operation started there - a
    cleanup step, a lock release - must not run or be journaled now: it belongs to the replay in
    which the ``try`` block really ends. While such a block handles the ``Suspend``,
    ``sys.exc_info()`` names it (coroutines keep their own exception state across ``await``).
    """
    if isinstance(sys.exc_info()[1], Suspend):
        raise Suspend()
