"""Cross-validate the intent model on the TRAINING data only (never the blind set).

    .venv/bin/python bench/cv_understanding.py --c 4 8 16 --threshold 0.4 0.5 0.6

Prints, per C and threshold, the set-based figures over 5 folds (each message is scored by a
model that did not see it). This is how the shipped C and threshold were chosen.
"""

from __future__ import annotations

import argparse

from sklearn.model_selection import KFold

from bot.understand import classifier, core
from bot.understand.evaluate import format_multi_label, multi_label
from bot.understand.training import train, training_items


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--c", type=float, nargs="+", default=[8.0])
    parser.add_argument("--threshold", type=float, nargs="+", default=[0.5])
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    items = training_items()
    folds = list(KFold(5, shuffle=True, random_state=0).split(items))
    for c in args.c:
        predictions: dict[float, list] = {t: [] for t in args.threshold}
        for train_idx, test_idx in folds:
            model = train([items[i] for i in train_idx], c=c)
            classifier.shipped.cache_clear()
            original = classifier.shipped
            classifier.shipped = lambda model=model: model  # type: ignore[assignment]
            try:
                for i in test_idx:
                    item = items[i]
                    for t in args.threshold:
                        u = core.understand(item.text, item.subject,
                                            has_attachments=item.has_attachments, threshold=t)
                        predictions[t].append((item, u.names))
            finally:
                classifier.shipped = original  # type: ignore[assignment]
        for t, results in predictions.items():
            ml = multi_label(results)
            head = format_multi_label(ml)[0]
            print(f"C={c:g} threshold={t:g}: {head}", flush=True)
            if args.verbose:
                print("\n".join(format_multi_label(ml)[1:]))


if __name__ == "__main__":
    main()
