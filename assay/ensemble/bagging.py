"""k-fold bagging: the fold models of one configuration, averaged at prediction time.

Every fold model was validated on rows it never saw, and their average is smoother and better
calibrated than any one of them, at no extra training cost.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from assay.models.base import Model
from assay.models.registry import get_family


class BaggedModel(Model):
    family = "bagged"

    def __init__(self, task, members: list[Model], name: str = ""):
        super().__init__(task)
        self.members = members
        self.name = name

    def predict_raw(self, X) -> np.ndarray:
        return np.mean([m.predict_raw(X) for m in self.members], axis=0)

    @property
    def member_family(self) -> str:
        return self.members[0].family

    def save(self, directory) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for i, m in enumerate(self.members):
            m.save(directory / f"fold_{i}")
        meta = {"name": self.name, "family": self.member_family, "n_folds": len(self.members)}
        (directory / "bag.json").write_text(json.dumps(meta, indent=2))

    @classmethod
    def load(cls, directory, task=None) -> BaggedModel:
        directory = Path(directory)
        meta = json.loads((directory / "bag.json").read_text())
        family = get_family(meta["family"])
        members = [family.load(directory / f"fold_{i}") for i in range(meta["n_folds"])]
        return cls(task or members[0].task, members, meta["name"])
