"""The 400 KB item check measures text without encoding ASCII (infra/tableformat.py ``attrs_size``): the size it
computes is exactly the UTF-8 size DynamoDB counts, for ASCII and non-ASCII names and values, so the limit
is enforced at the same byte."""

from __future__ import annotations

import pytest

from stepbridge.errors import PayloadTooLarge
from stepbridge.infra.tableformat import attrs_size, check_item
from stepbridge.runtime.limits import DYNAMODB_ITEM_BYTES


def _encoded_size(attrs: dict[str, dict[str, str]]) -> int:
    """The reference: every name and text value encoded to UTF-8 (numbers as DynamoDB sizes them)."""
    total = 0
    for name, value in attrs.items():
        total += len(name.encode("utf-8"))
        if "S" in value:
            total += len(value["S"].encode("utf-8"))
        else:
            digits = value["N"].lstrip("-").replace(".", "")
            total += (len(digits) + 1) // 2 + 1
    return total


TEXTS = ["", "plain ascii", "é", "näive", "☃ snow", "𝄞 clef", "mixed é☃𝄞 and ascii" * 50, "\x7f\x80",
         '{"k":"v"}' * 1000]


@pytest.mark.parametrize("text", TEXTS, ids=repr)
def test_size_is_the_utf8_size_for_every_kind_of_text(text: str) -> None:
    attrs = {"pk": {"S": "E#x"}, "sk": {"S": "J#" + text[:10] + "k"}, "body": {"S": text}, "version": {"N": "-12.50"},
             "nämé": {"S": text[::-1]}}
    assert attrs_size(attrs) == _encoded_size(attrs)


@pytest.mark.parametrize("char", ["a", "é", "☃", "𝄞"])
def test_the_limit_falls_on_the_same_byte(char: str) -> None:
    base = {"pk": {"S": "E#x"}, "sk": {"S": "J#k"}, "version": {"N": "0"}}
    room = DYNAMODB_ITEM_BYTES - _encoded_size({**base, "body": {"S": ""}})
    width = len(char.encode())
    fits = {**base, "body": {"S": char * (room // width) + "a" * (room % width)}}
    assert attrs_size(fits) == DYNAMODB_ITEM_BYTES
    check_item(fits)  # exactly 400 KB: accepted
    over = {**base, "body": {"S": fits["body"]["S"] + "a"}}
    with pytest.raises(PayloadTooLarge, match=f"is {DYNAMODB_ITEM_BYTES + 1:,} bytes"):
        check_item(over)
