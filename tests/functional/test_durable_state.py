"""Seed "Workflow State": durable execution and workflow variables (functions/workflows_durable.py)."""

from __future__ import annotations

import fakes
import pytest
from example_data import order, step_names

from stepbridge.errors import ExecutionFailedError
from stepbridge.local import Crash

DATASET = {"id": "ds-1", "records": [{"a": 1}, {"a": 2}, {"a": 3}], "notify": "data@acme.example"}


def test_long_running_processes_uploads_and_notifies(cloud, client):
    result = client.start("long-running", DATASET).result()

    assert result["processed"]["rows"] == 3
    assert result["uploaded"]["url"] == "s3://acme-results/ds-1/result.json"
    email = fakes.world.emails_to("data@acme.example", "dataset-ready")[0]
    assert email["data"]["result"]["key"] == "ds-1/result.json"


def test_failed_upload_is_retried_without_reprocessing(cloud, client):
    fakes.knobs.upload_failures = 2
    h = client.start("long-running", DATASET)

    h.result()

    assert fakes.world.calls["compute.process_dataset"] == 1
    assert fakes.world.calls["storage.upload"] == 3
    assert len(fakes.world.uploads) == 1


def test_crash_after_step_one_resumes_at_step_two(cloud, client):
    """The seed's comment: "If workflow crashes here, it resumes from Step 2; Step 1 won't re-execute"."""
    crashed = {"done": False}

    def upload_then_crash_once(key, payload):
        if not crashed["done"]:
            crashed["done"] = True
            raise Crash()  # the Lambda container dies mid-upload
        return fakes.storage.upload(key, payload)

    upload = cloud.mock_step("upload", upload_then_crash_once)
    h = client.start("long-running", DATASET)

    assert h.result()["uploaded"]["key"] == "ds-1/result.json"
    assert fakes.world.calls["compute.process_dataset"] == 1  # step 1 ran once
    assert upload.call_count == 2
    assert cloud.crashes["step"] == 1  # the upload step's Lambda died; its deadline timer caught it


def test_order_processing_keeps_variables_across_steps(cloud, client):
    h = client.start("order-processing", order())

    result = h.result()

    assert result["inventory"]["available"] is True
    assert result["payment"]["status"] == "succeeded"
    assert result["shipment"]["paymentId"] == result["payment"]["id"]
    assert set(step_names(client, h.execution_id)) == {"check-inventory", "process-payment", "create-shipment"}


def test_order_processing_out_of_stock_charges_nothing(cloud, client):
    result = client.start("order-processing", order(lines=[("product-3", 1, 120.0)])).result()

    assert result == {
        "inventory": {"available": False, "shortages": [{"productId": "product-3", "wanted": 1, "available": 0}]},
        "payment": None,
        "shipment": None,
    }
    assert fakes.world.payments == []


def test_order_processing_refunds_when_shipping_fails(cloud, client):
    cloud.mock_step("create-shipment", RuntimeError("carrier API down"))
    h = client.start("order-processing", order())

    with pytest.raises(ExecutionFailedError):
        h.result()

    assert client.describe(h.execution_id).error["message"] == "carrier API down"
    refund = fakes.world.refunds[0]
    assert len(fakes.world.refunds) == 1
    assert refund["orderId"] == "o-1"
    assert fakes.world.payments[0]["status"] == "refunded"
    assert "refund-payment" in step_names(client, h.execution_id)
