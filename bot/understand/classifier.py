"""The trained intent model: one calibrated logistic regression per intent, shipped as numbers.

The file holds plain arrays (no pickle, so loading it runs no code and does not depend on the
scikit-learn version): the feature columns that carry weight, their weights per intent, the
intercepts, and the Platt-scaling pair per intent that turns a decision value into a
probability. `stelloloxon-bot train` makes it again from the labelled data (bot.understand.
training); the same data gives the same file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from bot.understand.features import Row

MODEL_PATH = Path(__file__).with_name("intent_model.npz")


@dataclass(frozen=True)
class IntentModel:
    """Calibrated per-intent probabilities from a feature row (see features.featurize)."""

    intents: tuple[str, ...]
    columns: np.ndarray  # sorted feature indices that carry weight
    weights: np.ndarray  # (len(columns), len(intents))
    intercepts: np.ndarray  # (len(intents),)
    platt: np.ndarray  # (len(intents), 2): p = 1 / (1 + exp(-(a * f + b)))
    meta: dict[str, object]

    def decision(self, row: Row) -> np.ndarray:
        """Raw decision values of one message, one per intent."""
        pos = np.searchsorted(self.columns, row.columns)
        pos[pos >= len(self.columns)] = 0
        known = self.columns[pos] == row.columns
        return self.intercepts + row.values[known] @ self.weights[pos[known]]

    def predict(self, row: Row) -> dict[str, float]:
        """Calibrated probability per intent for one message."""
        z = self.decision(row) * self.platt[:, 0] + self.platt[:, 1]
        probs = 1.0 / (1.0 + np.exp(-z))
        return {name: float(p) for name, p in zip(self.intents, probs, strict=True)}

    def save(self, path: Path = MODEL_PATH) -> None:
        np.savez_compressed(
            path,
            intents=np.array(self.intents),
            columns=self.columns.astype(np.int64),
            weights=self.weights.astype(np.float32),
            intercepts=self.intercepts.astype(np.float64),
            platt=self.platt.astype(np.float64),
            meta=np.array(json.dumps(self.meta, sort_keys=True)),
        )


def load(path: Path = MODEL_PATH) -> IntentModel:
    with np.load(path, allow_pickle=False) as data:
        return IntentModel(
            intents=tuple(str(x) for x in data["intents"]),
            columns=data["columns"],
            weights=data["weights"],  # float32: half the memory, same decisions to 1e-6
            intercepts=data["intercepts"],
            platt=data["platt"],
            meta=json.loads(str(data["meta"])),
        )


@lru_cache(maxsize=1)
def shipped() -> IntentModel | None:
    """The model in the package, or None when it has not been trained yet."""
    return load() if MODEL_PATH.is_file() else None
