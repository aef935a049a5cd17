"""What the scheduler takes from the knowledge base: a learnt portfolio's measured costs keep it
within the budget, warm-start configurations are what each tuner tries first, and the CLI's
`--search evolve --remember` reaches the search and the knowledge base."""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from assay.cli import app
from assay.preprocess.steps import is_identity, split_genes
from assay.search.budget import Deadline
from assay.search.scheduler import Scheduler
from assay.search.strategies import PortfolioStrategy
from assay.task import Task
from tests.conftest import make_frame

TASK = Task("binary", ("a", "b"))
ENTRIES = [
    {"family": "linear", "params": {"C": 0.5}, "tasks": ["binary"], "seconds": 6.0},  # 6 s per 1,000 rows, 3 folds
    {"family": "lightgbm", "params": {"num_leaves": 15}, "tasks": ["binary"], "seconds": 0.5},
    {"family": "linear", "params": {}, "tasks": ["regression"], "seconds": 0.1},  # another task kind
]


def _scheduler(tuner="tpe", timed=True, n_rows=2000):
    families = ["lightgbm", "catboost", "linear"]
    portfolio = PortfolioStrategy(ENTRIES, families, TASK, n_rows, 10)
    return Scheduler(portfolio, families, TASK, n_rows, 10, seed=0, timed=timed, n_folds=5, tuner=tuner)


def test_a_learnt_entry_that_cannot_fit_is_skipped():
    # the linear fit cannot stop early: 6 s x 2 (rows) x 5/3 (folds) = 20 s > 40 % of 40 s
    first = _scheduler().propose([], Deadline.after(40))
    assert first[:3] == ("lightgbm", first[1], "portfolio") and first[1]["num_leaves"] == 15
    assert _scheduler().propose([], Deadline.after(60))[0] == "linear"  # 20 s <= 24 s
    untimed = _scheduler(timed=False).propose([], Deadline.never())  # a trial budget never skips
    assert untimed[0] == "linear" and untimed[1]["C"] == 0.5


def test_a_learnt_entry_too_slow_for_now_waits_behind_the_cheaper_ones_once():
    entries = [
        {"family": "lightgbm", "params": {"num_leaves": 99}, "tasks": ["binary"], "seconds": 30.0},  # can stop early
        {"family": "linear", "params": {"C": 0.5}, "tasks": ["binary"], "seconds": 6.0},  # cannot
        {"family": "lightgbm", "params": {"num_leaves": 15}, "tasks": ["binary"], "seconds": 0.5},
    ]
    families = ["lightgbm", "linear"]
    s = Scheduler(PortfolioStrategy(entries, families, TASK, 2000, 10), families, TASK, 2000, 10, 0, True, 5)
    deadline = Deadline.after(40)
    order = [s.propose([], deadline)[:2] for _ in range(2)]
    # both slow entries wait: 100 s and 20 s > 16 s (40 % of 40 s); the cheap one runs first
    assert [(f, p["num_leaves"]) for f, p in order[:1]] == [("lightgbm", 15)]
    # the slow boosting entry's second turn: it runs, stopped by its allowance; the linear one is skipped
    assert (order[1][0], order[1][1]["num_leaves"]) == ("lightgbm", 99)
    assert s.propose([], deadline)[2] == "tpe" and len(s.portfolio) == 0


def test_warm_start_configurations_come_first_from_each_tuner():
    s = _scheduler(timed=False)
    while len(s.portfolio):
        s.portfolio.ask()
    s.warm_start({"lightgbm": [{"num_leaves": 77, "learning_rate": 0.05, "unknown": 1}]})
    family, params, origin, _ = s.propose([], Deadline.never())
    assert (family, origin) == ("lightgbm", "tpe")
    assert params["num_leaves"] == 77 and math.isclose(params["learning_rate"], 0.05) and "unknown" not in params


def test_warm_start_reaches_the_evolutionary_search_too():
    s = _scheduler(tuner="evolve", timed=False)
    while len(s.portfolio):
        s.portfolio.ask()
    s.warm_start({"linear": [{"C": 3.0}]})
    family, params, origin, _ = s.propose([], Deadline.never())
    assert (family, origin) == ("pipeline:linear", "evolve") and params["C"] == 3.0


def test_cli_fit_search_evolve_remember(tmp_path):
    data = tmp_path / "train.csv"
    make_frame(520, seed=5).to_csv(data, index=False)  # above 500 rows: plain 5-fold, cheaper than repeated CV
    args = ["fit", str(data), "-t", "y", "--trials", "3", "--families", "linear", "--search", "evolve"]
    result = CliRunner().invoke(app, [*args, "--remember", "--out", str(tmp_path / "m")])
    assert result.exit_code == 0, result.output
    from assay.knowledge.store import KnowledgeStore

    (task,) = KnowledgeStore().tasks()  # ASSAY_HOME is this test's own folder
    trials = KnowledgeStore().trials(task.id)
    assert task.name == "train.csv:y" and len(trials) == 3
    assert {(t.family, t.origin) for t in trials} == {("pipeline:linear", "evolve")}
    bad = CliRunner().invoke(app, [*args, "--search", "annealing"])
    assert bad.exit_code == 2 and "unknown search" in bad.output


def test_evolution_does_not_refit_a_portfolio_configuration_as_a_do_nothing_pipeline():
    from assay.search.trial import TrialResult, TrialSpec

    families = ["lightgbm", "linear"]
    defaults_entry = [{"family": "lightgbm", "params": {}}]  # what evolution would propose first
    portfolio = PortfolioStrategy(defaults_entry, families, TASK, 500, 10)
    s = Scheduler(portfolio, families, TASK, 500, 10, seed=0, timed=False, n_folds=5, tuner="evolve")
    results = []
    while len(s.portfolio):
        family, params, origin, _ = s.propose(results, Deadline.never())
        result = TrialResult(TrialSpec(len(results), family, params, 0, origin), "ok", 0.1 * len(results), 0.0)
        s.tell(result)
        results.append(result)
    seen = {(r.spec.family, json.dumps(r.spec.params, sort_keys=True)) for r in results}
    assert len(results) == 2  # lightgbm's defaults, then linear's (a family the list left out)
    for _ in range(10):  # evolution starts from each family's defaults: both already measured
        family, params, origin, _ = s.propose(results, Deadline.never())
        genes, own = split_genes(params)
        plain = (family.removeprefix("pipeline:"), json.dumps(own, sort_keys=True))
        assert origin == "evolve" and not (is_identity(genes) and plain in seen)
        result = TrialResult(TrialSpec(len(results), family, params, 0, origin), "ok", 0.05, 0.0)
        s.tell(result)
        results.append(result)


def test_bench_matrix_names_evolve_portfolios_and_warm_start():
    from assay.bench.harness import matrix_entries, parse_matrix
    from assay.bench.suite import BenchError
    from assay.bench.systems.assay_system import predictor_options

    matrix = parse_matrix("search=portfolio,tpe,random,evolve; portfolio=default,learnt; warm_start=off,on")
    labels = [e.label for e in matrix_entries(matrix)]
    assert labels[0] == "assay" and "assay[search=evolve]" in labels
    assert "assay[portfolio=learnt]" in labels and "assay[warm_start=on]" in labels
    options = predictor_options({"search": "evolve", "portfolio": "learnt", "warm_start": "on"})
    assert options["settings"] == {"search": "evolve", "portfolio": "learnt", "warm_start": True}
    with pytest.raises(BenchError, match="no portfolio named"):
        predictor_options({"portfolio": "nonesuch"})


def test_a_family_the_learnt_portfolio_left_out_still_starts_from_its_defaults():
    from assay.models.registry import get_family
    from assay.search.space import defaults

    queue = PortfolioStrategy(ENTRIES, ["lightgbm", "knn"], TASK, 500, 10)
    proposals = [queue.ask() for _ in range(len(queue))]
    assert proposals[0][0] == "lightgbm" and proposals[-1] == (
        "knn",
        defaults(get_family("knn").search_space(TASK, 500, 10)),
    )
    assert len(PortfolioStrategy([], ["lightgbm", "knn"], TASK, 500, 10)) == 0  # no portfolio: nothing added
