"""Registry fixtures: one small fitted model folder, and a registry URL per backend.

PostgreSQL tests run against a real server: Debian's postgresql package (`make postgres`
installs it), started here with initdb / pg_ctl in a temp folder on a free loopback port, as the
`postgres` user when the tests run as root (the server refuses to run as root). Where it is not
installed, those tests skip and say why (`pytest -rs` lists the reason).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from assay import Predictor
from tests.conftest import make_frame


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    """A saved model folder, small and fast to fit; no report (the registry does not read it)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Predictor, "_report_into", lambda self, folder: None)
        predictor = Predictor("y", trials=1, families=["lightgbm"], verbose=False).fit(make_frame(200))
        return predictor.save(tmp_path_factory.mktemp("fitted") / "model")


@dataclass(frozen=True)
class PostgresServer:
    port: int

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database: each test starts from no tables."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@pytest.fixture(scope="session")
def postgres_server():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.skip("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): run `make postgres`")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed: pip install 'psycopg[binary]' (in the dev extra)")
    bindir = Path(found[-1]).parent
    root = Path(tempfile.mkdtemp(prefix="assay-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(root, ignore_errors=True)
            pytest.skip("running as root and there is no 'postgres' user to run the server as")
        if shutil.which("runuser") is None:
            shutil.rmtree(root, ignore_errors=True)
            pytest.skip("running as root and runuser (util-linux) is missing to start the server as 'postgres'")
        os.chown(root, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", _free_port()
    options = f"-p {port} -c listen_addresses=127.0.0.1 -k {root} -c fsync=off -c full_page_writes=off"

    def run(*args):
        done = subprocess.run([*as_user, *map(str, args)], cwd=root, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {done.stdout}\n{done.stderr}\n{_read(root / 'server.log')}")

    run(bindir / "initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
    run(bindir / "pg_ctl", "-D", data, "-l", root / "server.log", "-o", options, "-w", "-t", "30", "start")
    try:
        yield PostgresServer(port)
    finally:
        subprocess.run(
            [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            cwd=root,
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def registry_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.db'}"
    return request.getfixturevalue("postgres_server").new_database()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.is_file() else ""
