"""Start with a portfolio: strong, diverse configurations, in the order they tend to pay off.

Portfolios are versioned JSON under assay/knowledge/portfolios/ (or any file): format 1 is a
hand-ordered list whose configurations name only what differs from the family's defaults;
format 2 is learnt (assay.knowledge.build) and adds, per entry, its task kind and its median
measured cost on <= 1,000 rows, plus the provenance of the whole list. Both read here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
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


@dataclass
class _Entry:
    proposal: tuple[str, dict]  # (family, full params)
    cost: float | None  # measured seconds scaled to these rows (learnt lists only)
    waited: bool = False  # put back once already


class PortfolioStrategy:
    def __init__(self, entries: list[dict], families: list[str], task, n_rows: int, n_cols: int):
        from assay.models.registry import get_family

        self._entries: list[_Entry] = []
        self.last_cost: float | None = None  # the asked entry's measured seconds, scaled to these rows
        self.last_deferred = False  # whether the asked entry was put back once already
        self._last: _Entry | None = None
        for entry in entries:
            if entry["family"] not in families or task.kind not in entry.get("tasks", [task.kind]):
                continue
            space = get_family(entry["family"]).search_space(task, n_rows, n_cols)
            params = {k: v for k, v in entry.get("params", {}).items() if k in space}  # a renamed dimension: default
            proposal = (entry["family"], {**defaults(space), **params})
            if proposal not in self.pending():
                seconds = entry.get("seconds")
                self._entries.append(
                    _Entry(proposal, None if seconds is None else float(seconds) * max(1.0, n_rows / 1000))
                )
        # A learnt list may leave a family out for this task kind (it added nothing on the corpus);
        # a search restricted to such families should still start from known defaults, not at random.
        if entries:
            covered = {family for family, _ in self.pending()}
            for family in (f for f in families if f not in covered):
                self._entries.append(
                    _Entry((family, defaults(get_family(family).search_space(task, n_rows, n_cols))), None)
                )

    def ask(self) -> tuple[str, dict] | None:
        if not self._entries:
            return None
        self._last = self._entries.pop(0)
        self.last_cost, self.last_deferred = self._last.cost, self._last.waited
        return self._last.proposal

    def defer(self) -> None:
        """Put the entry just asked at the end of the list, once: it costs more than the time now
        left allows, and the cheaper entries behind it should not wait for it."""
        if self._last is None or self._last.waited:
            return
        self._last.waited = True
        self._entries.append(self._last)
        self._last = None

    def pending(self) -> list[tuple[str, dict]]:
        """The entries not asked yet, in order."""
        return [e.proposal for e in self._entries]

    def rank(self, order: list[tuple[str, dict]], screened: list[tuple[str, dict]]) -> None:
        """After screening: the entries of `order` first, in that order; the other screened ones
        dropped; entries never screened (none fitted, or still running) keep their turn after."""
        ranked = [e for proposal in order for e in self._entries if e.proposal == proposal]
        self._entries = ranked + [e for e in self._entries if e.proposal not in screened]

    def tell(self, result) -> None:
        pass

    def __len__(self) -> int:
        return len(self._entries)
