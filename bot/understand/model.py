"""Result types of the understanding module (the contract the pipeline codes against)."""

from __future__ import annotations

from dataclasses import dataclass, field

PRIVACY_INTENTS: frozenset[str] = frozenset(
    {"access", "deletion", "correction", "restriction", "optout", "usage_report"}
)
INTENTS: tuple[str, ...] = (
    "access",
    "deletion",
    "correction",
    "restriction",
    "optout",
    "usage_report",
    "project_status",
    "new_project",
    "technical_question",
    "billing",
    "reminder",
    "complaint",
    "other",
)


@dataclass(frozen=True)
class Intent:
    """One recognised intent; `evidence` names the rules that fired."""

    name: str
    confidence: float
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True)
class Entities:
    """Things mentioned in the text that workflows need (all normalised, de-duplicated)."""

    project_refs: tuple[str, ...] = ()
    invoice_numbers: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    corrections: tuple[tuple[str, str], ...] = ()
    case_refs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Understanding:
    """What a message asks for, in which language, and whether staff should look at it."""

    intents: tuple[Intent, ...]
    language: str
    entities: Entities = field(default_factory=Entities)
    unsure: bool = False
    reasons: tuple[str, ...] = ()
    # calibrated probability of every intent (not only the chosen ones), for acting-at-once
    # checks and for staff; intents the text names only negated ("do not delete")
    probabilities: dict[str, float] = field(default_factory=dict)
    negated: frozenset[str] = frozenset()

    @property
    def primary(self) -> str:
        """Name of the most confident intent."""
        return self.intents[0].name

    @property
    def names(self) -> tuple[str, ...]:
        """Names of all intents, most confident first."""
        return tuple(i.name for i in self.intents)
