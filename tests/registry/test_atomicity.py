"""A registrar killed at the worst moment leaves nothing visible; concurrent registrars never collide.

Both run real processes: a thread in this process would share the interpreter and could not be
killed with SIGKILL halfway through a transaction.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading

import pytest

from assay.registry import Registry
from assay.registry.service import PAUSE_ENV
from tests.conftest import make_frame

REGISTRAR = """
import pathlib, sys, time
from assay.registry import Registry
url, home, model, name, count, go = sys.argv[1:]
registry = Registry(url, home=home)
print("ready", flush=True)
while go != "-" and not pathlib.Path(go).exists():
    time.sleep(0.005)
for _ in range(int(count)):
    print(registry.register(model, name).version, flush=True)
"""


def registrar(url, home, model, name, count=1, go="-", pause=None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != PAUSE_ENV}
    if pause:
        env[PAUSE_ENV] = pause
    args = [sys.executable, "-c", REGISTRAR, url, str(home), str(model), name, str(count), str(go)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    watchdog = threading.Timer(90, proc.kill)  # a stuck registrar fails the test, never hangs it
    watchdog.daemon = True
    watchdog.start()
    return proc


def wait_for(proc: subprocess.Popen, line: str) -> None:
    for got in proc.stdout:
        if got.strip() == line:
            return
    raise AssertionError(f"registrar ended before {line!r}: {proc.stderr.read()}")


@pytest.mark.parametrize(
    ("point", "backend"),
    [("copied", "sqlite"), ("before_commit", "sqlite"), ("before_commit", "postgresql")],
)
def test_a_register_killed_midway_leaves_no_version(model_dir, tmp_path, request, point, backend):
    url = (
        f"sqlite:///{tmp_path / 'registry.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("postgres_server").new_database()
    )
    home = tmp_path / "home"
    proc = registrar(url, home, model_dir, "churn", pause=point)
    wait_for(proc, f"registry paused at {point}")
    if point == "before_commit":  # the folder is in its final place and the row inserted, not committed
        assert (home / "models" / "churn" / "1" / "manifest.json").is_file()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    with Registry(url, home=home) as reg:
        assert reg.list() == [] and reg.names() == []
        record = reg.register(model_dir, "churn")
        assert record.version == 1 and [r.version for r in reg.list("churn")] == [1]
        assert len(reg.load("churn", 1).predict(make_frame(20))) == 20


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_concurrent_registers_get_distinct_versions(model_dir, tmp_path, request, backend):
    url = (
        f"sqlite:///{tmp_path / 'registry.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("postgres_server").new_database()
    )
    home, go = tmp_path / "home", tmp_path / "go"
    procs = [registrar(url, home, model_dir, "churn", count=3, go=go) for _ in range(3)]
    for proc in procs:
        wait_for(proc, "ready")
    go.touch()  # all start registering at once, tables created by whichever came first
    numbers = []
    for proc in procs:
        out, err = proc.communicate(timeout=90)
        assert proc.returncode == 0, err
        numbers += [int(line) for line in out.split()]
    assert sorted(numbers) == list(range(1, 10))

    with Registry(url, home=home) as reg:
        records = reg.list("churn")
        assert [r.version for r in records] == list(range(1, 10))
        for r in records:
            assert hashlib.sha256((r.path / "manifest.json").read_bytes()).hexdigest() == r.manifest_sha256
        assert sorted(p.name for p in (home / "models" / "churn").iterdir()) == sorted(map(str, range(1, 10)))
