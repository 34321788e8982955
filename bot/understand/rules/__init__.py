"""Intent rules as data: one module per language, each a tuple of rule specs.

A spec is ``(intent, slug, pattern, weight)`` or ``(intent, slug, pattern, weight, flags)``.
Patterns are matched against lower-cased text in which every whitespace run is one space or
one newline; a literal space in a pattern matches either. ``(`` groups are made
non-capturing when compiled. Weights are the confidence one hit of the rule gives on its own
(hits combine as a noisy-OR), roughly:

* 0.85-0.95 — an explicit request ("delete my account", "Antrag auf Löschung")
* 0.6-0.8  — a clear but less specific phrase ("newsletter abbestellen", "invoice")
* 0.3-0.5  — supporting evidence that alone stays below the default threshold (0.5)

Flags: ``KEEP`` — the phrase carries its own negation ("no longer want to receive") and must
not be cancelled by a negation cue. Complaint rules are always *hedgeable*: inside a
conditional threat ("otherwise I reserve the right to ... lodge a complaint") they count weakly.
The rule name shown to staff is ``<lang>.<intent>.<slug>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.understand.prefilter import rule_prefixes
from bot.understand.rules import common, cs, de, el, en, es, fr, hr, it, nl, pt, ro, sv
from bot.understand.rules._flags import KEEP

_MODULES = {
    "any": common, "en": en, "de": de, "fr": fr, "es": es, "it": it, "pt": pt, "nl": nl,
    "cs": cs, "hr": hr, "el": el, "sv": sv, "ro": ro,
}  # fmt: skip
# Negation cancels requests to act ("do not delete"), not topics: "I haven't received the
# invoice" is still about billing.
NEGATABLE_INTENTS = frozenset(
    {"access", "deletion", "correction", "restriction", "optout", "usage_report", "new_project"}
)
SUPPORTED_LANGUAGES: tuple[str, ...] = tuple(lang for lang in _MODULES if lang != "any")


@dataclass(frozen=True)
class Rule:
    """One named pattern that votes for one intent."""

    name: str
    lang: str
    intent: str
    regex: re.Pattern[str]
    weight: float
    negatable: bool = True
    hedgeable: bool = False
    # Word prefixes one of which a text must contain for the rule to match (None: any text).
    prefixes: frozenset[str] | None = None


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Spaces match one whitespace char; plain groups become non-capturing."""
    source = re.sub(r"(?<!\\)\((?!\?)", "(?:", pattern).replace(" ", r"\s")
    return re.compile(source)


def _build(lang: str, spec: tuple) -> Rule:
    intent, slug, pattern, weight, *flags = spec
    regex = compile_pattern(pattern)
    return Rule(
        name=f"{lang}.{intent}.{slug}",
        lang=lang,
        intent=intent,
        regex=regex,
        weight=weight,
        negatable=KEEP not in flags and intent in NEGATABLE_INTENTS,
        hedgeable=intent == "complaint",
        prefixes=rule_prefixes(regex.pattern),
    )


def _load() -> dict[str, tuple[Rule, ...]]:
    return {lang: tuple(_build(lang, s) for s in mod.RULES) for lang, mod in _MODULES.items()}


RULES_BY_LANG: dict[str, tuple[Rule, ...]] = _load()
ALL_RULES: tuple[Rule, ...] = tuple(r for rules in RULES_BY_LANG.values() for r in rules)


def rules_for(languages: set[str] | None) -> tuple[Rule, ...]:
    """Rules of the given languages plus the language-independent ones (all if None)."""
    if languages is None:
        return ALL_RULES
    wanted = languages | {"any"}
    return tuple(r for r in ALL_RULES if r.lang in wanted)
