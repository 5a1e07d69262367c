"""A throwaway PostgreSQL cluster for tests (pytest-independent).

This module owns :class:`PostgresCluster`: ``initdb`` into a temporary
directory, ``pg_ctl start`` on a free loopback port (unix sockets stay inside
the temp dir, so the system cluster - if any - is never touched), durability
switched off for speed, one database created up front and more on demand via
:meth:`PostgresCluster.fresh_database`.

PostgreSQL refuses to run as root.  When we are root the cluster is created
and run as the ``postgres`` system user (created by the Debian package), else
``nobody``, via ``runuser``; the temp dir is chowned to that user.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from tests.support.postfix_tools import LOOPBACK, MissingBinaryError, Reaper, free_port, wait_for

if TYPE_CHECKING:
    from mailcard.bootstrap import Container

SUPERUSER = "mailcard"
DEFAULT_DB = "mailcard"


def find_pg_bindir() -> Path:
    """Newest ``/usr/lib/postgresql/<major>/bin`` holding initdb (Debian layout), else PATH."""
    candidates = []
    for bindir in Path("/usr/lib/postgresql").glob("*/bin"):
        if (bindir / "initdb").is_file():
            with contextlib.suppress(ValueError):
                candidates.append((float(bindir.parent.name), bindir))
    if candidates:
        return max(candidates)[1]
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise MissingBinaryError("PostgreSQL server binaries (initdb) not found")


def _run_user() -> str | None:
    """System user to run the cluster as (None: run as ourselves, we're not root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise RuntimeError("running as root but neither 'postgres' nor 'nobody' user exists")


class PostgresCluster:
    """A private PostgreSQL server on 127.0.0.1:<free port>, trust auth, fsync off.

    Use :meth:`start`/:meth:`stop` or as a context manager.  :attr:`url` is a
    SQLAlchemy URL (``postgresql+psycopg://mailcard@127.0.0.1:PORT/mailcard``).
    """

    def __init__(self, base_dir: Path | None = None) -> None:
        self.bindir = find_pg_bindir()
        self.host = LOOPBACK
        self.port = 0
        self.user = SUPERUSER
        self.database = DEFAULT_DB
        self._base_parent = base_dir
        self.base: Path | None = None
        self._counter = itertools.count(1)
        self._reaper: Reaper | None = None
        self.start_seconds = 0.0

    # ------------------------------------------------------------------ helpers
    @property
    def url(self) -> str:
        return self.url_for(self.database)

    def url_for(self, database: str) -> str:
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"

    @property
    def conninfo(self) -> str:
        """libpq/psycopg connection string for the default database."""
        return f"host={self.host} port={self.port} user={self.user} dbname={self.database}"

    def _cmd(self, *args: str) -> list[str]:
        runner = _run_user()
        cmd = [str(self.bindir / args[0]), *args[1:]]
        return ["runuser", "-u", runner, "--", *cmd] if runner else cmd

    def _run(self, *args: str) -> None:
        assert self.base is not None
        out = self.base / "commands.log"
        with open(out, "ab") as log:
            # Output to a file, not a pipe: pg_ctl's child could keep a pipe open.
            done = subprocess.run(
                self._cmd(*args), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, check=False
            )
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}):\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        assert self.base is not None
        text = ""
        for name in ("commands.log", "postgres.log"):
            path = self.base / name
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                text += f"--- {name}\n" + "\n".join(tail) + "\n"
        return text

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> PostgresCluster:
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> PostgresCluster:
        started = time.perf_counter()
        self.base = Path(tempfile.mkdtemp(prefix="mailcard-pg-", dir=self._base_parent))
        runner = _run_user()
        if runner:
            entry = pwd.getpwnam(runner)
            os.chown(self.base, entry.pw_uid, entry.pw_gid)
        self.base.chmod(0o700)
        data = self.base / "data"
        # --no-sync: the cluster is disposable; skip fsyncing the freshly written files.
        self._reaper = Reaper(
            commands=[self._cmd("pg_ctl", "stop", "-m", "immediate", "-D", str(data))],
            remove=[str(self.base)],
        )
        self._run(
            "initdb",
            "-D",
            str(data),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        )
        last_error: Exception | None = None
        for _attempt in range(5):
            self.port = free_port()
            options = " ".join(
                [
                    f"-p {self.port}",
                    f"-k {self.base}",  # unix sockets in our temp dir, not /var/run/postgresql
                    f"-c listen_addresses={LOOPBACK}",
                    "-c fsync=off",
                    "-c synchronous_commit=off",
                    "-c full_page_writes=off",
                    "-c max_connections=200",
                ]
            )
            try:
                self._run(
                    "pg_ctl",
                    "start",
                    "-w",
                    "-t",
                    "30",
                    "-D",
                    str(data),
                    "-l",
                    str(self.base / "postgres.log"),
                    "-o",
                    options,
                )
            except RuntimeError as exc:  # most likely lost the race for the port
                last_error = exc
                continue
            break
        else:
            raise RuntimeError(f"could not start PostgreSQL: {last_error}")
        wait_for(self._accepts_connections, 10.0, "PostgreSQL to accept connections")
        self._create_database(self.database)
        self.start_seconds = time.perf_counter() - started
        return self

    def _accepts_connections(self) -> bool:
        import psycopg

        try:
            admin = f"host={self.host} port={self.port} user={self.user} dbname=postgres"
            with psycopg.connect(admin, connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def _create_database(self, name: str) -> None:
        import psycopg
        from psycopg import sql

        conninfo = f"host={self.host} port={self.port} user={self.user} dbname=postgres"
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def fresh_database(self, prefix: str = "test") -> str:
        """Create a new, empty database and return its SQLAlchemy URL."""
        name = f"{prefix}_{os.getpid()}_{next(self._counter)}"
        self._create_database(name)
        return self.url_for(name)

    def stop(self) -> None:
        if self.base is None:
            return
        data = self.base / "data"
        if (data / "postmaster.pid").exists():
            # immediate: nothing to preserve, skip the shutdown checkpoint.
            with contextlib.suppress(RuntimeError):
                self._run("pg_ctl", "stop", "-w", "-m", "immediate", "-D", str(data))
        shutil.rmtree(self.base, ignore_errors=True)
        self.base = None
        if self._reaper is not None:
            self._reaper.disarm()
            self._reaper = None

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def postgres_cluster(base_dir: Path | None = None) -> Iterator[PostgresCluster]:
    """Start a :class:`PostgresCluster` for the duration of the block."""
    cluster = PostgresCluster(base_dir)
    try:
        yield cluster.start()
    finally:
        cluster.stop()


@contextlib.contextmanager
def mailcard_on(cluster: PostgresCluster, data_dir: Path) -> Iterator[Container]:
    """The whole of mailcard (``bootstrap.build``) on a fresh database of ``cluster``."""
    from mailcard.bootstrap import build
    from mailcard.settings import Settings

    built = build(Settings(data_dir=data_dir, devinbox_port=1, database_url=cluster.fresh_database()))
    try:
        yield built
    finally:
        built.dispose()
