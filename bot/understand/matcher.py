"""Run the rules over a message and turn the hits into intent scores.

Scoring: each rule contributes its weight once (its best occurrence); a rule's hits in the
opening of the message, or in the subject, count a little more, because people state their
request first and letters cite other rights further down. Weights of one intent combine as
a noisy-OR, so several independent phrases add up without ever reaching 1.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from bot.understand.prefilter import candidate_starts, word_index
from bot.understand.rules import Rule

LEAD_BONUS = 0.1
SUBJECT_BONUS = 0.15
MAX_WEIGHT = 0.97
HEDGED_WEIGHT = 0.25
OUT_OF_OFFICE_DAMPING = 0.5

# Negation cues, in every language we have rules for.
_NEGATION = re.compile(
    r"n't\b|\b(not|never|nothing|no need to|nicht|nichts|kein|keine|keinen|keinesfalls|niemals"
    r"|ne|n'|jamais|rien|no|nunca|nada|non|mai|niente|nulla|não|nem|niet|geen|nooit"
    r"|niets|nie|nikdy|δεν|μην|inte|aldrig|inget"
    r"|nu|niciodată|nimic|nemojte|nemoj|nikad|nikada|ništa)\b"
)
# Phrases that contain a negation word but do not negate what follows.
_NOT_A_NEGATION = re.compile(
    r"\b(or|oder|ou|o|of|či) (not|nicht|non|no|niet|não|nezpracováváte)\b"
    r"|\b(not only|nicht nur|pas seulement|non seulement|no solo|non solo|não só|niet alleen)\b"
    r"|\b(no longer|no later|nicht später|spätestens)\b"
    # Romanian "nu (mă) mai ..." is "no longer ...": "nu mai vreau newsletterul" asks to stop
    r"|\bnu (mă |ne |îmi |imi )?mai\b"
)
# A negation after a condition ("if you do not delete my data, ...") is not a refusal.
_CONDITION = re.compile(r"\b(if|unless|wenn|falls|sollten|sofern|si|se|als|indien|pokud|ako)\b")
# Conditional threats: "otherwise I reserve the right to lodge a complaint".
_HEDGE = re.compile(
    r"\b(reserve the right|reserving the right|otherwise|if you (do not|don't|fail)|unless"
    r"|andernfalls|ansonsten|behalte ich mir|vorbehalten|sollten sie|me réserve|sinon|à défaut"
    r"|dans le cas contraire|me reservo|de lo contrario|en caso contrario|mi riservo|altrimenti"
    r"|in caso contrario|reservo-me|caso contrário|behoud ik|anders|zo niet|vyhrazuji"
    r"|pokud k tomu nedojde|zadržavam|ako ne|διατηρώ|διαφορετικά|förbehåller|annars"
    r"|îmi rezerv|în caz contrar|dețin dreptul|pridržavam|ukoliko ne)"
)
# A consequence someone asks about is not a request: "will the objection result in the
# deletion of an account?"
_CONSEQUENCE = re.compile(
    r"\b(result in|lead to|leads to|entraîner|entraînera|conduira à|aboutir à|resultará en"
    r"|dará lugar a|tendrá como consecuencia|risulterà|comporterà|resultar em|resultará em"
    r"|leiden tot|leidt tot|zur folge|povede|rezultirati|kommer att leda|va duce|θα οδηγήσει)\b"
)
_CLAUSE_BREAK = re.compile(
    r"[.!?;:\n,]|\b(but|just|only|aber|sondern|nur|mais|seulement|pero|sino|solo|sólo|ma|mas"
    r"|apenas|maar|alleen)\b"
)
_SENTENCE_BREAK = re.compile(r"[.!?;\n]")
# French "pas" only counts after "ne"/"n'" (Dutch "pas ... aan" means "adjust"). German, Dutch
# and Swedish put the negation after the verb: "Avregistrera mig inte".
# (Pattern.match at a position: "^" would only match at the string's real start.)
_POST_NEGATION = re.compile(
    r"(?:(?!\b(?:und|oder|aber|sondern|en|of|maar|och|eller|men)\b)[^.!?;:,\n]){0,25}?"
    r"\b(nicht|niet|inte)\b"
)


@dataclass(frozen=True)
class Hit:
    """The best occurrence of one rule."""

    rule: Rule
    weight: float
    position: int


def _last_break(pattern: re.Pattern[str], text: str, start: int, end: int) -> int:
    last = start
    for m in pattern.finditer(text, start, end):
        last = m.end()
    return last


def is_negated(text: str, start: int, end: int) -> bool:
    """Whether a negation cue governs the match text[start:end] (same clause, close by)."""
    lo = max(0, start - 60)
    clause = _last_break(_CLAUSE_BREAK, text, lo, start)
    window = _NOT_A_NEGATION.sub(" ", text[clause:end])
    cues = list(_NEGATION.finditer(window))
    if cues:
        cue = cues[-1]
        return not _CONDITION.search(window, 0, cue.start())
    return bool(_POST_NEGATION.match(text, end))


def is_hedged(text: str, start: int) -> bool:
    """Whether the match sits in a conditional threat in its sentence."""
    lo = max(0, start - 200)
    sentence = _last_break(_SENTENCE_BREAK, text, lo, start)
    return bool(_HEDGE.search(text, sentence, start))


def is_consequence(text: str, start: int) -> bool:
    """Whether the match is a consequence asked about ("result in the deletion of ...")."""
    return bool(_CONSEQUENCE.search(text, max(0, start - 40), start))


def _weigh(rule: Rule, text: str, m: re.Match[str], lead_end: int, bonus: float) -> float | None:
    if rule.negatable and is_negated(text, m.start(), m.end()):
        return None
    weight = rule.weight
    if (rule.hedgeable and is_hedged(text, m.start())) or is_consequence(text, m.start()):
        weight = min(weight, HEDGED_WEIGHT)
    if m.start() < lead_end:
        weight += LEAD_BONUS
    return min(weight + bonus, MAX_WEIGHT)


def find_hits(
    rules: Iterable[Rule], text: str, *, bonus: float = 0.0, negated: set[str] | None = None
) -> list[Hit]:
    """Best non-negated occurrence of every rule that matches `text` (already lower-cased).

    The intents of rules that matched only negated ("do not delete") are added to `negated`:
    the classifier weighs them as evidence against."""
    lead_end = max(300, len(text) // 5)
    index = word_index(text)
    present = set(index)  # a rule none of whose start prefixes occur cannot match: skip it
    hits = []
    for rule in rules:
        if rule.prefixes is not None and rule.prefixes.isdisjoint(present):
            continue
        best: Hit | None = None
        matched = False
        for m in _matches(rule, text, index):
            matched = True
            weight = _weigh(rule, text, m, lead_end, bonus)
            if weight is not None and (best is None or weight > best.weight):
                best = Hit(rule, weight, m.start())
        if best is not None:
            hits.append(best)
        elif negated is not None and matched:
            negated.add(rule.intent)
    return hits


def _matches(rule: Rule, text: str, index: dict[str, list[int]]) -> Iterator[re.Match[str]]:
    if rule.prefixes is None:
        yield from rule.regex.finditer(text)
        return
    for start in candidate_starts(index, rule.prefixes):
        m = rule.regex.match(text, start)
        if m is not None:
            yield m


def merge_hits(*groups: list[Hit]) -> dict[str, Hit]:
    """One hit per rule name, the heaviest."""
    merged: dict[str, Hit] = {}
    for hits in groups:
        for hit in hits:
            old = merged.get(hit.rule.name)
            if old is None or hit.weight > old.weight:
                merged[hit.rule.name] = hit
    return merged


@dataclass(frozen=True)
class Score:
    """Combined evidence for one intent."""

    intent: str
    value: float
    evidence: tuple[str, ...]
    first_position: int


def score(hits: Iterable[Hit]) -> list[Score]:
    """Noisy-OR per intent, best first (ties: the intent mentioned first)."""
    by_intent: dict[str, list[Hit]] = {}
    for hit in hits:
        by_intent.setdefault(hit.rule.intent, []).append(hit)
    scores = [_combine(intent, group) for intent, group in by_intent.items()]
    if _is_auto_reply(by_intent):
        scores = [_damp(s) for s in scores]
    return sorted(scores, key=lambda s: (-s.value, s.first_position))


def _combine(intent: str, hits: list[Hit]) -> Score:
    miss = 1.0
    for hit in hits:
        miss *= 1.0 - hit.weight
    ordered = sorted(hits, key=lambda h: -h.weight)
    return Score(
        intent=intent,
        value=1.0 - miss,
        evidence=tuple(h.rule.name for h in ordered),
        first_position=min(h.position for h in hits),
    )


def _is_auto_reply(by_intent: dict[str, list[Hit]]) -> bool:
    return any(h.weight >= 0.85 for h in by_intent.get("other", ()))


def _damp(s: Score) -> Score:
    """An auto-reply quoting "delete" or "invoice" is still an auto-reply."""
    if s.intent == "other":
        return s
    return Score(s.intent, s.value * OUT_OF_OFFICE_DAMPING, s.evidence, s.first_position)
