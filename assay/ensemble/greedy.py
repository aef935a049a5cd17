"""Ensemble selection with replacement over out-of-fold predictions (Caruana et al., 2004).

Starting from the best single configuration, repeatedly add (with replacement) whichever
member most lowers the validation error of the running average; the weights are how often
each member was picked, taken at the round with the lowest error. Because every candidate's
predictions are out-of-fold, the ensemble is chosen on rows none of its members trained on.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from assay.ensemble.bagging import BaggedModel
from assay.ensemble.calibrate import apply_temperature
from assay.models.base import Model, shared_inputs
from assay.search.budget import Deadline


def ensemble_selection(
    preds: list[np.ndarray], y: np.ndarray, metric, n_classes: int, n_rounds: int = 40, deadline: Deadline | None = None
) -> np.ndarray:
    """Weights (summing to 1) over `preds`, which are ordered best first."""
    deadline = deadline or Deadline.never()
    held = np.ones(len(y), dtype=bool)
    for p in preds:
        held &= ~np.isnan(p if p.ndim == 1 else p[:, 0])
    preds = [p[held] for p in preds]
    y = y[held]
    counts = np.zeros(len(preds), dtype=int)
    counts[0] = 1
    total = preds[0].copy()
    best_error, best_counts = metric.error(y, total, n_classes), counts.copy()
    for r in range(1, n_rounds):
        if deadline.expired():
            break
        errors = [metric.error(y, (total + p) / (r + 1), n_classes) for p in preds]
        j = int(np.argmin(errors))  # ties go to the earlier (stronger) member: deterministic
        counts[j] += 1
        total += preds[j]
        if errors[j] < best_error - 1e-12:
            best_error, best_counts = errors[j], counts.copy()
    return best_counts / best_counts.sum()


class EnsembleModel(Model):
    family = "ensemble"

    def __init__(self, task, members: list[BaggedModel], weights: list[float], temperature: float = 1.0):
        super().__init__(task)
        self.members = members
        self.weights = [float(w) for w in weights]
        self.temperature = float(temperature)

    def predict_raw(self, X) -> np.ndarray:
        with shared_inputs():  # members of the tree families convert X once between them
            blend = sum(w * m.predict_raw(X) for w, m in zip(self.weights, self.members, strict=True))
        return apply_temperature(blend, self.temperature) if self.task.is_classification else blend

    def save(self, directory) -> None:
        directory = Path(directory)
        for m in self.members:
            m.save(directory / m.name.replace("#", "_"))
        members = [
            {"name": m.name, "path": m.name.replace("#", "_"), "weight": w}
            for m, w in zip(self.members, self.weights, strict=True)
        ]
        meta = {"members": members, "temperature": self.temperature}
        (directory / "ensemble.json").write_text(json.dumps(meta, indent=2))

    @classmethod
    def load(cls, directory, task=None) -> EnsembleModel:
        directory = Path(directory)
        meta = json.loads((directory / "ensemble.json").read_text())
        members = [BaggedModel.load(directory / m["path"], task) for m in meta["members"]]
        return cls(task or members[0].task, members, [m["weight"] for m in meta["members"]], meta["temperature"])
