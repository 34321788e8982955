"""Small helpers shared by the tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import pytest

from bot.context import App


def wait_until(predicate: Callable[[], Any], timeout: float = 20.0, step: float = 0.05) -> Any:
    """Poll until predicate() is truthy; returns its value or fails the test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    pytest.fail(f"condition not met within {timeout}s")


def outbox_messages(app: App) -> list[EmailMessage]:
    """Messages the directory transport wrote, in order."""
    parser = BytesParser(policy=policy.default)
    files = sorted(app.settings.outbox_path.glob("*.eml"))
    return [parser.parsebytes(f.read_bytes()) for f in files]  # type: ignore[misc]


def make_mail(
    body: str,
    *,
    sender: str = "jane@example.com",
    subject: str = "Privacy request",
    to: str = "info@stelloloxonpro.com",
    headers: dict[str, str] | None = None,
    msgid: str | None = None,
    trace: tuple[str, ...] = (),
) -> bytes:
    """A plain mail; `trace` lines ("Name: value") go on top, where a receiving MX puts its
    Received and Authentication-Results fields."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Message-ID"] = msgid or f"<{time.monotonic_ns()}@example.com>"
    msg["Date"] = "Wed, 25 Nov 2026 09:00:00 +0000"
    for key, value in (headers or {}).items():
        msg[key] = value
    msg.set_content(body)
    return "".join(f"{line}\n" for line in trace).encode() + msg.as_bytes()


def mx_results(domain: str, server: str = "mx.stelloloxonpro.com") -> tuple[str, ...]:
    """What our MX stamps on a mail whose From domain passed DMARC."""
    return (f"Authentication-Results: {server}; dmarc=pass header.from={domain}",)
