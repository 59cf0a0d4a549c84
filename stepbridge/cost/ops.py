"""What one execution of a workflow does, counted statically from its source (never run).

The walk follows ``stepbridge graph`` (:mod:`stepbridge.compiler.graph`): the workflow function is
parsed, and calls on its context become operations - ``ctx.step`` (inline, or declared when the
function is an ``@app.step``), ``ctx.map``, ``ctx.gather``, ``ctx.wait_for``, ``ctx.sleep`` /
``sleep_until``, ``ctx.child`` / ``start_child`` and ``ctx.send``. Each operation gets an expected
count per execution: ``if`` bodies are weighted by the traffic's branch probability (0.5 when not
given), loops by their expected iterations (the constant of ``range(N)``, else 1 when not given),
``except`` handlers by their probability (0 when not given), a ``return`` ends the path. A child
workflow named by a constant is walked too and its operations added to its parent's. Compensations
registered in a saga run only on failure and are not counted. ``ctx.now()`` and ``ctx.patched()``
each journal one record. A ``wait_for`` with a ``timeout=`` is priced as its event arriving first;
a ``ctx.task`` as one ``wait_for`` (its steps, task items and timers are not counted: an assumption says so).
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field

from stepbridge.api.app import App, WorkflowDef
from stepbridge.compiler.graph import _Flow, _text, parse_workflow
from stepbridge.cost.traffic import Defaults, StepTraffic, WorkflowTraffic
from stepbridge.errors import StepbridgeError

#: Child workflows walked inside each other at most this deep (a recursive workflow is cut here).
MAX_CHILD_DEPTH = 5


@dataclass
class Occurrence:
    """One operation of the workflow's source and how often it runs per execution."""

    kind: str
    label: str
    count: float
    workflow: str
    attempts: float = 1.0
    duration_ms: float = 0.0
    memory_mb: int | None = None
    #: What the orchestrator waited in vain per attempt: a declared step awaited alone that outlasts the app's
    #: ``step_reply_window`` (runtime/stepreply.py) is waited for that long, then woken through the queue.
    waited_ms: float = 0.0


@dataclass
class WorkflowOps:
    """Everything one execution of a workflow is expected to do."""

    name: str
    occurrences: list[Occurrence] = field(default_factory=list)
    #: Step Functions states with no stepbridge counterpart (Choice per decision, Parallel, Map), per execution.
    sfn_states: float = 0.0
    #: Durable-functions operations with no stepbridge counterpart (map/parallel and their child contexts).
    ldf_operations: float = 0.0
    assumptions: list[str] = field(default_factory=list)
    seen: dict[str, set[str]] = field(default_factory=lambda: {k: set() for k in ("steps", "branches", "loops",
                                                                                    "items")})

    def per_kind(self) -> dict[str, float]:
        """Expected occurrences (attempts included) per execution, by operation kind."""
        out: dict[str, float] = {}
        for occ in self.occurrences:
            out[occ.kind] = out.get(occ.kind, 0.0) + occ.count * occ.attempts
        return {kind: n for kind, n in out.items() if n}


class _Walker:
    def __init__(self, app: App, workflow: WorkflowDef, traffic: WorkflowTraffic | None, defaults: Defaults,
                 result: WorkflowOps, depth: int, all_traffic: dict[str, WorkflowTraffic]) -> None:
        self.func, ctx, resolve = parse_workflow(workflow)
        self.flow = _Flow(ctx, resolve, app)
        self.app, self.workflow, self.defaults = app, workflow, defaults
        self.traffic = traffic or WorkflowTraffic(executions=0)
        self.result, self.depth, self.all_traffic = result, depth, all_traffic
        #: Inside a ``ctx.gather`` (its declared steps run concurrently: each wakes the orchestrator by the queue).
        self.concurrent = 0
        self.where = workflow.name if depth == 0 else f"{result.name} > {workflow.name}"

    def run(self, scale: float) -> None:
        self.block(self.func.body, 1.0, scale)

    # ---- statements -------------------------------------------------------------------------------

    def block(self, body: list[ast.stmt], p: float, m: float) -> float:
        for stmt in body:
            p = self.statement(stmt, p, m)
        return p

    def statement(self, stmt: ast.stmt, p: float, m: float) -> float:
        if isinstance(stmt, ast.If):
            if not self.flow.has_ops(stmt):
                return p
            self.expr(stmt.test, p, m)
            key = ast.unparse(stmt.test)
            self._see("branches", key)
            yes = self._given("branches", key, 0.5, f"if {key}: taken half of the time")
            self.result.sfn_states += p * m
            after_yes = self.block(stmt.body, p * yes, m)
            after_no = self.block(stmt.orelse, p * (1 - yes), m)
            return after_yes + after_no
        if isinstance(stmt, ast.For | ast.AsyncFor | ast.While):
            if not self.flow.has_ops(stmt):
                return p
            head = (f"while {ast.unparse(stmt.test)}" if isinstance(stmt, ast.While)
                    else f"for {ast.unparse(stmt.target)} in {ast.unparse(stmt.iter)}")
            self._see("loops", head)
            counted = _range_len(stmt, self.flow.resolve)
            n = self._given("loops", head, 1.0 if counted is None else counted,
                            None if counted is not None else f"{head}: 1 iteration")
            self.result.sfn_states += p * m * (n + 1)  # a Choice state per iteration and one to leave
            self.block(stmt.body, p, m * n)
            return p
        if isinstance(stmt, ast.Try):
            # The body's operations count in full (as if an error came at its end); a handler taken with
            # probability q runs its own operations and the path after the try continues from it instead.
            body = self.block(stmt.body, p, m)
            handled, out = 0.0, 0.0
            for handler in stmt.handlers:
                caught = ast.unparse(handler.type) if handler.type is not None else "any error"
                key = f"except {caught}"
                self._see("branches", key)
                q = self._given("branches", key, 0.0, None)
                handled += q
                out += self.block(handler.body, p * q, m)
            out += self.block(stmt.orelse, body * max(0.0, 1.0 - handled), m)
            return self.block(stmt.finalbody, out, m)
        if isinstance(stmt, ast.With | ast.AsyncWith):
            for item in stmt.items:  # `async with ctx.saga() as saga`: saga.compensate(...) registers, runs nothing
                expr = item.context_expr
                if (isinstance(item.optional_vars, ast.Name) and isinstance(expr, ast.Call)
                        and isinstance(expr.func, ast.Attribute) and expr.func.attr == "saga"
                        and isinstance(expr.func.value, ast.Name) and expr.func.value.id == self.flow.ctx):
                    self.flow.saga_names.add(item.optional_vars.id)
            return self.block(stmt.body, p, m)
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            return p
        self.expr(stmt, p, m)
        return 0.0 if isinstance(stmt, ast.Return | ast.Raise) else p

    # ---- expressions ------------------------------------------------------------------------------

    def expr(self, node: ast.AST, p: float, m: float) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            return
        if isinstance(node, ast.ListComp | ast.GeneratorExp | ast.SetComp | ast.DictComp):
            inner = [n for n in ast.walk(node) if self.flow._is_ctx_call(n) in ("step", "child", "start_child",
                                                                                  "wait_for", "send")]
            if inner:
                assert isinstance(inner[0], ast.Call)
                key = _text(inner[0].args[0]) if inner[0].args else "?"
                m *= self._items(key, f"give the expected number of items of the comprehension over '{key}'")
        kind = self.flow._is_ctx_call(node)
        if (kind is None and isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name) and node.func.value.id == self.flow.ctx
                and node.func.attr in ("now", "patched")):
            self.add("record", f"ctx.{node.func.attr}()", p * m)
        elif kind is None and isinstance(node, ast.Call) and any(
            isinstance(a, ast.Name) and a.id == self.flow.ctx for a in node.args
        ):
            self.result.assumptions.append(
                f"{self.where}: {ast.unparse(node.func)}({self.flow.ctx}, ...) is not followed; "
                "its operations are not counted")
        if kind == "gather":
            self.result.sfn_states += p * m
            self.result.ldf_operations += p * m
            self.concurrent += 1
        for child in ast.iter_child_nodes(node):
            self.expr(child, p, m)
        if kind == "gather":
            self.concurrent -= 1
        if kind is None or kind in ("gather", "compensate"):
            return
        assert isinstance(node, ast.Call)
        self.operation(node, kind, p, m)

    def operation(self, call: ast.Call, kind: str, p: float, m: float) -> None:
        args = call.args
        name = _text(args[0]) if args else "?"
        if kind == "map":
            n = self._items(name, f"ctx.map '{name}' needs its expected item count")
            self.result.sfn_states += p * m
            self.result.ldf_operations += p * m * (1 + n)  # the map and a child context per item
            self.step(name, args[2] if len(args) > 2 else None, p, m * n, concurrent=True)
        elif kind == "step":
            self.step(name, args[1] if len(args) > 1 else None, p, m)
        elif kind in ("sleep", "sleep_until"):
            self.add("sleep", name if args and isinstance(args[0], ast.Constant) else kind, p * m)
        elif kind == "wait_for":
            timeout = any(k.arg == "timeout" for k in call.keywords)
            self.add("wait_for_timeout" if timeout else "wait_for", name, p * m)
        elif kind == "send":
            self.add(kind, name, p * m)
        elif kind == "task":
            # priced as its wait for Task.completed; its create/outcome steps and timers are not counted
            self.add("wait_for", name, p * m)
            if self.depth == 0:
                self.result.assumptions.append(f"{self.where}: ctx.task {name} is priced as one wait_for")
        elif kind in ("child", "start_child"):
            target = self._child_workflow(args[0]) if args else None
            self.add("child", target.name if target is not None else name, p * m)
            if target is not None and self.depth < MAX_CHILD_DEPTH:
                _Walker(self.app, target, self.all_traffic.get(name), self.defaults, self.result, self.depth + 1,
                        self.all_traffic).run(p * m)
            elif target is None:
                self.result.assumptions.append(f"{self.where}: child {name} is not a workflow known statically; "
                                               "priced as an empty workflow")

    def _child_workflow(self, node: ast.expr) -> WorkflowDef | None:
        """The workflow a ``ctx.child`` names: a string constant or a decorated workflow function."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return self.app.workflows.get(node.value)
        target = self.flow.resolve(node)
        if target is None:
            return None
        try:
            return self.app.workflows.get(self.app.workflow_name(target))
        except StepbridgeError:
            return None

    def step(self, name: str, fn_node: ast.expr | None, p: float, m: float, *, concurrent: bool = False) -> None:
        self._see("steps", name)
        given = self.traffic.steps.get(name, StepTraffic())
        fn = self.flow.resolve(fn_node) if fn_node is not None else None
        declared = self.app.step_for(fn) if callable(fn) else None
        prob = p if given.probability is None else given.probability
        duration = self.defaults.step_duration_ms if given.duration_ms is None else given.duration_ms
        kind, waited = "inline_step", 0.0
        if declared is not None:
            window_ms = self.app.step_reply_seconds * 1000
            alone = not concurrent and not self.concurrent and window_ms > 0
            kind = "declared_step" if alone and duration <= window_ms else "declared_step_queued"
            waited = window_ms if alone and duration > window_ms else 0.0
        self.result.occurrences.append(Occurrence(
            kind, name, prob * m, self.workflow.name, given.attempts, duration,
            declared.memory if declared is not None else None, waited,
        ))

    def add(self, kind: str, label: str, count: float) -> None:
        self.result.occurrences.append(Occurrence(kind, label, count, self.workflow.name))

    def _items(self, key: str, ask: str) -> float:
        """The traffic's expected item count under ``key``; without one, an error that ``ask``s for it."""
        self._see("items", key)
        n = self.traffic.items.get(key)
        if n is None:
            raise StepbridgeError(
                f"workflow '{self.where}': {ask} in traffic.yaml (workflows.{self.workflow.name}.items.{key}: N)")
        return n

    def _see(self, section: str, key: str) -> None:
        """Remember a name the traffic may use for this workflow (a child's names belong to the child's entry)."""
        if self.depth == 0:
            self.result.seen[section].add(key)

    def _given(self, section: str, key: str, default: float, note: str | None) -> float:
        values: dict[str, float] = getattr(self.traffic, section)
        if key in values:
            return values[key]
        if note is not None and self.depth == 0:
            self.result.assumptions.append(f"{self.workflow.name}: {note}")
        return default


def _range_len(stmt: ast.stmt, resolve: Callable[[ast.expr], object]) -> float | None:
    """The length of ``for x in range(...)`` when its arguments are int constants or module-level ints."""
    it = getattr(stmt, "iter", None)
    if not (isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range") or it.keywords:
        return None
    values: list[int] = []
    for arg in it.args:
        value = _int_of(arg, resolve)
        if value is None:
            return None
        values.append(value)
    try:
        return float(len(range(*values)))
    except (TypeError, ValueError):
        return None


def _int_of(node: ast.expr, resolve: Callable[[ast.expr], object]) -> int | None:
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, int) and not isinstance(node.value, bool) else None
    if isinstance(node, ast.Name | ast.Attribute):
        value = resolve(node)
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub | ast.Mult):
        left, right = _int_of(node.left, resolve), _int_of(node.right, resolve)
        if left is None or right is None:
            return None
        return left + right if isinstance(node.op, ast.Add) else left - right if isinstance(node.op, ast.Sub) \
            else left * right
    return None


def workflow_ops(app: App, name: str, traffic: WorkflowTraffic | None, defaults: Defaults,
                 all_traffic: dict[str, WorkflowTraffic] | None = None) -> WorkflowOps:
    """The operations one execution of workflow ``name`` is expected to perform."""
    workflow = app.workflows.get(name)
    if workflow is None:
        raise StepbridgeError(f"traffic names workflow '{name}', which app '{app.name}' does not have; "
                              f"workflows: {', '.join(sorted(app.workflows))}")
    result = WorkflowOps(name)
    _Walker(app, workflow, traffic, defaults, result, 0, all_traffic or {}).run(1.0)
    if traffic is not None:
        for section in ("steps", "branches", "loops", "items"):
            unknown = set(getattr(traffic, section)) - result.seen[section]
            if unknown:
                known = ", ".join(repr(k) for k in sorted(result.seen[section])) or "none"
                raise StepbridgeError(
                    f"workflow '{name}': traffic {section} {', '.join(repr(k) for k in sorted(unknown))} not found "
                    f"in its source; known {section}: {known}")
    return result
