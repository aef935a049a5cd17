"""Named events of the search loop, and the callback protocol that listens to them.

The loop never branches on "is there a progress bar" or "should this be logged": it emits
events and whatever listens (Rich progress, logging, knowledge recording) reacts.
"""

from __future__ import annotations

from collections.abc import Iterable


class Callback:
    """Override what you need; every hook has a do-nothing default."""

    def on_search_start(self, *, total_seconds: float | None, total_trials: int | None, plan) -> None: ...

    def on_trial_start(self, spec) -> None: ...

    def on_trial_end(self, result, *, best) -> None: ...

    def on_search_end(self, *, results) -> None: ...

    def on_ensemble(self, *, weights: dict[str, float], score: float) -> None: ...


class Events:
    def __init__(self, callbacks: Iterable[Callback] = ()):
        self.callbacks = list(callbacks)

    def emit(self, name: str, *args, **kwargs) -> None:
        for cb in self.callbacks:
            getattr(cb, name)(*args, **kwargs)
