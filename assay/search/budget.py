"""Budget (what the user granted) and Deadline (a point in time every model must respect).

Both are small value objects passed down explicitly. A Deadline of `None` seconds never
expires: that is how a trial-count budget stays free of wall-clock decisions, which is what
makes `--trials N` runs reproducible.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from assay.errors import ConfigError, problem


@dataclass(frozen=True)
class Budget:
    seconds: float | None = None
    trials: int | None = None

    def __post_init__(self):
        if self.seconds is None and self.trials is None:
            raise ConfigError(problem("no budget given", where="budget", fix="pass budget=SECONDS or trials=N"))
        if self.seconds is not None and not (self.seconds > 0 and math.isfinite(self.seconds)):
            raise ConfigError(
                problem(
                    f"budget must be a positive number of seconds, got {self.seconds}",
                    where="budget",
                    fix="pass budget=60 (seconds), or trials=N",
                )
            )
        if self.trials is not None and (int(self.trials) != self.trials or self.trials < 1):
            raise ConfigError(
                problem(
                    f"trials must be a whole number >= 1, got {self.trials}",
                    where="trials",
                    fix="pass trials=20, or budget=SECONDS",
                )
            )

    @property
    def timed(self) -> bool:
        return self.seconds is not None

    def max_seconds(self) -> float | None:
        """The promise: the whole fit ends by this many seconds after it started."""
        return None if self.seconds is None else self.seconds * 1.05 + 5.0


@dataclass(frozen=True)
class Deadline:
    at: float | None  # time.monotonic() value, or None for "never"

    @classmethod
    def after(cls, seconds: float | None) -> Deadline:
        return cls(None if seconds is None else time.monotonic() + max(0.0, seconds))

    @classmethod
    def never(cls) -> Deadline:
        return cls(None)

    def remaining(self) -> float:
        return math.inf if self.at is None else self.at - time.monotonic()

    def expired(self) -> bool:
        return self.remaining() <= 0

    def sooner(self, seconds: float | None) -> Deadline:
        """This deadline or `seconds` from now, whichever comes first."""
        if seconds is None:
            return self
        other = time.monotonic() + max(0.0, seconds)
        return Deadline(other if self.at is None else min(self.at, other))
