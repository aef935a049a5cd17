"""Monitoring fixtures: one small fitted binary model (in memory and saved), tables of recent rows,
and the registry's real PostgreSQL server for the prediction log (skipped with a reason when
PostgreSQL is not installed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay import Predictor
from tests.conftest import make_frame
from tests.registry.conftest import postgres_server  # noqa: F401  (a fixture shared with the registry tests)


@pytest.fixture(scope="session")
def fitted() -> Predictor:
    # one thread: LightGBM's OpenMP threads slow down tenfold when other work shares the two cores
    return Predictor("y", trials=1, families=["lightgbm"], verbose=False, n_threads=1).fit(make_frame(800, seed=0))


@pytest.fixture(scope="session")
def model_folder(fitted, tmp_path_factory) -> Path:
    """The saved model folder, without its report (monitoring does not read it; saves seconds)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Predictor, "_report_into", lambda self, folder: None)
        return fitted.save(tmp_path_factory.mktemp("monitor") / "model")


@pytest.fixture(scope="session")
def old_folder(fitted, tmp_path_factory) -> Path:
    """A model folder as releases before monitoring saved it: no reference.parquet."""
    import assay.monitor.reference as reference

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Predictor, "_report_into", lambda self, folder: None)
        mp.setattr(reference, "write_reference", lambda folder, predictor: None)
        return fitted.save(tmp_path_factory.mktemp("monitor-old") / "model")


@pytest.fixture(scope="session")
def tables(tmp_path_factory) -> dict[str, Path]:
    """recent.csv (the training distribution, labelled), shifted.csv (column a moved by one
    standard deviation) and train.csv (the training rows themselves)."""
    folder = tmp_path_factory.mktemp("tables")
    paths = {name: folder / f"{name}.csv" for name in ("recent", "shifted", "train")}
    make_frame(600, seed=11).to_csv(paths["recent"], index=False)
    shifted = make_frame(600, seed=12)
    shifted["a"] += 1.0
    shifted.to_csv(paths["shifted"], index=False)
    make_frame(800, seed=0).to_csv(paths["train"], index=False)
    return paths


@pytest.fixture(params=["sqlite", "postgresql"])
def log_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.db'}"
    return request.getfixturevalue("postgres_server").new_database()
