"""Leave one writer's group out: train on every other training file, score the one left out.

    .venv/bin/python bench/cv_groups.py --groups group_i group_j [--no-concepts]

Random folds put a writer's near-translations of one mail on both sides of a split; a group
held out whole is closer to mail nobody here wrote (training data only, never a blind set).
"""

from __future__ import annotations

import argparse

from bot.understand import classifier, features
from bot.understand.evaluate import _load_jsonl, evaluate
from bot.understand.training import TRAINING_DIRS, train


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--groups", nargs="+", default=["group_i", "group_j"])
    parser.add_argument("--no-concepts", action="store_true")
    parser.add_argument("--concept-weight", type=float, default=features.CONCEPT_WEIGHT)
    args = parser.parse_args()
    features.CONCEPTS = not args.no_concepts
    features.CONCEPT_WEIGHT = args.concept_weight
    by_file = {path.stem: _load_jsonl(path)
               for directory in TRAINING_DIRS for path in sorted(directory.glob("*.jsonl"))}
    for group in args.groups:
        rest = [i for name, items in by_file.items() if name != group for i in items]
        model = train(rest)
        original = classifier.shipped
        classifier.shipped = lambda model=model: model  # type: ignore[assignment]
        try:
            r = evaluate(by_file[group])
        finally:
            classifier.shipped = original  # type: ignore[assignment]
        weight = features.CONCEPTS and features.CONCEPT_WEIGHT
        print(f"{group} ({r.total}, concept weight {weight}): privacy recall "
              f"{r.sets.privacy_recall:.3f} added {len(r.sets.privacy_added)} "
              f"macro-F1 {r.sets.macro_f1:.3f} exact {r.sets.exact / r.total:.3f} "
              f"asked {r.asked} served {r.acted_or_asked_recall:.3f} "
              f"acted-added {len(r.acted_added)}", flush=True)


if __name__ == "__main__":
    main()
