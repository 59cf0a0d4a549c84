"""EventBridge event patterns: the grammar checked at ``app.on`` and LocalCloud's matching.

The matching table is taken from AWS's documentation (each row names its page):
* CF = "Content filtering in Amazon EventBridge event patterns",
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html
* OPS = "Comparison operators for use in event patterns",
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html
* ARR = "Event patterns with arrays", https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-arrays.html
* NULL = "Matching null values and empty strings",
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-null-values.html
* RULER = the README of aws/event-ruler, the engine EventBridge runs (its examples and rules).
Rows marked "(type)" pin down JSON-type semantics the pages state in words ("numeric matching works
with values that are JSON numbers", "prefix ... for string values").
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from stepbridge import App, Context
from stepbridge.api.app import TriggerDef
from stepbridge.api.eventpattern import EVENT_PATTERN_MAX_CHARS, PatternError, validate
from stepbridge.compiler import compile_app
from stepbridge.errors import CompileError, WorkflowDefinitionError
from stepbridge.local import LocalCloud
from stepbridge.local.eventmatch import matches

#: The sample event of CF / RULER ("Ruler by Example").
EC2 = {
    "version": "0",
    "id": "ddddd4-aaaa-7777-4444-345dd43cc333",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "012345679012",
    "time": "2017-10-02T16:24:49Z",
    "region": "us-east-1",
    "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
    "detail": {
        "c-count": 5,
        "d-count": 3,
        "x-limit": 301.8,
        "source-ip": "10.0.0.33",
        "instance-id": "i-000000aaaaaa00000",
        "state": "running",
    },
}


def ec2(**detail: Any) -> dict[str, Any]:
    """The sample event with ``detail`` fields replaced (``None`` values are kept as JSON null)."""
    event = copy.deepcopy(EC2)
    event["detail"].update(detail)
    return event


def ec2_without(*fields: str) -> dict[str, Any]:
    event = ec2()
    for name in fields:
        event["detail"].pop(name)
    return event


def d(**fields: Any) -> dict[str, Any]:
    """A pattern on ``detail``."""
    return {"detail": fields}


COMPLEX = {
    "time": [{"prefix": "2017-10-02"}],
    "detail": {
        "state": [{"anything-but": "initializing"}],
        "c-count": [{"numeric": [">", 0, "<=", 5]}],
        "d-count": [{"numeric": ["<", 10]}],
        "x-limit": [{"anything-but": [100, 200, 300]}],
        "source-ip": [{"cidr": "10.0.0.0/8"}],
    },
}
CW_OR = {
    "source": ["aws.cloudwatch"],
    "$or": [{"metricName": ["CPUUtilization", "ReadLatency"]}, {"namespace": ["AWS/EC2", "AWS/ES"]}],
}
NESTED_OR = {
    "source": ["aws.cloudwatch"],
    "$or": [
        {"metricName": ["CPUUtilization", "ReadLatency"]},
        {"metricType": ["MetricType"], "namespace": ["AWS/EC2", "AWS/ES"], "$or": [{"metricId": [1234]},
                                                                                   {"spaceId": [1000]}]},
        {"scope": ["Service"]},
    ],
}

#: (source, pattern, event, expected match)
CASES: list[tuple[str, dict[str, Any], dict[str, Any], bool]] = [
    # prefix
    ("CF prefix", {"time": [{"prefix": "2017-10-02"}]}, EC2, True),
    ("CF prefix, other day", {"time": [{"prefix": "2017-10-03"}]}, EC2, False),
    ("CF prefix ignoring case", d(service=[{"prefix": {"equals-ignore-case": "EventB"}}]),
     ec2(service="EVENTBRIDGE"), True),
    ("CF prefix ignoring case, lower",
     d(service=[{"prefix": {"equals-ignore-case": "EventB"}}]), ec2(service="eventb-x"), True),
    ("CF prefix ignoring case, other",
     d(service=[{"prefix": {"equals-ignore-case": "EventB"}}]), ec2(service="sqs"), False),
    ("CF prefix on a number (type)", d(**{"c-count": [{"prefix": "5"}]}), EC2, False),
    # suffix
    ("CF suffix", {"FileName": [{"suffix": ".png"}]}, {"FileName": "image.png"}, True),
    ("CF suffix, other extension", {"FileName": [{"suffix": ".png"}]}, {"FileName": "image.jpg"}, False),
    ("CF suffix ignoring case", d(FileName=[{"suffix": {"equals-ignore-case": ".png"}}]),
     ec2(FileName="photo.PNG"), True),
    # anything-but
    ("CF anything-but string", d(state=[{"anything-but": "initializing"}]), EC2, True),
    ("CF anything-but string, excluded", d(state=[{"anything-but": "initializing"}]), ec2(state="initializing"), False),
    ("CF anything-but number", d(**{"x-limit": [{"anything-but": 123}]}), EC2, True),
    ("CF anything-but number, excluded", d(**{"x-limit": [{"anything-but": 123}]}), ec2(**{"x-limit": 123}), False),
    ("CF anything-but string list", d(state=[{"anything-but": ["stopped", "overloaded"]}]), EC2, True),
    ("CF anything-but string list, excluded", d(state=[{"anything-but": ["stopped", "overloaded"]}]),
     ec2(state="overloaded"), False),
    ("CF anything-but number list", d(**{"x-limit": [{"anything-but": [100, 200, 300]}]}), EC2, True),
    ("CF anything-but number list, excluded", d(**{"x-limit": [{"anything-but": [100, 200, 300]}]}),
     ec2(**{"x-limit": 200}), False),
    ("CF anything-but prefix", d(state=[{"anything-but": {"prefix": "init"}}]), EC2, True),
    ("CF anything-but prefix, excluded",
     d(state=[{"anything-but": {"prefix": "init"}}]), ec2(state="initializing"), False),
    ("CF anything-but suffix", d(FileName=[{"anything-but": {"suffix": ".png"}}]), ec2(FileName="a.png"), False),
    ("CF anything-but suffix, other", d(FileName=[{"anything-but": {"suffix": ".png"}}]), ec2(FileName="a.jpg"), True),
    ("CF anything-but ignoring case", d(state=[{"anything-but": {"equals-ignore-case": "initializing"}}]),
     ec2(state="INITIALIZING"), False),
    ("CF anything-but ignoring case, other", d(state=[{"anything-but": {"equals-ignore-case": "initializing"}}]),
     EC2, True),
    ("CF anything-but wildcard", d(FilePath=[{"anything-but": {"wildcard": "*/lib/*"}}]),
     ec2(FilePath="/usr/lib/x"), False),
    ("CF anything-but wildcard, other", d(FilePath=[{"anything-but": {"wildcard": "*/lib/*"}}]),
     ec2(FilePath="/usr/bin/x"), True),
    ("CF anything-but prefix list", d(state=[{"anything-but": {"prefix": ["init", "stop"]}}]),
     ec2(state="stopped"), False),
    ("RULER anything-but needs the field", d(state=[{"anything-but": "initializing"}]), ec2_without("state"), False),
    # numeric
    ("CF numeric range", d(**{"c-count": [{"numeric": [">", 0, "<=", 5]}]}), EC2, True),
    ("CF numeric range, above", d(**{"c-count": [{"numeric": [">", 0, "<=", 5]}]}), ec2(**{"c-count": 6}), False),
    ("CF numeric range, open bottom", d(**{"c-count": [{"numeric": [">", 0, "<=", 5]}]}), ec2(**{"c-count": 0}), False),
    ("CF numeric less than", d(**{"d-count": [{"numeric": ["<", 10]}]}), EC2, True),
    ("CF numeric equals 3.018e2", d(**{"x-limit": [{"numeric": ["=", 3.018e2]}]}), EC2, True),
    ("CF numeric on a string (type)", d(**{"c-count": [{"numeric": [">", 0]}]}), ec2(**{"c-count": "5"}), False),
    ("CF numeric on a boolean (type)", d(**{"c-count": [{"numeric": [">", 0]}]}), ec2(**{"c-count": True}), False),
    # IP address
    ("CF cidr", d(sourceIPAddress=[{"cidr": "10.0.0.0/24"}]), ec2(sourceIPAddress="10.0.0.33"), True),
    ("CF cidr, outside", d(sourceIPAddress=[{"cidr": "10.0.0.0/24"}]), ec2(sourceIPAddress="10.0.1.33"), False),
    ("RULER cidr IPv6", d(ip=[{"cidr": "2001:db8::/32"}]), ec2(ip="2001:db8:0:1::7"), True),
    ("RULER cidr IPv6, outside", d(ip=[{"cidr": "2001:db8::/32"}]), ec2(ip="2001:db9::7"), False),
    ("RULER cidr with host bits", d(ip=[{"cidr": "10.0.0.7/24"}]), ec2(ip="10.0.0.200"), True),
    ("CF cidr on a non-IP string", d(ip=[{"cidr": "10.0.0.0/24"}]), ec2(ip="localhost"), False),
    # exists
    ("CF exists false, absent", d(**{"c-count": [{"exists": False}]}), ec2_without("c-count"), True),
    ("CF exists false, not a leaf", d(**{"c-count": [{"exists": False}]}), ec2(**{"c-count": {"c1": 100}}), True),
    ("CF exists false, present", d(**{"c-count": [{"exists": False}]}), EC2, False),
    ("RULER exists true", d(**{"c-count": [{"exists": True}]}), EC2, True),
    ("RULER exists true, absent", d(**{"c-count": [{"exists": True}]}), ec2_without("c-count"), False),
    # equals / equals-ignore-case / wildcard
    ("OPS equals", {"Name": ["Alice"]}, {"Name": "Alice"}, True),
    ("OPS equals ignore case", {"Name": [{"equals-ignore-case": "alice"}]}, {"Name": "ALICE"}, True),
    ("OPS equals ignore case, other", {"Name": [{"equals-ignore-case": "alice"}]}, {"Name": "Bob"}, False),
    ("OPS wildcard", {"FileName": [{"wildcard": "dir/*.png"}]}, {"FileName": "dir/init.png"}, True),
    ("OPS wildcard, other folder", {"FileName": [{"wildcard": "dir/*.png"}]}, {"FileName": "lib/init.png"}, False),
    ("RULER wildcard in the middle", {"source": [{"wildcard": "Simple*Service"}]}, {"source": "SimpleQueueService"},
     True),
    ("RULER wildcard escaped star", {"v": [{"wildcard": "a\\*b"}]}, {"v": "a*b"}, True),
    ("RULER wildcard escaped star, literal only", {"v": [{"wildcard": "a\\*b"}]}, {"v": "axxb"}, False),
    # and / or
    ("OPS and", {"Location": ["New York"], "Day": ["Monday"]}, {"Location": "New York", "Day": "Monday"}, True),
    ("OPS and, one field differs", {"Location": ["New York"], "Day": ["Monday"]},
     {"Location": "New York", "Day": "Sunday"}, False),
    ("OPS or (values)", {"PaymentType": ["Credit", "Debit"]}, {"PaymentType": "Debit"}, True),
    ("OPS $or", {"$or": [{"Location": ["New York"]}, {"Day": ["Monday"]}]}, {"Location": "Boston", "Day": "Monday"},
     True),
    ("OPS $or, neither", {"$or": [{"Location": ["New York"]}, {"Day": ["Monday"]}]},
     {"Location": "Boston", "Day": "Sunday"}, False),
    ("RULER $or with a common field", CW_OR, {"source": "aws.cloudwatch", "namespace": "AWS/EC2"}, True),
    ("RULER $or, common field differs", CW_OR, {"source": "aws.ec2", "metricName": "CPUUtilization"}, False),
    ("RULER nested $or", NESTED_OR, {"source": "aws.cloudwatch", "metricType": "MetricType", "namespace": "AWS/ES",
                                     "spaceId": 1000}, True),
    ("RULER nested $or, inner fails", NESTED_OR, {"source": "aws.cloudwatch", "metricType": "MetricType",
                                                  "namespace": "AWS/ES", "spaceId": 7}, False),
    ("CF complex example", COMPLEX, EC2, True),
    ("CF complex example, one rule fails", COMPLEX, ec2(**{"x-limit": 300}), False),
    # arrays, null, empty strings, types
    ("ARR event array intersects",
     {"resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000",
                    "arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f"]}, EC2, True),
    ("ARR event array, no common value", {"resources": ["arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f"]}, EC2,
     False),
    ("RULER array of objects", {"detail": {"items": {"sku": ["b"]}}}, ec2(items=[{"sku": "a"}, {"sku": "b"}]), True),
    ("RULER array of objects, none", {"detail": {"items": {"sku": ["c"]}}}, ec2(items=[{"sku": "a"}, {"sku": "b"}]),
     False),
    ("NULL null matches null", d(UserID=[None]), ec2(UserID=None), True),
    ("NULL null does not match absence", d(UserID=[None]), EC2, False),
    ("NULL empty string", d(LastName=[""]), ec2(LastName=""), True),
    ("NULL empty string is not null", d(LastName=[""]), ec2(LastName=None), False),
    ("RULER number equals its other spelling", d(**{"x-limit": [3.018e2]}), EC2, True),
    ("RULER number is not a string (type)", d(**{"c-count": ["5"]}), EC2, False),
    ("RULER true is not 1 (type)", d(**{"c-count": [True]}), ec2(**{"c-count": 1}), False),
]


@pytest.mark.parametrize(("pattern", "event", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_local_matching_follows_the_documented_examples(pattern: dict[str, Any], event: dict[str, Any],
                                                        expected: bool) -> None:
    validate(pattern)  # every documented pattern is valid grammar
    assert matches(pattern, event) is expected


def test_the_table_has_documented_cases_for_every_operator() -> None:
    text = json.dumps([c[1] for c in CASES])
    assert len(CASES) >= 30
    for operator in ("prefix", "suffix", "anything-but", "numeric", "exists", "cidr", "wildcard", "equals-ignore-case",
                     "$or"):
        assert f'"{operator}"' in text


# ---- the grammar, checked when the trigger is declared ---------------------------------------------


def make_app() -> App:
    app = App("patterns")

    @app.workflow("bill")
    async def bill(ctx: Context, order: dict[str, Any]) -> str:
        return str(order.get("id"))

    return app


BAD: list[tuple[Any, str, str]] = [
    ({"amount": [{"numeric": [">", "abc"]}]}, "detail.amount[0].numeric[1]", "must be a number"),
    ({"amount": [{"bogus-operator": 5}]}, "detail.amount[0]", "unknown matcher 'bogus-operator'"),
    ({"bogus-operator": 5}, "detail.bogus-operator", "must be an object or a non-empty list"),
    ({"amount": []}, "detail.amount", "empty list"),
    ({"amount": {}}, "detail.amount", "empty object"),
    ({"amount": [[1, 2]]}, "detail.amount[0]", "must be a string, number"),
    ({"amount": [{"numeric": ["!=", 5]}]}, "detail.amount[0].numeric[0]", "unknown numeric operator"),
    ({"amount": [{"numeric": ["<", 5, ">", 1]}]}, "detail.amount[0].numeric", "a range is a lower bound"),
    ({"amount": [{"numeric": [">", 1, "<"]}]}, "detail.amount[0].numeric", "a list [operator, number]"),
    ({"amount": [{"numeric": [">", True]}]}, "detail.amount[0].numeric[1]", "must be a number"),
    ({"a": [{"prefix": 5}]}, "detail.a[0].prefix", "must be a string"),
    ({"a": [{"prefix": {"ignore-case": "x"}}]}, "detail.a[0].prefix", "equals-ignore-case"),
    ({"a": [{"suffix": None}]}, "detail.a[0].suffix", "must be a string"),
    ({"a": [{"equals-ignore-case": ["x"]}]}, "detail.a[0].equals-ignore-case", "must be a string"),
    ({"a": [{"wildcard": "a**b"}]}, "detail.a[0].wildcard", "consecutive wildcard"),
    ({"a": [{"wildcard": "a\\b"}]}, "detail.a[0].wildcard", "invalid escape"),
    ({"a": [{"anything-but": [1, "x"]}]}, "detail.a[0].anything-but", "only strings or only numbers"),
    ({"a": [{"anything-but": None}]}, "detail.a[0].anything-but", "must be a string, a number"),
    ({"a": [{"anything-but": []}]}, "detail.a[0].anything-but", "empty list"),
    ({"a": [{"anything-but": {"numeric": [">", 1]}}]}, "detail.a[0].anything-but", "takes one of prefix"),
    ({"a": [{"anything-but": {"prefix": ""}}]}, "detail.a[0].anything-but.prefix", "an empty prefix"),
    ({"a": [{"anything-but": {"wildcard": ["ok*", "x**"]}}]}, "detail.a[0].anything-but.wildcard[1]", "consecutive"),
    ({"a": [{"exists": "yes"}]}, "detail.a[0].exists", "true or false"),
    ({"a": [{"cidr": "10.0.0.0"}]}, "detail.a[0].cidr", "needs a mask"),
    ({"a": [{"cidr": "10.0.0.0/32"}]}, "detail.a[0].cidr", "0-31 bits"),
    ({"a": [{"cidr": "not-an-ip/8"}]}, "detail.a[0].cidr", "not an IPv4 or IPv6"),
    ({"a": [{"prefix": "x", "suffix": "y"}]}, "detail.a[0]", "exactly one key"),
    ({"$or": [{"a": [1]}]}, "detail.$or", "at least two objects"),
    ({"$or": [{"a": [1]}, {"numeric": [1]}]}, "detail.$or[1].numeric", "matcher name"),
    ({"$or": [{"a": [1]}, {}]}, "detail.$or[1]", "empty object"),
    ({"a": [float("nan")]}, "detail.a[0]", "finite"),
]


@pytest.mark.parametrize(("content_filter", "path", "problem"), BAD, ids=[b[1] + ":" + b[2] for b in BAD])
def test_invalid_filter_is_rejected_when_the_trigger_is_declared(content_filter: Any, path: str, problem: str) -> None:
    app = make_app()
    with pytest.raises(WorkflowDefinitionError) as info:
        app.on("Order.created", "bill", filter=content_filter)
    message = str(info.value)
    assert message.startswith("trigger 'on-Order.created-bill' (workflow 'bill'): invalid EventBridge event pattern")
    assert f" at {path}: " in message and problem in message
    assert "\n" not in message
    assert app.triggers == []


def test_invalid_filter_on_a_trigger_def_fails_compile_naming_the_trigger() -> None:
    """Reproduction: ``{"numeric": [">", "abc"]}`` passed compile and validate; a hand-made TriggerDef still can't."""
    app = make_app()
    app.triggers.append(TriggerDef("big", ("Order.created",), "bill", filter={"amount": [{"numeric": [">", "abc"]}]}))
    with pytest.raises(CompileError, match=r"trigger 'big' \(workflow 'bill'\).*detail\.amount\[0\]\.numeric\[1\]"):
        compile_app(app)


def test_pattern_over_the_eventbridge_size_quota_is_rejected() -> None:
    app = make_app()
    many = [f"customer-{i:05d}" for i in range(200)]
    assert len(json.dumps(many)) > EVENT_PATTERN_MAX_CHARS
    with pytest.raises(WorkflowDefinitionError, match="2048-character event pattern quota"):
        app.on("Order.created", "bill", filter={"customer": many})


def test_valid_filters_of_every_kind_are_accepted_and_compiled() -> None:
    app = make_app()
    content_filter = {
        "amount": [{"numeric": [">=", 100, "<", 1e6]}, {"numeric": ["=", 0]}],
        "currency": ["EUR", "USD", {"equals-ignore-case": "gbp"}],
        "plan": [{"prefix": {"equals-ignore-case": "pro-"}}, {"suffix": "-annual"}, {"wildcard": "team-*-v\\*"}],
        "region": [{"anything-but": {"prefix": ["us-", "ca-"]}}],
        "ip": [{"cidr": "2001:db8::/32"}],
        "coupon": [{"exists": False}, None, ""],
        "customer": {"tier": [{"anything-but": ["free"]}]},
        "$or": [{"country": ["DE"]}, {"vat": [True]}],
    }
    trigger = app.on("Order.created", "bill", filter=content_filter)
    assert trigger.filter == content_filter
    assert compile_app(app)  # no CompileError


def test_validate_reports_the_path_of_the_bad_rule() -> None:
    with pytest.raises(PatternError) as info:
        validate({"detail": {"a": [1, {"numeric": [">", "abc"]}]}})
    assert info.value.path == "detail.a[1].numeric[1]"


# ---- the reproductions, through LocalCloud --------------------------------------------------------


@pytest.fixture
def billing() -> Iterator[tuple[LocalCloud, App]]:
    app = make_app()
    app.on("Order.created", "bill", filter={"amount": [{"numeric": [">", 100]}], "plan": [{"suffix": "-annual"}]})
    with LocalCloud(app) as cloud:
        yield cloud, app


def test_local_cloud_matches_numeric_and_suffix_rules_and_starts_only_matching_events(
    billing: tuple[LocalCloud, App],
) -> None:
    cloud, _ = billing
    client = cloud.client()
    client.send_event("Order.created", {"id": "small", "amount": 50, "plan": "pro-annual"})
    client.send_event("Order.created", {"id": "text", "amount": "500", "plan": "pro-annual"})
    client.send_event("Order.created", {"id": "monthly", "amount": 500, "plan": "pro-monthly"})
    client.send_event("Order.created", {"id": "big", "amount": 500, "plan": "pro-annual"})
    cloud.run_until_idle()
    runs = client.list(workflow="bill")
    assert [(r.status, r.result) for r in runs] == [("SUCCEEDED", "big")]
    assert cloud.failed_deliveries == []


def test_unknown_matcher_no_longer_matches_locally() -> None:
    """Reproduction: ``{"bogus-operator": 5}`` matched every event under moto's matcher."""
    assert matches({"detail": {"amount": [{"bogus-operator": 5}]}}, ec2(amount=1)) is False
    app = make_app()
    app.triggers.append(TriggerDef("bogus", ("Order.created",), "bill", filter={"amount": [{"bogus-operator": 5}]}))
    with pytest.raises(WorkflowDefinitionError, match="unknown matcher 'bogus-operator'"), LocalCloud(app):
        pass
