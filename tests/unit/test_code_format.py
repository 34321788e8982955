"""A code is recognised only in its exact format and position; a new address is masked."""

from __future__ import annotations

import pytest

from bot.codemail import mask_address
from bot.verify import find_code


@pytest.mark.parametrize(("text", "found"), [
    ("7KQM-3TWX", "7KQM-3TWX"),
    ("Code: 7kqm-3twx\n\nthanks", "7KQM-3TWX"),
    ("\n\n  7KQM-3TWX  ", "7KQM-3TWX"),
    ("requests", None), ("attached", None), ("7KQM3TWX", None), ("7KQM 3TWX", None),
    ("Hello\n7KQM-3TWX", None),  # not on the first line
    ("X-7KQM-3TWX", None), ("7KQM-3TWX-A", None), ("7KQM-3TW0", None),
])
def test_find_code(text: str, found: str | None) -> None:
    assert find_code(text) == found


def test_mask_address() -> None:
    assert mask_address("eve@evil.net") == "e**@evil.net"
    assert mask_address("e@evil.net") == "e**@evil.net"
