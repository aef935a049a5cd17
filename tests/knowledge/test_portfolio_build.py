"""Portfolio construction: normalisation and the greedy choice on tables with known answers,
and the honest corpus (the evaluation suite's datasets and their copies left out)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from assay.knowledge.build import greedy_portfolio, held_out_anytime, held_out_curve, make_candidates, normalise
from assay.knowledge.corpus import Fingerprint, duplicate_reason, same_data, same_name
from tests.conftest import SHARED


def test_normalise_maps_best_to_zero_median_to_one_and_failures_to_one():
    errors = np.array([[1.0, 10.0], [2.0, 10.0], [3.0, 10.0], [1.5, math.nan]])
    norm = normalise(errors)
    # column 0: best 1, median of (1, 2, 3, 1.5) = 1.75 -> (e - 1) / 0.75, clipped to [0, 1]
    assert norm[:, 0] == pytest.approx([0.0, 1.0, 1.0, 0.5 / 0.75])
    # column 1: every finite value equal -> all best; the failure counts as the worst
    assert norm[:, 1].tolist() == [0.0, 0.0, 0.0, 1.0]


def test_greedy_portfolio_known_answer_differs_from_sorting_by_mean():
    table = np.array(
        [
            [0.0, 1.0, 1.0, 1.0],  # A: only good on dataset 0
            [1.0, 0.0, 1.0, 1.0],  # B: only good on dataset 1
            [1.0, 1.0, 0.0, 0.0],  # C: good on 2 and 3
            [0.3, 0.3, 0.3, 0.3],  # D: the best single configuration
            [0.35, 0.35, 0.35, 0.35],  # E: second by mean, adds nothing once D is in
        ]
    )
    # D (mean .3); then C (.15); then A and B tie at .075 -> lower index A; then B -> 0; E never helps
    assert greedy_portfolio(table, 10) == [3, 2, 0, 1]
    assert greedy_portfolio(table, 2) == [3, 2]
    assert list(np.argsort(table.mean(axis=1), kind="stable")[:2]) == [3, 4]  # what sorting would pick


def test_held_out_curve_scores_each_dataset_with_a_portfolio_built_without_it():
    table = np.array([[0.0, 0.4, 1.0], [1.0, 0.0, 0.0], [0.3, 0.3, 0.3]])
    # without dataset 0: row 1 alone is perfect elsewhere -> on dataset 0: 1, 1
    # without dataset 1: row 2 (mean .3), then row 0 (tie with row 1, lower index) -> .3, min(.3, .4) = .3
    # without dataset 2: row 0 (mean .2), then row 1 -> on dataset 2: 1, 0
    assert held_out_curve(table, 2) == pytest.approx([(1 + 0.3 + 1) / 3, (1 + 0.3 + 0) / 3], abs=1e-4)


def test_candidates_are_deterministic_and_include_defaults():
    from assay.models.registry import get_family
    from assay.search.space import defaults
    from assay.task import Task

    a = make_candidates(["lightgbm", "linear"], 2, seed=0)
    b = make_candidates(["lightgbm", "linear"], 2, seed=0)
    assert [(c.kind, c.key) for c in a] == [(c.kind, c.key) for c in b]
    assert {c.kind for c in a} == {"binary", "multiclass", "regression"}
    reg_linear = [c for c in a if c.kind == "regression" and c.family == "linear"]
    assert reg_linear[0].params == defaults(get_family("linear").search_space(Task("regression"), 1000, 20))
    assert "alpha" in reg_linear[0].params  # regression space, not the classifier's C
    assert len(a) == 3 * 2 * 3


def _fast_and_slow():
    """A: perfect everywhere but slow; B: good and quick; C: fair and quicker still (3 datasets)."""
    table = np.array([[0.0, 0.0, 0.0], [0.2, 0.2, 0.2], [0.5, 0.5, 0.5]])
    seconds = np.array([[10.0, 10.0, 10.0], [1.0, 1.0, 1.0], [0.5, 0.5, 0.5]])
    return table, seconds


def test_cost_aware_greedy_takes_the_largest_gain_per_second_first():
    table, seconds = _fast_and_slow()
    # gains per second from 1 (+0.05 s overhead each): A 1/10.05, B .8/1.05, C .5/.55 -> C;
    # then from .5: A .5/10.05, B .3/1.05 -> B; then A .2/10.05
    assert greedy_portfolio(table, 10, seconds.mean(axis=1)) == [2, 1, 0]
    assert greedy_portfolio(table, 10) == [0]  # by gain alone: A, after which nothing improves


def test_held_out_anytime_curve_shows_what_a_short_budget_gets():
    table, seconds = _fast_and_slow()
    # by gain per second: C done at .55 s (.5), B at 1.6 s (.2), A at 11.65 s (0)
    assert held_out_anytime(table, seconds, [1, 2, 20], 5, cost_aware=True) == pytest.approx([0.5, 0.2, 0.0])
    # by gain alone: A alone, done at 10.05 s; nothing before
    assert held_out_anytime(table, seconds, [1, 2, 20], 5, cost_aware=False) == pytest.approx([1.0, 1.0, 0.0])


def test_a_portfolios_configurations_join_the_candidates_completed_with_defaults():
    from assay.models.registry import get_family
    from assay.search.space import defaults
    from assay.task import Task

    hand = [
        {"family": "lightgbm", "params": {"learning_rate": 0.08, "num_leaves": 31}},
        {"family": "linear", "params": {}},  # the family's defaults: not a second candidate
        {"family": "knn", "params": {"n_neighbors": 10}},  # a family not searched: left out
        {"family": "lightgbm", "params": {"num_leaves": 7}, "tasks": ["regression"]},
    ]
    plain = make_candidates(["lightgbm", "linear"], 2, seed=0)
    cands = make_candidates(["lightgbm", "linear"], 2, seed=0, extra=hand)
    binary = [c for c in cands if c.kind == "binary"]
    space = get_family("lightgbm").search_space(Task("binary", (0, 1)), 1000, 20)
    assert binary[1].family == "lightgbm"  # right after the family's defaults
    assert binary[1].params == {**defaults(space), "learning_rate": 0.08, "num_leaves": 31}
    assert len(binary) == 3 * 2 + 1 and all(c.family != "knn" for c in cands)
    assert sum(c.kind == "regression" for c in cands) == 3 * 2 + 2  # the regression-only entry too
    # the random draws are the same as without extra candidates, so earlier measurements still count
    assert {c.key for c in plain} <= {c.key for c in cands}


@pytest.mark.parametrize(
    "a,b,same",
    [
        ("197_cpu_act", "573_cpu_act", True),
        ("car", "car_evaluation", True),
        ("Hill_Valley_with_noise", "hill_valley_noise", True),
        ("561_cpu", "cpu_act", False),  # one shared word proves nothing
        ("fri_c0_100_5", "fried", False),
        ("cars", "car", False),
    ],
)
def test_same_name(a, b, same):
    assert same_name(a, b) is same


def test_same_data_catches_renamed_copies_and_column_subsets_but_not_other_tables():
    rng = np.random.default_rng(0)
    base = pd.DataFrame(rng.normal(size=(500, 6)), columns=list("abcdef"))
    renamed = base.rename(columns=str.upper).sample(frac=1.0, random_state=1)  # shuffled rows, new names
    subset = base[["a", "c", "e"]].iloc[:480]  # a copy that lost a few rows and half the columns
    other = pd.DataFrame(rng.normal(size=(500, 6)) * 2 + 1)
    fp = Fingerprint.of("x", base)
    assert same_data(Fingerprint.of("y", renamed), fp)
    assert same_data(Fingerprint.of("y", subset), fp)
    assert not same_data(Fingerprint.of("z", other), fp)
    assert duplicate_reason(Fingerprint.of("z", other, "https://x/1"), Fingerprint.of("x", base, "https://x/1"))


@pytest.mark.skipif(not (SHARED / "pmlb").is_dir(), reason="needs ../shared/datasets/pmlb")
def test_real_copies_in_pmlb_are_found():
    from assay.knowledge.corpus import list_corpus, split_corpus

    corpus = [d for d in list_corpus(SHARED / "pmlb") if d.name in ("227_cpu_small", "chess", "iris", "561_cpu")]
    held = [
        Fingerprint.of(
            "cpu_act", pd.read_csv(SHARED / "pmlb/197_cpu_act/197_cpu_act.tsv.gz", sep="\t").drop(columns="target")
        ),
        Fingerprint.of(
            "kr_vs_kp", pd.read_csv(SHARED / "pmlb/kr_vs_kp/kr_vs_kp.tsv.gz", sep="\t").drop(columns="target")
        ),
    ]
    kept, excluded = split_corpus(corpus, held)
    assert {d.name for d in kept} == {"iris", "561_cpu"}
    assert excluded["227_cpu_small"].startswith("same data as cpu_act")  # a column subset under another name
    assert excluded["chess"].startswith("same data as kr_vs_kp")
