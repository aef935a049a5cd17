"""Start with a portfolio: strong, diverse configurations, in the order they tend to pay off.

Portfolios are versioned JSON under assay/knowledge/portfolios/; a configuration names only
what differs from its family's search-space defaults.
"""

from __future__ import annotations

import json
from importlib import resources

from assay.errors import ConfigError, problem
from assay.search.space import defaults

PORTFOLIO_FORMAT = 1


def load_portfolio(name: str = "default") -> list[dict]:
    path = resources.files("assay.knowledge") / "portfolios" / f"{name}.json"
    if not path.is_file():
        raise ConfigError(problem(f"no portfolio named {name!r}", where="portfolio", fix="use 'default'"))
    data = json.loads(path.read_text())
    if data.get("format") != PORTFOLIO_FORMAT:
        raise ConfigError(
            problem(
                f"portfolio {name!r} has format {data.get('format')}, this assay reads {PORTFOLIO_FORMAT}",
                where=str(path),
                fix="upgrade assay, or regenerate the portfolio",
            )
        )
    return data["entries"]


class PortfolioStrategy:
    def __init__(self, entries: list[dict], families: list[str], task, n_rows: int, n_cols: int):
        from assay.models.registry import get_family

        self._queue: list[tuple[str, dict]] = []
        for entry in entries:
            if entry["family"] not in families or task.kind not in entry.get("tasks", [task.kind]):
                continue
            space = get_family(entry["family"]).search_space(task, n_rows, n_cols)
            proposal = (entry["family"], {**defaults(space), **entry.get("params", {})})
            if proposal not in self._queue:
                self._queue.append(proposal)

    def ask(self) -> tuple[str, dict] | None:
        return self._queue.pop(0) if self._queue else None

    def tell(self, result) -> None:
        pass

    def __len__(self) -> int:
        return len(self._queue)
