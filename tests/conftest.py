"""Shared fixtures: small real and generated tables, so every test runs without ../shared."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from assay import datasets

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"


@pytest.fixture
def penguins() -> pd.DataFrame:
    return datasets.load("penguins")


@pytest.fixture
def penguins_split(penguins, tmp_path):
    """The bundled penguins table as train.csv / test.csv files."""
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(penguins, test_size=0.25, random_state=0, stratify=penguins["species"])
    train.to_csv(tmp_path / "train.csv", index=False)
    test.to_csv(tmp_path / "test.csv", index=False)
    return tmp_path / "train.csv", tmp_path / "test.csv"


def make_frame(n: int = 400, task: str = "binary", seed: int = 0) -> pd.DataFrame:
    """A generated table with numbers, a category, missing values and a learnable target."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    colour = rng.choice(["red", "green", "blue"], size=n)
    signal = X[:, 0] + 0.5 * X[:, 1] - (colour == "red") + 0.3 * rng.normal(size=n)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    frame["colour"] = colour
    frame.loc[rng.random(n) < 0.05, "b"] = np.nan
    if task == "binary":
        frame["y"] = np.where(signal > 0, "yes", "no")
    elif task == "multiclass":
        frame["y"] = pd.cut(signal, [-np.inf, -0.7, 0.7, np.inf], labels=["low", "mid", "high"]).astype(str)
    else:
        frame["y"] = 3 * signal + 10
    return frame
