"""`assay knowledge build-portfolio` end to end on a tiny corpus (with a disguised copy of the
evaluation dataset that must be left out), resuming without refitting, and `assay knowledge show`."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from assay.cli import app
from assay.search.strategies import PortfolioStrategy, load_document
from assay.task import Task


def _dataset(root, name, frame, kind):
    folder = root / name
    folder.mkdir(parents=True)
    frame.to_csv(folder / f"{name}.tsv.gz", sep="\t", index=False)
    target_type = {"binary": "binary", "multiclass": "categorical", "regression": "continuous"}[kind]
    meta = {
        "dataset": name,
        "task": "regression" if kind == "regression" else "classification",
        "target": {"type": target_type},
        "features": [{"name": c, "type": "continuous"} for c in frame.columns if c != "target"],
    }
    (folder / "metadata.yaml").write_text(yaml.safe_dump(meta))
    return folder / f"{name}.tsv.gz"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    rng = np.random.default_rng(0)
    for kind in ["binary", "multiclass", "regression"]:
        X = rng.normal(size=(90, 3))
        signal = X[:, 0] - X[:, 1]
        y = {"binary": signal > 0, "multiclass": np.digitize(signal, [-0.5, 0.5]), "regression": signal}[kind]
        _dataset(
            root / "pmlb", f"task_{kind}", pd.DataFrame(X, columns=list("abc")).assign(target=y.astype(float)), kind
        )
    held = pd.DataFrame(rng.normal(size=(90, 3)), columns=list("abc")).assign(target=rng.integers(0, 2, 90))
    path = _dataset(root / "eval", "heldout", held, "binary")
    _dataset(root / "pmlb", "disguised", held.rename(columns=str.upper).rename(columns={"TARGET": "target"}), "binary")
    suite = root / "suite.yaml"
    suite.write_text(
        yaml.safe_dump(
            {"name": "s", "datasets": [{"name": "heldout", "path": str(path), "target": "target", "task": "binary"}]}
        )
    )
    return root, suite


def test_build_portfolio_command_excludes_copies_resumes_and_shows(corpus, tmp_path):
    root, suite = corpus
    out, db = tmp_path / "p.json", tmp_path / "kb.db"
    args = ["knowledge", "build-portfolio", "--corpus", str(root / "pmlb"), "--exclude-suite", str(suite)]
    args += [
        "--families",
        "lightgbm,linear",
        "--configs",
        "1",
        "--db",
        str(db),
        "--out",
        str(out),
        "--trial-seconds",
        "5",
        "--with-portfolio",
        "none",  # the hand-made list's configurations would add 4 LightGBM candidates per kind
    ]
    runner = CliRunner()
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    prov = doc["provenance"]
    assert doc["format"] == 2 and prov["excluded"]["disguised"].startswith("same data as heldout")
    assert prov["datasets_used"] == {
        "binary": ["task_binary"],
        "multiclass": ["task_multiclass"],
        "regression": ["task_regression"],
    }
    assert prov["measured_this_run"] == 3 * 2 * 2  # kinds x families x (defaults + 1 draw)
    kinds = {e["tasks"][0] for e in doc["entries"]}
    assert kinds == {"binary", "multiclass", "regression"} and all(e["seconds"] >= 0 for e in doc["entries"])

    again = runner.invoke(app, args)  # resumed: everything is in the knowledge base already
    assert again.exit_code == 0 and json.loads(out.read_text())["provenance"]["measured_this_run"] == 0

    # the learnt file is a portfolio the search reads: entries of the task's kind only, costs scaled
    entries = load_document(str(out))["entries"]
    strategy = PortfolioStrategy(entries, ["lightgbm", "linear"], Task("regression"), 2000, 3)
    regression = [e for e in entries if e["tasks"] == ["regression"]]
    left_out = {"lightgbm", "linear"} - {e["family"] for e in regression}  # they start from their defaults
    assert len(strategy) == len(regression) + len(left_out) and strategy.ask()[0] == regression[0]["family"]

    shown = runner.invoke(app, ["knowledge", "show", "--portfolio", str(out), "--db", str(db)])
    assert shown.exit_code == 0, shown.output
    assert "disguised" in shown.output and "12 trials" in shown.output
    anytime = prov["held_out_anytime"]["binary"]  # against time; empty here: one dataset, none to hold out
    assert anytime["budgets"] and anytime["by_gain_per_second"] == [] and prov["order"].startswith("gain per second")

    unknown = runner.invoke(app, [*args, "--with-portfolio", "nosuch"])
    assert unknown.exit_code == 2 and "no portfolio named 'nosuch'" in unknown.output


def test_build_portfolio_user_errors(tmp_path):
    result = CliRunner().invoke(app, ["knowledge", "build-portfolio", "--corpus", str(tmp_path / "none")])
    assert result.exit_code == 2 and "--corpus" in result.output


def test_shipped_portfolios_load():
    assert load_document("default")["format"] == 1 and load_document("learnt")["format"] == 2
    assert load_document("default")["entries"]


def test_describe_prints_meta_features_and_refuses_a_wrong_target():
    from pathlib import Path

    import assay

    penguins = str(Path(assay.__file__).parent / "datasets" / "penguins.csv")
    runner = CliRunner()
    shown = runner.invoke(app, ["knowledge", "describe", penguins, "--target", "species"])
    assert shown.exit_code == 0, shown.output
    assert "class_entropy" in shown.output and "landmark_1nn" in shown.output
    wrong = runner.invoke(app, ["knowledge", "describe", penguins, "--target", "Species"])
    assert wrong.exit_code == 2 and "'species'" in wrong.output and "not found" in wrong.output
