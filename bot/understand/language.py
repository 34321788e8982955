"""Language detection: py3langid (offline, ships its model) plus the rules' own votes.

Short chat messages fool any character-n-gram model ("delete my data" scores as Afrikaans),
so for short texts the language whose rules fired wins; for longer texts the model decides,
and a confident unsupported language is reported as such so staff see it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

from py3langid.langid import MODEL_FILE, LanguageIdentifier

_LETTER = re.compile(r"[^\W\d_]")

UNDETERMINED = "und"
SAMPLE_CHARS = 750
SHORT_TEXT_LETTERS = 80
UNSUPPORTED_MIN_PROB = 0.6
CONFIDENT = 0.9


@lru_cache(maxsize=1)
def _identifier() -> LanguageIdentifier:
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def load() -> None:
    """Load the model now (about half a second) rather than on the first long message."""
    _identifier()


def rank(text: str) -> list[tuple[str, float]]:
    """All languages the model knows, most likely first.

    Long texts are sampled at the start and in the middle: letters often open with a header
    or an instruction box in another language.
    """
    return _rank_sample(sample(text))


def sample(text: str) -> str:
    if len(text) <= SAMPLE_CHARS:
        return text
    part = SAMPLE_CHARS // 3
    starts = (0, len(text) // 3, 2 * len(text) // 3)
    return "\n".join(text[s : s + part] for s in starts)


@lru_cache(maxsize=32)
def _rank_sample(sample: str) -> list[tuple[str, float]]:
    return _identifier().rank(sample)


def letter_count(text: str) -> int:
    """Letters in the part of the text the model looks at."""
    return len(_LETTER.findall(sample(text)))


def is_short(text: str) -> bool:
    return letter_count(text) < SHORT_TEXT_LETTERS


def detect(text: str, supported: Iterable[str], rule_langs: Iterable[str] = ()) -> str:
    """ISO 639-1 code of `text`, "und" if there is too little to tell.

    `rule_langs` are the languages of the rules that fired (one entry per rule).
    """
    letters = letter_count(text)
    if letters < 3:
        return UNDETERMINED
    supported = set(supported)
    votes = Counter(lang for lang in rule_langs if lang in supported)
    ranks = rank(text)
    top, top_prob = ranks[0]
    if letters < SHORT_TEXT_LETTERS:
        return _short(ranks, supported, votes)
    if top in supported:
        return top
    if top_prob >= UNSUPPORTED_MIN_PROB:
        return top
    if votes:
        return votes.most_common(1)[0][0]
    return next((lang for lang, _ in ranks if lang in supported), UNDETERMINED)


def _short(ranks: list[tuple[str, float]], supported: set[str], votes: Counter[str]) -> str:
    probs = dict(ranks)
    top, top_prob = ranks[0]
    if top in supported and top_prob >= CONFIDENT:
        return top
    if votes:
        best = max(votes, key=lambda lang: (votes[lang], probs.get(lang, 0.0)))
        return best
    if top in supported:
        return top
    best_supported = max(supported, key=lambda lang: probs.get(lang, 0.0))
    if probs.get(best_supported, 0.0) >= 0.1:
        return best_supported
    return top if top_prob >= 0.8 else UNDETERMINED
