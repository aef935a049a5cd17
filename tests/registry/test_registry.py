"""The registry's operations and its API tokens, on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from assay.cli import app
from assay.errors import RegistryError
from assay.registry import Registry
from tests.conftest import make_frame


def test_register_list_promote_archive_delete_load(model_dir, registry_url, tmp_path):
    with Registry(registry_url, home=tmp_path / "home") as reg:
        v1 = reg.register(model_dir, "churn", {"team": "risk"}, source="postgresql://me:secret@db/sales")
        v2 = reg.register(model_dir, "churn")
        assert (v1.version, v2.version, v1.stage) == (1, 2, "candidate")
        assert v1.path == tmp_path / "home" / "models" / "churn" / "1" and (v1.path / "manifest.json").is_file()
        manifest = json.loads((model_dir / "manifest.json").read_text())
        assert v1.data_fingerprint == manifest["data_fingerprint"] and v1.assay_version == manifest["assay_version"]
        assert list(v1.metrics) == [f"val_{manifest['metric']}"] and v1.tags == {"team": "risk"}
        assert v1.source == "postgresql://me:***@db/sales"  # lineage never keeps a password
        assert [(r.name, r.version) for r in reg.list()] == [("churn", 1), ("churn", 2)]
        assert reg.show("churn").version == 2 and reg.show("churn", 1) == v1

        with pytest.raises(RegistryError, match="no version production"):
            reg.load("churn")
        reg.promote("churn", 1)
        assert reg.production("churn").version == 1
        reg.promote("churn", 2)  # the champion rule: one production, the previous one archived
        assert [r.stage for r in reg.list("churn")] == ["archived", "production"]
        frame = make_frame(50)
        assert len(reg.load("churn").predict(frame)) == 50 and reg.load("churn", 1).info["target"] == "y"

        with pytest.raises(RegistryError, match="in production"):
            reg.delete("churn", 2)
        gone = reg.delete("churn", 1)
        assert not gone.path.exists() and [r.version for r in reg.list("churn")] == [2]
        assert reg.register(model_dir, "churn").version == 3  # a deleted number is never reused
        reg.archive("churn", 2)
        assert reg.show("churn", 2).stage == "archived"
        reg.delete("churn", 2)
        assert reg.names() == ["churn"]


def test_clear_errors(model_dir, tmp_path):
    reg = Registry(home=tmp_path / "home")  # the default: a SQLite file in the home folder
    assert (tmp_path / "home" / "registry.db").is_file()
    with pytest.raises(RegistryError, match="no model named 'nope'.*register one"):
        reg.show("nope")
    reg.register(model_dir, "m")
    with pytest.raises(RegistryError, match="no model named 'nope'.*\\['m'\\]"):
        reg.promote("nope", 1)
    with pytest.raises(RegistryError, match="m has no version 7.*versions: \\[1\\]"):
        reg.show("m", 7)
    with pytest.raises(RegistryError, match="not a version"):
        reg.show("m", "seven")
    with pytest.raises(RegistryError, match="not allowed"):
        reg.register(model_dir, "../escape")
    with pytest.raises(RegistryError, match="cannot register a dict"):
        reg.register({}, "m")
    from assay.errors import ArtifactError

    with pytest.raises(ArtifactError, match="no model folder"):
        reg.register(tmp_path / "missing", "m")
    manifest = reg.show("m", 1).path / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"seed"', '"seed" ', 1))
    with pytest.raises(RegistryError, match="changed since registration"):
        reg.load("m", 1)
    assert [r.version for r in reg.list()] == [1]


def test_register_a_fitted_predictor_and_the_env_defaults(model_dir, tmp_path, monkeypatch):
    from assay import Predictor

    monkeypatch.setenv("ASSAY_HOME", str(tmp_path / "envhome"))
    monkeypatch.setattr(Predictor, "_report_into", lambda self, folder: None)
    reg = Registry()
    assert reg.home == tmp_path / "envhome" and reg.url.endswith("envhome/registry.db")
    record = reg.register(Predictor.load(model_dir), "from-python")
    assert record.version == 1 and (record.path / "manifest.json").is_file()
    assert not [p for p in record.path.parent.iterdir() if p.name.startswith(".")]  # no staging left behind


def test_tokens_are_hashed_verified_and_revoked(registry_url, tmp_path):
    with Registry(registry_url, home=tmp_path / "home") as reg:
        secret = reg.create_token("web-app")
        other = reg.create_token("ci")
        assert reg.verify_token(secret) and reg.verify_token(other)
        assert not reg.verify_token(secret[:-1] + ("A" if secret[-1] != "A" else "B"))
        assert not reg.verify_token("") and not reg.verify_token("assay_nope_x") and not reg.verify_token(None)
        tokens = reg.list_tokens()
        assert {t.label for t in tokens} == {"web-app", "ci"} and all(t.active for t in tokens)
        token_id = secret.split("_")[1]
        assert reg.revoke_token(token_id).revoked is not None
        assert not reg.verify_token(secret) and reg.verify_token(other)
        with pytest.raises(RegistryError, match="no token with id"):
            reg.revoke_token("missing")
    engine = create_engine(registry_url)
    with engine.connect() as conn:
        dump = json.dumps([list(map(str, row)) for row in conn.execute(text("SELECT * FROM tokens"))])
    engine.dispose()
    assert secret.split("_", 2)[2] not in dump and other.split("_", 2)[2] not in dump


def test_cli_models_and_tokens(model_dir, tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()

    def run(*args):
        result = runner.invoke(app, [*args, "--registry", url], env={"ASSAY_HOME": str(tmp_path / "home")})
        return result

    ok = run("models", "register", str(model_dir), "--name", "churn", "--tag", "team=risk")
    assert ok.exit_code == 0 and "churn" in ok.output and "v1" in ok.output, ok.output
    assert run("models", "register", str(model_dir), "--name", "churn").exit_code == 0
    listed = run("models", "list")
    assert listed.exit_code == 0 and "candidate" in listed.output and "team=risk" in listed.output, listed.output
    assert run("models", "promote", "churn", "2").exit_code == 0
    shown = run("models", "show", "churn", "--version", "production", "--json")
    assert shown.exit_code == 0 and json.loads(shown.output)["version"] == 2, shown.output
    refused = run("models", "delete", "churn", "2")
    assert refused.exit_code == 2 and "in production" in refused.output
    assert run("models", "delete", "churn", "2", "--force").exit_code == 0
    assert run("models", "archive", "churn", "1").exit_code == 0
    bad = run("models", "register", str(model_dir), "--name", "churn", "--tag", "oops")
    assert bad.exit_code == 2 and "key=value" in bad.output
    unknown = run("models", "show", "nope")
    assert unknown.exit_code == 2 and "no model named" in unknown.output

    created = run("tokens", "create", "web-app")
    assert created.exit_code == 0, created.output
    secret = created.output.split()[0]
    assert Registry(url, home=tmp_path / "home").verify_token(secret)
    listed = run("tokens", "list")
    assert listed.exit_code == 0 and "web-app" in listed.output and secret not in listed.output
    assert run("tokens", "revoke", secret.split("_")[1]).exit_code == 0
    assert not Registry(url, home=tmp_path / "home").verify_token(secret)
    assert run("tokens", "revoke", "nope").exit_code == 2


def test_fit_registers_with_register_flag(model_dir, tmp_path, monkeypatch):
    from assay import Predictor

    # The fit itself is tested elsewhere; here only what --register adds to it.
    monkeypatch.setattr(Predictor, "fit", lambda self, data, callbacks=(), **kwargs: Predictor.load(model_dir))
    monkeypatch.setattr(Predictor, "_report_into", lambda self, folder: None)
    make_frame(200).to_csv(tmp_path / "train.csv", index=False)
    env = {"ASSAY_HOME": str(tmp_path / "home"), "ASSAY_REGISTRY_URL": ""}
    args = ["fit", str(tmp_path / "train.csv"), "-t", "y", "--trials", "1", "--families", "lightgbm"]
    refused = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "m0"), "--register", "no/slashes"], env=env)
    assert refused.exit_code == 2 and "not allowed" in refused.output and not (tmp_path / "m0").exists()
    fitted = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "m1"), "--register", "churn"], env=env)
    assert fitted.exit_code == 0 and "registered as churn v1" in fitted.output, fitted.output
    record = Registry(home=tmp_path / "home").show("churn")
    assert record.source == str((tmp_path / "train.csv").resolve())
