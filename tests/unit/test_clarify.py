"""bot.clarify: when the bot asks instead of acting, and how it reads the answer."""

from __future__ import annotations

import pytest

from bot.clarify import CHOICES, choices_in, reason_to_ask
from bot.understand import Intent, Understanding, understand


@pytest.mark.parametrize(("answer", "picked"), [
    ("3", ("deletion",)),
    ("1 and 5", ("access", "optout")),
    ("Nr. 2, bitte", ("correction",)),
    ("6.", ("usage_report",)),
    ("5, 1", ("access", "optout")),
])
def test_numbers_in_a_short_answer_pick_rights(answer: str, picked: tuple[str, ...]) -> None:
    assert choices_in(answer) == picked


@pytest.mark.parametrize("answer", [
    "", "7", "SP-2025-0042", "the 1.5 mm layer", "invoice 1187", "v2", "x" * 301 + " 3",
])
def test_other_numbers_pick_nothing(answer: str) -> None:
    assert choices_in(answer) == ()


def test_choices_are_every_right_of_the_policy_once() -> None:
    assert sorted(CHOICES) == sorted({"access", "correction", "deletion", "restriction",
                                      "optout", "usage_report"})


def _meaning(probs: dict[str, float], *, unsure: bool = False,
             negated: frozenset[str] = frozenset()) -> Understanding:
    names = [n for n, p in probs.items() if p >= 0.5] or ["other"]
    return Understanding(intents=tuple(Intent(n, probs.get(n, 0.4)) for n in names),
                         language="en", unsure=unsure, probabilities=probs, negated=negated)


def test_a_clear_lone_opt_out_acts() -> None:
    assert reason_to_ask(_meaning({"optout": 0.97})) is None


@pytest.mark.parametrize("meaning", [
    _meaning({"optout": 0.7}),  # not clear enough to act without verification
    _meaning({"optout": 0.97, "usage_report": 0.3}),  # another right in sight
    _meaning({"optout": 0.97}, negated=frozenset({"optout"})),  # also named negated
    _meaning({"deletion": 0.9, "correction": 0.9}),  # conflicting rights
    _meaning({"access": 0.3}, unsure=True),  # no right is clear
])
def test_unclear_or_conflicting_is_asked(meaning: Understanding) -> None:
    assert reason_to_ask(meaning)


def test_a_project_question_is_not_asked_about_rights() -> None:
    assert reason_to_ask(understand("Where is my project SP-2025-0042? It was due Monday.")) \
        is None


def test_one_word_stop_above_a_quoted_promotion_is_not_read_as_german() -> None:
    u = understand("STOP\n\n> Black Friday: 20% off all print preparation!\n> Unsubscribe here")
    assert u.language != "de"  # too short to tell: answered in the default language
    assert "optout" in u.names
