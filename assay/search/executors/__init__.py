"""Executors only run: given a TrialSpec and the data, fit the fold models and measure them."""

from assay.search.executors.inline import InlineExecutor, TrialContext, TrialOutput

__all__ = ["InlineExecutor", "TrialContext", "TrialOutput"]
