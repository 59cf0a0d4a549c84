"""The two small interfaces the runtime needs from the outside world.

``Store`` is all durable state (one DynamoDB table in AWS, a dict in unit tests).
``Effects`` is everything else that leaves the process: invoking a step's Lambda, waking an
execution through the FIFO work queue, one-time timers (EventBridge Scheduler) and publishing
events (EventBridge). ``stepbridge/infra`` implements both; the runtime knows only these.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from stepbridge.runtime.messages import WorkMessage
from stepbridge.runtime.records import (
    Event,
    ExecutionGlance,
    ExecutionRecord,
    JournalRecord,
    StepInvocation,
    WakeMessage,
)


@dataclass(frozen=True)
class Item:
    """A generic keyed item (waiters, event log, cache, debounce, state machines, breakers)."""

    pk: str
    sk: str
    body: dict[str, Any]
    version: int = 0
    expires_at: str | None = None
    #: ``(hash, range)`` keys in the ``by-assignee`` index (the task inbox); ``None`` = not indexed.
    index: tuple[str, str] | None = None


class Store(Protocol):
    """Durable state. Every write that could race is conditional and reports whether it won."""

    # executions
    def create_execution(self, record: ExecutionRecord) -> bool:
        """Insert if no execution with this id exists; ``False`` when one does (nothing written)."""

    def get_execution(self, execution_id: str, *, consistent: bool = True) -> ExecutionRecord | None:
        """The execution header, or ``None``; ``consistent=False`` may return a header a moment old
        (DynamoDB's eventually consistent read, half the read units) - for advisory checks only."""

    def glance_execution(self, execution_id: str, *, consistent: bool = False) -> ExecutionGlance | None:
        """The header's workflow, status and cancel flag, without its body (an advisory check's read: the body
        holds the input); eventually consistent unless ``consistent``, as :meth:`get_execution`."""

    def save_execution(self, record: ExecutionRecord) -> bool:
        """Write ``record`` if the stored version is still ``record.version``; bumps the version.

        ``False`` means someone else updated it first (re-read and decide again).
        """

    def list_executions(
        self, workflow: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[ExecutionRecord]:
        """Executions, newest first, optionally filtered."""

    def list_unfinished(self, status: str, *, after: str | None, limit: int) -> list[ExecutionRecord]:
        """RUNNING or SCHEDULED executions oldest first (the ``by-status`` index), those whose sort key
        (``records.status_cursor``) is after ``after``; at most ``limit``. The sweeper pages with it."""

    def load_execution(self, execution_id: str) -> tuple[ExecutionRecord | None, list[JournalRecord]]:
        """The header (``None`` if absent) and the whole journal, read together and consistently: one
        request where :meth:`get_execution` then :meth:`load_journal` make two (a cold wake-up needs both)."""

    # journal
    def load_journal(self, execution_id: str) -> list[JournalRecord]:
        """All journal records of an execution, in any order (the engine indexes them by key)."""

    def load_journal_since(self, execution_id: str, after_seq: int, *, dense: bool = False) -> list[JournalRecord]:
        """The orchestrator's ordered log records (``record.logged``) with ``seq > after_seq``, in ``seq`` order.

        ``dense``: the caller knows the log has no hole after ``after_seq`` (a running execution's log: a replay
        writes slot ``n + 1`` only after it saw slot ``n``; only retention deletes slots, after the end), so
        an absent slot ``after_seq + 1`` means nothing follows (a store may answer from that slot alone)."""

    def get_journal(self, execution_id: str, key: str) -> JournalRecord | None:
        """The record stored under ``key`` outside the ordered log (a report or a shared claim), or ``None``."""

    def append_journal(self, execution_id: str, record: JournalRecord) -> bool:
        """Append if the record's slot is free; ``False`` when it is taken (a duplicate or a racing writer).

        The slot is ``record.slot``: the log position ``seq`` for the orchestrator's own records,
        the key for reports of other writers and shared claims.
        """

    def put_journal(self, execution_id: str, record: JournalRecord) -> None:
        """Write a bookkeeping record (key starting with ``$``) unconditionally, replacing an earlier one.

        The engine's only use is the ``$replayed`` marker (see ``runtime/sweeper.py``); operation
        records always go through :meth:`append_journal`.
        """

    # generic items
    def put_item(self, item: Item, *, if_absent: bool = False, if_version: int | None = None) -> bool:
        """Write an item; with ``if_absent`` only when new, with ``if_version`` only when the stored version matches.

        A successful write stores ``version + 1`` when ``if_version`` is given, else ``item.version``.
        """

    def get_item(self, pk: str, sk: str) -> Item | None:
        """One item, or ``None`` (expired items count as absent)."""

    def query_items(self, pk: str, *, sk_prefix: str = "", sk_from: str | None = None, limit: int = 1000) -> list[Item]:
        """Items under ``pk`` in ascending sort-key order (expired ones left out)."""

    def delete_item(self, pk: str, sk: str, *, if_version: int | None = None) -> bool:
        """Delete (optionally only at a given version); ``True`` if something was deleted."""

    def query_index(self, key: str, *, sk_prefix: str = "", limit: int = 100) -> list[Item]:
        """Live items whose ``index`` hash key is ``key`` (the ``by-assignee`` index), ascending by its range
        key, optionally only range keys starting with ``sk_prefix``; eventually consistent (a GSI)."""


class Blobs(Protocol):
    """Large values (claim checks, ``runtime/payloads.py``): the app's S3 bucket in AWS, a dict in unit tests."""

    #: The bucket name written into references (``s3://{bucket}/{key}``).
    bucket: str

    def put_blob(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` (overwriting is harmless: keys are content hashes)."""

    def get_blob(self, key: str) -> bytes | None:
        """The bytes under ``key``, or ``None`` when there is no such object (expired or never written)."""


class StepNotStarted(Exception):
    """A synchronously invoked step certainly did not start: Lambda refused it (``TooManyRequestsException``:
    reserved or account concurrency) or the request never reached Lambda (no connection)."""


class Effects(Protocol):
    """Side effects that leave the process, plus the clock."""

    def now(self) -> datetime:
        """Current UTC time (virtual in LocalCloud)."""

    def wake(self, message: WorkMessage) -> None:
        """Enqueue a work message (SQS FIFO, group = ``messages.message_group``: an execution's id)."""

    def invoke_step(self, invocation: StepInvocation) -> None:
        """Start a declared step's Lambda asynchronously."""

    def call_step(self, invocation: StepInvocation) -> WakeMessage | None:
        """Invoke a declared step's Lambda synchronously (``invocation.reply_by`` is set) and return the wake-up it
        answered with; ``None`` when it answered none (it reported after ``reply_by`` and woke the orchestrator
        through the queue, skipped the attempt, or failed) or no answer came in time. Raises
        :class:`StepNotStarted` when the function certainly did not start (the caller then invokes it
        asynchronously: Lambda queues those)."""

    def schedule_timer(self, name: str, at: datetime, message: WorkMessage) -> None:
        """Create a one-time timer that sends ``message`` to the work queue at ``at`` (idempotent by name)."""

    def cancel_timer(self, name: str) -> None:
        """Delete a timer if it still exists."""

    def publish(self, events: Sequence[Event]) -> None:
        """Put events on the app's bus."""
