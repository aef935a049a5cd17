"""Retraining fixtures: the registry's (a small fitted model folder, a registry URL per backend,
PostgreSQL started on loopback where installed) and the tables of a model that goes stale."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tests.conftest import make_frame
from tests.registry.conftest import model_dir, postgres_server, registry_url  # noqa: F401  (fixtures)


def stale_rows(n: int, seed: int) -> pd.DataFrame:
    """Rows from a new regime: column c moves to around 4 and there the class follows d instead of
    a, b and colour, so a model trained on make_frame's rows is near chance on them, while a model
    that also saw some of them learns the new rule."""
    frame = make_frame(n, seed=seed)
    frame["c"] = frame["c"] + 4
    frame["y"] = np.where(frame["d"] > 0, "yes", "no")
    return frame
