"""The federated catalogue: every backend's tables under their federated names, and planners.

Built at start-up from each backend's own metadata (DESIGN.md "Federated names"), read by the
catalogue source of the backend's kind (:mod:`gateway.kinds`); a degraded backend's tables come
from a fallback (the shipped HSC column metadata, say).

Two backends exposing the same name is a start-up error naming both. A backend that does not
answer is not fatal: its status says why, and :meth:`FederatedCatalog.refresh` (called on
demand, at most every ``retry_seconds``) tries again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from gateway.federation.catalog_auth import BackendCredentials
from gateway.kinds.registry import KindLoad, kind_for
from gateway.settings import BackendConfig, GatewaySettings
from gateway.table_meta import SchemaMeta, TableMeta
from grammar.nodes import TableName
from planners.base import Planner

__all__ = ["BackendStatus", "CatalogError", "CatalogTable", "FederatedCatalog"]

log = logging.getLogger(__name__)

AnyPlanner = Planner[Any]


class CatalogError(ValueError):
    """The configuration cannot be served: two backends expose the same table name."""


@dataclass(frozen=True, slots=True)
class BackendStatus:
    """How a backend's metadata was obtained: ``ok``, ``degraded`` (fallback) or ``down``."""

    name: str
    kind: str
    state: str
    message: str

    @property
    def ok(self) -> bool:
        """True when the backend's tables are known from the backend itself or statically."""
        return self.state == "ok"


@dataclass(frozen=True, slots=True)
class CatalogTable:
    """One federated table: its metadata and the backend serving it."""

    meta: TableMeta
    backend: BackendConfig
    upload_rows: int | None = None

    @property
    def name_parts(self) -> tuple[str, ...]:
        """The federated name split into parts (catalogue spelling)."""
        return tuple(self.meta.table_name.split("."))


@dataclass(slots=True)
class _Loaded:
    tables: list[TableMeta]
    status: BackendStatus
    planner: AnyPlanner | None = None
    upload_rows: int | None = None


def _key(name: str) -> str:
    return name.lower()


@dataclass
class FederatedCatalog:
    """The tables of every configured backend, and one planner per non-local backend.

    Parameters
    ----------
    settings
        The gateway settings (backends in declaration order).
    timeout
        Seconds to wait for a backend's metadata.
    retry_seconds
        Least time between two attempts to reach a backend that was down.

    Raises
    ------
    CatalogError
        Two backends expose the same table name.
    """

    settings: GatewaySettings
    timeout: float = 10.0
    retry_seconds: float = 10.0
    _loaded: dict[str, _Loaded] = field(default_factory=dict, init=False)
    _tables: dict[str, CatalogTable] = field(default_factory=dict, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _last_attempt: float = field(default=0.0, init=False)
    version: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        """Read every backend's metadata once."""
        with self._client() as client:
            for backend in self.settings.backends:
                self._loaded[backend.name] = self._load(client, backend)
        self._last_attempt = time.monotonic()
        self._index()

    # ------------------------------------------------------------------ loading

    def _client(self) -> httpx.Client:
        """A metadata client that sends each backend its configured credentials."""
        credentials = BackendCredentials(self.settings.backends)
        return httpx.Client(timeout=self.timeout, trust_env=False, auth=credentials)

    def _load(self, client: httpx.Client, backend: BackendConfig) -> _Loaded:
        try:
            return _loaded(backend, kind_for(backend.kind).load(client, backend))
        except (httpx.HTTPError, ValueError, OSError, SyntaxError) as exc:
            message = f"backend '{backend.name}' ({backend.url}) is unavailable: {exc}"
            log.warning("%s; its tables are missing until it answers", message)
            return _Loaded([], BackendStatus(backend.name, backend.kind, "down", message))

    def _index(self) -> None:
        """Rebuild the name index; a clash between two backends raises CatalogError."""
        owners: dict[str, tuple[str, CatalogTable]] = {}
        by_name = {b.name: b for b in self.settings.backends}
        for name, loaded in self._loaded.items():
            for meta in loaded.tables:
                key = _key(meta.table_name)
                if key in owners and owners[key][0] != name:
                    other = owners[key][0]
                    msg = (
                        f"table '{meta.table_name}' is exposed by both backend '{other}' and "
                        f"backend '{name}'; give one of them a schema_prefix"
                    )
                    raise CatalogError(msg)
                owners[key] = (name, CatalogTable(meta, by_name[name], loaded.upload_rows))
        self._tables = {key: table for key, (_, table) in owners.items()}
        self.version += 1

    def refresh(self, *, force: bool = False) -> bool:
        """Retry the backends that were down; True if any came back.

        Without ``force`` nothing happens within ``retry_seconds`` of the last attempt.
        """
        with self._lock:
            down = [b for b in self.settings.backends if not self._loaded[b.name].status.ok]
            if not down or (
                not force and time.monotonic() - self._last_attempt < self.retry_seconds
            ):
                return False
            self._last_attempt = time.monotonic()
            changed = False
            with self._client() as client:
                for backend in down:
                    loaded = self._load(client, backend)
                    if loaded.status.state != "down":
                        log.info("backend '%s' answers again", backend.name)
                        self._loaded[backend.name] = loaded
                        changed = True
            if changed:
                self._index()
            return changed

    # ------------------------------------------------------------------ queries

    def lookup(self, name: TableName) -> CatalogTable | None:
        """The table ``name`` designates (regular identifiers ignore case), or None."""
        key = ".".join(p.key for p in name.parts)
        found = self._tables.get(key)
        if found is None:
            return None
        written = found.name_parts[-len(name.parts) :]
        if any(p.delimited and p.name != w for p, w in zip(name.parts, written, strict=False)):
            return None
        return found

    def planner(self, backend: str) -> AnyPlanner | None:
        """The planner of a non-local backend (None for local or down backends)."""
        loaded = self._loaded.get(backend)
        return None if loaded is None else loaded.planner

    def statuses(self) -> tuple[BackendStatus, ...]:
        """One status per configured backend, in configuration order."""
        return tuple(self._loaded[b.name].status for b in self.settings.backends)

    def tables(self) -> tuple[CatalogTable, ...]:
        """Every federated table, in configuration order."""
        return tuple(self._tables.values())

    def table_names(self) -> list[str]:
        """Every federated table name."""
        return [t.meta.table_name for t in self._tables.values()]

    def schemas(self) -> list[SchemaMeta]:
        """The federated schemas (without TAP_SCHEMA), in first-seen order."""
        by_schema: dict[str, list[TableMeta]] = {}
        for table in self._tables.values():
            by_schema.setdefault(table.meta.schema_name, []).append(table.meta)
        return [SchemaMeta(name, None, tuple(members)) for name, members in by_schema.items()]


def _loaded(backend: BackendConfig, found: KindLoad) -> _Loaded:
    status = BackendStatus(backend.name, backend.kind, found.state, found.message)
    return _Loaded(list(found.tables), status, found.planner, found.upload_rows)


def federated_names(tables: Sequence[CatalogTable]) -> list[str]:
    """The qualified names of ``tables``."""
    return [t.meta.table_name for t in tables]
