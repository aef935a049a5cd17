"""Every user error named in the core issue: one clear message, an AssayError in Python,
exit code 2 and no traceback on the CLI."""

import pandas as pd
import pytest
from typer.testing import CliRunner

from assay import AssayError, ConfigError, DataSourceError, Predictor, TargetError
from assay.cli import app
from tests.conftest import make_frame


def _write(tmp_path, name, content: str | bytes):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


CASES = {
    "missing target column": (lambda p: make_frame(60), {"target": "nope"}, TargetError, "not found"),
    "target all missing": (lambda p: make_frame(60).assign(y=None), {}, TargetError, "entirely missing"),
    "single class": (lambda p: make_frame(60).assign(y="same"), {}, TargetError, "single class"),
    "empty file": (lambda p: _write(p, "empty.csv", ""), {}, DataSourceError, "empty"),
    "unknown file format": (lambda p: _write(p, "data.xyz", "a,b\n1,2\n"), {}, DataSourceError, "unknown file format"),
    "missing file": (lambda p: p / "absent.csv", {}, DataSourceError, "not found"),
    "header only": (lambda p: _write(p, "head.csv", "a,b,y\n"), {}, DataSourceError, "no rows"),
    "non-numeric regression target": (
        lambda p: make_frame(60).assign(y=["x", "y", "z"] * 20),
        {"task": "regression"},
        TargetError,
        "not numeric",
    ),
    "budget zero": (lambda p: make_frame(60), {"budget": 0}, ConfigError, "positive number"),
    "budget negative": (lambda p: make_frame(60), {"budget": -5}, ConfigError, "positive number"),
    "unknown metric": (lambda p: make_frame(60), {"metric": "nope"}, ConfigError, "unknown metric"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_python_raises_assay_error(case, tmp_path):
    make, kwargs, error, text = CASES[case]
    kwargs = {"target": "y", "budget": 5, **kwargs}
    with pytest.raises(error, match=text) as info:
        Predictor(verbose=False, **kwargs).fit(make(tmp_path))
    assert isinstance(info.value, AssayError)
    assert "Fix:" in str(info.value)


@pytest.mark.parametrize("case", list(CASES))
def test_cli_exits_2_with_one_message(case, tmp_path):
    make, kwargs, _, text = CASES[case]
    data = make(tmp_path)
    if isinstance(data, pd.DataFrame):
        data.to_csv(tmp_path / "data.csv", index=False)
        data = tmp_path / "data.csv"
    args = [
        "fit",
        str(data),
        "--target",
        kwargs.get("target", "y"),
        "--budget",
        str(kwargs.get("budget", 5)),
        "--out",
        str(tmp_path / "model"),
    ]
    for key in ("task", "metric"):
        if key in kwargs:
            args += [f"--{key}", kwargs[key]]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "error" in result.output and text in result.output
    assert "Traceback" not in result.output


def test_budget_and_trials_together_is_refused(tmp_path):
    make_frame(60).to_csv(tmp_path / "d.csv", index=False)
    result = CliRunner().invoke(app, ["fit", str(tmp_path / "d.csv"), "-t", "y", "--budget", "5", "--trials", "3"])
    assert result.exit_code == 2 and "choose one" in result.output
