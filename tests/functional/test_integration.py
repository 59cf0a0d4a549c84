"""Seed "Workflow Integration": Salesforce, database and AI (functions/workflows_integration.py)."""

from __future__ import annotations

import json

import ai
import fakes
from example_data import LEAD, journal, only


def test_integration_posts_the_lead_to_salesforce(cloud, client):
    result = client.start("integration", LEAD).result()

    assert result["success"] is True
    assert result["status"] == 201
    assert result["id"].startswith("00Q")
    call = only(fakes.world.salesforce_calls)
    assert call["method"] == "POST"
    assert call["url"] == "https://api.salesforce.com/leads"
    assert call["headers"]["Authorization"] == "Bearer local-dev-token"
    assert call["body"] == LEAD


def test_integration_reads_the_token_from_the_environment_not_the_journal(cloud, client, monkeypatch):
    monkeypatch.setenv("SALESFORCE_TOKEN", "sf-secret-123")
    h = client.start("integration", LEAD)

    h.result()

    assert only(fakes.world.salesforce_calls)["headers"]["Authorization"] == "Bearer sf-secret-123"
    assert "sf-secret-123" not in json.dumps([e.detail for e in client.history(h.execution_id)])


def test_integration_retries_salesforce_outages_with_linear_backoff(cloud, client):
    fakes.knobs.salesforce_failures = 2
    h = client.start("integration", LEAD)

    assert h.result()["success"] is True
    assert len(fakes.world.salesforce_calls) == 3
    delays = [a["delay"] for a in journal(client, h.execution_id, "Step.attempt_failed", "call-salesforce")]
    assert 1.0 <= delays[0] <= 2.0  # linear: 2 s, then 4 s (jitter: half to full)
    assert 2.0 <= delays[1] <= 4.0


def test_database_creates_user_then_profile(cloud, client):
    h = client.start("database", {"name": "Dee Bee", "email": "dee@example.com"})

    created = h.result()

    assert created["id"].startswith("user-")
    assert created["email"] == "dee@example.com"
    assert fakes.db.get("users", created["id"]) == created
    profile = only(fakes.db.query("profiles"))
    assert profile == {"id": f"profile-{created['id']}", "user": created["id"], "bio": "", "avatar": None}


def test_database_gives_each_execution_its_own_id(cloud, client):
    a = client.start("database", {"name": "A", "email": "a@example.com"}).result()
    b = client.start("database", {"name": "B", "email": "b@example.com"}).result()

    assert a["id"] != b["id"]
    assert len(fakes.db.query("profiles")) == 2


def test_ai_content_drafts_then_reviews(cloud, client):
    post = client.start("ai-content", "durable workflows").result()

    assert post["title"] == "Durable Workflows"
    assert post["summary"] == "A short guide to durable workflows (edited)."
    assert post["body"].endswith("[reviewed by claude-sonnet-4.5]")
    draft, review = fakes.world.ai_calls
    assert draft["model"] == "gpt-5"
    assert draft["prompt"] == "Write a blog post about durable workflows"
    assert review["model"] == "claude-sonnet-4.5"
    assert review["context"] == draft["result"]  # the reviewer sees the draft


def test_ai_content_is_deterministic_with_the_default_model(cloud, client):
    first = client.start("ai-content", "replay").result()
    second = client.start("ai-content", "replay").result()

    assert first == second


def test_ai_content_uses_a_plugged_in_model(cloud, client):
    class Canned:
        def generate(self, *, model, prompt, schema, context=None):
            return {"title": f"{model} says hi", "summary": "s", "body": "b", "tags": ["canned"]}

    ai.use_model(Canned())

    post = client.start("ai-content", "anything").result()

    assert post == {"title": "claude-sonnet-4.5 says hi", "summary": "s", "body": "b", "tags": ["canned"]}


def test_data_export_polls_the_warehouse_and_keeps_the_large_download_in_the_bucket(cloud, client):
    from datetime import timedelta

    import boto3

    from stepbridge.runtime import payloads

    h = client.start("data-export", "orders")
    assert client.describe(h.execution_id).custom_status["stage"] == "waiting for the warehouse"
    cloud.advance(timedelta(seconds=31))
    assert client.describe(h.execution_id).status == "RUNNING"  # the 2nd check found it still running
    cloud.advance(timedelta(seconds=61))
    result = h.result()
    assert result["rows"] == 10_000 and result["checks"] == 3
    assert result["first"] == {"id": 0, "sku": "sku-000", "total_cents": 0}
    status = client.describe(h.execution_id).custom_status
    assert status == {"stage": "downloaded", "job": result["job"], "rows": 10_000}
    stored = next(r for r in cloud.store.load_journal(h.execution_id)
                  if r.op == "download-export" and r.kind == "result")
    assert payloads.is_ref(stored.data["result"])
    s3 = boto3.client("s3", region_name=cloud.region)
    assert s3.list_objects_v2(Bucket=cloud.resources.config.payload_bucket)["KeyCount"] == 1
    polls = [r.op for r in cloud.store.load_journal(h.execution_id) if r.type == "step" and r.kind == "result"]
    assert sorted(p for p in polls if p.startswith("export-ready-")) == ["export-ready-1", "export-ready-2",
                                                                        "export-ready-3"]
