"""Failures are logged by type and place, never with the exception's message."""

from __future__ import annotations

import logging

import pytest

from bot.logsafe import failure, log_failure


def _boom() -> None:
    raise ValueError("jane@example.com said: my phone is +1 555 0199")


def test_failure_names_type_and_place_not_the_message(caplog: pytest.LogCaptureFixture) -> None:
    try:
        _boom()
    except ValueError as exc:
        assert failure(exc).startswith("ValueError at ")
        with caplog.at_level(logging.ERROR):
            log_failure(logging.getLogger("t"), "inbound %s failed", exc, 7)
    assert "inbound 7 failed: ValueError at" in caplog.text
    assert "jane@example.com" not in caplog.text and "555" not in caplog.text
    assert "test_logsafe.py" in caplog.text
