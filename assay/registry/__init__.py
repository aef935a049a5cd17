"""The model registry: versions with stages, lineage and verified copies; the champion rule and the
record of every decision about production; API tokens for the server."""

from assay.registry.champion import Verdict, compare, compare_losses
from assay.registry.decisions import Decision
from assay.registry.service import ModelVersion, Registry, Token

__all__ = ["Decision", "ModelVersion", "Registry", "Token", "Verdict", "compare", "compare_losses"]
