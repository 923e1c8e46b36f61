"""Job databases for the UWS store tests: a SQLite file and a real PostgreSQL database
(``pg_database``, from tests/gateway/conftest.py)."""

from __future__ import annotations

import pytest

from tests.gateway.conftest import empty_job_database


@pytest.fixture(params=["sqlite", "postgresql"])
def job_db_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """The URL of an empty job database of each kind."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'uws.sqlite3'}"
    return empty_job_database(request.getfixturevalue("pg_database"))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
