"""The HTML report in a real browser: headless Chromium renders it and every step is on the page.

Needs a ``chromium`` binary (Debian: ``apt-get install chromium``); skipped without one. The page
must render offline: the browser runs with networking features off, and the report has no
external assets anyway. Set ``STEPBRIDGE_REPORT_ARTIFACTS=/some/dir`` to keep the HTML files and
screenshots for a look.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import fakes
import pytest
from example_data import EXPENSE, order

from stepbridge.local import LocalCloud
from stepbridge.operator import render_html
from stepbridge.timeline import build_timeline

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium binary on PATH (Debian: apt-get install chromium) to render the report"
)



def chromium(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--window-size=1400,1000",
            *extra,
            page.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


class _Steps(HTMLParser):
    """Collects the rendered Gantt rows (``data-step``) and the page's visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[str] = []
        self.text: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in ("style", "title"):
            self._skip += 1
        if tag == "div" and "g-row" in (values.get("class") or "") and values.get("data-step"):
            self.rows.append(str(values["data-step"]))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "title"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.text.append(data)


def _executions(cloud: LocalCloud, client: Any) -> list[str]:
    fakes.knobs.external_api_failures = 2
    client.start("api-call", {"q": "status"}, execution_id="api-1").result()
    h = client.start("expense-approval", EXPENSE, execution_id="expense-1")
    cloud.advance(timedelta(hours=20))
    client.send_event("Approval.decided", {"expenseId": "exp-7", "approver": EXPENSE["manager"], "decision": "approve"})
    cloud.advance(timedelta(hours=30))
    client.send_event("Approval.decided", {"expenseId": "exp-7", "approver": EXPENSE["vp"], "decision": "approve"})
    h.result()
    fakes.knobs.decline_payments = True
    with pytest.raises(Exception, match="card declined"):
        client.start("process-payment", order("o-13"), execution_id="payment-o-13").result()
    fakes.knobs.decline_payments = False
    client.start("ecommerce-order", order("o-21"), execution_id="ecommerce-o-21").result()
    return ["api-1", "expense-1", "payment-o-13", "ecommerce-o-21"]


def test_chromium_renders_every_step_of_the_report(cloud: LocalCloud, client: Any, tmp_path: Path) -> None:
    artifacts = Path(os.environ.get("STEPBRIDGE_REPORT_ARTIFACTS") or tmp_path)
    artifacts.mkdir(parents=True, exist_ok=True)
    for execution_id in _executions(cloud, client):
        description, history = client.describe(execution_id), client.history(execution_id)
        names = [row.name for row in build_timeline(history, description).rows]
        assert names
        page = artifacts / f"{execution_id}.html"
        page.write_text(render_html(description, history), encoding="utf-8")

        dumped = chromium(page, tmp_path / "profile", "--dump-dom")
        assert dumped.returncode == 0, dumped.stderr[-2000:]
        parsed = _Steps()
        parsed.feed(dumped.stdout)
        assert parsed.rows == names, execution_id  # one Gantt row per operation, in order
        text = " ".join(parsed.text)
        for name in names:
            assert name in text, (execution_id, name)
        assert description.status in text and description.workflow in text

        png = artifacts / f"{execution_id}.png"
        shot = chromium(page, tmp_path / "profile", f"--screenshot={png}")
        assert shot.returncode == 0, shot.stderr[-2000:]
        data = png.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 20_000  # a real, non-blank page
