"""Text clean-up shared by rules, entities and language detection."""

from __future__ import annotations

import re
import unicodedata

_QUOTE_HEADER = re.compile(
    r"^\s*(?:on .{3,120} wrote|am .{3,120} schrieb .{0,80}|le .{3,120} a écrit)\s*:\s*$",
    re.IGNORECASE,
)
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'", "\u00a0": " "})
_NEWLINE_RUN = re.compile(r"\s*\n\s*")
_SPACE_RUN = re.compile(r"[^\S\n]+")


def strip_quoted(text: str) -> str:
    """Drop quoted lines ("> ...") and "On ... wrote:" headers the mime module may have left."""
    kept = [
        line
        for line in text.splitlines()
        if not line.lstrip().startswith(">") and not _QUOTE_HEADER.match(line)
    ]
    return "\n".join(kept)


def clean(text: str) -> str:
    """NFC, straight apostrophes, one space between words, one newline between lines.

    Rules are written with single spaces; a space in a rule matches a space or a newline,
    so hard-wrapped letters still match.
    """
    text = unicodedata.normalize("NFC", text).translate(_APOSTROPHES)
    text = _SPACE_RUN.sub(" ", text)
    return _NEWLINE_RUN.sub("\n", text).strip()


def prepare(text: str) -> str:
    """Body as the rules see it, before lower-casing."""
    return clean(strip_quoted(text or ""))
