"""Test helpers shipped with assay, for families and integrations written elsewhere."""

from assay.testing.check_model import check_model, make_frame

__all__ = ["check_model", "make_frame"]
