"""Strategies only propose: `ask()` gives the next (family, params), `tell(result)` feeds back.

They never run anything, so any strategy combines with any executor.

A search is named by the strategies it chains, e.g. "portfolio+tpe": the portfolio's fixed list
first, then a per-family tuner. A bare "portfolio" means "portfolio+tpe", because a portfolio is
finite and the shipped system follows it with TPE; "tpe" or "random" alone start cold, from the
search spaces only. "evolve" (alone or after the portfolio) replaces the per-family tuners with one
evolutionary search over pipelines (preprocessing steps + family + hyperparameters). Naming this
in one place lets the benchmark swap one strategy and keep the rest.
"""

from assay.errors import ConfigError, problem
from assay.search.strategies.evolve import EvolveStrategy
from assay.search.strategies.portfolio import PortfolioStrategy, load_document, load_portfolio
from assay.search.strategies.random import RandomStrategy
from assay.search.strategies.tpe import TPEStrategy

TUNERS = {"tpe": TPEStrategy, "random": RandomStrategy}
SEARCHERS = ("evolve",)  # whole-search strategies: they choose the family too
DEFAULT_SEARCH = "portfolio+tpe"


def parse_search(name: str) -> tuple[bool, str | None]:
    """(use the portfolio, tuner key or None) for a search name such as "portfolio+random"."""
    parts = [p.strip() for p in str(name).lower().split("+") if p.strip()]
    if parts == ["portfolio"]:
        parts = ["portfolio", "tpe"]
    if parts == ["portfolio-only"]:
        return True, None
    tuners = [p for p in parts if p != "portfolio"]
    known = all(p in TUNERS or p in SEARCHERS or p == "portfolio" for p in parts)
    ordered = "portfolio" not in parts or parts[0] == "portfolio"
    if not parts or not known or not ordered or len(tuners) > 1 or parts.count("portfolio") > 1:
        raise ConfigError(
            problem(
                f"unknown search {name!r}",
                where="search",
                fix=f"use portfolio, portfolio-only, {', '.join([*TUNERS, *SEARCHERS])}, "
                "or portfolio+ONE (e.g. portfolio+evolve)",
            )
        )
    return "portfolio" in parts, (tuners[0] if tuners else None)


__all__ = [
    "DEFAULT_SEARCH",
    "SEARCHERS",
    "TUNERS",
    "EvolveStrategy",
    "PortfolioStrategy",
    "RandomStrategy",
    "TPEStrategy",
    "load_document",
    "load_portfolio",
    "parse_search",
]
