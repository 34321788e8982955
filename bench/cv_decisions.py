"""Cross-validate the DECISION settings of bot.understand.core on the TRAINING data only.

    .venv/bin/python bench/cv_decisions.py --irreversible 0.95 0.85 --margin 0.25 0.15

The five fold models are trained once (as in bench/cv_understanding.py); every combination of
settings is then evaluated on the same held-out folds, so the figures differ only by the
decision rule. Prints the summary and the recall of each privacy right.
"""

from __future__ import annotations

import argparse
import itertools

from sklearn.model_selection import KFold

from bot.understand import classifier, core
from bot.understand.evaluate import Report, evaluate
from bot.understand.model import PRIVACY_INTENTS
from bot.understand.training import train, training_items


def fold_models() -> list[tuple[classifier.IntentModel, list]]:
    items = training_items()
    folds = []
    for train_idx, test_idx in KFold(5, shuffle=True, random_state=0).split(items):
        model = train([items[i] for i in train_idx])
        folds.append((model, [items[i] for i in test_idx]))
    return folds


def run(folds: list, threshold: float) -> list[Report]:
    reports = []
    original = classifier.shipped
    try:
        for model, test in folds:
            classifier.shipped = lambda model=model: model  # type: ignore[assignment]
            reports.append(evaluate(test, threshold=threshold))
    finally:
        classifier.shipped = original  # type: ignore[assignment]
    return reports


def line(reports: list[Report]) -> str:
    n = len(reports)
    recall = sum(r.sets.privacy_recall for r in reports) / n
    f1 = sum(r.sets.macro_f1 for r in reports) / n
    served = sum(r.acted_or_asked_recall for r in reports) / n
    per = {name: sum(r.sets.per_intent[name].recall for r in reports) / n
           for name in sorted(PRIVACY_INTENTS)}
    rights = " ".join(f"{k[:5]} {v:.2f}" for k, v in per.items())
    return (f"recall {recall:.3f} added {sum(len(r.sets.privacy_added) for r in reports)} "
            f"F1 {f1:.3f} asked {sum(r.asked for r in reports)} served {served:.3f} "
            f"acted-added {sum(len(r.acted_added) for r in reports)} | {rights}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--irreversible", type=float, nargs="+",
                        default=[core.IRREVERSIBLE_MODEL_ONLY])
    parser.add_argument("--margin", type=float, nargs="+", default=[core.MODEL_ONLY_MARGIN])
    parser.add_argument("--threshold", type=float, nargs="+", default=[0.5])
    parser.add_argument("--erasure-word", type=int, nargs="+", default=[1],
                        help="1: a plain erasure word lifts the deletion gate, 0: never")
    parser.add_argument("--support", type=int, nargs="+", default=[1],
                        help="1: a model-only right needs one of its concepts, 2: not even guessed "
                        "without, 0: never")
    args = parser.parse_args()
    folds = fold_models()
    for irr, margin, threshold, lift, support in itertools.product(
            args.irreversible, args.margin, args.threshold, args.erasure_word, args.support):
        core.IRREVERSIBLE_MODEL_ONLY, core.MODEL_ONLY_MARGIN = irr, margin
        core.ERASURE_WORD_LIFTS, core.CONCEPT_SUPPORT_GATE = bool(lift), bool(support)
        core.UNSUPPORTED_NOT_GUESSED = support == 2
        print(f"irreversible {irr:g} margin {margin:g} threshold {threshold:g} "
              f"erasure-word {lift} support {support}: {line(run(folds, threshold))}",
              flush=True)


if __name__ == "__main__":
    main()
