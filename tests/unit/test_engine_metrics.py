"""The counting functions of ``dev.py engine-metrics`` (tools/engine_metrics.py) on tiny synthetic sources."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))

import engine_metrics as em

SOURCE = (
    """
from typing import Any

def short(x: Any) -> Any:  # Any, and AnyThing is not Any
    return x

class Replay:
    def record(self) -> None:
        import json
        if self.kind == "result" or rec.type != "step":
            pass
        def helper() -> None:
            from os import path
            return None
"""
    + "\n".join(f"        x{i} = {i}" for i in range(60))
    + """

async def waits(ctx) -> None:
    if message.reason in ("a", "b"):
        import re
    if message.reasons == 1 or obj.kind=="x":
        pass
"""
)


def test_any_counts_the_word_only() -> None:
    assert em.count_any(SOURCE) == 5  # the import, two annotations, two in the comment; not "AnyThing"


def test_comparisons_count_lines_like_the_reviews_grep() -> None:
    # `.kind ==` and `.type !=` on one line count once; `.reason in` counts; `.reasons ==` and `.kind==` do not
    assert em.count_comparisons(SOURCE) == 2
    assert em.count_literal_comparisons(SOURCE) == 2
    assert em.count_literal_comparisons("if rec.kind == Kind.RESULT or r.status in TERMINAL:\n") == 0
    assert em.count_comparisons("if rec.kind == Kind.RESULT or r.status in TERMINAL:\n") == 1


def test_long_functions_are_named_with_their_class_and_measured_from_def_to_last_line() -> None:
    found = em.long_functions(SOURCE, limit=60)
    assert found == [("Replay.record", 67)]
    assert em.long_functions(SOURCE, limit=67) == []
    everything = [("Replay.record", 67), ("waits", 5), ("Replay.record.helper", 3), ("short", 2)]
    assert em.long_functions(SOURCE, limit=1) == everything  # nested functions too, longest first


def test_local_imports_count_statements_and_the_baselines_per_def_way() -> None:
    statements, per_def = em.local_imports(SOURCE)
    assert statements == 3  # json, os.path (in a nested def), re; the module-level import is not local
    assert per_def == 4  # os.path counted for helper and again for record


def test_duplicates_report_head_is_parsed() -> None:
    head = (
        "25 pairs of places (120 files read), each sharing runs of 6 or more identical or same-shape lines "
        "(21 by shape alone, 8 of those marked boilerplate)\nD1 a.py:1-6 ~ b.py:1-6 shape\n"
    )
    assert em.parse_duplicates(head) == {"pairs": 25, "shape": 21, "boilerplate": 8}
    assert em.parse_duplicates("no duplicates (12 files read)\n") == {"pairs": 0, "shape": 0, "boilerplate": 0}
    assert em.parse_duplicates("something else\n") is None


def test_measure_walks_a_package_and_reports_runtime_numbers(tmp_path: Path) -> None:
    runtime = tmp_path / "pkg" / "runtime"
    runtime.mkdir(parents=True)
    (runtime / "__init__.py").write_text("")
    (runtime / "engine.py").write_text(SOURCE)
    (runtime / "operations").mkdir()
    (runtime / "operations" / "step.py").write_text("def decide():\n" + "    x = 1\n" * 61)
    (tmp_path / "pkg" / "big.py").write_text("x = 1\n" * 601)
    m = em.measure(tmp_path / "pkg", with_duplicates=False)
    assert m.lines == len(SOURCE.splitlines()) + 62 + 601
    assert m.long_runtime_functions == [("engine.Replay.record", 67), ("operations.step.decide", 62)]
    assert m.big_modules == [("pkg/big.py", 601)] and m.runtime_modules == 2
    assert (m.any_count, m.comparisons, m.local_imports) == (5, 2, 3)
    assert "runtime functions > 60 lines: 2 (engine.Replay.record 67, operations.step.decide 62)" in em.report(m)
