"""Measure the understanding module on labelled messages.

Two layouts are read by :func:`load_labelled`:

(a) the shared corpus: a directory with ``index.tsv`` (columns ``file``, ``kind``,
    ``request_type``, ``language``, ...). Rows of kind ``letter`` with a ``request_type`` are
    used; ``request_type`` is mapped to our intent names (erasure -> deletion, ...).
(b) our own set: ``*.jsonl`` files in the directory, one JSON object per line::

      {"id": "en-001", "lang": "en", "intents": ["deletion"], "text": "delete my data",
       "subject": "", "attachments": false}

    ``intents`` lists every intent the message expresses, the main one first; ``subject``
    and ``attachments`` are optional. Blank lines and lines starting with ``#`` are skipped.

Scoring is on the primary intent: a prediction is right when the predicted primary is one
of the expected intents. Per-intent precision/recall/F1 and the confusion matrix are built
from (expected primary, predicted primary) pairs, where the expected primary is the
predicted one when that is among the expected intents, else the first expected intent.
Macro-F1 averages over every intent that is expected or predicted at least once.
Run ``python -m bot.understand.evaluate DIR`` to print the report.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.understand.core import understand
from bot.understand.model import PRIVACY_INTENTS

CORPUS_INTENTS = {
    "access": "access",
    "erasure": "deletion",
    "rectification": "correction",
    "objection_direct_marketing": "optout",
    "reminder_followup": "reminder",
    "complaint_to_authority": "complaint",
}


@dataclass(frozen=True)
class LabelledItem:
    """One message with what it should be understood as."""

    id: str
    text: str
    expected: tuple[str, ...]
    language: str
    subject: str = ""
    has_attachments: bool = False


@dataclass(frozen=True)
class Prf:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Miss:
    """A misclassified item: what was expected, what came out, and why."""

    id: str
    language: str
    expected: tuple[str, ...]
    predicted: tuple[str, ...]
    evidence: tuple[str, ...]


@dataclass
class Report:
    total: int = 0
    correct: int = 0
    per_intent: dict[str, Prf] = field(default_factory=dict)
    macro_f1: float = 0.0
    per_language: dict[str, tuple[int, int]] = field(default_factory=dict)
    language_detected: dict[str, tuple[int, int]] = field(default_factory=dict)
    confusion: dict[str, Counter[str]] = field(default_factory=dict)
    misclassified: list[Miss] = field(default_factory=list)
    cross_right: list[str] = field(default_factory=list)
    secondary_recall: float = 1.0
    unsure: int = 0
    sets: MultiLabel = field(default_factory=lambda: MultiLabel())
    # what the bot does with it: ask (bot.clarify) or act on the intents it found
    asked: int = 0
    acted_added: list[str] = field(default_factory=list)
    acted_or_asked_recall: float = 1.0

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0


@dataclass
class MultiLabel:
    """Scores on the whole set of intents of each message (what the issue's goals are in):
    an intent counts as found only if it is among the predicted ones, and a privacy right
    predicted but not asked for is the dangerous error."""

    per_intent: dict[str, Prf] = field(default_factory=dict)
    macro_f1: float = 0.0
    exact: int = 0
    privacy_asked: int = 0
    privacy_found: int = 0
    privacy_added: list[str] = field(default_factory=list)
    privacy_lost: list[str] = field(default_factory=list)
    per_language: dict[str, tuple[int, int, float]] = field(default_factory=dict)

    @property
    def privacy_recall(self) -> float:
        return self.privacy_found / self.privacy_asked if self.privacy_asked else 1.0


def multi_label(results: Sequence[tuple[LabelledItem, tuple[str, ...]]]) -> MultiLabel:
    """Set-based scores over (item, predicted intents) pairs."""
    out = MultiLabel()
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # tp, fp, fn
    lang: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # exact, n, found, asked
    for item, predicted in results:
        want, got = set(item.expected), set(predicted)
        for name in want | got:
            counts[name][0 if name in want and name in got else 1 if name in got else 2] += 1
        asked, found = want & PRIVACY_INTENTS, want & got & PRIVACY_INTENTS
        out.exact += want == got
        out.privacy_asked += len(asked)
        out.privacy_found += len(found)
        if (got - want) & PRIVACY_INTENTS:
            out.privacy_added.append(item.id)
        if asked - found:
            out.privacy_lost.append(item.id)
        row = lang[item.language]
        row[0] += want == got
        row[1] += 1
        row[2] += len(found)
        row[3] += len(asked)
    out.per_intent = {name: _prf_counts(*counts[name]) for name in sorted(counts)}
    out.macro_f1 = _mean([p.f1 for p in out.per_intent.values()])
    out.per_language = {k: (v[0], v[1], v[2] / v[3] if v[3] else 1.0)
                        for k, v in sorted(lang.items())}
    return out


def _prf_counts(tp: int, fp: int, fn: int) -> Prf:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Prf(precision, recall, f1, tp + fn)


def load_labelled(dir: Path) -> list[LabelledItem]:
    """Items of the shared corpus (index.tsv) or of our own JSONL set."""
    dir = Path(dir)
    if (dir / "index.tsv").is_file():
        return _load_corpus(dir)
    items: list[LabelledItem] = []
    for path in sorted(dir.glob("*.jsonl")):
        items.extend(_load_jsonl(path))
    return items


def _load_corpus(dir: Path) -> list[LabelledItem]:
    with (dir / "index.tsv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [
        LabelledItem(
            id=row["file"],
            text=(dir / row["file"]).read_text(encoding="utf-8", errors="replace"),
            expected=(CORPUS_INTENTS[row["request_type"]],),
            language=row["language"],
        )
        for row in rows
        if row.get("kind") == "letter" and row.get("request_type") in CORPUS_INTENTS
    ]


def _load_jsonl(path: Path) -> list[LabelledItem]:
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        obj = json.loads(line)
        items.append(
            LabelledItem(
                id=obj.get("id") or f"{path.stem}:{n}",
                text=obj["text"],
                expected=tuple(obj["intents"]),
                language=obj["lang"],
                subject=obj.get("subject", ""),
                has_attachments=bool(obj.get("attachments", False)),
            )
        )
    return items


def evaluate(items: Iterable[LabelledItem], *, threshold: float = 0.5) -> Report:
    """Run `understand` over the items and compare with the labels."""
    report = Report()
    pairs: list[tuple[str, str]] = []
    lang_hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    lang_detect: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    from bot.clarify import reason_to_ask  # the pipeline's own decision (imports the DB layer)

    wanted = found = 0
    asked_rights = acted_rights = 0
    results: list[tuple[LabelledItem, tuple[str, ...]]] = []
    for item in items:
        u = understand(
            item.text, item.subject, has_attachments=item.has_attachments, threshold=threshold
        )
        predicted = u.primary
        results.append((item, u.names))
        rights = set(item.expected) & PRIVACY_INTENTS
        asked_rights += len(rights)
        if reason_to_ask(u):
            report.asked += 1
            acted_rights += len(rights)
        else:
            acted_rights += len(rights & set(u.names))
            if (set(u.names) - set(item.expected)) & PRIVACY_INTENTS:
                report.acted_added.append(item.id)
        ok = predicted in item.expected
        gold = predicted if ok else item.expected[0]
        pairs.append((gold, predicted))
        report.total += 1
        report.correct += ok
        report.unsure += u.unsure
        lang_hits[item.language][0] += ok
        lang_hits[item.language][1] += 1
        lang_detect[item.language][0] += u.language == item.language
        lang_detect[item.language][1] += 1
        wanted += len(item.expected)
        found += len(set(item.expected) & set(u.names))
        if not ok:
            report.misclassified.append(
                Miss(item.id, item.language, item.expected, u.names, u.intents[0].evidence)
            )
            if gold in PRIVACY_INTENTS and predicted in PRIVACY_INTENTS:
                report.cross_right.append(item.id)
    report.per_intent = _prf(pairs)
    report.macro_f1 = _mean([p.f1 for p in report.per_intent.values()])
    report.per_language = {k: (v[0], v[1]) for k, v in sorted(lang_hits.items())}
    report.language_detected = {k: (v[0], v[1]) for k, v in sorted(lang_detect.items())}
    report.confusion = _confusion(pairs)
    report.secondary_recall = found / wanted if wanted else 1.0
    report.sets = multi_label(results)
    report.acted_or_asked_recall = acted_rights / asked_rights if asked_rights else 1.0
    return report


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _prf(pairs: list[tuple[str, str]]) -> dict[str, Prf]:
    labels = sorted({g for g, _ in pairs} | {p for _, p in pairs})
    result = {}
    for label in labels:
        tp = sum(1 for g, p in pairs if g == label and p == label)
        fp = sum(1 for g, p in pairs if g != label and p == label)
        fn = sum(1 for g, p in pairs if g == label and p != label)
        result[label] = _prf_counts(tp, fp, fn)
    return result


def _confusion(pairs: list[tuple[str, str]]) -> dict[str, Counter[str]]:
    matrix: dict[str, Counter[str]] = defaultdict(Counter)
    for gold, predicted in pairs:
        matrix[gold][predicted] += 1
    return dict(sorted(matrix.items()))


def format_report(report: Report) -> str:
    """Plain-text tables: per intent, per language, confusion, misclassified items."""
    lines = [
        f"items: {report.total}  accuracy (primary): {report.accuracy:.3f}  "
        f"macro-F1: {report.macro_f1:.3f}  all-intents recall: {report.secondary_recall:.3f}  "
        f"unsure: {report.unsure}",
        "",
        f"{'intent':<20}{'precision':>10}{'recall':>10}{'F1':>8}{'support':>9}",
    ]
    for name, prf in report.per_intent.items():
        lines.append(
            f"{name:<20}{prf.precision:>10.3f}{prf.recall:>10.3f}{prf.f1:>8.3f}{prf.support:>9}"
        )
    lines += ["", *format_multi_label(report.sets)]
    lines += [
        f"what the bot does: asks which right on {report.asked} of {report.total}; privacy "
        f"rights acted on or asked about: {report.acted_or_asked_recall:.3f}; acted on a "
        f"privacy right not asked for: {len(report.acted_added)} "
        f"({', '.join(report.acted_added) or '-'})",
    ]
    lines += ["", f"{'language':<10}{'accuracy':>10}{'n':>5}{'lang detected':>15}"]
    for lang, (ok, n) in report.per_language.items():
        det_ok, det_n = report.language_detected.get(lang, (0, 0))
        lines.append(f"{lang:<10}{ok / n:>10.3f}{n:>5}{det_ok / det_n:>15.3f}")
    lines += ["", *_format_confusion(report.confusion)]
    lines += ["", f"cross-right confusions: {len(report.cross_right)}"]
    lines += [f"  {item}" for item in report.cross_right]
    lines += ["", f"misclassified: {len(report.misclassified)}"]
    for miss in report.misclassified:
        lines.append(
            f"  {miss.id} [{miss.language}] expected {','.join(miss.expected)} "
            f"got {','.join(miss.predicted)} ({', '.join(miss.evidence[:3])})"
        )
    return "\n".join(lines)


def format_multi_label(ml: MultiLabel) -> list[str]:
    n = sum(v[1] for v in ml.per_language.values())
    lines = [
        f"all intents of each message: privacy recall {ml.privacy_recall:.3f} "
        f"({ml.privacy_found}/{ml.privacy_asked})  privacy right added: {len(ml.privacy_added)}"
        f"  macro-F1: {ml.macro_f1:.3f}  exact match: {ml.exact / n if n else 0:.3f}",
        f"{'intent':<20}{'precision':>10}{'recall':>10}{'F1':>8}{'support':>9}",
    ]
    for name, prf in ml.per_intent.items():
        lines.append(
            f"{name:<20}{prf.precision:>10.3f}{prf.recall:>10.3f}{prf.f1:>8.3f}{prf.support:>9}"
        )
    lines.append(f"{'language':<10}{'exact':>8}{'n':>5}{'privacy recall':>16}")
    for lang, (exact, count, recall) in ml.per_language.items():
        lines.append(f"{lang:<10}{exact / count:>8.3f}{count:>5}{recall:>16.3f}")
    lines.append(f"privacy right added: {', '.join(ml.privacy_added) or '-'}")
    lines.append(f"privacy right lost: {', '.join(ml.privacy_lost) or '-'}")
    return lines


def _format_confusion(confusion: dict[str, Counter[str]]) -> list[str]:
    columns = sorted({p for row in confusion.values() for p in row})
    short = [c[:8] for c in columns]
    lines = [
        "confusion (rows: expected primary, columns: predicted primary)",
        f"{'':<20}" + "".join(f"{c:>9}" for c in short),
    ]
    for gold, row in confusion.items():
        lines.append(f"{gold:<20}" + "".join(f"{row.get(c, 0):>9}" for c in columns))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path, help="corpus dir with index.tsv, or dir of *.jsonl")
    parser.add_argument("--threshold", type=float, default=0.5)
    args = parser.parse_args(argv)
    items = load_labelled(args.dir)
    if not items:
        print(f"no labelled items found in {args.dir}", file=sys.stderr)
        return 1
    print(format_report(evaluate(items, threshold=args.threshold)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
