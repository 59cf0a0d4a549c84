"""Operator tooling: inspect, debug and picture executions (``stepbridge executions``, ``run``, ``report``).

Everything here works from a :class:`~stepbridge.client.Client` - ``describe`` and ``history`` -
so it is the same against LocalCloud and a deployed stack. The renderers are plain functions
for tests and scripts::

    from stepbridge.operator import mermaid_path, render_html, render_text

    html = render_html(client.describe(eid), client.history(eid))
"""

from __future__ import annotations

from stepbridge.operator.report import mermaid_path, render_html, render_text, render_timeline_html, timeline_json

__all__ = ["mermaid_path", "render_html", "render_text", "render_timeline_html", "timeline_json"]
