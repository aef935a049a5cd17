"""Strategies only propose: `ask()` gives the next (family, params), `tell(result)` feeds back.

They never run anything, so any strategy combines with any executor.
"""

from assay.search.strategies.portfolio import PortfolioStrategy, load_portfolio
from assay.search.strategies.tpe import TPEStrategy

__all__ = ["PortfolioStrategy", "TPEStrategy", "load_portfolio"]
