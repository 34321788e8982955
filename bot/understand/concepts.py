"""Words that mean the same thing in every language, mapped to one concept.

The n-grams of bot.understand.features learn each language from its own examples, so a
language with few of them (or a phrasing nobody wrote) gets little help from the others.
`concepts.json` lists, per concept (DELETE, COPY, NEWSLETTER, NEGATION, ...) and language, the
stems that name it; a message becomes the concepts of each sentence and their ordered pairs
("NEGATION DELETE", "STOP NEWSLETTER"), which read the same in Swedish as in Spanish.

A stem matches a word that starts with it, after lower-casing and stripping accents; a stem of
three letters matches only the whole word ("not" is not "note").
"""

from __future__ import annotations

import itertools
import json
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

LEXICON_PATH = Path(__file__).with_name("concepts.json")
SHORT_STEM = 3
MAX_PER_SENTENCE = 12  # a long sentence's pairs would swamp the block
_SENTENCE = re.compile(r"[.!?;,\n]+")  # clauses: "do not delete it, just send the invoice"
_WORD = re.compile(r"[\w']+")


def fold(text: str) -> str:
    """Lower-case without accents (Greek without tonos, final sigma as sigma)."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("ς", "σ")


@lru_cache(maxsize=1)
def _lexicon() -> tuple[dict[str, str], dict[str, str], int]:
    """(long stems, whole-word stems, longest stem length): stem -> concept, all languages."""
    data = json.loads(LEXICON_PATH.read_text(encoding="utf-8"))
    prefix: dict[str, str] = {}
    whole: dict[str, str] = {}
    for concept, by_lang in sorted(data.items()):
        for stems in by_lang.values():
            for stem in stems:
                stem = fold(stem)
                target = whole if len(stem) <= SHORT_STEM else prefix
                target.setdefault(stem, concept)
    return prefix, whole, max(map(len, prefix), default=0)


@lru_cache(maxsize=1 << 16)
def concept_of(word: str) -> str | None:
    """The concept a folded word names: its longest matching stem wins."""
    prefix, whole, longest = _lexicon()
    for n in range(min(len(word), longest), SHORT_STEM, -1):
        if word[:n] in prefix:
            return prefix[word[:n]]
    return whole.get(word)


def concept_grams(text: str) -> list[str]:
    """Concepts of each sentence and their ordered pairs within it."""
    grams: list[str] = []
    for sentence in _SENTENCE.split(fold(text)):
        found = [c for w in _WORD.findall(sentence) if (c := concept_of(w))]
        found = list(dict.fromkeys(found))[:MAX_PER_SENTENCE]  # first mention, in order
        grams.extend(found)
        grams.extend(f"{a} {b}" for a, b in itertools.combinations(found, 2))
    return grams


PERSONAL_DATA = frozenset({"DATA", "ACCOUNT", "PERSONAL", "EMAILADDR", "NAME", "PHONE",
                           "ADDRESS"})


def _clauses(text: str) -> list[set[str | None]]:
    return [{concept_of(w) for w in _WORD.findall(c)} for c in _SENTENCE.split(fold(text))]


def named_only_negated(text: str, concept: str) -> bool:
    """Every clause naming `concept` also holds a negation ("bitte nichts löschen")."""
    named = [found for found in _clauses(text) if concept in found]
    return bool(named) and all("NEGATION" in found for found in named)


def erasure_of_personal_data(text: str) -> bool:
    """A clause asks to erase without a negation ("and delete it afterwards"), and the mail
    is about personal data or an account ("delete some faces" is about a mesh)."""
    clauses = _clauses(text)
    plain = any("DELETE" in found and "NEGATION" not in found for found in clauses)
    return plain and any(found & PERSONAL_DATA for found in clauses)


# What a right is about: a model-only right needs one of these in the mail ("Your site has
# been updated" scored 0.998 for correction on the word "updated" alone, with no personal
# data named). The verbs (CORRECT, DELETE, COPY) are left out on purpose: files, invoices and
# print jobs get corrected, deleted and copied too.
_ABOUT_ME = frozenset({"DATA", "PERSONAL", "LAW", "RIGHT"})
RIGHT_SUPPORT: dict[str, frozenset[str]] = {
    "access": _ABOUT_ME | {"ACCOUNT"},
    "usage_report": _ABOUT_ME | {"SHARE", "SELL", "WHO", "PURPOSE", "SOURCE", "RETAIN"},
    "deletion": _ABOUT_ME | {"ACCOUNT", "EMAILADDR", "NAME", "PHONE", "ADDRESS"},
    "correction": _ABOUT_ME | {"ACCOUNT", "EMAILADDR", "NAME", "PHONE", "ADDRESS"},
    "restriction": _ABOUT_ME | {"RESTRICT", "OBJECT", "PROCESS", "SELL", "SHARE", "CONSENT"},
    "optout": frozenset({"NEWSLETTER", "MARKETING", "UNSUBSCRIBE", "OBJECT", "CONSENT"}),
}


def present(text: str) -> frozenset[str]:
    """Every concept named anywhere in the text."""
    return frozenset(c for w in _WORD.findall(fold(text)) if (c := concept_of(w)))
