"""Faults around model folders: damaged, truncated or tampered folders, pickle payloads, a save
killed with SIGKILL at its worst moments, and a disk that will not take the data. Each leaves a
consistent state and a message naming the folder and the fix."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assay import Predictor
from assay.artifact.store import PAUSE_ENV
from assay.cli import app
from assay.errors import ArtifactError, StorageError
from tests.conftest import make_frame


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("model") / "model"
    Predictor("y", trials=2, families=["lightgbm"], verbose=False).fit(make_frame(200)).save(folder)
    return folder


@pytest.fixture
def copy(saved, tmp_path) -> Path:
    target = tmp_path / "model"
    shutil.copytree(saved, target)
    return target


def _rehash(folder: Path) -> None:
    """What a careful attacker does: make the manifest's checksums match the altered files."""
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"] = {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "manifest.json" and not p.name.startswith("report.")
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _booster(folder: Path) -> Path:
    return next(p for p in sorted((folder / "ensemble").rglob("*")) if p.is_file() and p.suffix == ".txt")


def test_truncated_model_file_is_refused(copy):
    booster = _booster(copy)
    booster.write_bytes(booster.read_bytes()[: booster.stat().st_size // 2])
    with pytest.raises(ArtifactError, match="checksum mismatch"):
        Predictor.load(copy)


def test_truncated_or_missing_manifest_is_refused(copy):
    manifest = copy / "manifest.json"
    manifest.write_text(manifest.read_text()[:100])
    with pytest.raises(ArtifactError, match="not valid JSON"):
        Predictor.load(copy)
    manifest.unlink()
    with pytest.raises(ArtifactError, match="no manifest.json"):
        Predictor.load(copy)


def test_missing_file_is_refused(copy):
    _booster(copy).unlink()
    with pytest.raises(ArtifactError, match="is missing"):
        Predictor.load(copy)


def test_garbage_with_matching_checksums_is_an_artifact_error(copy):
    """A file that passes the checksums but no library can read: the folder's fault, said plainly."""
    _booster(copy).write_bytes(os.urandom(4096))
    _rehash(copy)
    with pytest.raises(ArtifactError, match="could not be read"):
        Predictor.load(copy)


class _Payload:
    """Unpickling this creates the sentinel file: proof that code ran."""

    def __init__(self, sentinel: Path):
        self.sentinel = sentinel

    def __reduce__(self):
        return (Path.touch, (self.sentinel,))


@pytest.mark.parametrize("name", ["ensemble/extra.pkl", "ensemble/member_0/innocent.bin"])
def test_pickle_payload_is_refused_and_never_unpickled(copy, tmp_path, name):
    sentinel = tmp_path / "pwned"
    payload = copy / name
    payload.parent.mkdir(parents=True, exist_ok=True)
    payload.write_bytes(pickle.dumps(_Payload(sentinel), protocol=4))
    _rehash(copy)
    with pytest.raises(ArtifactError, match="carries a pickle"):
        Predictor.load(copy)
    result = CliRunner().invoke(app, ["leaderboard", str(copy)])
    assert result.exit_code == 2 and "carries a pickle" in " ".join(result.output.split())
    assert not sentinel.exists()


def test_untrusted_type_in_a_skops_file_is_refused(tmp_path):
    """skops files hold scikit-learn objects; one holding anything else is refused unread."""
    import skops.io as sio

    copy = tmp_path / "linear"
    Predictor("y", trials=1, families=["linear"], verbose=False).fit(make_frame(200)).save(copy)
    target = next((copy / "ensemble").rglob("model.skops"))
    sio.dump({"payload": _Payload(tmp_path / "pwned")}, target)
    _rehash(copy)
    with pytest.raises(ArtifactError, match="types outside scikit-learn.*_Payload"):
        Predictor.load(copy)
    assert not (tmp_path / "pwned").exists()


_SAVE_SCRIPT = textwrap.dedent(
    """
    import sys
    from assay import Predictor
    Predictor.load(sys.argv[1]).save(sys.argv[2])
    print("saved", flush=True)
    """
)


def _save_in_child(source: Path, dest: Path, pause: str | None) -> subprocess.Popen:
    env = {**os.environ, PAUSE_ENV: pause} if pause else dict(os.environ)
    return subprocess.Popen(
        [sys.executable, "-c", _SAVE_SCRIPT, str(source), str(dest)], stdout=subprocess.PIPE, text=True, env=env
    )


@pytest.mark.parametrize("point", ["written", "swapping"])
@pytest.mark.parametrize("previous", [True, False])
def test_kill_9_during_save(saved, tmp_path, point, previous):
    """Killed while writing (manifest not yet written) or between the two renames: the name holds
    the previous model (put back if need be) or nothing, never a half-written folder, and the
    leftovers are cleared by the next load or save."""
    dest = tmp_path / "model"
    if previous:
        shutil.copytree(saved, dest)
        before = json.loads((dest / "manifest.json").read_text())["created"]
    proc = _save_in_child(saved, dest, point)
    assert proc.stdout.readline().strip() == f"paused at {point}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    if previous:
        assert json.loads((Predictor.load(dest)._folder / "manifest.json").read_text())["created"] == before
    else:
        with pytest.raises(ArtifactError, match="no model folder here"):
            Predictor.load(dest)
    assert [p.name for p in tmp_path.iterdir()] == (["model"] if previous else []), "leftovers remain"
    Predictor.load(saved).save(dest)  # and the name takes a new save
    assert Predictor.load(dest).leaderboard().shape[0] > 0


_LIMITED = textwrap.dedent(
    """
    import resource, signal, sys
    from assay import Predictor
    from assay.errors import AssayError
    model = Predictor.load(sys.argv[1])
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
    try:
        if sys.argv[3] == "save":
            model.save(sys.argv[2])
        else:
            model.predict_file(sys.argv[4], sys.argv[2])
    except AssayError as exc:
        print(type(exc).__name__, exc)
    """
)


def test_full_disk_during_save_leaves_nothing(saved, tmp_path):
    """The kernel refuses writes past 4 KiB (RLIMIT_FSIZE): the save stops with a StorageError
    naming the folder, and nothing is left behind."""
    out = subprocess.run(
        [sys.executable, "-c", _LIMITED, str(saved), str(tmp_path / "model"), "save"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.stdout.startswith(StorageError.__name__), out.stdout + out.stderr
    assert "the model could not be saved" in out.stdout and "nothing was written" in out.stdout
    assert list(tmp_path.iterdir()) == []


def test_full_disk_during_predict_leaves_no_partial_file(saved, tmp_path):
    data = tmp_path / "rows.csv"
    make_frame(3000, seed=1).drop(columns=["y"]).to_csv(data, index=False)
    out = subprocess.run(
        [sys.executable, "-c", _LIMITED, str(saved), str(tmp_path / "pred.csv"), "predict", str(data)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.stdout.startswith(StorageError.__name__), out.stdout + out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rows.csv"]


def test_full_disk_for_the_journal_costs_resumability_not_the_fit(tmp_path, monkeypatch):
    import errno

    from assay.search.journal import TrialJournal

    def full(self, output, seconds_used):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(TrialJournal, "record", full)
    predictor = Predictor("y", trials=3, families=["linear"], verbose=False, checkpoint=tmp_path / "j")
    predictor.fit(make_frame(200))
    assert any("journal stopped" in n and "No space left" in n for n in predictor.info["notes"])
