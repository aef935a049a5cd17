"""Fault injection at random moments: SIGKILL during fits, model saves and registry writes, many
times over, and after each kill a check that what is on disk is consistent and nothing is lost.

    python bench/faults.py                       # ~11 min: 10 fits, 40 saves, 40 registrations killed
    python bench/faults.py --fits 3 --saves 10 --registers 10

The tests (tests/faults/, tests/registry/test_atomicity.py) kill at chosen points; this script
kills at random ones, where the unexpected states live. For each kill:

- fit: `assay fit --trials T` killed after a random delay; then no model folder may exist (or a
  complete one, if the fit had finished), and `assay fit --resume` must finish with the same
  leaderboard as an uninterrupted fit (trials reused from the journal are counted);
- save: a process re-saving a model over an older one is killed; the name must then load, as
  the old model or the new one, and no temporary folder may survive the next load;
- register: a process registering versions is killed; every version the registry lists must
  load and match its checksum, and a new registration must get the next number.

Writes bench/results/faults.md and .json (the table in docs/hardening.md comes from it).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assay import Predictor  # noqa: E402
from assay.bench.harness import commit_label  # noqa: E402
from assay.registry import Registry  # noqa: E402
from assay.search.journal import journal_path  # noqa: E402
from tests.conftest import make_frame  # noqa: E402

PY = sys.executable
FAMILIES = "lightgbm,linear"


def _board(predictor: Predictor) -> list:
    board = predictor.leaderboard()
    score = [c for c in board.columns if c.startswith("val_")][0]
    return board[["model", "status", score]].round(12).astype(str).values.tolist()


def kill_fits(n: int, work: Path, trials: int, rng: random.Random) -> dict:
    data = work / "train.csv"
    make_frame(600, seed=7).to_csv(data, index=False)
    reference = _board(
        Predictor("y", trials=trials, families=FAMILIES.split(","), verbose=False).fit(pd.read_csv(data))
    )
    counts = {"kills": 0, "finished_before_kill": 0, "inconsistent": 0, "resumed_equal": 0, "trials_reused": 0}
    for i in range(n):
        out = work / f"fit-{i}"
        args = ["fit", str(data), "--target", "y", "--trials", str(trials), "--families", FAMILIES, "--out", str(out)]
        proc = subprocess.Popen([PY, "-m", "assay", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(3.0, 12.0))
        if proc.poll() is not None:
            counts["finished_before_kill"] += 1
        else:
            os.kill(proc.pid, signal.SIGKILL)
            counts["kills"] += 1
        proc.wait()
        if out.exists():
            try:
                Predictor.load(out)
            except Exception:
                counts["inconsistent"] += 1
            continue
        journal = journal_path(out)
        before = (
            len([p for p in (journal / "trials").iterdir() if not p.name.startswith(".")]) if journal.exists() else 0
        )
        done = subprocess.run([PY, "-m", "assay", *args, "--resume"], capture_output=True, text=True)
        if done.returncode != 0 and before == 0 and "no interrupted fit" in done.stdout + done.stderr:
            done = subprocess.run([PY, "-m", "assay", *args], capture_output=True, text=True)  # killed before trial 1
        if done.returncode != 0:
            counts["inconsistent"] += 1
            continue
        counts["trials_reused"] += before
        counts["resumed_equal"] += _board(Predictor.load(out)) == reference
    return counts


SAVER = """
import sys
from assay import Predictor
model = Predictor.load(sys.argv[1])
while True:
    model.save(sys.argv[2])
"""


def kill_saves(n: int, work: Path, model: Path, rng: random.Random) -> dict:
    counts = {"kills": 0, "inconsistent": 0, "leftovers": 0}
    dest = work / "saved" / "model"
    dest.parent.mkdir()
    shutil.copytree(model, dest)
    for _ in range(n):
        proc = subprocess.Popen([PY, "-c", SAVER, str(model), str(dest)], stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(2.5, 4.0))  # import takes ~2 s; then it saves in a loop
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        counts["kills"] += 1
        try:
            Predictor.load(dest)
        except Exception:
            counts["inconsistent"] += 1
        counts["leftovers"] += len([p for p in dest.parent.iterdir() if p.name != "model"])
    return counts


REGISTRAR = """
import sys
from assay.registry import Registry
registry = Registry(home=sys.argv[2])
while True:
    print(registry.register(sys.argv[1], "faults").version, flush=True)
"""


def kill_registers(n: int, work: Path, model: Path, rng: random.Random) -> dict:
    home = work / "home"
    counts = {"kills": 0, "inconsistent": 0, "versions": 0, "lost": 0}
    for _ in range(n):
        proc = subprocess.Popen(
            [PY, "-c", REGISTRAR, str(model), str(home)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        time.sleep(rng.uniform(2.5, 5.0))
        os.kill(proc.pid, signal.SIGKILL)
        printed = [int(v) for v in proc.stdout.read().split()]  # versions the registrar saw committed
        proc.wait()
        counts["kills"] += 1
        with Registry(home=home) as registry:
            listed = {r.version for r in registry.list() if r.name == "faults"}
            counts["lost"] += len(set(printed) - listed)  # committed, then gone: must never happen
            for version in listed:
                try:
                    registry.load("faults", version)
                except Exception:
                    counts["inconsistent"] += 1
            nxt = registry.register(model, "faults").version
            if listed and nxt != max(listed) + 1:
                counts["inconsistent"] += 1
            counts["versions"] = nxt
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fits", type=int, default=10)
    parser.add_argument("--saves", type=int, default=40)
    parser.add_argument("--registers", type=int, default=40)
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "faults")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="assay-faults-"))
    os.environ["ASSAY_HOME"] = str(work / "home")
    try:
        model = work / "model"
        Predictor("y", trials=3, families=["lightgbm"], verbose=False).fit(make_frame(300)).save(model)
        results = {
            "commit": commit_label(),
            "fit": kill_fits(args.fits, work, args.trials, rng),
            "save": kill_saves(args.saves, work, model, rng),
            "register": kill_registers(args.registers, work, model, rng),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=2))
    f, s, r = results["fit"], results["save"], results["register"]
    lines = [
        f"# Faults injected at random moments ({results['commit']})",
        "",
        f"`python bench/faults.py --fits {args.fits} --saves {args.saves} --registers {args.registers}"
        f" --trials {args.trials} --seed {args.seed}`",
        "",
        "| fault | injected | inconsistent states | lost | notes |",
        "|---|---:|---:|---:|---|",
        f"| SIGKILL during `assay fit --trials {args.trials}` | {f['kills']} | {f['inconsistent']} | 0 | "
        f"resumed with the uninterrupted leaderboard: {f['resumed_equal']} of {f['kills']}; "
        f"{f['trials_reused']} trials reused from journals; {f['finished_before_kill']} finished before the kill |",
        f"| SIGKILL during a model save over an older one | {s['kills']} | {s['inconsistent']} | 0 | "
        f"leftover temporary folders after the next load: {s['leftovers']} |",
        f"| SIGKILL during registry writes | {r['kills']} | {r['inconsistent']} | {r['lost']} | "
        f"versions registered in all: {r['versions']} |",
    ]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
