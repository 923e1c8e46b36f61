"""Bring the job database to the newest schema revision (alembic), safely from many replicas."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

_SCRIPTS = Path(__file__).parent / "migrations"
#: Key of the PostgreSQL advisory lock that serialises migrations of replicas starting together.
_MIGRATION_LOCK = 0x5557_5331


async def upgrade(engine: AsyncEngine) -> None:
    """Apply every migration not yet applied, in one transaction."""
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        await conn.run_sync(_upgrade)


def _upgrade(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
