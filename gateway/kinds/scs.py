"""The ``scs`` kind: an IVOA Simple Cone Search 1.03 service as one table, ``<backend>.<table>``.

The table's columns are the FIELDs of the service's own answer to a metadata query (``SR=0``
with ``VERB=3``: no rows, every column), so nothing is configured but the URL and, optionally,
``table_name`` (default ``cone``). SCS 1.03 marks its columns with UCD1 words; the three the
standard requires are also given their UCD1+ form, which the rest of the gateway reads (the
position columns for cone pushdown, the identifier for de-duplicating BindJoin answers).
Only a cone is pushed (:class:`planners.scs.ScsPlanner`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from typing_extensions import override

from gateway.kinds.dal import MetadataQueryKind, position_column
from gateway.kinds.registry import KindLoad
from gateway.table_meta import TableMeta
from planners.base import Capability
from planners.scs import ScsPlanner
from planners.sql_catalog import ColumnInfo

if TYPE_CHECKING:
    import httpx

    from gateway.settings import BackendConfig

DEFAULT_TABLE = "cone"

_UCD1_PLUS = {
    "id_main": "meta.id;meta.main",
    "pos_eq_ra_main": "pos.eq.ra;meta.main",
    "pos_eq_dec_main": "pos.eq.dec;meta.main",
}
"""SCS 1.03's required UCD1 words and their UCD1+ equivalents."""

METADATA_QUERY = (("RA", "0"), ("DEC", "0"), ("SR", "0"), ("VERB", "3"))
"""SCS 1.03 §2.1: SR=0 asks for the answer's metadata only (no rows)."""


def _modern(column: ColumnInfo) -> ColumnInfo:
    ucd = _UCD1_PLUS.get((column.ucd or "").lower())
    return column if ucd is None else replace(column, ucd=ucd)


class ScsKind(MetadataQueryKind):
    """Simple Cone Search: RA, DEC, SR and VERB; a VOTable answer."""

    name = "scs"
    capabilities = Capability.FILTER | Capability.CONE
    metadata_query = METADATA_QUERY

    @override
    def load(self, client: httpx.Client, config: BackendConfig) -> KindLoad:
        """The answer's columns from a metadata query; the planner pushes cones."""
        assert config.url is not None  # check_config requires a url
        columns = tuple(_modern(c) for c in self.answer_columns(client, config))
        table = config.table_name or DEFAULT_TABLE
        planner = ScsPlanner(
            backend=config.name,
            url=config.url,
            table=table,
            catalog_columns=tuple(columns),
            ra_column=position_column(columns, "pos.eq.ra;meta.main", config.url),
            dec_column=position_column(columns, "pos.eq.dec;meta.main", config.url),
        )
        meta = TableMeta(config.name, planner.table_name, "Simple Cone Search", columns)
        return KindLoad((meta,), f"{len(columns)} columns from the metadata query", planner)
