"""The model registry: versions with stages, lineage and verified copies; API tokens for the server."""

from assay.registry.service import ModelVersion, Registry, Token

__all__ = ["ModelVersion", "Registry", "Token"]
