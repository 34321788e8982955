"""`understand()`: from a message body (and subject) to intents, language and entities."""

from __future__ import annotations

from bot.understand import entities, language
from bot.understand.matcher import (
    SUBJECT_BONUS,
    Hit,
    Score,
    find_hits,
    merge_hits,
    score,
)
from bot.understand.model import PRIVACY_INTENTS, Intent, Understanding
from bot.understand.rules import SUPPORTED_LANGUAGES, Rule, compile_pattern, rules_for
from bot.understand.textprep import clean, prepare

# Rights that cannot both be carried out as asked: staff decide which one the person meant.
CONFLICTING_RIGHTS: tuple[frozenset[str], ...] = (
    frozenset({"deletion", "correction"}),
    frozenset({"deletion", "restriction"}),
)
FALLBACK_CONFIDENCE = 0.4
MAX_WEAK_INTENTS = 3
# Long texts only need the rules of their own language (and English, which turns up inside
# letters in every language); short ones get all rules, their language is guessed from them.
LONG_TEXT_CHARS = 400

ATTACHMENT_RULE = Rule(
    name="any.new_project.has_attachments",
    lang="any",
    intent="new_project",
    regex=compile_pattern("$^"),
    weight=0.3,
)


def understand(
    text: str,
    subject: str = "",
    *,
    has_attachments: bool = False,
    threshold: float = 0.5,
) -> Understanding:
    """Classify one message. `text` is the body with quotes stripped (">" lines are dropped
    here too); `subject` counts as extra evidence; attachments hint at a new project."""
    body = prepare(text)
    subj = clean(subject or "")
    rules = rules_for(_rule_languages(body))
    hits = merge_hits(
        find_hits(rules, body.lower()),
        find_hits(rules, subj.lower(), bonus=SUBJECT_BONUS) if subj else [],
        [Hit(ATTACHMENT_RULE, ATTACHMENT_RULE.weight, len(body))] if has_attachments else [],
    )
    lang = language.detect(body or subj, SUPPORTED_LANGUAGES, [h.rule.lang for h in hits.values()])
    scores = score(hits.values())
    intents, reasons = _choose(scores, threshold)
    reasons += _language_reasons(lang, body)
    reasons += _conflict_reasons(intents)
    return Understanding(
        intents=intents,
        language=lang,
        entities=entities.extract(
            body + "\n" + subj,
            with_corrections=any(h.rule.intent == "correction" for h in hits.values()),
        ),
        unsure=bool(reasons),
        reasons=tuple(reasons),
    )


def warm_up() -> None:
    """Load the language model at start-up so the first message is not slow."""
    language.load()


def _rule_languages(body: str) -> set[str] | None:
    if len(body) < LONG_TEXT_CHARS:
        return None
    top, _ = language.rank(body)[0]
    return {top, "en"} if top in SUPPORTED_LANGUAGES else None


def _choose(scores: list[Score], threshold: float) -> tuple[tuple[Intent, ...], list[str]]:
    """Intents at or above the threshold; else the best weak ones, flagged."""
    passing = [s for s in scores if s.value >= threshold]
    reasons: list[str] = []
    if not passing and scores:
        best = scores[0]
        reasons.append(
            f"low confidence: best guess '{best.intent}' at {best.value:.2f} < {threshold:.2f}"
        )
        passing = scores[:MAX_WEAK_INTENTS]
    intents = tuple(Intent(s.intent, round(s.value, 3), s.evidence) for s in passing)
    if not intents:
        reasons.append("no rule matched: only 'other'")
        return (Intent("other", FALLBACK_CONFIDENCE, ()),), reasons
    if intents[0].name == "other":
        reasons.append("only 'other' (auto-reply or thanks, no request found)")
    return intents, reasons


def _language_reasons(lang: str, body: str) -> list[str]:
    if lang in SUPPORTED_LANGUAGES:
        return []
    if lang == language.UNDETERMINED:
        if language.letter_count(body) >= 20:
            return ["language could not be determined"]
        return []
    return [f"unsupported language: '{lang}'"]


def _conflict_reasons(intents: tuple[Intent, ...]) -> list[str]:
    names = {i.name for i in intents} & PRIVACY_INTENTS
    return [
        f"conflicting privacy rights requested: {' and '.join(sorted(pair))}"
        for pair in CONFLICTING_RIGHTS
        if pair <= names
    ]
