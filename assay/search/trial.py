"""A trial is (family, params, seed); its result is an immutable record.

The leaderboard, the report and the knowledge base are all queries over TrialResults. Heavy
outputs (out-of-fold predictions, fitted fold models) live beside them in the engine, keyed by
trial id, so records stay small and cheap to copy, log and persist.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class TrialSpec:
    trial_id: int
    family: str
    params: dict[str, Any]
    seed: int
    origin: str  # "portfolio" | "tpe" | ...

    @property
    def name(self) -> str:
        return f"{self.family}#{self.trial_id}"

    def key(self) -> str:
        """Same family, params and seed -> same key: how repeated proposals are recognised."""
        blob = json.dumps([self.family, self.params, self.seed], sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class TrialResult:
    spec: TrialSpec
    status: str  # "ok" | "pruned" | "failed"
    error: float  # the validation error (lower is better), nan unless ok or pruned
    score: float  # the same, in the metric's own orientation
    fold_errors: tuple[float, ...] = ()
    fit_seconds: float = 0.0
    predict_seconds: float = 0.0
    best_iterations: tuple[int | None, ...] = ()
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok" and math.isfinite(self.error)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["name"] = self.spec.name
        return d
