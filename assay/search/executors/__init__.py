"""Executors only run: given a TrialSpec and the data, fit the fold models and measure them.

`make_executor` picks one by name; the Ray module is imported only when Ray is asked for, so
assay never pays Ray's import time (or needs it installed) otherwise.
"""

from assay.search.executors.base import Executor, RemoteExecutor, TrialOutput, run_trial
from assay.search.executors.inline import InlineExecutor, TrialContext
from assay.search.executors.select import EXECUTORS, make_executor, resolve_executor

__all__ = [
    "EXECUTORS",
    "Executor",
    "InlineExecutor",
    "RemoteExecutor",
    "TrialContext",
    "TrialOutput",
    "make_executor",
    "resolve_executor",
    "run_trial",
]
