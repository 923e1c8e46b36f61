"""The ``ssap`` kind: an IVOA Simple Spectral Access 1.1 service as ``<backend>.ssa``.

The table's columns are the FIELDs of the service's metadata answer (``FORMAT=METADATA``)
that carry an SSA utype (``ssa:...``): those are the columns every answer holds (DaCHS adds
bookkeeping columns to the metadata answer only). The position columns are the ones marked
``pos.eq.ra;meta.main`` / ``pos.eq.dec;meta.main``, or the scalar halves of the coverage
location (utype ``...Coverage.Location.Value.C1`` / ``.C2``); the spectral bounds and the
observation date are found by their SSA utypes. A cone (``POS``/``SIZE``), ``BAND``, ``TIME``
and ``MAXREC`` are pushed (:class:`planners.ssap.SsapPlanner`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from typing_extensions import override

from gateway.kinds.dal import MetadataQueryKind, position_column
from gateway.kinds.registry import KindLoad
from gateway.table_meta import TableMeta
from planners.base import Capability
from planners.sql_catalog import ColumnInfo
from planners.ssap import SsapPlanner

if TYPE_CHECKING:
    import httpx

    from gateway.settings import BackendConfig

DEFAULT_TABLE = "ssa"

METADATA_QUERY = (("REQUEST", "queryData"), ("FORMAT", "METADATA"))
"""SSA 1.1 §8.1.1: the service's answer columns without rows."""


_BAND_UTYPES = (
    "ssa:char.spectralaxis.coverage.bounds.start",
    "ssa:char.spectralaxis.coverage.bounds.stop",
)
_TIME_UTYPE = "ssa:char.timeaxis.coverage.location.value"


def _by_utype(columns: Sequence[ColumnInfo], utype: str) -> str | None:
    """The scalar numeric column with ``utype`` (case-insensitive), if any."""
    for column in columns:
        numeric = column.datatype in {"float", "double"} and column.arraysize is None
        if (column.utype or "").lower() == utype and numeric:
            return column.name
    return None


def _band_columns(columns: Sequence[ColumnInfo]) -> tuple[str, str] | None:
    start, stop = (_by_utype(columns, u) for u in _BAND_UTYPES)
    return None if start is None or stop is None else (start, stop)


class SsapKind(MetadataQueryKind):
    """Simple Spectral Access: POS, SIZE, BAND, TIME and MAXREC of ``queryData``; VOTable."""

    name = "ssap"
    capabilities = Capability.FILTER | Capability.CONE | Capability.LIMIT
    runid_parameter = True
    metadata_query = METADATA_QUERY

    @override
    def load(self, client: httpx.Client, config: BackendConfig) -> KindLoad:
        """The SSA columns of the metadata answer; the planner pushes cones and MAXREC."""
        assert config.url is not None  # check_config requires a url
        fields = self.answer_columns(client, config)
        columns = tuple(c for c in fields if (c.utype or "").lower().startswith("ssa:"))
        if not columns:
            msg = f"{config.url}: the metadata answer has no FIELD with an SSA utype"
            raise ValueError(msg)
        url = config.url
        planner = SsapPlanner(
            backend=config.name,
            url=url,
            table=config.table_name or DEFAULT_TABLE,
            catalog_columns=tuple(columns),
            ra_column=position_column(columns, "pos.eq.ra;meta.main", url, "location.value.c1"),
            dec_column=position_column(columns, "pos.eq.dec;meta.main", url, "location.value.c2"),
            band_columns=_band_columns(columns),
            time_column=_by_utype(columns, _TIME_UTYPE),
        )
        meta = TableMeta(config.name, planner.table_name, "Simple Spectral Access", columns)
        return KindLoad((meta,), f"{len(columns)} SSA columns from the metadata query", planner)
