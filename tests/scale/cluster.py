"""A real two-node Ray cluster on this machine, on the loopback address, for the scale tests.

Each node is a `ray start` in its own session; the node's processes (raylet, agents, the worker
processes it forks) all keep that session id, so a node is stopped, or killed mid-fit, by
signalling exactly the processes of its session: nothing else on the machine is touched.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

# Ray rewrites 127.0.0.1 (and "localhost") to the machine's routable address, so the nodes use
# other loopback addresses: the head 127.0.0.2, the worker node 127.0.0.3, like two machines.
# Token authentication is off: the nodes talk over loopback only.
HEAD_IP, WORKER_IP = "127.0.0.2", "127.0.0.3"
DRIVER_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
# A lost node is declared dead after ~3 missed 1 s health checks instead of Ray's default ~15 s
# or more: a frozen or unreachable node (no connection reset to notice) must fail its trial
# before that trial's own deadline cancels it, as a node death would on a real cluster whose
# trials run for minutes. The timeout leaves a raylet busy on a loaded 2-core machine 2 s to answer.
HEALTH_CHECKS = {"health_check_period_ms": 1000, "health_check_timeout_ms": 2000, "health_check_failure_threshold": 3}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("", 0))  # the head listens on every address
        return s.getsockname()[1]


def ray_cli() -> str:
    return str(Path(sys.executable).with_name("ray"))


def session_processes(sid: int) -> list[psutil.Process]:
    out = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if os.getsid(proc.pid) == sid:
                out.append(proc)
        except (ProcessLookupError, PermissionError, psutil.Error):
            continue
    return out


def kill_session(sid: int) -> int:
    """SIGKILL every process of the session, all frozen first: none may see another die and
    report it (Ray's agents report their raylet's death), as when the machine itself is lost."""
    procs = session_processes(sid)
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        for proc in procs:
            try:
                proc.send_signal(sig)
            except psutil.Error:
                continue
    psutil.wait_procs(procs, timeout=10)
    return len(procs)


class LocalCluster:
    """`with LocalCluster() as c:` a head with one CPU and a worker node with one CPU."""

    def __init__(self, cpus_per_node: int = 1):
        self.cpus = cpus_per_node
        self.port = free_port()
        self.address = f"{HEAD_IP}:{self.port}"
        self.tmp = tempfile.mkdtemp(prefix="assay-ray-")
        self.env = {**os.environ, **DRIVER_ENV}
        self.sids: dict[str, int] = {}

    def _start(self, name: str, args: list[str]) -> None:
        with open(Path(self.tmp) / f"{name}.log", "w") as log:  # the child keeps its own handle
            proc = subprocess.Popen(
                [ray_cli(), "start", *args, "--num-cpus", str(self.cpus), "--disable-usage-stats", "--block"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.sids[name] = proc.pid  # a session leader's pid is its session id

    def start(self) -> LocalCluster:
        try:
            self._start_nodes()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_nodes(self) -> None:
        self._start(
            "head",
            [
                "--head",
                f"--node-ip-address={HEAD_IP}",
                f"--port={self.port}",
                "--include-dashboard=false",
                f"--temp-dir={self.tmp}",
                f"--system-config={json.dumps(HEALTH_CHECKS)}",
            ],
        )
        self._wait_nodes(1)
        self._start("worker", [f"--address={self.address}", f"--node-ip-address={WORKER_IP}"])
        self._wait_nodes(2)

    def _wait_nodes(self, n: int, timeout: float = 60) -> None:
        code = (
            "import ray,sys; ray.init(address=sys.argv[1], log_to_driver=False); "
            "print(sum(1 for x in ray.nodes() if x['Alive']))"
        )
        stop = time.monotonic() + timeout
        while time.monotonic() < stop:
            out = subprocess.run(
                [sys.executable, "-c", code, self.address],
                env=self.env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            if out.returncode == 0 and out.stdout.strip().splitlines()[-1:] == [str(n)]:
                return
            time.sleep(1)
        raise RuntimeError(f"the Ray cluster did not reach {n} node(s); logs in {self.tmp}")

    def running_on_worker(self, task_name: str) -> bool:
        """Whether a worker process of the second node is executing `task_name` (Ray titles a
        worker process `ray::TASK` while it runs one)."""
        for proc in session_processes(self.sids["worker"]):
            try:
                if any(task_name in part for part in proc.cmdline()):
                    return True
            except psutil.Error:
                continue
        return False

    def kill_worker_node(self) -> int:
        """SIGKILL the second node's raylet and its worker processes: a machine lost mid-fit."""
        return kill_session(self.sids["worker"])

    def stop(self) -> None:
        for name in ("worker", "head"):
            if name in self.sids:
                procs = session_processes(self.sids[name])
                for proc in procs:
                    try:
                        proc.terminate()
                    except psutil.Error:
                        continue
                psutil.wait_procs(procs, timeout=3)
                kill_session(self.sids[name])
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
