"""A real TAP service over a local Parquet table, served by uvicorn on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any
from xml.etree import ElementTree as ET

import asyncpg
import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from astropy.io.votable import parse_single_table

from gateway.settings import load_settings
from gateway.tap.serve import build_app
from standins.data import DemoData, ensure_demo_data
from tests.gateway.federation_servers import Federation, run_federation
from tests.live_server import reserve_port, serve_app

N_STARS = 5000


@dataclass(frozen=True)
class Stars:
    """The test table as numpy arrays (the independent answer key)."""

    id: np.ndarray
    ra: np.ndarray
    dec: np.ndarray
    gmag: np.ndarray  # NaN where NULL
    flags: np.ndarray
    name: np.ndarray


@dataclass(frozen=True)
class TapService:
    url: str
    stars: Stars
    data_dir: Path
    config: Path


def make_stars(n: int = N_STARS, seed: int = 7) -> Stars:
    rng = np.random.default_rng(seed)
    ra = rng.uniform(0, 360, n)
    dec = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    # Two dense clusters (like the DaCHS test data) plus sources straddling RA 0 and the pole.
    ra[:1000] = 10 + rng.normal(0, 0.2, 1000)
    dec[:1000] = 10 + rng.normal(0, 0.2, 1000)
    ra[1000:2000] = 150.1 + rng.normal(0, 0.2, 1000)
    dec[1000:2000] = 2.2 + rng.normal(0, 0.2, 1000)
    ra[2000:2300] = rng.normal(0, 0.3, 300) % 360
    dec[2000:2300] = rng.normal(0, 0.3, 300)
    ra[2300:2400] = rng.uniform(0, 360, 100)
    dec[2300:2400] = 89.5 + rng.uniform(0, 0.5, 100)
    gmag = rng.normal(20, 1.5, n)
    gmag[rng.random(n) < 0.05] = np.nan
    flags = rng.integers(0, 16, n).astype(np.int32)
    name = np.array([f"star {i}" for i in range(n)])
    return Stars(np.arange(n, dtype=np.int64), ra, dec, gmag, flags, name)


def write_stars(stars: Stars, path: Path) -> None:
    table = pa.table(
        {
            "id": stars.id,
            "ra": stars.ra,
            "dec": stars.dec,
            "gmag": pa.array(stars.gmag, mask=np.isnan(stars.gmag)),
            "flags": stars.flags,
            "name": stars.name,
        }
    )
    pq.write_table(table, path)


CONFIG = """
[service]
base_url = "{base}/tap"
data_dir = "{data}"
maxrec_default = 20000
execution_duration_default = 60

[[backends]]
name = "local"
kind = "local"
[[backends.tables]]
name = "demo.stars"
path = "stars.parquet"
description = "Synthetic stars for the TAP service tests"
[backends.tables.columns.ra]
unit = "deg"
ucd = "pos.eq.ra;meta.main"
description = "Right ascension (ICRS)"
[backends.tables.columns.dec]
unit = "deg"
ucd = "pos.eq.dec;meta.main"
description = "Declination (ICRS)"
[backends.tables.columns.gmag]
unit = "mag"
ucd = "phot.mag;em.opt.B"
description = "g magnitude; NULL where not measured"
[backends.tables.columns.id]
ucd = "meta.id;meta.main"
indexed = true
principal = true
"""


def write_config(directory: Path, base: str) -> Path:
    config = directory / "gateway.toml"
    config.write_text(CONFIG.format(base=base, data=directory / "data"))
    return config


@contextlib.contextmanager
def run_tap_service(directory: Path, stars: Stars, **overrides: Any) -> Iterator[TapService]:
    """Serve demo.stars from ``directory`` (its own data dir) with settings ``overrides``.

    The stars file and config are written only if missing, so a second service on the same
    directory reuses the data dir of the first (restart tests).
    """
    if not (directory / "stars.parquet").exists():
        write_stars(stars, directory / "stars.parquet")
    sock = reserve_port()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = write_config(directory, base)
    app = build_app(load_settings(config, **overrides))
    with serve_app(app, sock=sock, lifespan="on") as url:
        yield TapService(f"{url}/tap", stars, directory / "data", config)


@pytest.fixture(scope="session")
def tap_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TapService]:
    with run_tap_service(tmp_path_factory.mktemp("tap"), make_stars()) as service:
        yield service


@pytest.fixture(scope="session")
def limited_tap_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TapService]:
    """The same table behind small upload limits (10 rows, 4000 bytes)."""
    with run_tap_service(
        tmp_path_factory.mktemp("tap-limited"),
        make_stars(),
        upload_max_rows=10,
        upload_max_bytes=4000,
    ) as service:
        yield service


@pytest.fixture(scope="module")
def demo() -> DemoData:
    """The deterministic demo data (generated once into the user cache)."""
    return ensure_demo_data()


@pytest.fixture(scope="module")
def federation(demo: DemoData, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    """The demo federation's stand-ins and rsp TAP instance on loopback, one per module."""
    with run_federation(demo, tmp_path_factory.mktemp("rsp")) as fed:
        yield fed


# ---------------------------------------------------------------- helpers for the TAP tests

VOTABLE_NS = "{http://www.ivoa.net/xml/VOTable/v1.3}"


def angular_distance(ra1, dec1, ra2, dec2):
    """Great-circle distance in degrees (haversine), numpy-broadcasting."""
    ra1, dec1, ra2, dec2 = (np.radians(np.asarray(v, dtype=float)) for v in (ra1, dec1, ra2, dec2))
    a = np.sin((dec2 - dec1) / 2) ** 2 + np.cos(dec1) * np.cos(dec2) * np.sin((ra2 - ra1) / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(np.clip(a, 0, 1))))


def cone_mask(stars: Stars, ra: float, dec: float, radius: float) -> np.ndarray:
    """Rows of ``stars`` within ``radius`` degrees of (ra, dec)."""
    mask: np.ndarray = angular_distance(stars.ra, stars.dec, ra, dec) <= radius
    return mask


def resource_sequence(body: bytes) -> list[tuple[str, str | None, str]]:
    """The children of the results RESOURCE in document order: (tag, INFO value, INFO text).

    Used to check where QUERY_STATUS INFOs sit relative to the TABLE.
    """
    root = ET.fromstring(body)
    resources = [r for r in root.iter(f"{VOTABLE_NS}RESOURCE") if r.get("type") == "results"]
    assert len(resources) == 1, "exactly one RESOURCE type=results expected"
    out: list[tuple[str, str | None, str]] = []
    for child in resources[0]:
        tag = child.tag.removeprefix(VOTABLE_NS)
        if tag == "INFO":
            out.append((f"INFO:{child.get('name')}", child.get("value"), child.text or ""))
        else:
            out.append((tag, None, ""))
    return out


def query_statuses(body: bytes) -> list[tuple[str, str | None]]:
    """[(position, value)] of every QUERY_STATUS INFO; position 'before' or 'after' the TABLE."""
    seen_table = False
    out = []
    for tag, value, _ in resource_sequence(body):
        if tag == "TABLE":
            seen_table = True
        elif tag == "INFO:QUERY_STATUS":
            out.append(("after" if seen_table else "before", value))
    return out


def error_message(body: bytes) -> str:
    """The text of the QUERY_STATUS=ERROR INFO of a DALI error document."""
    for tag, value, text in resource_sequence(body):
        if tag == "INFO:QUERY_STATUS" and value == "ERROR":
            return text
    raise AssertionError(f"no QUERY_STATUS=ERROR in {body[:500]!r}")


def read_votable(body: bytes):
    """The first table of a VOTable document as an astropy Table (masked where null)."""
    return parse_single_table(io.BytesIO(body)).to_table(use_names_over_ids=True)


UWS_NS = "{http://www.ivoa.net/xml/UWS/v1.0}"
XLINK_NS = "{http://www.w3.org/1999/xlink}"
TERMINAL_PHASES = frozenset({"COMPLETED", "ERROR", "ABORTED"})


def job_document(url: str, **params: str):
    """GET a UWS job resource; returns the parsed ``uws:job`` root element."""
    response = httpx.get(url, params=params, timeout=120)
    assert response.status_code == 200, (response.status_code, response.text)
    root = ET.fromstring(response.content)
    assert root.tag == f"{UWS_NS}job", root.tag
    return root


def job_phase(url: str, **params: str) -> str:
    """The phase of the job at ``url`` (from the job document)."""
    phase = job_document(url, **params).findtext(f"{UWS_NS}phase")
    assert phase is not None
    return str(phase)


def create_job(base: str, *, files=None, **params: str) -> str:
    """POST /async; asserts the 303 and returns the job URL from Location."""
    response = httpx.post(f"{base}/async", data=params, files=files, timeout=60)
    assert response.status_code == 303, (response.status_code, response.text)
    location = response.headers["location"]
    assert location.startswith(f"{base}/async/"), location
    return location


def wait_terminal(job_url: str, timeout: float = 60.0) -> str:
    """Block (with UWS WAIT) until the job is COMPLETED, ERROR or ABORTED; its phase."""
    deadline = time.monotonic() + timeout
    while True:
        phase = job_phase(job_url, WAIT="5")
        if phase in TERMINAL_PHASES:
            return phase
        assert time.monotonic() < deadline, f"job still {phase} after {timeout} s"


def threads_in_engine() -> int:
    """Threads of this process (in-process servers' workers) now running inside the engine."""
    count = 0
    for frame in sys._current_frames().values():
        f: FrameType | None = frame
        while f is not None:
            if f.f_code.co_filename.endswith(("gateway/engine/local.py", "gateway/engine/udfs.py")):
                count += 1
                break
            f = f.f_back
    return count


# ---------------------------------------------------------------- a PostgreSQL job database

#: The machine's PostgreSQL (127.0.0.1:5432, trust auth) administrative connection.
PG_ADMIN_DSN = os.environ.get("ADQLGW_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session; yields its SQLAlchemy URL.

    Each session makes its own and drops it at the end, so runs never see each other's jobs.
    """
    name = f"adqlgw_uws_{os.getpid()}"
    asyncio.run(_admin(f"DROP DATABASE IF EXISTS {name}"))
    asyncio.run(_admin(f"CREATE DATABASE {name}"))
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    yield f"{base}/{name}"
    asyncio.run(_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


def empty_job_database(url: str) -> str:
    """Delete every job of the PostgreSQL job database at ``url``; returns ``url``."""

    async def truncate() -> None:
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
        try:
            if await conn.fetchval("SELECT to_regclass('uws_jobs') IS NOT NULL"):
                await conn.execute("TRUNCATE uws_jobs CASCADE")
        finally:
            await conn.close()

    asyncio.run(truncate())
    return url
