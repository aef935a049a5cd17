"""Taking a fitted model out of assay: ONNX graphs with the blend as JSON (onnx.py), a scoring
package that needs no training library (python_package.py, built around scorer.py)."""

from assay.export.onnx import ExportReport, export_onnx
from assay.export.python_package import export_python

__all__ = ["ExportReport", "export_onnx", "export_python"]
