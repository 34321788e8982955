"""Cross-validate the intent model on the TRAINING data only (never the blind set).

    .venv/bin/python bench/cv_understanding.py --c 4 8 16

Each message is scored by a model trained on the other four fifths; the figures are averaged
over 5 folds. This is how the shipped settings were chosen.
"""

from __future__ import annotations

import argparse
import statistics

from sklearn.model_selection import KFold

from bot.understand import classifier, features
from bot.understand.evaluate import Report, evaluate
from bot.understand.training import train, training_items


def fold_reports(c: float, threshold: float) -> list[Report]:
    items = training_items()
    reports = []
    for train_idx, test_idx in KFold(5, shuffle=True, random_state=0).split(items):
        model = train([items[i] for i in train_idx], c=c)
        original = classifier.shipped
        classifier.shipped = lambda model=model: model  # type: ignore[assignment]
        try:
            reports.append(evaluate([items[i] for i in test_idx], threshold=threshold))
        finally:
            classifier.shipped = original  # type: ignore[assignment]
    return reports


def summary(reports: list[Report]) -> str:
    def mean(get: object) -> float:
        return statistics.mean(get(r) for r in reports)  # type: ignore[operator]

    return (f"privacy recall {mean(lambda r: r.sets.privacy_recall):.3f}  "
            f"added {sum(len(r.sets.privacy_added) for r in reports)}  "
            f"macro-F1 {mean(lambda r: r.sets.macro_f1):.3f}  "
            f"exact {mean(lambda r: r.sets.exact / r.total):.3f}  "
            f"asked {sum(r.asked for r in reports)}  "
            f"acted-or-asked {mean(lambda r: r.acted_or_asked_recall):.3f}  "
            f"acted-added {sum(len(r.acted_added) for r in reports)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--c", type=float, nargs="+", default=[8.0])
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--no-concepts", action="store_true",
                        help="without the concept block (bot.understand.concepts)")
    args = parser.parse_args()
    features.CONCEPTS = not args.no_concepts
    for c in args.c:
        print(f"C={c:g}: {summary(fold_reports(c, args.threshold))}", flush=True)


if __name__ == "__main__":
    main()
