"""``python -m benchmarks``: every goal of the performance issue, against its anchor, in one run.

Options: ``--quick`` (tiny sizes, one repetition: the smoke tests' mode), ``--only SECTION``
(repeatable or comma-separated), ``--markdown`` (print the RESULTS.md tables), ``--repeats K``,
``--heavy`` (the moto throughput run at the goal's full 1,000 executions; about 5 extra minutes).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from benchmarks import coldstart, cost, fanout, inline, scaling, sticky, suspend, throughput
from benchmarks.common import Config, Section

SECTIONS: dict[str, Callable[[Config], Section]] = {
    "inline": inline.run,
    "suspend": suspend.run,
    "scaling": scaling.run,
    "fanout": fanout.run,
    "map10k": fanout.run_map,
    "throughput": throughput.run,
    "coldstart": coldstart.run,
    "cost": cost.run,
    "sticky": sticky.run,
}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one repetition (correctness smoke run)")
    parser.add_argument("--only", action="append", default=[], metavar="SECTION",
                        help=f"run only these sections ({', '.join(SECTIONS)}); repeatable or comma-separated")
    parser.add_argument("--markdown", action="store_true", help="print the results as RESULTS.md tables")
    parser.add_argument("--repeats", type=int, default=5, help="upper bound on repetitions per measurement")
    parser.add_argument("--heavy", action="store_true", help="moto throughput at the full 1,000 executions")
    return parser.parse_args(argv)


def selected(only: list[str]) -> list[str]:
    """Section names to run, in the canonical order."""
    wanted = {name.strip() for item in only for name in item.split(",") if name.strip()}
    unknown = wanted - set(SECTIONS)
    if unknown:
        raise SystemExit(f"unknown section(s): {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}")
    return [name for name in SECTIONS if not wanted or name in wanted]


def machine() -> str:
    """What ran the benchmark: cores, Python, platform, and the versions of what it compares."""
    from importlib import metadata

    versions = []
    for dist in ("moto", "boto3", "aws-durable-execution-sdk-python-testing", "dbos"):
        try:
            versions.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{dist} not installed")
    return (f"nproc={os.cpu_count()}, Python {platform.python_version()} ({platform.python_implementation()}), "
            f"{platform.system()} {platform.release()} {platform.machine()}; {', '.join(versions)}")


def render_text(section: Section) -> str:
    """A section as plain text."""
    lines = [f"== {section.title}  ({section.seconds:.1f} s)"]
    for row in section.rows:
        lines.append(f"  {row.metric}: stepbridge {row.stepbridge} | anchor {row.anchor} | ratio {row.ratio_str()} "
                     f"| goal {row.goal} | {row.verdict()}")
    for caption, header, rows in section.tables:
        lines.append(f"  -- {caption}")
        lines.append("  " + " | ".join(header))
        lines.extend("  " + " | ".join(r) for r in rows)
    lines.extend(f"  * {note}" for note in section.notes)
    return "\n".join(lines)


def render_markdown(section: Section) -> str:
    """A section as RESULTS.md markdown."""
    lines = [f"### {section.title}", "", "| metric | stepbridge | anchor | ratio | goal | verdict |",
             "|---|---|---|---|---|---|"]
    for row in section.rows:
        lines.append(f"| {row.metric} | {row.stepbridge} | {row.anchor} | {row.ratio_str()} | {row.goal} | "
                     f"{'**MISSED**' if row.met is False else row.verdict()} |")
    for caption, header, rows in section.tables:
        lines += ["", f"{caption}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines.extend("| " + " | ".join(r) + " |" for r in rows)
    if section.notes:
        lines.append("")
        lines.extend(f"- {note}" for note in section.notes)
    lines.append("")
    return "\n".join(lines)


def run(cfg: Config, names: list[str], *, markdown: bool = False, out: Callable[[str], None] = print) -> list[Section]:
    """Run the named sections in order, printing each as it finishes."""
    results: list[Section] = []
    started = time.perf_counter()
    header = f"stepbridge benchmarks, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {machine()}"
    out(header if not markdown else f"<!-- {header} -->")
    for name in names:
        t0 = time.perf_counter()
        section = SECTIONS[name](cfg)
        section.seconds = time.perf_counter() - t0
        results.append(section)
        out(render_markdown(section) if markdown else render_text(section))
        sys.stdout.flush()
    total = time.perf_counter() - started
    missed = [f"{s.name}: {r.metric}" for s in results for r in s.rows if r.met is False]
    out(f"{'<!-- ' if markdown else ''}total {total:.0f} s; goals missed: {len(missed)}"
        f"{' (' + '; '.join(missed) + ')' if missed else ''}{' -->' if markdown else ''}")
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    args = parse_args(argv)
    cfg = Config(quick=args.quick, repeats=max(1, args.repeats), heavy=args.heavy)
    run(cfg, selected(args.only), markdown=args.markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
