"""``stepbridge cost`` output: text tables, Markdown, or JSON."""

from __future__ import annotations

import json

from stepbridge.cost import model
from stepbridge.cost.estimate import Estimate
from stepbridge.cost.prices import Price


def _money(value: float) -> str:
    return f"${value:,.2f}" if value >= 0.995 or value == 0 else f"${value:.4f}"


def _count(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def to_json(est: Estimate) -> dict[str, object]:
    """The estimate as plain data."""
    return {
        "app": est.app,
        "region": est.prices.region,
        "prices_checked": est.prices.checked,
        "architecture": est.architecture,
        "monthly_total": est.total,
        "by_service": est.by_service(),
        "workflows": [
            {
                "name": w.name,
                "executions": w.executions,
                "operations_per_execution": w.ops.per_kind(),
                "usage_per_execution": {k: v for k, v in sorted(w.usage.items()) if v},
                "lambda_gb_seconds_per_execution": w.gb_seconds,
                "dollars": w.dollars,
                "total": w.total,
                "step_functions": {"transitions_per_execution": w.sfn_transitions, "dollars": w.sfn_dollars},
                "durable_functions": {"operations_per_execution": w.ldf_operations, "dollars": w.ldf_dollars},
            }
            for w in est.workflows
        ],
        "comparison": {"stepbridge": est.total, "step_functions_standard": est.sfn_total,
                       "lambda_durable_functions": est.ldf_total},
        "prices": {k: {"dollars": p.dollars, "per": p.unit, "source": p.source, "note": p.note}
                   for k, p in est.prices.items.items()},
        "assumptions": est.assumptions,
    }


def _tables(est: Estimate) -> list[tuple[str, list[str], list[list[str]]]]:
    totals = est.by_service()
    services = [[s, _money(v), f"{v / est.total:.0%}" if est.total else "-"] for s, v in totals.items()]
    services.append(["total", _money(est.total), "100%" if est.total else "-"])
    flows = []
    for w in est.workflows:
        per = w.ops.per_kind()
        ops = ", ".join(f"{_count(v)} {k.replace('_', ' ')}" for k, v in sorted(per.items()) if v) or "-"
        calls = sum(model.api_calls(w.usage).values())
        flows.append([w.name, _count(w.executions), ops, _count(calls), _money(w.total),
                      f"${w.total / w.executions * 1e6:,.2f}" if w.executions else "-"])
    compare = [
        ["stepbridge (this app)", _money(est.total), "1x"],
        ["Step Functions Standard", _money(est.sfn_total), f"{est.sfn_total / est.total:.2g}x" if est.total else "-"],
        ["Lambda durable functions", _money(est.ldf_total), f"{est.ldf_total / est.total:.2g}x" if est.total else "-"],
    ]
    detail = [[w.name, _count(sum(model.api_calls(w.usage).values())), _count(w.usage.get("WRU", 0.0)),
               _count(w.usage.get("RRU", 0.0)), _count(w.gb_seconds * 1e3), _count(w.sfn_transitions),
               _money(w.sfn_dollars), _count(w.ldf_operations), _money(w.ldf_dollars)] for w in est.workflows]
    return [
        (f"Monthly cost by service ({est.prices.region}, {est.architecture}, list prices of {est.prices.checked})",
         ["service", "per month", "share"], services),
        ("Monthly cost by workflow", ["workflow", "executions", "operations per execution", "AWS calls / exec",
                                      "per month", "per million executions"], flows),
        ("Per execution, and the same workload elsewhere",
         ["workflow", "AWS calls", "WRU", "RRU", "GB-ms", "SFN transitions", "SFN per month", "LDF operations",
          "LDF per month"], detail),
        ("Comparison (per month)", ["platform", "per month", "vs stepbridge"], compare),
    ]


def to_markdown(est: Estimate) -> str:
    """Markdown tables."""
    out: list[str] = [f"# Estimated monthly AWS cost of app '{est.app}'", ""]
    for title, head, rows in _tables(est):
        out += [f"**{title}**", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(r) + " |" for r in rows]
        out.append("")
    out += _notes(est, "- ")
    return "\n".join(out)


def to_text(est: Estimate) -> str:
    """Aligned plain-text tables."""
    out: list[str] = [f"Estimated monthly AWS cost of app '{est.app}'", ""]
    for title, head, rows in _tables(est):
        widths = [max(len(str(c)) for c in col) for col in zip(head, *rows, strict=False)]
        out.append(title)
        for row in [head, *rows]:
            out.append("  " + "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)).rstrip())
        out.append("")
    out += _notes(est, "* ")
    return "\n".join(out)


def _notes(est: Estimate, bullet: str) -> list[str]:
    notes = [
        "S3: values over 64 KiB are claim checks (one PUT per value stored, one GET per value another function "
        "reads); their storage is not included.",
        "Not included: DynamoDB storage, CloudWatch Logs, X-Ray, data transfer, free tiers, SQS empty polls "
        "of the event source mapping (a fixed cost per queue).",
        "Lambda duration: assumed call latencies "
        + ", ".join(f"{k} {v:g} ms" for k, v in model.LATENCY_MS.items())
        + "; handler time " + ", ".join(f"{k} {v:g} ms" for k, v in model.HANDLER_MS.items()) + ".",
        "Prices: " + "; ".join(_price(k, p) for k, p in est.prices.items.items())
        + f" (checked {est.prices.checked}; sources in stepbridge/cost/prices.py, docs/COST.md).",
    ]
    if est.assumptions:
        notes.append("Assumed (not in the traffic file): " + "; ".join(dict.fromkeys(est.assumptions)) + ".")
    return [bullet + n for n in notes]


def _price(key: str, price: Price) -> str:
    if price.dollars < 0.01:
        return f"{key} ${price.dollars * 1e6:.4g} per million {price.unit}s"
    return f"{key} ${price.dollars:.4g} per {price.unit}"


def render(est: Estimate, fmt: str) -> str:
    """``fmt`` is ``text``, ``markdown`` or ``json``."""
    if fmt == "json":
        return json.dumps(to_json(est), indent=2)
    return to_markdown(est) if fmt == "markdown" else to_text(est)
