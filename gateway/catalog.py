"""The federated catalogue: every backend's tables under their federated names, and planners.

Built at start-up from each backend's own metadata (DESIGN.md "Federated names"):

* ``hsc``: the HSC tables, columns from the service's ``/metadata`` (the shipped copy when the
  service does not answer; the backend is then reported as degraded);
* ``tap``: the remote VOSI ``/tables`` (plus ``/capabilities`` for uploads and limits), schema
  prefix applied;
* ``sia``: ``<backend>.obscore`` with the ObsCore columns (Rubin columns for ``rubin``);
* ``spectral``: ``<context>.specobj`` and ``<context>.specobjall``;
* ``local``: the configured files, as :class:`gateway.local_service.LocalQueryService` does.

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

from gateway.builtin_catalog import planner_for
from gateway.catalog_sources import (
    TapService,
    column_info,
    column_meta,
    hsc_columns,
    read_tap_service,
    shipped_hsc_columns,
)
from gateway.local_service import file_schema, table_columns
from gateway.settings import BackendConfig, GatewaySettings
from gateway.table_meta import SchemaMeta, TableMeta
from grammar.nodes import Identifier, TableName
from planners.base import Planner
from planners.hsc_tables import TABLES as HSC_TABLES
from planners.spectral import SpectralPlanner
from planners.sql_catalog import ColumnInfo
from planners.tap import TapPlanner

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
    def columns(self) -> tuple[ColumnInfo, ...]:
        """The columns as the planners see them."""
        return tuple(column_info(c) for c in self.meta.columns)

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
        with httpx.Client(timeout=self.timeout, trust_env=False) as client:
            for backend in self.settings.backends:
                self._loaded[backend.name] = self._load(client, backend)
        self._last_attempt = time.monotonic()
        self._index()

    # ------------------------------------------------------------------ loading

    def _load(self, client: httpx.Client, backend: BackendConfig) -> _Loaded:
        try:
            return _LOADERS[backend.kind](client, backend)
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
            with httpx.Client(timeout=self.timeout, trust_env=False) as client:
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


# ---------------------------------------------------------------------- per-kind loaders


def _ok(backend: BackendConfig, message: str) -> BackendStatus:
    return BackendStatus(backend.name, backend.kind, "ok", message)


def _load_hsc(client: httpx.Client, backend: BackendConfig) -> _Loaded:
    planner = planner_for(backend)
    assert backend.url is not None  # the settings require a url
    tables = []
    status = _ok(backend, "columns from the service's /metadata")
    for table in HSC_TABLES.values():
        if status.state == "degraded":
            columns = shipped_hsc_columns(table)  # one failure is enough: do not wait again
            tables.append(TableMeta(table.name.split(".")[0], table.name, None, columns))
            continue
        try:
            columns = hsc_columns(client, backend.url, table)
        except (httpx.HTTPError, ValueError) as exc:
            columns = shipped_hsc_columns(table)
            status = BackendStatus(
                backend.name,
                backend.kind,
                "degraded",
                f"backend '{backend.name}' ({backend.url}): /metadata of {table.name} failed "
                f"({exc}); using the shipped column metadata",
            )
        schema = table.name.split(".")[0]
        tables.append(TableMeta(schema, table.name, f"HSC {table.path} (MAST)", columns))
    if status.state == "degraded":
        log.warning("%s", status.message)
    return _Loaded(tables, status, planner)


def _load_tap(client: httpx.Client, backend: BackendConfig) -> _Loaded:
    assert backend.url is not None
    service: TapService = read_tap_service(client, backend.url, backend.schema_prefix or "")
    planner = TapPlanner(
        backend=backend.name,
        url=backend.url,
        tables=service.tables,
        schema_prefix=backend.schema_prefix or "",
        features=service.features,
    )
    status = _ok(backend, f"{len(service.federated)} tables from /tables")
    return _Loaded(list(service.federated), status, planner, service.upload_rows)


def _load_sia(client: httpx.Client, backend: BackendConfig) -> _Loaded:
    del client
    planner = planner_for(backend)
    assert planner is not None
    columns = tuple(column_meta(c) for c in planner.columns(None))
    meta = TableMeta(backend.name, f"{backend.name}.obscore", "ObsCore 1.1 (SIAv2)", columns)
    return _Loaded([meta], _ok(backend, "ObsCore columns"), planner)


def _load_spectral(client: httpx.Client, backend: BackendConfig) -> _Loaded:
    del client
    planner = planner_for(backend)
    assert isinstance(planner, SpectralPlanner)
    tables = []
    for name in planner.table_names():
        handle = planner.scan(TableName(tuple(Identifier(p) for p in name.split("."))))
        columns = tuple(column_meta(c) for c in planner.columns(handle))
        tables.append(TableMeta(name.split(".")[0], name, "Spectroscopic objects", columns))
    return _Loaded(tables, _ok(backend, "spectral catalogue columns"), planner)


def _load_local(client: httpx.Client, backend: BackendConfig) -> _Loaded:
    del client
    tables = []
    for table in backend.tables:
        schema_name, _, _ = table.name.rpartition(".")
        columns = table_columns(file_schema(table.path), table.columns)
        tables.append(TableMeta(schema_name or "default", table.name, table.description, columns))
    return _Loaded(tables, _ok(backend, "local files"))


_LOADERS = {
    "hsc": _load_hsc,
    "tap": _load_tap,
    "sia": _load_sia,
    "spectral": _load_spectral,
    "local": _load_local,
}


def federated_names(tables: Sequence[CatalogTable]) -> list[str]:
    """The qualified names of ``tables``."""
    return [t.meta.table_name for t in tables]
