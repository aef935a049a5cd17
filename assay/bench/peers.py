"""The peers (FLAML, AutoGluon-Tabular), each in a virtual environment of its own.

Why separate environments: each peer pins its own numpy / pandas / scikit-learn / torch, and a
benchmark that installed them beside assay would either fail to resolve or measure assay on
versions it does not ship with. So `assay bench setup-peers` creates one venv per peer under the
peers folder (default ~/.assay/peers, or ASSAY_PEERS_DIR), installs pinned requirements there,
checks the import, and writes a manifest with the versions it got. The harness talks to a peer
only through peer_worker.py run by that venv's python, with Parquet files in between, so assay's
process never imports flaml or autogluon.

Torch: only torch==2.13.0 may be installed (the local CPU build; any other version would pull
the CUDA wheels), so AutoGluon's requirements pin it, which keeps its NN_TORCH and FASTAI models.
AutoGluon gets Ray as `pip install autogluon` would give it: without Ray, best_quality's dynamic
stacking falls back to an in-process sub-fit that, on short budgets, leaves the learner unusable
("Learner is already fit"). Its `[all]` extra is not used: the foundation models it adds download
weights from a model hub when they fit, which a benchmark machine may not reach.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

MANIFEST = "assay-peer.json"
TORCH_PIN = "torch==2.13.0"


@dataclass(frozen=True)
class Peer:
    name: str
    requirements: tuple[str, ...]
    check: str  # python that must run in the venv for the peer to count as installed
    packages: tuple[str, ...]  # distributions whose versions go into every result


PEERS: dict[str, Peer] = {
    "flaml": Peer(
        "flaml",
        ("flaml[automl,catboost]==2.7.0", "pyarrow"),
        "import flaml.automl, pandas, pyarrow",
        ("flaml", "lightgbm", "xgboost", "catboost", "scikit-learn", "numpy", "pandas"),
    ),
    "autogluon": Peer(
        "autogluon",
        ("autogluon.tabular[lightgbm,catboost,xgboost,fastai,ray]==1.6.3", TORCH_PIN, "pyarrow"),
        "import autogluon.tabular, torch, ray, pandas, pyarrow",
        (
            "autogluon.tabular",
            "autogluon.core",
            "lightgbm",
            "xgboost",
            "xgboost-cpu",
            "catboost",
            "torch",
            "fastai",
            "ray",
            "scikit-learn",
            "numpy",
            "pandas",
        ),
    ),
}

_VERSIONS_SNIPPET = """
import json, sys
from importlib import metadata
out = {"python": sys.version.split()[0]}
for name in sys.argv[1:]:
    try:
        out[name] = metadata.version(name)
    except metadata.PackageNotFoundError:
        pass
print(json.dumps(out))
"""


def peers_dir(override: str | Path | None = None) -> Path:
    """Outside any repository on purpose: venvs are machine state, not project files."""
    if override:
        return Path(override).expanduser().resolve()
    return Path(os.environ.get("ASSAY_PEERS_DIR") or Path.home() / ".assay" / "peers").expanduser().resolve()


def peer_python(name: str, root: str | Path | None = None) -> Path:
    return peers_dir(root) / name / "bin" / "python"


def peer_status(name: str, root: str | Path | None = None) -> dict:
    """{"ok": bool, "message": str, "versions": {...}}: why a peer cannot run, never an exception."""
    if name not in PEERS:
        return {"ok": False, "message": f"unknown peer {name!r}; known: {', '.join(PEERS)}", "versions": {}}
    folder = peers_dir(root) / name
    manifest = folder / MANIFEST
    if not manifest.is_file() or not peer_python(name, root).is_file():
        return {
            "ok": False,
            "message": f"peer {name} is not installed in {folder}: run `assay bench setup-peers --peer {name}`",
            "versions": {},
        }
    doc = json.loads(manifest.read_text())
    if not doc.get("ok"):
        return {"ok": False, "message": f"peer {name} setup failed: {doc.get('message', '')}", "versions": {}}
    return {"ok": True, "message": "", "versions": doc.get("versions", {}), "python": str(peer_python(name, root))}


def setup_peer(name: str, root: str | Path | None = None, python: str | None = None, fresh: bool = False, log=print):
    """Create (or update) one peer's venv; returns its manifest. Failures are written, not raised,
    so one peer that cannot install never stops the other."""
    peer = PEERS[name]
    folder = peers_dir(root) / name
    if fresh and folder.exists():
        shutil.rmtree(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    manifest = {"name": name, "requirements": list(peer.requirements), "created": _now(), "ok": False}
    steps = []
    if not (folder / "bin" / "python").is_file():
        steps.append([python or _base_python(), "-m", "venv", str(folder)])
    pip = [str(folder / "bin" / "python"), "-m", "pip"]
    steps.append([*pip, "install", "--disable-pip-version-check", *peer.requirements])
    steps.append([str(folder / "bin" / "python"), "-c", peer.check])
    for cmd in steps:
        log(f"[{name}] $ {' '.join(cmd)}")
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
            manifest["message"] = f"`{' '.join(cmd[-3:])}` exited {proc.returncode}: {tail}"
            break
    else:
        manifest["ok"] = True
        manifest["versions"] = peer_versions(name, root)
    manifest["setup_s"] = round(time.perf_counter() - started, 1)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return manifest


def peer_versions(name: str, root: str | Path | None = None) -> dict:
    proc = subprocess.run(
        [str(peer_python(name, root)), "-c", _VERSIONS_SNIPPET, *PEERS[name].packages],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return json.loads(proc.stdout) if proc.returncode == 0 else {"error": proc.stderr.strip()[-300:]}


def _base_python() -> str:
    """The interpreter under assay's venv: a venv made from a venv's python would still work, but
    naming the base one keeps the peer independent of assay's environment."""
    return getattr(sys, "_base_executable", None) or sys.executable


def _now() -> str:
    return dt.datetime.now().isoformat(timespec="seconds")
