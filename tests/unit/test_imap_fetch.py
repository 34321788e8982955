"""Ranged fetch of a large message: a message expunged mid-fetch stores nothing."""

from __future__ import annotations

from typing import Any

from bot.channels.imap import FETCH_CHUNK, _fetch_to_store
from bot.context import App


class ExpungedAfterFirstRange:
    """Answers the first BODY range like a server, then as if the message was expunged."""

    def __init__(self) -> None:
        self.calls = 0

    def fetch(self, uids: list[int], items: list[str]) -> dict[int, Any]:
        self.calls += 1
        if self.calls > 1:
            return {}
        return {uids[0]: {b"BODY[]<0>": b"x" * FETCH_CHUNK}}


def test_message_expunged_mid_fetch_stores_no_file(app: App) -> None:
    before = {p for p in app.settings.data_dir.rglob("*") if p.is_file()}
    client = ExpungedAfterFirstRange()
    assert _fetch_to_store(app, client, uid=7, size=3 * FETCH_CHUNK) is None  # type: ignore[arg-type]
    assert client.calls == 2
    after = {p for p in app.settings.data_dir.rglob("*") if p.is_file()}
    assert after == before
