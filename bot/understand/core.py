"""`understand()`: from a message body (and subject) to intents, language and entities."""

from __future__ import annotations

from dataclasses import dataclass

from bot.understand import classifier, concepts, entities, language
from bot.understand.features import RuleEvidence, featurize
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
UNREACHABLE = 2.0  # a probability never reaches it
MAX_WEAK_INTENTS = 3
MODEL_ONLY_MARGIN = 0.25
# Erasure cannot be undone: with no deletion phrasing the rules know, the model alone must be
# near-certain (a plain "send me a copy of all my data" scored 0.89 for deletion).
IRREVERSIBLE_INTENTS = frozenset({"deletion"})
IRREVERSIBLE_MODEL_ONLY = 0.95
# ... unless a clause asks for erasure plainly, in any language, in a mail about personal data
# ("and delete it afterwards"): then the usual model-only margin applies. "A copy of all my
# data" names no erasure, "delete some faces" no personal data.
ERASURE_WORD_LIFTS = True
# A right read by the model alone needs one of its concepts in the mail
# (`concepts.RIGHT_SUPPORT`); without one it is at most a weak guess, asked about.
CONCEPT_SUPPORT_GATE = True
UNSUPPORTED_NOT_GUESSED = False  # ... and not even a weak guess
# The rules' explicit phrasings (weights 0.85-0.95, "delete my account") are high-precision:
# where they fire plainly in the body, the model may not talk a verified right away.
RULE_FLOOR = 0.9
RULE_FLOOR_INTENTS = PRIVACY_INTENTS - {"optout"}  # the rights that need a code
WEAK_FLOOR = 0.2  # a weak guess below this is not worth naming (rules alone: any hit)
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


@dataclass(frozen=True)
class Reading:
    """What the rules found in one message, before any decision."""

    body: str
    subject: str
    hits: dict[str, Hit]
    evidence: RuleEvidence


def read(text: str, subject: str = "", *, has_attachments: bool = False) -> Reading:
    """Clean the message and run the rules over body and subject (shared with training)."""
    body = prepare(text)
    subj = clean(subject or "")
    rules = rules_for(_rule_languages(body))
    negated: set[str] = set()
    body_hits = find_hits(rules, body.lower(), negated=negated)
    subject_hits = find_hits(rules, subj.lower(), bonus=SUBJECT_BONUS) if subj else []
    attachment = [Hit(ATTACHMENT_RULE, ATTACHMENT_RULE.weight, len(body))] * has_attachments
    evidence = RuleEvidence(
        body={s.intent: s.value for s in score(body_hits + attachment)},
        subject={s.intent: s.value for s in score(subject_hits)},
        # "only negated": a rule matched negated and no rule of that intent matched plainly
        negated=frozenset(negated - {h.rule.intent for h in body_hits}),
        has_attachments=has_attachments,
    )
    return Reading(body, subj, merge_hits(body_hits, subject_hits, attachment), evidence)


def understand(
    text: str,
    subject: str = "",
    *,
    has_attachments: bool = False,
    threshold: float = 0.5,
) -> Understanding:
    """Classify one message. `text` is the body with quotes stripped (">" lines are dropped
    here too); `subject` counts as extra evidence; attachments hint at a new project."""
    reading = read(text, subject, has_attachments=has_attachments)
    body, subj, hits = reading.body, reading.subject, reading.hits
    lang = language.detect(body or subj, SUPPORTED_LANGUAGES, [h.rule.lang for h in hits.values()])
    scores = _model_scores(reading) or score(hits.values())
    erasure_named = ERASURE_WORD_LIFTS and concepts.erasure_of_personal_data(body)
    negated = reading.evidence.negated | (
        IRREVERSIBLE_INTENTS if concepts.named_only_negated(body, "DELETE") else frozenset())
    named = concepts.present(body + "\n" + subj) if CONCEPT_SUPPORT_GATE else None
    intents, reasons = _choose(scores, threshold, erasure_named, negated, named)
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
        probabilities=_probabilities(scores),
        negated=reading.evidence.negated,
    )


def _model_scores(reading: Reading) -> list[Score]:
    """Calibrated model probabilities, with the rules that fired for each intent as evidence;
    empty when no model has been trained (then the rules decide alone)."""
    model = classifier.shipped()
    if model is None:
        return []
    row = featurize(reading.body, reading.subject, reading.evidence)
    probs = model.predict(row)
    for name, value in reading.evidence.body.items():  # an explicit request the rules know
        if name in RULE_FLOOR_INTENTS and value >= RULE_FLOOR:
            probs[name] = max(probs[name], value)
    by_intent: dict[str, list[Hit]] = {}
    for hit in reading.hits.values():
        by_intent.setdefault(hit.rule.intent, []).append(hit)
    scores = []
    for name, p in probs.items():
        group = sorted(by_intent.get(name, []), key=lambda h: -h.weight)
        evidence = (*(h.rule.name for h in group), f"model.{name}={p:.2f}")
        first = min((h.position for h in group), default=len(reading.body))
        scores.append(Score(name, p, evidence, first))
    rule_score = {s.intent: s.value for s in score(reading.hits.values())}
    # near-certain intents are ordered by the rules' confidence, then by where they are named
    return sorted(
        scores,
        key=lambda s: (
            -round(s.value, 1),
            -round(rule_score.get(s.intent, 0), 1),
            s.first_position,
        ),
    )


def _probabilities(scores: list[Score]) -> dict[str, float]:
    return {s.intent: round(s.value, 3) for s in scores}


def warm_up() -> None:
    """Load the language and intent models at start-up so the first message is not slow."""
    language.load()
    classifier.shipped()
    understand("warm up", "")


def _rule_languages(body: str) -> set[str] | None:
    if len(body) < LONG_TEXT_CHARS:
        return None
    top, _ = language.rank(body)[0]
    return {top, "en"} if top in SUPPORTED_LANGUAGES else None


def _choose(scores: list[Score], threshold: float, erasure_named: bool = False,
            negated: frozenset[str] = frozenset(), named: frozenset[str] | None = None,
            ) -> tuple[tuple[Intent, ...], list[str]]:
    """Intents at or above the threshold ('other' only alone); else the plausible weak ones,
    flagged for asking."""
    passing = [s for s in scores if s.value >= _needed(s, threshold, erasure_named, named)]
    if len(passing) > 1:
        passing = [s for s in passing if s.intent != "other"]
    passing.sort(key=lambda s: s.intent not in PRIVACY_INTENTS)  # the rights asked lead
    reasons: list[str] = []
    if not passing and scores:
        best = scores[0]
        reasons.append(
            f"low confidence: best guess '{best.intent}' at {best.value:.2f} < {threshold:.2f}"
        )
        # a weak guess is never a right the text names only negated ("bitte nichts löschen")
        unsupported = _unsupported(scores, named) if UNSUPPORTED_NOT_GUESSED else set()
        passing = [s for s in scores[:MAX_WEAK_INTENTS]
                   if s.value >= WEAK_FLOOR and s.intent not in negated | unsupported]
    intents = tuple(Intent(s.intent, round(s.value, 3), s.evidence) for s in passing)
    if not intents:
        reasons.append("no intent is plausible: only 'other'")
        return (Intent("other", FALLBACK_CONFIDENCE, ()),), reasons
    if intents[0].name == "other":
        reasons.append("only 'other' (auto-reply or thanks, no request found)")
    return intents, reasons


def _unsupported(scores: list[Score], named: frozenset[str] | None) -> set[str]:
    """Rights the model alone proposes while the mail names nothing they are about."""
    if named is None:
        return set()
    return {s.intent for s in scores
            if (support := concepts.RIGHT_SUPPORT.get(s.intent)) and not named & support
            and all(e.startswith("model.") for e in s.evidence)}


def _needed(s: Score, threshold: float, erasure_named: bool = False,
            named: frozenset[str] | None = None) -> float:
    """What an intent's probability must reach: more when no rule saw it at all, because a
    right added that was not asked is the costly error (codes, actions, worried clients)."""
    model_only = all(e.startswith("model.") for e in s.evidence)
    if not model_only:
        return threshold
    if s.intent in _unsupported([s], named):
        return UNREACHABLE
    if s.intent in IRREVERSIBLE_INTENTS and not erasure_named:  # "all my data": copy or erase
        return IRREVERSIBLE_MODEL_ONLY
    return min(threshold + MODEL_ONLY_MARGIN, 0.95)


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
