"""The email policy for reading mail: the standard one, with header parsing memoised.

CPython's HeaderRegistry builds a new class on every header it parses, and `Message.get`
parses the value again on every read (walking one message reads its Content-Type five times):
that was most of the parse time per message. Parsed headers are read-only values, so one
(name, value) pair can share one object; long values are not kept.
"""

from __future__ import annotations

from email import policy
from email.headerregistry import BaseHeader, HeaderRegistry
from functools import lru_cache
from typing import Any

MEMO_MAX_VALUE = 512  # characters; longer values (References chains, long subjects) re-parse
MEMO_ENTRIES = 4096


class MemoHeaderRegistry(HeaderRegistry):
    """A HeaderRegistry that reuses header classes and parsed short values."""

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, Any] = {}
        self._memo = lru_cache(maxsize=MEMO_ENTRIES)(self._parse)

    def __getitem__(self, name: str) -> Any:
        key = name.lower()
        found = self._classes.get(key)
        if found is None:
            found = self._classes[key] = super().__getitem__(name)
        return found

    def _parse(self, name: str, value: str) -> BaseHeader:
        return self[name](name, value)  # type: ignore[no-any-return]

    def __call__(self, name: str, value: str) -> BaseHeader:
        if len(value) > MEMO_MAX_VALUE:
            return self._parse(name, value)
        return self._memo(name, value)  # type: ignore[no-any-return]


READ_POLICY = policy.default.clone(header_factory=MemoHeaderRegistry())
