"""Profiles: right statistics, the predictive column ranked first, one self-contained page, the CLI."""

from __future__ import annotations

import html
import json

import numpy as np
import pandas as pd
import pytest
from plotly.offline import get_plotlyjs
from typer.testing import CliRunner

from assay import datasets
from assay.cli import app
from assay.data.clean import clean_frame
from assay.data.profile import Profile, profile_table
from assay.data.schema import infer_schema
from assay.errors import ConfigError, TargetError
from assay.report.html import render_profile_html

N = 1200
QUANTILES = {"p5": 0.05, "p25": 0.25, "median": 0.5, "p75": 0.75, "p95": 0.95}


def mixed_frame(n: int = N, task: str = "binary", seed: int = 0) -> pd.DataFrame:
    """One column of every kind; `signal` alone decides the target, `group` shifts it a little."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=n)
    group = rng.choice(["a", "b", "c"], size=n)
    noise = rng.normal(10, 2, size=n)
    noise[rng.random(n) < 0.1] = np.nan
    words = np.array(["river", "stone", "quiet", "market", "green", "window", "paper", "lantern"])
    notes = [" ".join(rng.choice(words, size=rng.integers(3, 8))) + f" {i}" for i in range(n)]
    colour = rng.choice(["red", "green", "blue", "?"], size=n, p=[0.4, 0.3, 0.2, 0.1])
    frame = pd.DataFrame(
        {
            "signal": signal,
            "noise": noise,
            "count": rng.poisson(1.0, size=n),
            "colour": colour,
            "group": group,
            "flag": rng.choice(["yes", "no"], size=n),
            "when": (pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 700, size=n), unit="D")).strftime(
                "%Y-%m-%d"
            ),
            "note": notes,
            "row_id": [f"r{i:05d}" for i in range(n)],
        }
    )
    shift = pd.Series(group).map({"a": 0.0, "b": 0.3, "c": -0.3}).to_numpy()
    if task == "regression":
        frame["y"] = 3 * signal + shift + 0.3 * rng.normal(size=n)
    else:
        frame["y"] = np.where(signal + 0.2 * rng.normal(size=n) > 0, "yes", "no")
    return frame


@pytest.fixture(scope="module")
def mixed():
    frame = mixed_frame()
    schema = infer_schema(frame, target="y")
    clean, log = clean_frame(frame, schema, target="y")
    return clean, profile_table(clean, target="y", schema=schema, cleaning=log)


def test_kinds_and_reasons_come_from_the_schema(mixed):
    _, p = mixed
    kinds = {c.name: c.kind for c in p.columns}
    assert kinds == {
        "signal": "numeric",
        "noise": "numeric",
        "count": "numeric",
        "colour": "categorical",
        "group": "categorical",
        "flag": "boolean",
        "when": "datetime",
        "note": "text",
        "row_id": "identifier",
        "y": "categorical",
    }
    assert all(c.reason for c in p.columns) and p.column("y").is_target
    assert p.kinds["numeric"] == 3 and p.task == "binary" and not p.sampled


def test_statistics_match_pandas(mixed):
    clean, p = mixed
    assert (p.n_rows, p.n_columns) == clean.shape
    assert p.missing_cells == int(clean.isna().sum().sum())
    for c in p.columns:
        assert c.n_missing == int(clean[c.name].isna().sum()), c.name
        assert c.n_distinct == clean[c.name].nunique(), c.name
    assert p.column("colour").n_missing == (mixed_frame()["colour"] == "?").sum() > 0  # "?" counts as missing
    noise = clean["noise"].dropna()
    stats = p.column("noise").stats
    for key, q in QUANTILES.items():
        assert stats[key] == pytest.approx(noise.quantile(q))
    assert stats["mean"] == pytest.approx(noise.mean()) and stats["std"] == pytest.approx(noise.std())
    assert (stats["min"], stats["max"]) == (noise.min(), noise.max())
    assert sum(p.column("noise").histogram["counts"]) == len(noise)
    count = p.column("count")
    assert count.stats["zeros"] == (clean["count"] == 0).sum()
    assert len(count.histogram["counts"]) == clean["count"].max() - clean["count"].min() + 1  # one bar per integer
    colour = p.column("colour")
    top = clean["colour"].value_counts()
    assert colour.top_values == [[k, int(v)] for k, v in top.items()]
    assert {label for label, _ in p.column("flag").top_values} == {"yes", "no"}
    when = p.column("when")
    assert when.stats["min"] == clean["when"].min().isoformat() and when.periods["unit"] == "month"
    assert sum(when.periods["counts"]) == N
    note = p.column("note")
    assert note.tokens and {t for t, _ in note.tokens} <= {"river", "stone", "quiet", "market", "green", "window",
                                                           "paper", "lantern"}  # fmt: skip
    assert note.stats["mean_words"] == pytest.approx(clean["note"].str.split().str.len().mean())
    assert p.column("row_id").examples and p.column("row_id").association is None


def test_profile_is_plain_json(mixed):
    _, p = mixed
    text = json.dumps(p.to_dict(), allow_nan=False)
    again = Profile.from_dict(json.loads(text))
    assert again == p


def test_association_ranks_the_predictive_column_first(mixed):
    _, p = mixed
    assert p.ranking[0]["column"] == "signal" and p.ranking[0]["measure"] == "cramers_v"
    assert p.column("signal").association > 0.5 > p.column("noise").association
    assert "y" not in [r["column"] for r in p.ranking]
    scores = [r["association"] for r in p.ranking]
    assert scores == sorted(scores, reverse=True)


def test_regression_target_uses_spearman_and_eta():
    p = profile_table(mixed_frame(task="regression"), target="y")  # typed and cleaned inside
    assert p.task == "regression" and p.ranking[0]["column"] == "signal"
    assert p.column("signal").measure == "spearman" and p.column("signal").association > 0.9
    assert p.column("group").measure == "eta" and p.column("colour").measure == "eta"
    assert p.column("group").association > p.column("colour").association  # group shifts y, colour does not
    assert p.column("y").histogram is not None


def test_large_tables_are_sampled_but_counted_in_full():
    frame = mixed_frame(n=3000, seed=1)
    p = profile_table(frame, target="y", sample_rows=500)
    assert p.sampled and p.sample_size == 500 and "500" in p.basis and "3,000" in p.basis
    assert p.column("noise").n_missing == frame["noise"].isna().sum()
    assert sum(p.column("noise").histogram["counts"]) <= 500
    assert p.column("noise").stats["max"] == frame["noise"].max()  # min and max are exact
    assert sum(count for _, count in p.column("colour").top_values) == (frame["colour"] != "?").sum()
    assert p.ranking[0]["column"] == "signal"


def test_user_errors():
    with pytest.raises(TargetError, match="'speces'.*'species'"):
        profile_table(datasets.load("penguins"), target="speces")
    with pytest.raises(ConfigError):
        profile_table(datasets.load("penguins"), sample_rows=5)


def test_penguins(penguins):
    p = profile_table(penguins, target="species")
    assert p.task == "multiclass" and p.n_rows == len(penguins) == 344
    for c in p.columns:
        assert c.n_missing == penguins[c.name].isna().sum(), c.name
        assert c.n_distinct == penguins[c.name].nunique(), c.name
    mass = penguins["body_mass_g"].dropna()
    for key, q in QUANTILES.items():
        assert p.column("body_mass_g").stats[key] == pytest.approx(mass.quantile(q))
    assert p.column("species").top_values == [["Adelie", 152], ["Gentoo", 124], ["Chinstrap", 68]]
    assert {r["column"] for r in p.ranking} == set(penguins.columns) - {"species"}
    assert p.ranking[0]["column"] in ("flipper_length_mm", "bill_length_mm", "island")
    assert p.column("sex").association < 0.1  # both sexes in every species


def test_html_is_self_contained_with_a_section_per_column(penguins):
    frame = penguins.rename(columns={"island": "<b>island</b> & co"})
    p = profile_table(frame, target="species")
    page = render_profile_html(p, "penguins <profile>")
    assert page.count(get_plotlyjs()[:300]) == 1  # plotly.js inlined exactly once
    assert "<script src" not in page and "<link" not in page  # nothing fetched (plotly.js names a CDN only for maps)
    assert page.count("<script") == 1 + page.count('class="plotly-graph-div"')
    for i, c in enumerate(p.columns):
        assert f'id="col-{i}"><h3>{html.escape(c.name)} ' in page
    assert "&lt;b&gt;island&lt;/b&gt; &amp; co" in page and "<b>island</b>" not in page
    assert "<title>penguins &lt;profile&gt;</title>" in page
    assert "Cramér&#x27;s V" in page or "Cramér's V" in page


def test_cli_writes_the_page(tmp_path):
    out = tmp_path / "sub" / "penguins.html"
    result = CliRunner().invoke(app, ["profile", str(datasets.path()), "--target", "species", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.is_file() and "flipper_length_mm" in out.read_text(encoding="utf-8")
    assert "344 rows" in result.output and "most associated with species" in result.output
    assert "penguins.html" in result.output


def test_cli_missing_file_and_bad_target(tmp_path):
    result = CliRunner().invoke(app, ["profile", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "p.html")])
    assert result.exit_code == 2 and "file not found" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(app, ["profile", str(datasets.path()), "-t", "specie", "-o", str(tmp_path / "p.html")])
    assert result.exit_code == 2 and "no column named 'specie'" in result.output
    assert not (tmp_path / "p.html").exists()
