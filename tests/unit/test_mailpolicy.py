"""The memoised read policy decodes headers exactly as the standard policy does."""

from __future__ import annotations

from email import policy

import pytest

from bot.mailpolicy import MEMO_MAX_VALUE, READ_POLICY

HEADERS = [
    ("Subject", "=?utf-8?q?L=C3=B6schung_meiner_Daten?="),
    ("Subject", "=?iso-8859-2?b?ro6p?= plain"),
    ("From", '"Müller, Jan" <jan@example.de>'),
    ("To", "a@example.com, =?utf-8?q?Zo=C3=AB?= <zoe@example.com>"),
    ("Content-Type", 'text/plain; charset="utf-8"; format=flowed'),
    ("Message-ID", "<abc@example.com>"),
    ("References", " ".join(f"<id{n}@example.com>" for n in range(40))),  # too long to keep
    ("Date", "Wed, 25 Nov 2026 09:00:00 +0000"),
]


@pytest.mark.parametrize(("name", "value"), HEADERS)
def test_same_decoding_as_the_standard_policy(name: str, value: str) -> None:
    expected = policy.default.header_factory(name, value)
    for _ in range(2):  # the second read comes from the memo
        got = READ_POLICY.header_factory(name, value)
        assert str(got) == str(expected)
        assert type(got).__mro__[1:3] == type(expected).__mro__[1:3]


def test_different_values_never_share_a_result() -> None:
    first = READ_POLICY.header_factory("Subject", "first")
    second = READ_POLICY.header_factory("Subject", "second")
    assert (str(first), str(second)) == ("first", "second")


def test_long_values_are_parsed_each_time() -> None:
    value = "x" * (MEMO_MAX_VALUE + 1)
    assert READ_POLICY.header_factory("Subject", value) is not READ_POLICY.header_factory(
        "Subject", value)
