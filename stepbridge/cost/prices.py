"""List prices per region for ``stepbridge cost`` (on-demand, no free tiers, USD).

Taken from AWS's public pricing pages (the ``source`` of each line) and last checked on
:data:`CHECKED`. The benchmarks (``benchmarks/cost.py``) price their measurements with the same table.
Prices change: check the pages before relying on a figure, and add a region as another table.
"""

from __future__ import annotations

from dataclasses import dataclass

from stepbridge.errors import StepbridgeError

CHECKED = "2026-11-25"


@dataclass(frozen=True)
class Price:
    """One price: dollars per ``unit``, and where it came from."""

    dollars: float
    unit: str
    source: str
    note: str = ""


@dataclass(frozen=True)
class PriceTable:
    """The prices of one region."""

    region: str
    checked: str
    items: dict[str, Price]

    def __getitem__(self, key: str) -> float:
        return self.items[key].dollars


_LAMBDA = "https://aws.amazon.com/lambda/pricing/"
_DDB = "https://aws.amazon.com/dynamodb/pricing/on-demand/"
_SQS = "https://aws.amazon.com/sqs/pricing/"
_EB = "https://aws.amazon.com/eventbridge/pricing/"
_S3 = "https://aws.amazon.com/s3/pricing/"
_SFN = "https://aws.amazon.com/step-functions/pricing/"

US_EAST_1 = PriceTable("us-east-1", CHECKED, {
    "lambda_request": Price(0.20e-6, "request", _LAMBDA),
    "lambda_gb_s_arm64": Price(0.0000133334, "GB-second", _LAMBDA, "first tier (6 billion GB-s per month)"),
    "lambda_gb_s_x86_64": Price(0.0000166667, "GB-second", _LAMBDA, "first tier (6 billion GB-s per month)"),
    "ddb_wru": Price(0.625e-6, "write request unit", _DDB, "on-demand; 1 WRU = one write of up to 1 KB"),
    "ddb_rru": Price(0.125e-6, "read request unit", _DDB, "on-demand; 1 RRU = one strongly consistent read of 4 KB"),
    "sqs_fifo_request": Price(0.50e-6, "request", _SQS, "FIFO; each 64 KB chunk of a payload is one request"),
    "eventbridge_event": Price(1.00e-6, "custom event", _EB, "each 64 KB chunk of a PutEvents entry is one event"),
    "scheduler_invocation": Price(1.00e-6, "invocation", _EB,
                                  "EventBridge Scheduler, after 14M free per month; schedule API calls are free"),
    "s3_put": Price(0.005e-3, "PUT request", _S3, "S3 Standard"),
    "s3_get": Price(0.0004e-3, "GET request", _S3, "S3 Standard"),
    "sfn_transition": Price(0.025e-3, "state transition", _SFN, "Step Functions Standard workflows"),
    "ldf_operation": Price(8.0e-6, "durable operation", _LAMBDA,
                           "Lambda durable functions; AWS's example rate ($8.00 per million)"),
    "ldf_data_written": Price(0.25, "GB written", _LAMBDA,
                              "Lambda durable functions checkpoint data; not confirmed in the sources searched"),
    "ldf_data_retained": Price(0.15, "GB-month retained", _LAMBDA,
                               "Lambda durable functions history retention; not confirmed in the sources searched"),
})

REGIONS: dict[str, PriceTable] = {US_EAST_1.region: US_EAST_1}


def prices_for(region: str) -> PriceTable:
    """The price table of ``region``, or a clear error naming the regions there are tables for."""
    table = REGIONS.get(region)
    if table is None:
        raise StepbridgeError(
            f"no price table for region '{region}'; known: {', '.join(sorted(REGIONS))} "
            "(add one in stepbridge/cost/prices.py)"
        )
    return table
