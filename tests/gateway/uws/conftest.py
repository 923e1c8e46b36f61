"""Job databases for the UWS store tests: a SQLite file and a real PostgreSQL database.

PostgreSQL is the machine's own server on 127.0.0.1:5432 (trust auth); each test session makes
a database of its own and drops it at the end, so runs never see each other's jobs.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import asyncpg
import pytest

PG_ADMIN_DSN = os.environ.get("ADQLGW_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this session; yields its SQLAlchemy asyncpg URL."""
    name = f"adqlgw_uws_{os.getpid()}"
    asyncio.run(_admin(f"DROP DATABASE IF EXISTS {name}"))
    asyncio.run(_admin(f"CREATE DATABASE {name}"))
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    yield f"{base}/{name}"
    asyncio.run(_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


async def _truncate(url: str) -> None:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        exists = await conn.fetchval("SELECT to_regclass('uws_jobs') IS NOT NULL")
        if exists:
            await conn.execute("TRUNCATE uws_jobs CASCADE")
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def job_db_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """The URL of an empty job database of each kind."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'uws.sqlite3'}"
    url: str = request.getfixturevalue("pg_database")
    asyncio.run(_truncate(url))
    return url


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
