"""Test helpers shipped with assay, for families and integrations written elsewhere."""

from assay.testing.check_executor import check_executor, executor_context
from assay.testing.check_model import check_model, make_frame

__all__ = ["check_executor", "check_model", "executor_context", "make_frame"]
