"""Train the intent model from labelled messages (`stelloloxon-bot train`).

Training data is ``tests/data/labelled`` and ``tests/data/train`` (JSON lines, see
tests/data/LABELS.md). The frozen blind set ``tests/data/blind`` and the shared letters are
never trained on: they are what the model is measured on. Training is deterministic (fixed
folds, liblinear with a fixed seed, solved to a tight tolerance), so the same data gives the same
model. With liblinear's default tolerance (1e-4) two installs of the same numpy/scipy line
disagreed by up to 0.003 in decision values; at TOL the solution is unique to well below that.

Per intent: a logistic regression on the features of bot.understand.features, and a Platt
scaling fitted on out-of-fold decision values, so a probability of 0.8 means about 8 in 10.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import sklearn
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from bot.understand.classifier import IntentModel
from bot.understand.core import read
from bot.understand.evaluate import LabelledItem, load_labelled
from bot.understand.features import N_FEATURES, featurize
from bot.understand.model import INTENTS

REPO = Path(__file__).resolve().parents[2]
TRAINING_DIRS = (REPO / "tests" / "data" / "labelled", REPO / "tests" / "data" / "train")
C = 8.0
FOLDS = 3
SEED = 0
TOL = 1e-6


def training_items(dirs: Sequence[Path] = TRAINING_DIRS) -> list[LabelledItem]:
    items: list[LabelledItem] = []
    for directory in dirs:
        items.extend(load_labelled(directory))
    return items


def matrix(items: Sequence[LabelledItem]) -> sparse.csr_matrix:
    rows = []
    for item in items:
        r = read(item.text, item.subject, has_attachments=item.has_attachments)
        rows.append(featurize(r.body, r.subject, r.evidence))
    indptr = np.cumsum([0, *(len(r.columns) for r in rows)])
    return sparse.csr_matrix(
        (np.concatenate([r.values for r in rows]), np.concatenate([r.columns for r in rows]),
         indptr),
        shape=(len(rows), N_FEATURES),
    )


def train(items: Sequence[LabelledItem], *, c: float = C,
          progress: Callable[[str], None] | None = None) -> IntentModel:
    """Fit one calibrated model per intent on `items`."""
    full = matrix(items)
    used = np.unique(full.indices)  # fit on the columns that occur: same model, far faster
    x = full[:, used]
    coefs, intercepts, platt = [], [], []
    for name in INTENTS:
        if progress:
            progress(name)
        y = np.array([name in i.expected for i in items], dtype=int)
        coef, intercept, pair = _fit_intent(x, y, c)
        coefs.append(coef)
        intercepts.append(intercept)
        platt.append(pair)
    weights = np.vstack(coefs).T  # (used columns, intents)
    keep = np.flatnonzero(np.any(weights != 0.0, axis=1))
    return IntentModel(
        intents=INTENTS,
        columns=used[keep],
        weights=weights[keep].astype(np.float32).astype(np.float64),
        intercepts=np.array(intercepts),
        platt=np.array(platt),
        meta=_meta(items, c),
    )


def _fit_intent(x: sparse.csr_matrix, y: np.ndarray,
                c: float) -> tuple[np.ndarray, float, tuple[float, float]]:
    if y.sum() < FOLDS or (len(y) - y.sum()) < FOLDS:  # too few examples: never predicted
        return np.zeros(x.shape[1]), -10.0, (1.0, 0.0)
    lr = _estimator(c)
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=SEED)
    oof = cross_val_predict(lr, x, y, cv=folds, method="decision_function")
    scaler = LogisticRegression(C=1e4, solver="lbfgs").fit(oof.reshape(-1, 1), y)
    lr.fit(x, y)
    return lr.coef_[0], float(lr.intercept_[0]), (float(scaler.coef_[0][0]),
                                                  float(scaler.intercept_[0]))


def _estimator(c: float) -> LogisticRegression:
    return LogisticRegression(C=c, solver="liblinear", class_weight="balanced",
                              random_state=SEED, max_iter=10_000, tol=TOL)


def _meta(items: Sequence[LabelledItem], c: float) -> dict[str, object]:
    digest = hashlib.sha256()
    for item in items:
        digest.update(f"{item.id}\0{item.subject}\0{item.text}\0{item.expected}\n".encode())
    return {"items": len(items), "data_sha256": digest.hexdigest(), "C": c,
            "folds": FOLDS, "sklearn": sklearn.__version__}
