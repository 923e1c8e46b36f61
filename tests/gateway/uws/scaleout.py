"""Processes for the scale-out tests: gateway replicas and workers started as a user would
(``adql-gateway serve`` / ``worker`` with one configuration file), and private Redis and
PostgreSQL servers the fault tests may stop and start without touching the machine's own."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

BIN = Path(sys.executable).parent
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer in {limit} s")


def write_stars(path: Path, rows: int = 40_000) -> dict[str, np.ndarray]:
    """A deterministic table: id, ra, dec, mag; returns the columns for oracles."""
    rng = np.random.default_rng(12)
    columns = {
        "id": np.arange(rows, dtype=np.int64),
        "ra": rng.uniform(10, 20, rows),
        "dec": rng.uniform(-5, 5, rows),
        "mag": rng.uniform(14, 24, rows),
    }
    pq.write_table(pa.table(columns), path)
    return columns


def write_config(directory: Path, *, database_url: str, redis_url: str, queue: str) -> Path:
    """A configuration shared by every replica and worker: one local table, shared store."""
    config = directory / "gateway.toml"
    config.write_text(
        f"""
[service]
data_dir = "{directory / "data"}"
job_database_url = "{database_url}"
redis_url = "{redis_url}"
queue_name = "{queue}"
job_stale_after = 3
execution_duration_default = 120

[[backends]]
name = "mine"
kind = "local"
[[backends.tables]]
name = "demo.stars"
path = "{directory / "stars.parquet"}"
"""
    )
    return config


@dataclass
class Cluster:
    """Gateway replicas and workers over one configuration."""

    config: Path
    logs: Path
    replicas: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _files: list[BinaryIO] = field(default_factory=list)

    def _log(self, name: str) -> BinaryIO:
        handle = (self.logs / name).open("wb")
        self._files.append(handle)
        return handle

    def start_replica(self) -> str:
        port = free_port()
        log = self._log(f"replica-{port}.log")
        proc = subprocess.Popen(
            [str(BIN / "adql-gateway"), "serve", "--config", str(self.config), "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.replicas[port] = proc
        url = f"http://127.0.0.1:{port}/tap"
        wait_http(f"{url}/availability")
        return url

    def start_worker(self) -> subprocess.Popen[bytes]:
        log = self._log(f"worker-{len(self.workers)}.log")
        proc = subprocess.Popen(
            [str(BIN / "adql-gateway"), "worker", "--config", str(self.config)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.workers.append(proc)
        return proc

    def stop(self) -> None:
        procs = [*self.replicas.values(), *self.workers]
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for handle in self._files:
            handle.close()
        self._files.clear()

    def log_text(self) -> str:
        return "\n".join(f"== {p.name}\n{p.read_text()[-3000:]}" for p in self.logs.glob("*.log"))


@contextlib.contextmanager
def private_redis() -> Iterator[tuple[str, subprocess.Popen[bytes], list[str]]]:
    """A Redis server of our own on a free port (nothing saved); yields url, process, argv."""
    port = free_port()
    argv = [
        "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
        "--appendonly", "no",
    ]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            break
        time.sleep(0.05)
    try:
        yield f"redis://127.0.0.1:{port}/0", proc, argv
    finally:
        proc.kill()
        proc.wait()


@dataclass
class PrivatePostgres:
    """A throw-away PostgreSQL cluster run as the postgres user on a free port."""

    directory: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *argv: str) -> None:
        command = argv if os.geteuid() != 0 else ("runuser", "-u", "postgres", "--", *argv)
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def start(self) -> None:
        self._as_postgres(
            str(PG_BIN / "pg_ctl"), "-D", str(self.directory / "db"), "-w", "-l",
            str(self.directory / "pg.log"), "-o",
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1", "start",
        )  # fmt: skip

    def stop(self) -> None:
        self._as_postgres(
            str(PG_BIN / "pg_ctl"), "-D", str(self.directory / "db"), "-w", "-m", "immediate",
            "stop",
        )  # fmt: skip


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    directory = Path(tempfile.mkdtemp(prefix="adqlgw-pg-"))
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
    server = PrivatePostgres(directory, free_port())
    server._as_postgres(
        str(PG_BIN / "initdb"), "-D", str(directory / "db"), "-A", "trust", "-U", "postgres",
        "--no-sync",
    )  # fmt: skip
    server.start()
    try:
        yield server
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            server.stop()
        shutil.rmtree(directory, ignore_errors=True)
