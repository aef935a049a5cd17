"""Rollback and the decision record, on SQLite and PostgreSQL; a registry from before the decisions
table still opens; the `assay models rollback / decisions / promote --reason` commands."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, inspect
from typer.testing import CliRunner

from assay.cli import app
from assay.errors import RegistryError
from assay.registry import Decision, Registry
from assay.registry.db import Base
from assay.registry.decisions import previous_production


def test_rollback_walks_back_promotions_and_records_why(model_dir, registry_url, tmp_path):
    with Registry(registry_url, home=tmp_path / "home") as reg:
        for _ in range(3):
            reg.register(model_dir, "churn")
        with pytest.raises(RegistryError, match="no production version to roll back"):
            reg.rollback("churn")
        reg.promote("churn", 1)
        with pytest.raises(RegistryError, match="nothing to roll back to.*promote a version by hand"):
            reg.rollback("churn")
        reg.promote("churn", 2, reason="better on March")
        reg.promote("churn", 3)

        restored = reg.rollback("churn", reason="v3 misbehaves")
        assert restored.version == 2 and restored.stage == "production"
        assert [(r.version, r.stage) for r in reg.list("churn")] == [
            (1, "archived"),
            (2, "production"),
            (3, "archived"),
        ]
        assert (reg.show("churn", 3).path / "manifest.json").is_file()  # archived, never deleted
        assert reg.rollback("churn").version == 1  # a second rollback undoes the promotion before
        with pytest.raises(RegistryError, match="nothing to roll back to"):
            reg.rollback("churn")

        history = reg.decisions("churn")
        assert [(d.action, d.champion_version, d.challenger_version) for d in history] == [
            ("rolled_back", 2, 1),
            ("rolled_back", 3, 2),
            ("promoted", 2, 3),
            ("promoted", 1, 2),
            ("promoted", None, 1),
        ]
        assert history[1].reason == "v3 misbehaves" and history[3].reason == "better on March"
        assert history[-1].reason == "promoted by hand" and history[0].created is not None
        assert history[0].production_version == 1 and [d.id for d in reg.decisions("churn", limit=2)] == [
            history[0].id,
            history[1].id,
        ]

        reg.promote("churn", 3)
        reg.delete("churn", 2, force=False)  # archived: may go; the rollback skips it
        assert reg.rollback("churn").version == 1

        kept = reg.record_decision(
            Decision(
                "churn",
                "kept",
                "challenger not better",
                champion_version=1,
                challenger_version=3,
                metric="roc_auc",
                champion_score=0.9,
                p_value=float("nan"),
                details={"x": float("inf")},
            )
        )
        assert kept.id is not None and kept.p_value is None and kept.details == {"x": None}  # no NaN stored
        assert reg.last_decision("churn").id == kept.id
        with pytest.raises(RegistryError, match="recorded by the stage change"):
            reg.record_decision(Decision("churn", "promoted", "by hand", challenger_version=3))
        with pytest.raises(RegistryError, match="no model named"):
            reg.decisions("nope")


def test_promote_refuses_when_production_moved_under_a_retraining(model_dir, tmp_path):
    with Registry(home=tmp_path / "home") as reg:
        for _ in range(3):
            reg.register(model_dir, "m")
        reg.promote("m", 1)
        reg.promote("m", 2)  # someone promoted by hand while v3 was compared with v1
        with pytest.raises(RegistryError, match="changed to 2 while v3 was compared with v1"):
            reg.promote("m", 3, expected_production=1)
        assert reg.production("m").version == 2


def test_history_replay_is_a_stack():
    def d(action, champion, challenger):
        return Decision("m", action, "-", champion_version=champion, challenger_version=challenger)

    history = [d("promoted", None, 1), d("promoted", 1, 2), d("promoted", 2, 4), d("rolled_back", 4, 2)]
    assert previous_production(history, 2, lambda v: True) == 1
    assert previous_production(history, 2, lambda v: v != 1) is None
    # Production changed outside the records (a registry older than them): rollback knows nothing.
    assert previous_production([d("promoted", 5, 6)], 6, lambda v: True) == 5
    assert previous_production([], 3, lambda v: True) is None


def test_a_registry_from_before_decisions_opens_and_gains_the_table(model_dir, tmp_path):
    path = tmp_path / "home" / "registry.db"
    path.parent.mkdir(parents=True)
    engine = create_engine(f"sqlite:///{path}")
    old_tables = [t for name, t in Base.metadata.tables.items() if name != "decisions"]
    Base.metadata.create_all(engine, tables=old_tables)
    assert "decisions" not in inspect(engine).get_table_names()
    engine.dispose()
    with Registry(home=tmp_path / "home") as reg:
        reg.register(model_dir, "old")
        reg.promote("old", 1)
        assert [d.action for d in reg.decisions("old")] == ["promoted"]
    engine = create_engine(f"sqlite:///{path}")
    assert "decisions" in inspect(engine).get_table_names()
    engine.dispose()


def test_cli_rollback_and_decisions(model_dir, tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"

    def run(*args):
        return CliRunner().invoke(app, [*args, "--registry", url], env={"ASSAY_HOME": str(tmp_path / "home")})

    for _ in range(2):
        assert run("models", "register", str(model_dir), "--name", "churn").exit_code == 0
    assert run("models", "promote", "churn", "1").exit_code == 0
    assert run("models", "promote", "churn", "2", "--reason", "fresher data").exit_code == 0
    rolled = run("models", "rollback", "churn", "--reason", "complaints")
    assert rolled.exit_code == 0 and "v1 is in production again, v2 archived" in rolled.output, rolled.output
    refused = run("models", "rollback", "churn")
    assert refused.exit_code == 2 and "nothing to roll back to" in refused.output
    table = run("models", "decisions", "churn")
    assert table.exit_code == 0 and "rolled_back" in table.output and "complaints" in table.output, table.output
    listed = json.loads(run("models", "decisions", "churn", "--json").output)
    assert [(d["action"], d["reason"]) for d in listed] == [
        ("rolled_back", "complaints"),
        ("promoted", "fresher data"),
        ("promoted", "promoted by hand"),
    ]
    assert run("models", "decisions", "nope").exit_code == 2
