"""``stepbridge graph``: a Mermaid flowchart of a workflow, read statically from its source.

The workflow function is parsed (never run). Calls on its context parameter become nodes -
``ctx.step`` (declared steps, which run in their own Lambda, drawn as subroutines), ``ctx.map``,
``ctx.gather`` (its awaitables side by side), ``ctx.wait_for``, ``ctx.sleep``/``sleep_until``,
``ctx.child``/``start_child``, ``ctx.send`` and ``ctx.task`` (a wait, labelled with its assignees);
``if``/``else`` become decisions, ``for``/``while``
loops, ``try``/``except`` dotted error edges, ``async with ctx.saga()`` a subgraph. Control flow
without any such call is left out. For a state machine name, :meth:`StateMachine.mermaid` is used.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stepbridge.api.app import App, WorkflowDef
from stepbridge.errors import CompileError

_OPS = ("step", "map", "gather", "wait_for", "sleep", "sleep_until", "child", "start_child", "send", "task")
_LABEL_MAX = 60
Exit = tuple[str, str | None]  # (node id, label of the edge leaving it)


@dataclass
class _Op:
    """One node to draw, or a parallel group (``ctx.gather``)."""

    label: str
    shape: str = "rect"
    parallel: list[_Op] = field(default_factory=list)


def _esc(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > _LABEL_MAX:
        text = text[: _LABEL_MAX - 1] + "…"
    return text.replace('"', "#quot;")


def _text(node: ast.expr | None) -> str:
    if node is None:
        return "?"
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            str(v.value) if isinstance(v, ast.Constant) else "{" + ast.unparse(v.value) + "}"  # type: ignore[attr-defined]
            for v in node.values
        )
    return ast.unparse(node)


class _Flow:
    def __init__(self, ctx: str, resolve: Callable[[ast.expr], Any], app: App) -> None:
        self.ctx = ctx
        self.resolve = resolve
        self.app = app
        self.lines: list[str] = []
        self.count = 0
        self.op_nodes: list[str] = []
        self.saga_names: set[str] = set()
        self.has_fail = False
        #: Compensations registered in each open ``async with ctx.saga()`` (innermost last).
        self.compensations: list[list[_Op]] = []

    # ---- drawing ----------------------------------------------------------------------------------

    def node(self, label: str, shape: str = "rect") -> str:
        self.count += 1
        node_id = f"n{self.count}"
        text = _esc(label)
        opening, closing = {
            "rect": ('["', '"]'),
            "declared": ('[["', '"]]'),
            "decision": ('{"', '"}'),
            "wait": ('{{"', '"}}'),
            "timer": ('(["', '"])'),
            "child": ('[/"', '"/]'),
            "send": ('>"', '"]'),
            "error": ('("', '")'),
            "compensation": ('["', '"]'),
        }[shape]
        self.lines.append(f"    {node_id}{opening}{text}{closing}")
        return node_id

    def connect(self, exits: list[Exit], target: str, *, dotted: bool = False) -> None:
        for source, label in exits:
            arrow = "-.->" if dotted else "-->"
            self.lines.append(f"    {source} {arrow}{f'|{_esc(label)}|' if label else ''} {target}")

    def place(self, ops: list[_Op], exits: list[Exit]) -> list[Exit]:
        for op in ops:
            if op.shape == "compensation":
                # Registering a compensation runs nothing: it is drawn on the saga's failure path.
                if self.compensations:
                    self.compensations[-1].append(op)
                continue
            if op.parallel:
                ids = [self.node(p.label, p.shape) for p in op.parallel]
                for node_id in ids:
                    self.connect(exits, node_id)
                self.op_nodes += ids
                exits = [(i, None) for i in ids]
            else:
                node_id = self.node(op.label, op.shape)
                self.op_nodes.append(node_id)
                self.connect(exits, node_id)
                exits = [(node_id, None)]
        return exits

    # ---- expressions --------------------------------------------------------------------------------

    def _is_ctx_call(self, node: ast.AST) -> str | None:
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
        ):
            owner, attr = node.func.value.id, node.func.attr
            if owner == self.ctx and attr in _OPS:
                return attr
            if owner in self.saga_names and attr == "compensate":
                return "compensate"
        return None

    def _op(self, call: ast.Call, kind: str, each: bool) -> _Op:
        args = call.args
        first = args[0] if args else None
        suffix = " (each)" if each else ""
        if kind == "step":
            fn = self.resolve(args[1]) if len(args) > 1 else None
            declared = self.app.step_for(fn) if callable(fn) else None
            if declared is not None:
                return _Op(f"{_text(first)}{suffix} · λ {declared.name}", "declared")
            return _Op(_text(first) + suffix)
        if kind == "map":
            fn = ast.unparse(args[2]) if len(args) > 2 else "?"
            over = ast.unparse(args[1]) if len(args) > 1 else "?"
            return _Op(f"map {_text(first)}-0..n: {fn} over {over}", "declared")
        if kind == "wait_for":
            timeout = any(k.arg == "timeout" for k in call.keywords)
            return _Op(f"wait_for {_text(first)}{' (timeout)' if timeout else ''}{suffix}", "wait")
        if kind in ("sleep", "sleep_until"):
            return _Op(f"{kind.replace('_', ' ')} {ast.unparse(first) if first else ''}", "timer")
        if kind in ("child", "start_child"):
            return _Op(f"{kind.replace('_', ' ')}: {_text(first)}{suffix}", "child")
        if kind == "send":
            return _Op(f"send {_text(first)}{suffix}", "send")
        if kind == "task":
            who = next((ast.unparse(k.value) for k in call.keywords if k.arg == "assignees"), "?")
            return _Op(f"task {_text(first)}{suffix} · {who}", "wait")
        arguments = ", ".join(ast.unparse(a) for a in args[1:])
        return _Op(f"compensate: {ast.unparse(first) if first else '?'}({arguments})", "compensation")

    def ops(self, node: ast.AST, each: bool = False) -> list[_Op]:
        """Operations in ``node`` in evaluation order (arguments before the call)."""
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            return []
        kind = self._is_ctx_call(node)
        if kind == "gather":
            assert isinstance(node, ast.Call)
            branches: list[_Op] = []
            for arg in node.args:
                inner = arg.value if isinstance(arg, ast.Starred) else arg
                for op in self.ops(inner, each):
                    branches += op.parallel or [op]
            if not branches:
                return [_Op(f"gather {ast.unparse(node)[len(self.ctx) + 8 : -1]}", "rect")]
            return [_Op("gather", parallel=branches)]
        inner_each = each or isinstance(node, ast.ListComp | ast.GeneratorExp | ast.SetComp | ast.DictComp)
        found: list[_Op] = []
        for child in ast.iter_child_nodes(node):
            found += self.ops(child, inner_each)
        if kind is not None:
            assert isinstance(node, ast.Call)
            found.append(self._op(node, kind, each))
        return found

    def has_ops(self, node: ast.AST) -> bool:
        return any(
            self._is_ctx_call(n) or isinstance(n, ast.Return | ast.Raise | ast.With | ast.AsyncWith)
            for n in ast.walk(node)
        )

    # ---- statements ---------------------------------------------------------------------------------

    def block(self, body: list[ast.stmt], exits: list[Exit]) -> list[Exit]:
        for stmt in body:
            if not exits:
                break  # unreachable after return/raise
            exits = self.statement(stmt, exits)
        return exits

    def statement(self, stmt: ast.stmt, exits: list[Exit]) -> list[Exit]:
        if isinstance(stmt, ast.If):
            return self._if(stmt, exits)
        if isinstance(stmt, ast.For | ast.AsyncFor | ast.While):
            return self._loop(stmt, exits)
        if isinstance(stmt, ast.Try):
            return self._try(stmt, exits)
        if isinstance(stmt, ast.With | ast.AsyncWith):
            return self._with(stmt, exits)
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            return exits
        exits = self.place(self.ops(stmt), exits)
        if isinstance(stmt, ast.Return):
            self.connect(exits, "finish")
            return []
        if isinstance(stmt, ast.Raise):
            self.has_fail = True
            self.connect(exits, "fail")
            return []
        return exits

    def _if(self, stmt: ast.If, exits: list[Exit]) -> list[Exit]:
        if not self.has_ops(stmt):
            return exits
        exits = self.place(self.ops(stmt.test), exits)
        decision = self.node(ast.unparse(stmt.test) + "?", "decision")
        self.connect(exits, decision)
        yes = self.block(stmt.body, [(decision, "yes")])
        no = self.block(stmt.orelse, [(decision, "no")]) if stmt.orelse else [(decision, "no")]
        return yes + no

    def _loop(self, stmt: ast.For | ast.AsyncFor | ast.While, exits: list[Exit]) -> list[Exit]:
        if not self.has_ops(stmt):
            return exits
        if isinstance(stmt, ast.While):
            head = f"while {ast.unparse(stmt.test)}"
        else:
            head = f"for {ast.unparse(stmt.target)} in {ast.unparse(stmt.iter)}"
        loop = self.node(head, "decision")
        self.connect(exits, loop)
        body_exits = self.block(stmt.body, [(loop, "each")])
        self.connect(body_exits, loop, dotted=True)
        return [(loop, "done")]

    def _try(self, stmt: ast.Try, exits: list[Exit]) -> list[Exit]:
        if not self.has_ops(stmt):
            return exits
        before = len(self.op_nodes)
        body_exits = self.block(stmt.body, exits)
        risky: list[Exit] = [(n, None) for n in self.op_nodes[before:]] or exits
        out = self.block(stmt.orelse, body_exits)
        for handler in stmt.handlers:
            caught = ast.unparse(handler.type) if handler.type is not None else "any error"
            node = self.node(f"except {caught}", "error")
            self.connect(risky, node, dotted=True)
            out += self.block(handler.body, [(node, None)])
        return self.block(stmt.finalbody, out) if stmt.finalbody else out

    def _with(self, stmt: ast.With | ast.AsyncWith, exits: list[Exit]) -> list[Exit]:
        saga = None
        for item in stmt.items:
            expr = item.context_expr
            if (
                isinstance(expr, ast.Call)
                and isinstance(expr.func, ast.Attribute)
                and isinstance(expr.func.value, ast.Name)
                and expr.func.value.id == self.ctx
                and expr.func.attr == "saga"
            ):
                saga = item.optional_vars.id if isinstance(item.optional_vars, ast.Name) else "saga"
        if saga is None:
            return self.block(stmt.body, exits)
        self.saga_names.add(saga)
        subgraph = f"saga{self.count + 1}"
        self.lines.append(f'    subgraph {subgraph} ["saga (compensations run in reverse on failure)"]')
        self.compensations.append([])
        exits = self.block(stmt.body, exits)
        self.lines.append("    end")
        registered = self.compensations.pop()
        if registered:
            # On a failure inside the saga: its compensations in reverse order, then the error goes on.
            previous: Exit = (subgraph, "on failure")
            for op in reversed(registered):
                node_id = self.node(op.label, op.shape)
                self.connect([previous], node_id, dotted=True)
                previous = (node_id, None)
            self.has_fail = True
            self.connect([previous], "fail", dotted=True)
        return exits


def _resolver(fn: Callable[..., Any]) -> Callable[[ast.expr], Any]:
    namespace = dict(getattr(fn, "__globals__", {}))
    closure = inspect.getclosurevars(fn).nonlocals if hasattr(fn, "__code__") else {}
    namespace.update(closure)

    def resolve(node: ast.expr) -> Any:
        if isinstance(node, ast.Name):
            return namespace.get(node.id)
        if isinstance(node, ast.Attribute):
            owner = resolve(node.value)
            return getattr(owner, node.attr, None) if owner is not None else None
        return None

    return resolve


def parse_workflow(
    workflow: WorkflowDef,
) -> tuple[ast.FunctionDef | ast.AsyncFunctionDef, str, Callable[[ast.expr], Any]]:
    """The workflow function's syntax tree, the name of its context parameter, and a resolver of the names
    its code uses: what the diagram and the cost estimate (``stepbridge.cost``) both walk."""
    fn = inspect.unwrap(workflow.fn)
    try:
        source = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError) as exc:
        raise CompileError(f"workflow '{workflow.name}': its source is not available ({exc})") from None
    tree = ast.parse(source)
    func = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))
    params = func.args.posonlyargs + func.args.args
    return func, params[0].arg if params else "ctx", _resolver(fn)


def workflow_mermaid(app: App, workflow: WorkflowDef) -> str:
    """A Mermaid ``flowchart TD`` of one workflow's operations."""
    func, ctx, resolve = parse_workflow(workflow)
    flow = _Flow(ctx, resolve, app)
    exits: list[Exit] = flow.block(func.body, [("start", None)])
    flow.connect(exits, "finish")
    head = [
        "flowchart TD",
        f'    start(["start: {_esc(workflow.name)}"])',
        '    finish(["end"])',
    ]
    if flow.has_fail:
        head.append('    fail(["failed"])')
    return "\n".join(head + flow.lines)


def mermaid(app: App, name: str) -> str:
    """The diagram for ``name``: a workflow's flowchart or a state machine's state diagram."""
    if name in app.workflows:
        return workflow_mermaid(app, app.workflows[name])
    if name in app.machines:
        return app.machines[name].machine.mermaid()
    raise CompileError(
        f"no workflow or state machine named '{name}' in app '{app.name}'; "
        f"workflows: {sorted(app.workflows)}, state machines: {sorted(app.machines)}"
    )
