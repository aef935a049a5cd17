import json

import pytest

from assay import ArtifactError, Predictor, SchemaError
from tests.conftest import make_frame


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    frame = make_frame(300, "binary")
    predictor = Predictor("y", trials=2, families=["lightgbm"], verbose=False).fit(frame)
    folder = predictor.save(tmp_path_factory.mktemp("m") / "model")
    return predictor, folder, frame


def test_round_trip_identical_predictions(saved):
    predictor, folder, frame = saved
    loaded = Predictor.load(folder)
    assert (loaded.predict_proba(frame).to_numpy() == predictor.predict_proba(frame).to_numpy()).all()
    manifest = json.loads((folder / "manifest.json").read_text())
    for key in ("input_schema", "task", "metric", "seed", "libraries", "data_fingerprint", "trials", "files"):
        assert key in manifest
    assert (folder / "ensemble").is_dir() and not list(folder.rglob("*.pkl"))
    board = loaded.leaderboard()
    assert board.iloc[0]["model"] == "ensemble"
    rank = board["status"].map({"ok": 0, "pruned": 1, "failed": 2})
    assert rank.is_monotonic_increasing


def test_tampered_file_is_refused(saved, tmp_path):
    import shutil

    _, folder, _ = saved
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    victim = next(p for p in copy.rglob("*.txt"))
    victim.write_text(victim.read_text().replace("learning_rate", "learning_rata", 1))
    with pytest.raises(ArtifactError, match="modified after saving"):
        Predictor.load(copy)


def test_incomplete_and_incompatible_folders_are_refused(saved, tmp_path):
    import shutil

    _, folder, _ = saved
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["libraries"]["lightgbm"] = "1.0.0"
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="saved with lightgbm 1.0.0"):
        Predictor.load(copy)
    (copy / "manifest.json").unlink()
    with pytest.raises(ArtifactError, match="no manifest.json"):
        Predictor.load(copy)
    with pytest.raises(ArtifactError, match="no model folder"):
        Predictor.load(tmp_path / "nowhere")


def test_schema_contract_at_prediction(saved):
    predictor, _, frame = saved
    with pytest.raises(SchemaError, match="'colour'"):
        predictor.predict(frame.drop(columns=["colour"]))
    with pytest.warns(UserWarning, match="ignoring 1 column"):
        predictor.predict(frame.assign(extra=1))
    unseen = frame.assign(colour="purple")
    assert len(predictor.predict(unseen)) == len(frame)
