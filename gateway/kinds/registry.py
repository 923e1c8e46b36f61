"""Backend kinds: one registered object each, looked up by the ``kind`` of a backend's config.

A kind bundles what the gateway needs to know about one sort of service: how its
configuration is checked, how its tables and columns are discovered (the catalogue source),
which :class:`~planners.base.Planner` rewrites queries for it, how the executor passes a run id
and credentials, and whether it is served over HTTP at all. The federation never asks which
kind a backend is: it reads the planner's declared :class:`~planners.base.Capability` flags.

A kind is a subclass of :class:`BackendKind` with a ``name``; defining the class registers one
instance of it (as a sqlglot dialect registers itself by being subclassed). The built-in kinds
are the modules of the :mod:`gateway.kinds` package, imported on the first lookup; third-party
kinds are modules named by the ``adql_gateway.backend_kinds`` entry-point group, imported
likewise. Looking kinds up lazily keeps this module free of gateway imports, so that the
settings can validate a backend's ``kind`` without an import cycle.
"""

from __future__ import annotations

import abc
import importlib
import pkgutil
import threading
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from typing_extensions import override

from planners.base import Capability, Planner

if TYPE_CHECKING:
    import httpx

    from gateway.settings import BackendConfig
    from gateway.table_meta import TableMeta
    from grammar.nodes import Query

__all__ = [
    "BackendKind",
    "KindLoad",
    "all_kinds",
    "kind_for",
    "kind_names",
]

ENTRY_POINT_GROUP = "adql_gateway.backend_kinds"
"""Entry-point group whose modules define further kinds (each value a module to import)."""

AnyPlanner = Planner[Any]
LoadState = Literal["ok", "degraded"]


@dataclass(frozen=True, slots=True)
class KindLoad:
    """What a kind's catalogue source learnt about one backend.

    ``state`` is ``degraded`` when the tables come from a fallback (the service's own metadata
    did not answer); ``upload_rows`` is the backend's stated upload limit, if any.
    """

    tables: tuple[TableMeta, ...]
    message: str
    planner: AnyPlanner | None = None
    state: LoadState = "ok"
    upload_rows: int | None = None


class BackendKind(abc.ABC):
    """One sort of backend service; subclasses with a ``name`` register themselves."""

    name: ClassVar[str]
    """The ``kind`` value of the configuration."""

    remote: ClassVar[bool] = True
    """Served over HTTP at the configured ``url`` (False: files read by the local engine)."""

    capabilities: ClassVar[Capability] = Capability.NONE
    """What the kind's planner can take, at most (the planner's own flags are authoritative:
    a TAP service without uploads has no ``UPLOAD_SEMIJOIN``)."""

    runid_parameter: ClassVar[bool] = False
    """A job's run id goes in a ``RUNID`` parameter (DALI); otherwise an ``X-RunId`` header."""

    default_auth: ClassVar[str] = "bearer"
    """How configured credentials are sent when the configuration does not say."""

    spectrum_links: ClassVar[bool] = False
    """The gateway's DataLink service builds links for this backend's spectrum ids (its ``url``
    serves the spectra, spectro-ids.md); other kinds' ids are routed by ``datalink_url``."""

    row_keys: ClassVar[tuple[str, ...]] = ()
    """Columns that identify a row of this kind's tables, tried in order when a table's metadata
    marks none with the UCD ``meta.id;meta.main`` (the federation removes the rows that
    overlapping bind cones return twice by this key)."""

    @override
    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__ and not getattr(cls, "__abstractmethods__", None):
            _register(cls())

    def check_config(self, config: BackendConfig) -> str | None:
        """What is wrong with ``config`` for this kind (None when it can be served)."""
        if self.remote and not config.url:
            return f"backend '{config.name}' of kind {self.name} needs a url"
        return None

    reverse_table: ClassVar[str | None] = None
    """For kinds whose requests translate back to ADQL (``adql-gateway to-adql --from``): the
    table a request reads when none is named (None: no reverse translation)."""

    def params_to_query(self, params: str | dict[str, Any], table: str | None) -> Query:
        """The ADQL query one request of this kind stands for (query string or JSON object).

        Raises
        ------
        grammar.errors.AdqlError
            For parameters the kind's service would refuse.
        """
        del params, table
        msg = f"backend kind {self.name} has no reverse translation"
        raise NotImplementedError(msg)

    def public_backend(self) -> BackendConfig | None:
        """The public service ``adql-gateway translate`` targets with no configuration."""
        return None

    def health_params(self, config: BackendConfig) -> tuple[tuple[str, str], ...]:
        """Query parameters of the availability probe, a GET of the backend's ``url``.

        A probe only asks whether the service answers below HTTP 500; kinds whose bare URL
        is not a valid request give the cheapest one that is.
        """
        del config
        return ()

    def planner(self, config: BackendConfig) -> AnyPlanner | None:
        """The planner of ``config`` built without network reads (None: needs its metadata)."""
        del config
        return None

    @abc.abstractmethod
    def load(self, client: httpx.Client, config: BackendConfig) -> KindLoad:
        """Discover the backend's tables (its catalogue source) and build its planner.

        Raises
        ------
        httpx.HTTPError, ValueError, OSError, SyntaxError
            The backend cannot be read; the catalogue reports it down and retries later.
        """


_KINDS: dict[str, BackendKind] = {}
_loaded = False
_lock = threading.Lock()


def _register(kind: BackendKind) -> None:
    if kind.name in _KINDS and type(_KINDS[kind.name]) is not type(kind):
        msg = f"backend kind {kind.name!r} is defined twice"
        raise ValueError(msg)
    _KINDS[kind.name] = kind


def _discover() -> None:
    """Import the built-in kind modules and the entry-point ones, once."""
    global _loaded  # noqa: PLW0603 - the registry is process-wide by design
    with _lock:
        if _loaded:
            return
        package = importlib.import_module("gateway.kinds")
        for module in pkgutil.iter_modules(package.__path__):
            if module.name != "registry":
                importlib.import_module(f"gateway.kinds.{module.name}")
        for point in entry_points(group=ENTRY_POINT_GROUP):
            importlib.import_module(point.value)
        _loaded = True


def kind_names() -> tuple[str, ...]:
    """Every registered kind name, sorted."""
    _discover()
    return tuple(sorted(_KINDS))


def all_kinds() -> tuple[BackendKind, ...]:
    """Every registered kind, by name."""
    _discover()
    return tuple(_KINDS[name] for name in sorted(_KINDS))


def kind_for(name: str) -> BackendKind:
    """The kind called ``name``.

    Raises
    ------
    ValueError
        For an unknown name, listing the known ones.
    """
    _discover()
    try:
        return _KINDS[name]
    except KeyError:
        known = ", ".join(sorted(_KINDS))
        msg = f"unknown backend kind {name!r} (known kinds: {known})"
        raise ValueError(msg) from None
