"""Small real datasets shipped with assay, so the demo and the tests need nothing downloaded.

penguins.csv: Palmer penguins (Gorman, Williams & Fraser 2014; CC0), 344 rows, target
`species`, with the missing values of the original file left in on purpose.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd


def path(name: str = "penguins") -> Path:
    return Path(str(resources.files("assay.datasets") / f"{name}.csv"))


def load(name: str = "penguins") -> pd.DataFrame:
    return pd.read_csv(path(name))
