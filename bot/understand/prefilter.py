"""Run each rule only where it can match: at the starts of words with the right prefix.

Almost every rule starts with ``\\b`` and a literal word ("\\b(delete|erase) ..."). From the
parsed pattern we take the possible first (up to) three letters of each branch; the text is
indexed once by word prefix, and the rule's regex is tried (``match`` at a position) only at
the words that start with one of them. Rules whose start cannot be worked out (optional first
group, character classes, no ``\\b``) are searched the ordinary way, so this never changes a
result, it only saves time on long letters.
"""

from __future__ import annotations

import re

try:  # CPython's own regex parser (3.11+); without it every rule is simply searched in full.
    from re import _constants as c  # type: ignore[attr-defined]
    from re import _parser as p  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    p = None

PREFIX_LEN = 3
_WORD = re.compile(r"\w+")


class _Unknown(Exception):
    """The pattern's start cannot be reduced to literal word prefixes."""


def word_index(text: str) -> dict[str, list[int]]:
    """Start offsets of the words of `text`, under each of their 1..3-letter prefixes."""
    index: dict[str, list[int]] = {}
    for m in _WORD.finditer(text):
        word, start = m.group(), m.start()
        for n in range(1, min(PREFIX_LEN, len(word)) + 1):
            index.setdefault(word[:n], []).append(start)
    return index


def candidate_starts(index: dict[str, list[int]], prefixes: frozenset[str]) -> list[int]:
    """Word starts at which a rule with these prefixes could match, in order."""
    found: set[int] = set()
    for prefix in prefixes:
        found.update(index.get(prefix, ()))
    return sorted(found)


def rule_prefixes(pattern: str) -> frozenset[str] | None:
    """Possible word prefixes a match must start with, or None if any start is possible."""
    if p is None:  # pragma: no cover
        return None
    try:
        return frozenset(_branch_prefixes(list(p.parse(pattern))))
    except _Unknown:
        return None


def _branch_prefixes(items: list) -> set[str]:
    if not items:
        raise _Unknown
    op, av = items[0]
    if op is c.BRANCH:
        return set().union(*(_branch_prefixes(list(b)) for b in av[1]))
    if op is c.AT and av is c.AT_BOUNDARY:
        return _literal_prefixes(items[1:])
    raise _Unknown


def _literal_prefixes(items: list) -> set[str]:
    """Prefixes of the sequence right after a ``\\b``."""
    prefixes, _ = _sequence_heads(items)
    if "" in prefixes:
        raise _Unknown
    return {x[:PREFIX_LEN] for x in prefixes}


def _sequence_heads(items: list) -> tuple[set[str], bool]:
    """Literal starts of a sequence, and whether the whole sequence was literal."""
    prefixes = {""}
    for op, av in items:
        heads = _item_heads(op, av)
        if heads is None:
            return prefixes, False
        grown, complete = heads
        prefixes = {x + h for x in prefixes for h in grown}
        if not complete:
            return prefixes, False
        if all(len(x) >= PREFIX_LEN for x in prefixes):
            return prefixes, False
    return prefixes, True


def _item_heads(op: object, av: object) -> tuple[set[str], bool] | None:
    """Literal starts of one parsed item, or None if it does not start with a word char."""
    if op is c.LITERAL:
        ch = chr(av)  # type: ignore[arg-type]
        return ({ch}, True) if _is_word(ch) else None
    if op is c.IN and all(o is c.LITERAL and _is_word(chr(a)) for o, a in av):  # type: ignore[union-attr]
        return {chr(a) for _, a in av}, True  # type: ignore[union-attr]
    if op is c.BRANCH:
        return _alternatives([list(b) for b in av[1]])  # type: ignore[index]
    if op is c.SUBPATTERN:
        return _alternatives([list(av[-1])])  # type: ignore[index]
    return None


def _alternatives(branches: list[list]) -> tuple[set[str], bool]:
    heads: set[str] = set()
    complete = True
    for branch in branches:
        branch_heads, branch_complete = _sequence_heads(branch)
        if "" in branch_heads:  # e.g. "art(\\.|icle)": the literal start ends before the group
            branch_complete = False
        heads |= branch_heads
        complete = complete and branch_complete
    return heads, complete


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"
