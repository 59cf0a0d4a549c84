"""The ``stepbridge`` command line.

Each subcommand is one small function registered with :func:`subcommand`; add a new one by
writing another::

    @subcommand("run", "run a workflow locally", arg("workflow"), arg("--input", default="{}"))
    def _run(args: argparse.Namespace) -> int:
        ...
        return 0

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
    from stepbridge.compiler.emit import load_yaml
    from stepbridge.compiler.validate import validate_template

    template = load_yaml(Path(args.template).read_text(encoding="utf-8"))
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


# ---- entry point ------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(prog="stepbridge", description="Durable workflows on AWS Lambda.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for command in COMMANDS.values():
        sub = subparsers.add_parser(command.name, help=command.help, description=command.help)
        for argument in command.arguments:
            sub.add_argument(*argument.flags, **argument.options)
        sub.set_defaults(_run=command.run)
    return parser


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
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
