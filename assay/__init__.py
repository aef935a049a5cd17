"""assay: tabular machine learning, end to end, with the rigour shown.

The public surface is exactly what `__all__` lists; everything else may change.
"""

__version__ = "0.1.0"

from assay.errors import (  # noqa: E402
    ArtifactError,
    AssayError,
    ConfigError,
    DataError,
    DataSourceError,
    RegistryError,
    SchemaError,
    TargetError,
)
from assay.predictor import Predictor  # noqa: E402

__all__ = [
    "ArtifactError",
    "AssayError",
    "ConfigError",
    "DataError",
    "DataSourceError",
    "Predictor",
    "RegistryError",
    "SchemaError",
    "TargetError",
    "__version__",
]
