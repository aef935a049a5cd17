"""Start with a portfolio: strong, diverse configurations, in the order they tend to pay off.

Portfolios are versioned JSON under assay/knowledge/portfolios/ (or any file): format 1 is a
hand-ordered list whose configurations name only what differs from the family's defaults;
format 2 is learnt (assay.knowledge.build) and adds, per entry, its task kind and its median
measured cost on <= 1,000 rows, plus the provenance of the whole list. Both read here.
"""

from __future__ import annotations

import json
from importlib import resources

from assay.errors import ConfigError, problem
from assay.search.space import defaults

PORTFOLIO_FORMATS = (1, 2)


def load_document(name: str = "default") -> dict:
    """The whole portfolio file: a shipped name ("default": hand-ordered, what fits use; "learnt":
    built from the PMLB corpus) or a path to a JSON file."""
    path = resources.files("assay.knowledge") / "portfolios" / f"{name}.json"
    if not path.is_file() and str(name).endswith(".json"):
        from pathlib import Path

        path = Path(name)
    if not path.is_file():
        raise ConfigError(
            problem(f"no portfolio named {name!r}", where="portfolio", fix="use 'default', 'learnt' or a .json file")
        )
    data = json.loads(path.read_text())
    if data.get("format") not in PORTFOLIO_FORMATS:
        raise ConfigError(
            problem(
                f"portfolio {name!r} has format {data.get('format')}, this assay reads {PORTFOLIO_FORMATS}",
                where=str(path),
                fix="upgrade assay, or regenerate the portfolio (assay knowledge build-portfolio)",
            )
        )
    return data


def load_portfolio(name: str = "default") -> list[dict]:
    return load_document(name)["entries"]


class PortfolioStrategy:
    def __init__(self, entries: list[dict], families: list[str], task, n_rows: int, n_cols: int):
        from assay.models.registry import get_family

        self._queue: list[tuple[str, dict]] = []
        self._costs: list[float | None] = []
        self._waited: list[bool] = []  # per entry: put back once already
        self.last_cost: float | None = None  # the asked entry's measured seconds, scaled to these rows
        self.last_deferred = False  # whether the asked entry was put back once already
        self._last: tuple[str, dict] | None = None
        for entry in entries:
            if entry["family"] not in families or task.kind not in entry.get("tasks", [task.kind]):
                continue
            space = get_family(entry["family"]).search_space(task, n_rows, n_cols)
            params = {k: v for k, v in entry.get("params", {}).items() if k in space}  # a renamed dimension: default
            proposal = (entry["family"], {**defaults(space), **params})
            if proposal not in self._queue:
                self._queue.append(proposal)
                seconds = entry.get("seconds")
                self._costs.append(None if seconds is None else float(seconds) * max(1.0, n_rows / 1000))
                self._waited.append(False)
        # A learnt list may leave a family out for this task kind (it added nothing on the corpus);
        # a search restricted to such families should still start from known defaults, not at random.
        if entries:
            covered = {family for family, _ in self._queue}
            for family in (f for f in families if f not in covered):
                self._queue.append((family, defaults(get_family(family).search_space(task, n_rows, n_cols))))
                self._costs.append(None)
                self._waited.append(False)

    def ask(self) -> tuple[str, dict] | None:
        if not self._queue:
            return None
        self.last_cost = self._costs.pop(0)
        self.last_deferred = self._waited.pop(0)
        self._last = self._queue.pop(0)
        return self._last

    def defer(self) -> None:
        """Put the entry just asked at the end of the list, once: it costs more than the time now
        left allows, and the cheaper entries behind it should not wait for it."""
        if self._last is None or self.last_deferred:
            return
        self._queue.append(self._last)
        self._costs.append(self.last_cost)
        self._waited.append(True)
        self._last = None

    def pending(self) -> list[tuple[str, dict]]:
        """The entries not asked yet, in order."""
        return list(self._queue)

    def rank(self, order: list[tuple[str, dict]], screened: list[tuple[str, dict]]) -> None:
        """After screening: the entries of `order` first, in that order; the other screened ones
        dropped; entries never screened (none fitted, or still running) keep their turn after."""
        rows = list(zip(self._queue, self._costs, self._waited, strict=True))
        ranked = [row for entry in order for row in rows if row[0] == entry]
        rest = [row for row in rows if row[0] not in screened]
        kept = ranked + rest
        self._queue = [row[0] for row in kept]
        self._costs = [row[1] for row in kept]
        self._waited = [row[2] for row in kept]

    def tell(self, result) -> None:
        pass

    def __len__(self) -> int:
        return len(self._queue)
