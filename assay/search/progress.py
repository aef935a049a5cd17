"""A Rich live display of the search: time left, trials done, best score and who holds it."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from assay.search.events import Callback


class RichProgress(Callback):
    def __init__(self, console: Console | None = None):
        self.console = console or Console(stderr=True)

    def on_search_start(self, *, total_seconds, total_trials, plan):
        self.total_seconds, self.total_trials = total_seconds, total_trials
        self.started = time.monotonic()
        self.done = 0
        self.console.print(f"[bold]validation[/]: {plan.reason}")
        self.progress = Progress(
            TextColumn("[bold blue]search"),
            BarColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        total = total_trials if total_seconds is None else total_seconds
        self.bar = self.progress.add_task("starting", total=total)
        self.progress.start()

    def on_trial_start(self, spec):
        self._update(f"running {spec.name}")

    def on_trial_end(self, result, *, best):
        self.done += 1
        best_text = f"best {best.score:.4f} ({best.spec.name})" if best else "no model yet"
        self._update(best_text)

    def _update(self, text: str):
        elapsed = time.monotonic() - self.started
        if self.total_seconds is None:
            left = f"{self.done}/{self.total_trials} trials"
            self.progress.update(self.bar, completed=self.done, description=f"{left} | {text}")
        else:
            left = max(self.total_seconds - elapsed, 0)
            self.progress.update(
                self.bar,
                completed=min(elapsed, self.total_seconds),
                description=f"{left:5.1f}s left | {self.done} trials | {text}",
            )

    def on_search_end(self, *, results):
        self.progress.stop()

    def on_ensemble(self, *, weights, score):
        parts = ", ".join(f"{name} {w:.2f}" for name, w in weights.items())
        self.console.print(f"[bold]ensemble[/]: validation score {score:.4f} from {parts}")
