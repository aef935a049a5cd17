"""Decision records: every change of the production version, and every retraining that left it
alone, with the numbers and the reason, so "why is v7 serving?" has an answer in the registry.

    promoted     a version became production (by hand, or a challenger that won on a fresh holdout)
    kept         a retraining's challenger did not win, or there was too little new data to try
    rolled_back  the production version was archived and the one before it restored
    failed       a retraining did not finish; production was not touched

The records are also the history of which version served when: `previous_production` replays them
to find what a rollback restores, so rolling back twice walks back two promotions instead of
toggling between the last two versions.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass, field

from assay.registry.db import DecisionRow

ACTIONS = ("promoted", "kept", "rolled_back", "failed")
# `assay retrain`'s exit status for each outcome (2, a user error, and 1, a bug, come from the CLI).
EXIT_CODES = {"promoted": 0, "rolled_back": 0, "kept": 4, "failed": 5}
_FLOATS = (
    "champion_score",
    "champion_low",
    "champion_high",
    "challenger_score",
    "challenger_low",
    "challenger_high",
    "p_value",
)


@dataclass(frozen=True)
class Decision:
    name: str
    action: str
    reason: str
    champion_version: int | None = None  # production before the decision
    challenger_version: int | None = None  # the version considered (restored, for a rollback)
    metric: str | None = None
    champion_score: float | None = None
    champion_low: float | None = None
    champion_high: float | None = None
    challenger_score: float | None = None
    challenger_low: float | None = None
    challenger_high: float | None = None
    p_value: float | None = None
    holdout_rows: int | None = None
    details: dict = field(default_factory=dict)
    created: dt.datetime | None = None
    id: int | None = None  # None: not recorded (a dry run)

    def __post_init__(self):
        if self.action not in ACTIONS:
            raise ValueError(f"unknown decision action {self.action!r}; one of {ACTIONS}")

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.action]

    @property
    def production_version(self) -> int | None:
        """The version serving after this decision."""
        return self.challenger_version if self.action in ("promoted", "rolled_back") else self.champion_version

    def to_dict(self) -> dict:
        out = asdict(self)
        out["created"] = self.created.isoformat(timespec="seconds") if self.created else None
        return out

    def describe(self) -> str:
        """One line for logs, alerts and the terminal."""
        what = {
            "promoted": f"v{self.challenger_version} promoted to production"
            + (f" (was v{self.champion_version})" if self.champion_version else ""),
            "kept": f"v{self.champion_version} kept in production"
            + (f", challenger v{self.challenger_version} not promoted" if self.challenger_version else ""),
            "rolled_back": f"rolled back from v{self.champion_version} to v{self.challenger_version}",
            "failed": "retraining failed"
            + (f", v{self.champion_version} still in production" if self.champion_version else ""),
        }[self.action]
        return f"{self.name}: {what}: {self.reason}"


def evidence(verdict) -> dict:
    """The decision's columns from a champion.Verdict."""
    if verdict is None:
        return {}
    return {
        "metric": verdict.metric,
        "champion_score": _num(verdict.champion.value),
        "champion_low": _num(verdict.champion.low),
        "champion_high": _num(verdict.champion.high),
        "challenger_score": _num(verdict.challenger.value),
        "challenger_low": _num(verdict.challenger.low),
        "challenger_high": _num(verdict.challenger.high),
        "p_value": _num(verdict.p_value),
        "holdout_rows": verdict.n,
    }


def to_row(decision: Decision, created: dt.datetime) -> DecisionRow:
    values = {k: v for k, v in asdict(decision).items() if k not in ("id", "created")}
    for key in _FLOATS:
        values[key] = _num(values[key])  # NaN is not a number PostgreSQL's JSON or readers want
    values["details"] = _jsonable(values["details"])
    return DecisionRow(created=created, **values)


def from_row(row: DecisionRow, created: dt.datetime) -> Decision:
    names = [f for f in Decision.__dataclass_fields__ if f not in ("created", "details")]
    return Decision(**{f: getattr(row, f) for f in names}, details=dict(row.details or {}), created=created)


def previous_production(history: list[Decision], current: int, exists) -> int | None:
    """The version a rollback from `current` restores: the production history is replayed as a
    stack (a promotion pushes, a rollback pops), and the newest earlier entry that still exists
    wins. None when the history does not reach back past `current` (e.g. only one promotion, or a
    registry from before decisions were recorded)."""
    stack: list[int] = []
    for d in history:  # oldest first
        if d.action == "promoted" and d.challenger_version is not None:
            if d.champion_version is not None and (not stack or stack[-1] != d.champion_version):
                stack.append(d.champion_version)  # it reached production before the records began
            if not stack or stack[-1] != d.challenger_version:
                stack.append(d.challenger_version)
        elif d.action == "rolled_back" and d.challenger_version is not None:
            if stack and stack[-1] == d.champion_version:
                stack.pop()
            if not stack or stack[-1] != d.challenger_version:
                stack.append(d.challenger_version)
    while stack and stack[-1] != current:  # production changed outside the records (e.g. archived)
        stack.pop()
    for version in reversed(stack[:-1]):
        if version != current and exists(version):
            return version
    return None


def _num(x):
    return float(x) if x is not None and math.isfinite(x) else None


def _jsonable(value):
    """Details go into a JSON column: no NaN (PostgreSQL refuses it), no numpy scalars."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
