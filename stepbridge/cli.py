"""The ``stepbridge`` command line.

Each subcommand is one small function registered with :func:`subcommand`; add a new one by
writing another::

    @subcommand("run", "run a workflow locally", arg("workflow"), arg("--input", default="{}"))
    def _run(args: argparse.Namespace) -> int:
        ...
        return 0

A name with a space registers a subcommand of a group (``"executions show"`` is
``stepbridge executions show``); describe the group with :func:`command_group`.

Heavy imports (the compiler, moto, cfn-lint) happen inside the subcommands, so the CLI starts
fast and a subcommand only needs its own dependencies.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stepbridge.errors import StepbridgeError
from stepbridge.runtime.vocabulary import Status

Run = Callable[[argparse.Namespace], int]


@dataclass(frozen=True)
class Arg:
    """One ``add_argument`` call."""

    flags: tuple[str, ...]
    options: dict[str, Any]


@dataclass(frozen=True)
class Subcommand:
    """A registered subcommand."""

    name: str
    help: str
    run: Run
    arguments: tuple[Arg, ...]


COMMANDS: dict[str, Subcommand] = {}
#: Help of command groups (``stepbridge executions ...``), by group name.
GROUPS: dict[str, str] = {}


def arg(*flags: str, **options: Any) -> Arg:
    """Describe an argument of a subcommand (same parameters as ``ArgumentParser.add_argument``)."""
    return Arg(flags, options)


def subcommand(name: str, help: str, *arguments: Arg) -> Callable[[Run], Run]:
    """Register ``fn`` as ``stepbridge <name>``; it returns the process exit code."""

    def register(fn: Run) -> Run:
        if name in COMMANDS:
            raise ValueError(f"subcommand {name!r} is registered twice")
        COMMANDS[name] = Subcommand(name, help, fn, arguments)
        return fn

    return register


def command_group(name: str, help: str) -> None:
    """Describe the group ``name`` whose subcommands are registered as ``"name sub"``."""
    GROUPS[name] = help


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")


# ---- compile / package / validate / graph --------------------------------------------------------------


@subcommand(
    "compile",
    "compile the app into a SAM template (and write the Lambda layer folder)",
    arg("target", nargs="?", default="functions/app.py", help="path/to/app.py[:attribute] (default: %(default)s)"),
    arg("-o", "--output", default="template.yaml", help="template to write (default: %(default)s)"),
    arg("--code-uri", default=None, help="the functions' code folder (default: the app file's folder)"),
    arg("--stack-name", default=None, help="stack name to check name lengths against (default: the app name)"),
    arg("--no-package", action="store_true", help="do not write the layer folder next to the template"),
    arg("--check", action="store_true", help="only check that the template is up to date (exit 1 if not)"),
)
def _compile(args: argparse.Namespace) -> int:
    from stepbridge.compiler.package import build_layer
    from stepbridge.compiler.template import LAYER_BUILD_DIR, compile_file

    output = Path(args.output)
    overrides = {"stack_name": args.stack_name} if args.stack_name else {}
    compiled = compile_file(args.target, output, code_dir=args.code_uri, **overrides)
    if args.check:
        current = output.read_text(encoding="utf-8") if output.exists() else ""
        if current != compiled.text:
            _err(f"{output} is out of date; run: stepbridge compile {args.target} -o {output}")
            return 1
        _out(f"{output} is up to date")
        return 0
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(compiled.text, encoding="utf-8")
    model = compiled.model
    _out(
        f"wrote {output}: {len(compiled.template['Resources'])} resources for app '{model.app.name}' "
        f"(STEPBRIDGE_APP={model.options.app_ref}, CodeUri={model.options.code_uri})"
    )
    if not args.no_package:
        folder, problems = build_layer(output.parent / LAYER_BUILD_DIR)
        _out(f"wrote layer folder {folder}")
        for problem in problems:
            _err(f"warning: {problem}")
    return 0


@subcommand(
    "package",
    "write the Lambda layer folder (stepbridge runtime + requirements.txt) that `sam build` builds",
    arg("-o", "--output", default=".stepbridge-build/layer", help="folder to (re)write (default: %(default)s)"),
)
def _package(args: argparse.Namespace) -> int:
    from stepbridge.compiler.package import build_layer

    folder, problems = build_layer(args.output)
    _out(f"wrote layer folder {folder}")
    for problem in problems:
        _err(f"warning: {problem}")
    return 1 if problems else 0


@subcommand(
    "validate",
    "check a template offline: SAM transform, cfn-lint, and a stack in moto CloudFormation",
    arg("template", nargs="?", default="template.yaml", help="SAM template (default: %(default)s)"),
    arg("--no-lint", action="store_true", help="skip cfn-lint"),
    arg("--no-moto", action="store_true", help="skip creating the stack in moto"),
    arg("--region", default="us-east-1", help="region for the transform and cfn-lint (default: %(default)s)"),
)
def _validate(args: argparse.Namespace) -> int:
    import yaml

    from stepbridge.compiler.emit import load_yaml
    from stepbridge.compiler.validate import validate_template

    path = Path(args.template)
    if not path.is_file():
        _err(f"error: template {path} not found; compile one first (stepbridge compile) or pass its path")
        return 2
    try:
        template = load_yaml(path.read_text(encoding="utf-8"))
    except (ValueError, yaml.YAMLError) as exc:
        _err(f"error: {path} is not a readable SAM template: {' '.join(str(exc).split())}")
        return 2
    if not isinstance(template, dict) or "Resources" not in template:
        _err(f"error: {path} is not a SAM template (no Resources section)")
        return 2
    report = validate_template(template, run_lint=not args.no_lint, run_moto=not args.no_moto, region=args.region)
    for issue in report.issues:
        _out(str(issue))
    for problem in report.wiring:
        _out(f"moto: {problem}")
    if not args.no_lint:
        errors = sum(1 for i in report.issues if i.level == "error")
        _out(f"cfn-lint: {errors} errors, {len(report.issues) - errors} other findings")
    if report.stack is not None:
        _out(
            f"moto: stack {report.stack.status} with {len(report.stack.resources)} resources "
            f"(not modelled by moto: {len(report.stack.skipped)})"
        )
    if report.errors:
        _err(f"{args.template}: {len(report.errors)} problem(s)")
        return 1
    _out(f"{args.template}: valid")
    return 0


@subcommand(
    "graph",
    "print a Mermaid diagram of a workflow (or a state machine)",
    arg("name", help="workflow or state machine name"),
    arg("--app", default="functions/app.py", help="path/to/app.py[:attribute] (default: %(default)s)"),
)
def _graph(args: argparse.Namespace) -> int:
    from stepbridge.compiler.discovery import load_app
    from stepbridge.compiler.graph import mermaid

    _out(mermaid(load_app(args.app).app, args.name))
    return 0


@subcommand(
    "cost",
    "estimate the app's monthly AWS bill from a traffic file (and compare with Step Functions / durable functions)",
    arg("app", nargs="?", default="functions/app.py", help="path/to/app.py[:attribute] (default: %(default)s)"),
    arg("--traffic", required=True, help="traffic.yaml: executions per workflow per month (docs/COST.md)"),
    arg("--region", default=None, help="price table to use (default: the file's region, else us-east-1)"),
    arg("--format", default="text", choices=("text", "json", "markdown"), help="output (default: %(default)s)"),
)
def _cost(args: argparse.Namespace) -> int:
    from stepbridge.compiler.discovery import load_app
    from stepbridge.cost.estimate import estimate
    from stepbridge.cost.prices import prices_for
    from stepbridge.cost.render import render
    from stepbridge.cost.traffic import load_traffic

    traffic = load_traffic(args.traffic)
    prices = prices_for(args.region or traffic.region or "us-east-1")
    _out(render(estimate(load_app(args.app).app, traffic, prices), args.format))
    return 0


# ---- operate executions: run, executions, events, report ------------------------------------------------

_STATUSES = tuple(sorted(Status))


def _stack_args(required_note: str = "") -> tuple[Arg, ...]:
    return (
        arg("--stack", default=None, metavar="NAME", help=f"a deployed stack's name{required_note}"),
        arg("--region", default=None, help="the stack's region (default: AWS_REGION / your profile's)"),
    )


_JSON = arg("--json", action="store_true", help="print JSON for scripts")


def _client(args: argparse.Namespace, command: str) -> Any:
    from stepbridge.operator.console import connect, require_stack

    return connect(require_stack(args.stack, command), args.region)


def _aws(args: argparse.Namespace) -> Any:
    from stepbridge.infra.awserrors import aws_errors

    return aws_errors(stack=args.stack)


command_group("executions", "inspect and operate executions of a deployed stack (--stack NAME)")
command_group("events", "put events on the app's bus (locally, or into a stack with --stack)")


@subcommand(
    "executions list",
    "list executions, newest first",
    arg("--workflow", default=None, help="only this workflow"),
    arg("--status", default=None, type=str.upper, choices=_STATUSES, help="only this status"),
    arg("--limit", type=int, default=50, help="at most this many (default: %(default)s)"),
    arg("--internal", action="store_true", help="also list the state machines' own executions (stepbridge.sm.*)"),
    _JSON,
    *_stack_args(" (required)"),
)
def _executions_list(args: argparse.Namespace) -> int:
    from stepbridge.operator.console import executions_list

    client = _client(args, "executions list")
    with _aws(args):
        return executions_list(
            client,
            _out,
            workflow=args.workflow,
            status=args.status,
            limit=args.limit,
            as_json=args.json,
            internal=args.internal,
        )


@subcommand(
    "executions show",
    "the timeline of one execution: steps, attempts, errors, waits and timers with deadlines, children, progress",
    arg("execution_id", metavar="ID"),
    _JSON,
    arg("--mermaid", action="store_true", help="print the path it took as a Mermaid flowchart"),
    *_stack_args(" (required)"),
)
def _executions_show(args: argparse.Namespace) -> int:
    from stepbridge.operator.console import executions_show

    client = _client(args, "executions show")
    with _aws(args):
        return executions_show(client, args.execution_id, _out, as_json=args.json, mermaid=args.mermaid)


@subcommand(
    "executions cancel",
    "cancel a running, waiting, sleeping or scheduled execution (and its children)",
    arg("execution_id", metavar="ID"),
    arg("--compensate", action="store_true", help="run the saga's compensations before it ends CANCELLED"),
    *_stack_args(" (required)"),
)
def _executions_cancel(args: argparse.Namespace) -> int:
    from stepbridge.operator.console import executions_cancel

    client = _client(args, "executions cancel")
    with _aws(args):
        return executions_cancel(client, args.execution_id, _out, compensate=args.compensate)


@subcommand(
    "executions redrive",
    "move dead-lettered work messages back to the work queue (the DLQ is found via its RedrivePolicy)",
    arg("--dry-run", action="store_true", help="only count the dead-lettered messages"),
    *_stack_args(" (required)"),
)
def _executions_redrive(args: argparse.Namespace) -> int:
    from stepbridge.operator.console import redrive, require_stack

    return redrive(require_stack(args.stack, "executions redrive"), args.region, _out, dry_run=args.dry_run)


@subcommand(
    "report",
    "write a self-contained HTML report of one execution (Gantt timeline, operations, path)",
    arg("execution_id", metavar="ID"),
    arg("-o", "--output", default=None, help="the HTML file to write (default: <ID>.html)"),
    *_stack_args(" (required)"),
)
def _report(args: argparse.Namespace) -> int:
    from stepbridge.operator.console import write_report

    client = _client(args, "report")
    output = args.output or f"{args.execution_id.replace(':', '_').replace('/', '_')}.html"
    with _aws(args):
        return write_report(client, args.execution_id, output, _out)


@subcommand(
    "run",
    "run a workflow: locally on LocalCloud through virtual time (default), or in a deployed stack (--stack)",
    arg("workflow", help="the workflow's name"),
    arg("--input", default="{}", help="the input as JSON, or @file.json (default: %(default)s)"),
    arg("--execution-id", default=None, help="the execution id (default: generated)"),
    arg("--app", default="functions/app.py", help="path/to/app.py[:attribute] (default: %(default)s)"),
    arg("--backend", choices=("moto", "memory"), default="moto", help="LocalCloud backend (default: %(default)s)"),
    arg(
        "--event",
        action="append",
        default=[],
        metavar="TYPE[+DELAY]=JSON",
        help="send this event when the execution next waits, or DELAY (e.g. 20h) of virtual time after the "
        "previous one; repeatable, sent in order",
    ),
    arg("--max-time", default="400d", help="most virtual time to let pass, e.g. 48h, 30d (default: %(default)s)"),
    arg("--schedules", action="store_true", help="also fire the app's recurring schedules while it runs"),
    arg("--show", action="store_true", help="print the operations table at the end"),
    arg("--mermaid", action="store_true", help="print the path it took as a Mermaid flowchart"),
    arg("--report", default=None, metavar="FILE", help="write the HTML report to FILE"),
    _JSON,
    *_stack_args(" (runs there instead of locally)"),
    arg("--timeout", type=float, default=900.0, help="with --stack: seconds to follow it (default: %(default)s)"),
    arg("--poll", type=float, default=2.0, help="with --stack: seconds between polls (default: %(default)s)"),
)
def _run(args: argparse.Namespace) -> int:
    from stepbridge.operator.console import (
        RunOptions,
        connect,
        parse_duration,
        parse_event_option,
        parse_json_option,
        run_local,
        run_stack,
    )
    from stepbridge.operator.local import LocalSession, load_app

    options = RunOptions(
        workflow=args.workflow,
        payload=parse_json_option(args.input, "--input"),
        execution_id=args.execution_id,
        events=[parse_event_option(e) for e in args.event],
        max_time=parse_duration(args.max_time, "--max-time"),
        show=args.show,
        mermaid=args.mermaid,
        report=args.report,
        as_json=args.json,
    )
    progress = _err if args.json else _out
    if args.stack:
        client = connect(args.stack, args.region)
        return run_stack(client, args.stack, options, _out, progress, timeout=args.timeout, poll=args.poll)
    with LocalSession(load_app(args.app), backend=args.backend, schedules=args.schedules) as session:
        return run_local(session, options, _out, progress)


@subcommand(
    "events send",
    "send an event: locally (LocalCloud) reporting what it started or woke and how those ended, or into --stack",
    arg("event_type", metavar="TYPE", help="the event's detail-type, e.g. Order.created"),
    arg("--detail", default="{}", help="the detail as a JSON object, or @file.json (default: %(default)s)"),
    arg("--app", default="functions/app.py", help="path/to/app.py[:attribute] (default: %(default)s)"),
    arg("--backend", choices=("moto", "memory"), default="moto", help="LocalCloud backend (default: %(default)s)"),
    arg("--start", default=None, metavar="WORKFLOW", help="locally: first start this workflow (to be woken)"),
    arg("--input", default="{}", help="the --start workflow's input as JSON (default: %(default)s)"),
    arg("--execution-id", default=None, help="the --start execution's id"),
    arg("--max-time", default="400d", help="most virtual time to let pass (default: %(default)s)"),
    arg("--show", action="store_true", help="print the timeline of each execution it started or woke"),
    _JSON,
    *_stack_args(" (sends there instead of locally)"),
)
def _events_send(args: argparse.Namespace) -> int:
    from stepbridge.operator.console import (
        OperatorError,
        RunOptions,
        connect,
        parse_duration,
        parse_json_option,
        send_local,
        send_stack,
    )
    from stepbridge.operator.local import LocalSession, load_app

    detail = parse_json_option(args.detail, "--detail")
    if not isinstance(detail, dict):
        raise OperatorError(f"--detail must be a JSON object, got {type(detail).__name__}")
    if args.stack:
        if args.start:
            raise OperatorError("--start is for local runs; start it in the stack with `stepbridge run --stack`")
        client = connect(args.stack, args.region)
        return send_stack(client, args.stack, args.event_type, detail, _out, as_json=args.json)
    start = None
    if args.start:
        start = RunOptions(args.start, parse_json_option(args.input, "--input"), execution_id=args.execution_id)
    with LocalSession(load_app(args.app), backend=args.backend) as session:
        return send_local(
            session,
            args.event_type,
            detail,
            _out,
            start=start,
            max_time=parse_duration(args.max_time, "--max-time"),
            show=args.show,
            as_json=args.json,
        )


@subcommand(
    "dev",
    "serve a local web console over LocalCloud: executions, timelines, events, the virtual clock, the task inbox",
    arg("app", nargs="?", default="functions/app.py", help="path/to/app.py[:attribute] (default: %(default)s)"),
    arg("--host", default="127.0.0.1", help="address to listen on (default: %(default)s; keep it local)"),
    arg("--port", type=int, default=8765, help="port to listen on, 0 for any free one (default: %(default)s)"),
    arg("--moto", action="store_true", help="run the cloud on moto instead of the in-memory backend"),
    arg("--speed", type=float, default=0.0,
        help="virtual seconds per real second: 0 = the clock moves only when you advance it (default: %(default)s)"),
    arg("--start", default="now", help="the virtual clock's first instant: now, or ISO-8601 such as 2026-01-05T08:00Z "
        "(default: %(default)s)"),
    arg("--schedules", action="store_true", help="also fire the app's recurring schedules"),
    arg("--verbose", action="store_true", help="log every HTTP request"),
)
def _dev(args: argparse.Namespace) -> int:
    from stepbridge.devconsole.run import parse_start, run_console

    return run_console(args.app, host=args.host, port=args.port, backend="moto" if args.moto else "memory",
                       speed=args.speed, schedules=args.schedules, verbose=args.verbose, out=_out,
                       start=parse_start(args.start))


# ---- entry point ------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(prog="stepbridge", description="Durable workflows on AWS Lambda.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    groups: dict[str, Any] = {}
    for command in COMMANDS.values():
        group, _, leaf = command.name.partition(" ")
        if leaf:
            if group not in groups:
                help_text = GROUPS.get(group, group)
                group_parser = subparsers.add_parser(group, help=help_text, description=help_text)
                groups[group] = group_parser.add_subparsers(dest=f"{group}_command", metavar="COMMAND")
                groups[group].required = True
            sub = groups[group].add_parser(leaf, help=command.help, description=command.help)
        else:
            sub = subparsers.add_parser(command.name, help=command.help, description=command.help)
        for argument in command.arguments:
            sub.add_argument(*argument.flags, **argument.options)
        sub.set_defaults(_run=command.run)
    return parser


@subcommand(
    "init",
    "create a new project: an app, its tests (pytest plugin), pytest config, samconfig.toml and a README",
    arg("directory", help="the project folder to create (new or empty)"),
    arg("--name", default=None, help="the app's name (default: from the folder's name)"),
)
def _init(args: argparse.Namespace) -> int:
    from stepbridge.scaffold import create_project

    folder, name, written = create_project(args.directory, args.name)
    _out(f"created app '{name}' in {folder}: {', '.join(written)}")
    _out(f"next: cd {folder} && pytest && stepbridge compile && stepbridge validate")
    return 0


@subcommand(
    "demo",
    "a guided tour of the example app on the local cloud (virtual time, moto)",
    arg("--app", default="functions/app.py:app", help="the app to tour (default: functions/app.py:app)"),
)
def _demo(args: argparse.Namespace) -> int:
    from stepbridge.demo import run_demo

    return run_demo(args.app)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``stepbridge ...``; returns the exit code (2 for definition/compile errors)."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args._run(args)
    except StepbridgeError as exc:
        _err(f"error: {exc}")
        return 2
    except OSError as exc:  # a missing or unreadable file named on the command line: one line, no traceback
        name = f" {exc.filename}" if getattr(exc, "filename", None) else ""
        _err(f"error: cannot use{name}: {exc.strerror or exc}")
        return 2
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
