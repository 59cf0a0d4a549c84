"""The soak harness: run a seeded workload on LocalCloud with and without faults, and compare.

``build_workload(seed, executions)`` draws a mix of the soak app's workflows (starts spread over
half an hour of virtual time, approval decisions, trigger events and cancellations).
``run(workload, backend=..., faults=...)`` plays it on a LocalCloud the way production runs: the
clock moves in 30 s ticks, the sweeper runs every 5 minutes (its schedule in the template), and
no dead-lettered message is redriven unless asked (``--redrive``): the sweeper alone must recover
every execution whose wake-up was lost.
``compare(baseline, faulty)`` checks the invariants and returns the figures.

Run it by hand for bigger numbers::

    .venv/bin/python tests/soak/soak_harness.py --executions 2000 --seed 11 [--backend moto]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).parent))

import soak_app

from stepbridge.local import LocalCloud
from stepbridge.local.faults import KINDS, FaultPlan
from stepbridge.local.liveness import liveness_violations
from stepbridge.runtime.records import TERMINAL

TICK = timedelta(seconds=30)
SWEEP_EVERY = timedelta(minutes=5)
#: Every workflow of the workload is over within this (the longest is a 2 h sleep).
HORIZON = timedelta(hours=3)
#: Extra time the harness keeps sweeping after the horizon before it calls an execution lost.
DRAIN = timedelta(hours=6)
#: After the horizon faults stop; this long later the liveness check runs. The sweeper's recovery bound
#: (docs/RELIABILITY.md): a lost wake-up is acted on within its 2-minute grace plus one sweep interval
#: (5 minutes) per page of 10,000 unfinished executions, plus one interval for the schedule's alignment
#: - 12 minutes for the soak's few hundred; three sweeps here.
RECOVERY = timedelta(minutes=15)

#: The mix: workflow -> weight.
MIX = {
    "order": 20,
    "enrich": 12,
    "api": 12,
    "approval": 14,
    "parent": 10,
    "campaign": 8,
    "hold": 8,
    "counter": 6,
    "poked": 10,
}

#: Fault rates of the soak: per opportunity (a port call, a delivery, a timer firing).
SOAK_RATES = {
    "throttle.dynamodb": 0.01,
    "throttle.sqs": 0.02,
    "throttle.lambda": 0.02,
    "throttle.scheduler": 0.02,
    "throttle.eventbridge": 0.02,
    "crash.before_write": 0.01,
    "crash.after_write": 0.01,
    "ambiguous.write": 0.005,
    "queue.duplicate": 0.05,
    "queue.reorder": 0.05,
    "step.duplicate": 0.05,
    "step.timeout": 0.03,
    "event.duplicate": 0.05,
    "timer.lost": 0.05,
    "timer.duplicate": 0.02,
    "timer.early": 0.02,
    "event.late_duplicate": 0.02,
    "clock.skew": 0.05,
    "throttle.dynamodb_sdk": 0.01,
    "queue.visibility_expired": 0.01,
}


@dataclass(frozen=True)
class Action:
    """Something the outside world does at ``at`` (seconds after the start)."""

    at: float
    kind: str  # start | event | cancel
    workflow: str = ""
    execution_id: str = ""
    payload: Any = None
    compensate: bool = False


def build_workload(seed: int, executions: int) -> list[Action]:
    """``executions`` top-level executions of the mix (children and new generations come on top)."""
    rng = random.Random(seed)
    names = list(MIX)
    weights = [MIX[n] for n in names]
    actions: list[Action] = []
    for n in range(executions):
        workflow = rng.choices(names, weights)[0]
        at = rng.uniform(0, 1800)
        eid = f"{workflow}-{n}"
        if workflow == "order":
            order = {
                "id": eid,
                "amount": rng.randint(5, 500),
                "items": rng.randint(1, 4),
                "flaky": rng.choice([0, 0, 1, 2]),
                "decline": rng.random() < 0.15,
                "fail_confirm": rng.random() < 0.1,
            }
            actions.append(Action(at, "start", workflow, eid, order))
        elif workflow == "enrich":
            actions.append(Action(at, "start", workflow, eid, {"id": eid, "n": rng.randint(1, 50)}))
        elif workflow == "api":
            data = {"n": n, "failures": rng.choice([0, 1, 2, 3]), "pause": rng.choice([1, 5, 60])}
            actions.append(Action(at, "start", workflow, eid, data))
        elif workflow == "approval":
            actions.append(Action(at, "start", workflow, eid, {"id": eid}))
            if rng.random() < 0.7:
                detail = {"itemId": eid, "approved": rng.random() < 0.8, "approver": f"boss-{n % 7}"}
                actions.append(Action(at + rng.uniform(30, 2400), "event", payload=("Approval.decided", detail)))
        elif workflow == "parent":
            job = {"id": eid, "numbers": [rng.randint(0, 9) for _ in range(3)], "n": rng.randint(1, 20)}
            actions.append(Action(at, "start", workflow, eid, job))
        elif workflow == "campaign":
            campaign = {"id": eid, "recipients": rng.randint(1, 3), "fanout": rng.randint(1, 4)}
            actions.append(Action(at, "start", workflow, eid, campaign))
        elif workflow == "hold":
            actions.append(Action(at, "start", workflow, eid, {"id": eid}))
            if rng.random() < 0.4:
                actions.append(
                    Action(at + rng.uniform(600, 3600), "cancel", execution_id=eid, compensate=rng.random() < 0.75)
                )
        elif workflow == "counter":
            actions.append(Action(at, "start", workflow, eid, {"generation": 0, "total": rng.randint(0, 9)}))
        else:
            actions.append(Action(at, "event", payload=("Soak.poked", {"id": eid})))
    actions.sort(key=lambda a: (a.at, a.kind, a.execution_id))
    return actions


@dataclass
class Outcome:
    """One execution at the end of a run."""

    status: str
    result: Any
    error_type: str | None
    finals: dict[str, tuple[str, Any]]  # op -> (kind, result or error type) of each final journal record
    records: int
    duplicated: int  # final records beyond the first for one operation (must be 0)


@dataclass
class RunResult:
    """Everything a run produced."""

    outcomes: dict[str, Outcome]
    ledger: Counter[str]
    events: Counter[str]
    injected: dict[str, int]
    detail: Counter[str]
    crashes: dict[str, int]
    swept: int
    redriven: int
    failed_deliveries: int
    dead_letters: int
    router_dead_letters: int
    #: Router queue receives (``trigger``, ``event``) and how many of them failed (``failed``).
    router_receives: dict[str, int]
    seconds: float
    virtual_hours: float
    executions_started: int
    not_terminal: list[str] = field(default_factory=list)
    #: Liveness violations once faults stopped and the sweeper had its recovery bound (formatted).
    stuck: list[str] = field(default_factory=list)
    #: SHA-256 of the final table (every header and journal record) and the published events, in order.
    digest: str = ""


def _logical_id(rec: Any) -> str:
    if rec.workflow == "poked":
        return f"poked:{(rec.input or {}).get('id')}"
    return str(rec.execution_id)


def _normalized(ledger: Counter[str], logical: dict[str, str]) -> Counter[str]:
    """Ledger keys with execution ids replaced by logical ids (triggered runs get random ids)."""
    out: Counter[str] = Counter()
    for key, count in ledger.items():
        effect, _, rest = key.partition(":")
        execution_id, _, op = rest.rpartition(":")
        out[f"{effect}:{logical.get(execution_id, execution_id)}:{op}"] += count
    return out


def _duplicated(journal: list[Any]) -> int:
    """Operations recorded as finished more than once, and step attempts recorded more than once."""
    finals = Counter(r.op for r in journal if r.kind in ("result", "error", "timeout"))
    attempts = Counter((r.op, r.kind, r.data.get("attempt")) for r in journal if r.kind in ("dispatch", "attempt"))
    return sum(n - 1 for n in finals.values() if n > 1) + sum(n - 1 for n in attempts.values() if n > 1)


def _finals(journal: list[Any]) -> dict[str, tuple[str, Any]]:
    out: dict[str, tuple[str, Any]] = {}
    for r in journal:
        if r.key == r.op and r.kind in ("result", "error", "timeout"):
            if r.kind == "result":
                value = r.data.get("result") if r.type != "wait" else r.data.get("event", {}).get("detail")
            elif r.kind == "error":
                value = (r.data.get("error") or {}).get("type")
            else:
                value = None
            out[r.op] = (r.kind, value)
    return out


def table_digest(cloud: LocalCloud) -> str:
    """A digest of everything a run leaves behind: headers, journals and published events, in order."""
    h = hashlib.sha256()
    for rec in sorted(cloud.store.list_executions(limit=1_000_000), key=lambda r: r.execution_id):
        h.update(json.dumps(asdict(rec), sort_keys=True, default=str).encode())
        for jr in sorted(cloud.store.load_journal(rec.execution_id), key=lambda r: (r.key, r.seq)):
            h.update(json.dumps(asdict(jr), sort_keys=True, default=str).encode())
    for ev in cloud.events:
        h.update(json.dumps([ev.detail_type, ev.detail, ev.source, ev.id, ev.time], sort_keys=True).encode())
    return h.hexdigest()


def run(
    workload: list[Action],
    *,
    backend: str = "memory",
    faults: FaultPlan | None = None,
    horizon: timedelta = HORIZON,
    redrive: bool = False,
    containers: int = 1,
) -> RunResult:
    """Play ``workload`` on a fresh LocalCloud; returns every execution's outcome and the counters.

    ``containers`` > 1 spreads the work queue over that many orchestrator containers, each with its
    own journal cache (seeded), so resumes keep landing on copies another container left behind.
    """
    soak_app.LEDGER.clear()
    began = time.perf_counter()
    swept = redriven = 0
    with LocalCloud(
        soak_app.app,
        backend=backend,
        eager=False,
        faults=faults,
        orchestrator_containers=containers,
        container_seed=faults.seed if faults is not None else 0,
        id_seed=faults.seed if faults is not None else 0,
    ) as cloud:
        client = cloud.client()
        start = cloud.now()
        pending = list(workload)
        elapsed = timedelta(0)
        since_sweep = timedelta(0)

        def tick() -> None:
            nonlocal since_sweep, swept
            cloud.advance(TICK)
            since_sweep += TICK
            if since_sweep >= SWEEP_EVERY:
                since_sweep = timedelta(0)
                swept += len(cloud.sweep())

        while elapsed < horizon:
            while pending and pending[0].at <= elapsed.total_seconds():
                action = pending.pop(0)
                if action.kind == "start":
                    client.start(action.workflow, action.payload, execution_id=action.execution_id)
                elif action.kind == "event":
                    event_type, detail = action.payload
                    client.send_event(event_type, detail)
                else:
                    client.cancel(action.execution_id, compensate=action.compensate)
            tick()
            elapsed += TICK

        # Faults stop at the horizon; after the sweeper's recovery bound every execution must have ended
        # with a named cause or be legitimately waiting (stepbridge.local.liveness).
        if cloud.faults is not None:
            cloud.faults.enabled = False
        recovered = timedelta(0)
        while recovered < RECOVERY:
            tick()
            recovered += TICK
        stuck = [str(v) for v in liveness_violations(cloud)]
        if redrive:  # the operator answers the dead-letter alarms (also for events whose run never started)
            redriven += cloud.redrive()
            cloud.run_until_idle()

        def unfinished() -> list[str]:
            return [r.execution_id for r in cloud.store.list_executions(limit=1_000_000) if r.status not in TERMINAL]

        drained = timedelta(0)
        while unfinished() and drained < DRAIN:
            tick()
            drained += TICK
            if redrive and drained % timedelta(minutes=30) == timedelta(0):
                redriven += cloud.redrive()  # the operator answers the DLQ alarm
        left = unfinished()

        outcomes: dict[str, Outcome] = {}
        records = cloud.store.list_executions(limit=1_000_000)
        logical = {rec.execution_id: _logical_id(rec) for rec in records}
        for rec in records:
            journal = cloud.store.load_journal(rec.execution_id)
            error = rec.error or {}
            outcomes[_logical_id(rec)] = Outcome(
                rec.status,
                rec.result,
                error.get("type") if rec.error else None,
                _finals(journal),
                len(journal),
                _duplicated(journal),
            )
        events = Counter(f"{e.detail_type}:{sorted(e.detail.items())}" for e in cloud.events if e.source == "soak")
        digest = table_digest(cloud)
        injected = cloud.faults.summary() if cloud.faults is not None else {k: 0 for k in KINDS}
        detail = Counter(cloud.faults.detail) if cloud.faults is not None else Counter()
        return RunResult(
            outcomes=outcomes,
            ledger=_normalized(soak_app.LEDGER, logical),
            events=events,
            injected=injected,
            detail=detail,
            crashes=dict(cloud.crashes),
            swept=swept,
            redriven=redriven,
            failed_deliveries=len(cloud.failed_deliveries),
            dead_letters=len(cloud.dead_letters()),
            router_dead_letters=sum(1 for f in cloud.failed_deliveries if f["target"] == "router"),
            router_receives=dict(cloud.router_receives),
            seconds=time.perf_counter() - began,
            virtual_hours=(cloud.now() - start).total_seconds() / 3600,
            executions_started=len(records),
            not_terminal=left,
            digest=digest,
            stuck=stuck,
        )


@dataclass
class Figures:
    """What the soak proves (and prints)."""

    executions: int
    top_level: int
    faults_injected: dict[str, int]
    lost: list[str]
    wrong_outcome: list[str]
    journal_mismatch: list[str]
    duplicated_journal_entries: int
    missing_side_effects: list[str]
    unexpected_side_effects: list[str]
    repeated_side_effects: int
    lost_events: list[str]
    repeated_events: int
    swept: int
    redriven: int
    dead_letters: int
    router_dead_letters: int
    baseline_swept: int
    crashes: dict[str, int]
    #: Router queue receives of the run with faults (``trigger``, ``event``, ``failed``).
    router_receives: dict[str, int] = field(default_factory=dict)
    #: Liveness violations of the run with faults, and of the fault-free run (must be none).
    stuck: list[str] = field(default_factory=list)
    #: :func:`table_digest` of the run with faults (equal on every run of the same seed, memory backend).
    digest: str = ""

    @property
    def ok(self) -> bool:
        """Every invariant holds."""
        return not (
            self.lost
            or self.wrong_outcome
            or self.journal_mismatch
            or self.duplicated_journal_entries
            or self.missing_side_effects
            or self.unexpected_side_effects
            or self.lost_events
            or self.baseline_swept
            or self.stuck
        )

    def lines(self) -> list[str]:
        """The figures as printable lines."""
        total = sum(self.faults_injected.values())
        out = [
            f"executions: {self.executions} ({self.top_level} started by the workload, the rest children, "
            "new generations and triggered runs)",
            f"faults injected: {total}",
        ]
        out += [f"  {kind:<22} {count}" for kind, count in self.faults_injected.items()]
        by_handler = ", ".join(f"{k} {v}" for k, v in sorted(self.crashes.items()))
        out += [
            f"container crashes handled: {sum(self.crashes.values())} ({by_handler})",
            f"executions woken by the sweeper: {self.swept} (baseline without faults: {self.baseline_swept})",
            f"wake-ups dead-lettered: {self.dead_letters} (recovered by the sweeper; redriven: {self.redriven})",
            f"router queue receives: {self.router_receives.get('trigger', 0) + self.router_receives.get('event', 0)}"
            f" ({self.router_receives.get('failed', 0)} failed and received again or dead-lettered)",
            f"router events dead-lettered (after ROUTER_MAX_RECEIVES receives): {self.router_dead_letters}",
            f"lost executions: {len(self.lost)}",
            f"stuck executions (liveness check {RECOVERY.seconds // 60} min after faults stopped): {len(self.stuck)}",
            f"wrong terminal state or result: {len(self.wrong_outcome)}",
            f"journal differs from the fault-free run: {len(self.journal_mismatch)}",
            f"duplicated journal entries: {self.duplicated_journal_entries}",
            f"side effects missing: {len(self.missing_side_effects)}, unexpected: {len(self.unexpected_side_effects)}",
            f"step runs repeated after a crash or timeout (at-least-once): {self.repeated_side_effects}",
            f"events lost: {len(self.lost_events)}, published more than once (at-least-once): {self.repeated_events}",
        ]
        return out


def compare(baseline: RunResult, faulty: RunResult, top_level: int) -> Figures:
    """The invariants: same terminal state, result and journal; no step recorded twice; nothing lost."""
    lost = sorted(set(baseline.outcomes) - set(faulty.outcomes)) + sorted(faulty.not_terminal)
    wrong, mismatch = [], []
    duplicated = sum(o.duplicated for o in faulty.outcomes.values())
    for key, expected in baseline.outcomes.items():
        got = faulty.outcomes.get(key)
        if got is None:
            continue
        if (got.status, got.result, got.error_type) != (expected.status, expected.result, expected.error_type):
            wrong.append(
                f"{key}: {got.status} {got.result!r} {got.error_type} != {expected.status} {expected.result!r}"
            )
        if got.finals != expected.finals:
            mismatch.append(key)
    for key in set(faulty.outcomes) - set(baseline.outcomes):
        wrong.append(f"{key}: exists only in the run with faults")
    missing = sorted(k for k in baseline.ledger if faulty.ledger.get(k, 0) == 0)
    unexpected = sorted(k for k in faulty.ledger if k not in baseline.ledger)
    repeated = sum(max(0, faulty.ledger[k] - baseline.ledger.get(k, 0)) for k in faulty.ledger)
    lost_events = sorted(k for k in baseline.events if faulty.events.get(k, 0) == 0)
    repeated_events = sum(max(0, faulty.events[k] - baseline.events.get(k, 0)) for k in faulty.events)
    return Figures(
        executions=len(faulty.outcomes),
        top_level=top_level,
        faults_injected=faulty.injected,
        lost=lost,
        wrong_outcome=wrong,
        journal_mismatch=mismatch,
        duplicated_journal_entries=duplicated,
        missing_side_effects=missing,
        unexpected_side_effects=unexpected,
        repeated_side_effects=repeated,
        lost_events=lost_events,
        repeated_events=repeated_events,
        swept=faulty.swept,
        redriven=faulty.redriven,
        dead_letters=faulty.dead_letters,
        router_dead_letters=faulty.router_dead_letters,
        router_receives=faulty.router_receives,
        baseline_swept=baseline.swept,
        crashes=faulty.crashes,
        digest=faulty.digest,
        stuck=faulty.stuck + [f"(fault-free run) {v}" for v in baseline.stuck],
    )


def soak(
    seed: int,
    executions: int,
    backend: str = "memory",
    rates: dict[str, float] | None = None,
    *,
    redrive: bool = False,
    containers: int = 1,
) -> Figures:
    """Baseline run (one container, no faults), faulty run (``containers`` orchestrator containers), comparison."""
    workload = build_workload(seed, executions)
    baseline = run(workload, backend=backend)
    faulty = run(
        workload,
        backend=backend,
        faults=FaultPlan(seed=seed, rates=rates or SOAK_RATES),
        redrive=redrive,
        containers=containers,
    )
    return compare(baseline, faulty, executions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=20260105)
    parser.add_argument("--executions", type=int, default=600)
    parser.add_argument("--backend", choices=["memory", "moto"], default="memory")
    parser.add_argument("--redrive", action="store_true", help="redrive the dead-letter queue every 30 minutes")
    parser.add_argument("--containers", type=int, default=1, help="orchestrator containers (journal caches)")
    args = parser.parse_args()
    from stepbridge.runtime.observability import logger

    logger().setLevel("CRITICAL")  # the injected faults log a warning each; the figures say it all
    began = time.perf_counter()
    figures = soak(args.seed, args.executions, args.backend, redrive=args.redrive, containers=args.containers)
    print(f"soak seed={args.seed} backend={args.backend} containers={args.containers}")
    print("\n".join(figures.lines()))
    for problem in (figures.lost + figures.stuck + figures.wrong_outcome + figures.journal_mismatch)[:20]:
        print("  !", problem)
    print(f"{time.perf_counter() - began:.1f} s")
    sys.exit(0 if figures.ok else 1)


if __name__ == "__main__":
    main()
