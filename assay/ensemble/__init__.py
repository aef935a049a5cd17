"""Bagging (fold models averaged) and greedy ensemble selection; both are Models themselves."""

from assay.ensemble.bagging import BaggedModel
from assay.ensemble.greedy import EnsembleModel, ensemble_selection

__all__ = ["BaggedModel", "EnsembleModel", "ensemble_selection"]
