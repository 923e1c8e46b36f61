"""The example queries ``/examples`` may list, and the choice of those the service can run.

Candidates are the demo's printed queries (:data:`standins.demo.config.EXAMPLES`), the
README's and the seed scenarios' queries. A service lists a candidate only when every table it
names is served, every column it names exists in one of those tables, and every column used as
a region in CONTAINS or INTERSECTS is typed as a geometry (has an xtype): an example in
TOPCAT's Examples menu that fails with "unknown table" is worse than none. Tables and columns
are read from the parsed query, so a candidate's ``tables`` can never drift from its text.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence

import grammar
from gateway.table_meta import SchemaMeta, TableMeta
from gateway.tap.examples import Example
from grammar import nodes as n
from grammar.walk import iter_nodes
from standins.demo import config as demo_config

__all__ = ["candidate_examples", "runnable_examples"]

_TAP_SCHEMA_TABLES = Example(
    "Tables of this service",
    "Every table TAP_SCHEMA describes, with its description.",
    "SELECT table_name, description FROM TAP_SCHEMA.tables ORDER BY table_name",
)

# Queries of the README and the seed scenarios that are not among the demo's printed ones.
_MORE = (
    Example(
        "Rubin deep coadds in r covering a position (ObsCore)",
        "The ObsCore seed: r-band deep coadd images whose footprint contains (53.2, -28.1), "
        "with their DataLink access_url.",
        # The seed selects *; s_region is left out here because STILTS (votlint, taplint's
        # examples stage) misreads BINARY2 polygon columns that astropy reads and writes alike.
        "SELECT obs_id, obs_publisher_did, access_url, access_format, s_ra, s_dec, lsst_band, "
        "lsst_tract, lsst_patch FROM ivoa.ObsCore "
        "WHERE CONTAINS(POINT('ICRS', 53.2, -28.1), s_region) = 1 "
        "AND dataproduct_subtype = 'lsst.deep_coadd' AND lsst_band = 'r'",
    ),
    Example(
        "HSC SMC 3x3 degree box (the HSC notebook's query)",
        "About 760,000 HSC sources in the SMC field; raise MAXREC above the default "
        "(100000) to get them all.",
        "SELECT MatchID, MatchRA, MatchDec, CI, A_F555W, A_F555W_N, A_F555W_MAD, "
        "A_F814W, A_F814W_N, A_F814W_MAD FROM hscv3.summary "
        "WHERE MatchDec > -74.3 AND MatchDec < -71.3 "
        "AND MatchRA > 11.68659 AND MatchRA < 14.68659 "
        "AND A_F555W_N >= 1 AND A_F814W_N >= 1 AND CI > 0.9 AND CI < 1.6",
    ),
    Example(
        "Spectra at redshift above 0.5 in ECDFS",
        "Spectral-ID service: objects with z > 0.5 within 0.2 degrees of (53.2, -28.1).",
        "SELECT ra, dec, z, class FROM sdss_dr16.specobj "
        "WHERE z > 0.5 AND 1 = CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 53.2, -28.1, 0.2))",
    ),
)


_GEOMETRY_PREDICATES = frozenset({"CONTAINS", "INTERSECTS"})
_GEOMETRY_XTYPES = frozenset({"point", "circle", "polygon", "region", "moc", "shape"})


@functools.cache
def candidate_examples() -> tuple[Example, ...]:
    """Every known example, with its tables read from the query (in first-use order)."""
    raw = [_TAP_SCHEMA_TABLES]
    raw += [Example(e.title, f"{e.title}.", e.adql) for e in demo_config.EXAMPLES]
    raw += _MORE
    return tuple(
        Example(e.name, e.description, e.query, _table_names(_parsed(e.query))) for e in raw
    )


# /capabilities and /examples ask on every request, from the event loop: parse each text once
# (the AST is immutable, so sharing it is safe).
@functools.lru_cache(maxsize=256)
def _parsed(query: str) -> n.Query:
    return grammar.parse(query)


def runnable_examples(
    schemas: Sequence[SchemaMeta], candidates: Iterable[Example] | None = None
) -> list[Example]:
    """The candidates whose tables and columns all exist among ``schemas``.

    Names match case-insensitively, as ADQL regular identifiers do (the examples use none
    delimited).
    """
    tables = {t.table_name.lower(): t for s in schemas for t in s.tables}
    chosen = []
    for example in candidate_examples() if candidates is None else candidates:
        used = [tables.get(name.lower()) for name in example.tables]
        known = [t for t in used if t is not None]
        if len(known) == len(used) and _columns_exist(_parsed(example.query), known):
            chosen.append(example)
    return chosen


def _table_names(query: n.Query) -> tuple[str, ...]:
    names: dict[str, None] = {}
    for node in iter_nodes(query):
        if isinstance(node, n.TableReference):
            names[".".join(part.name for part in node.name.parts)] = None
    return tuple(names)


def _columns_exist(query: n.Query, tables: Sequence[TableMeta]) -> bool:
    columns = {c.name.lower(): c for t in tables for c in t.columns}
    nodes = list(iter_nodes(query))
    aliases = {x.alias.key for x in nodes if isinstance(x, n.DerivedColumn) and x.alias}
    if not all(
        node.name.key in columns or node.name.key in aliases
        for node in nodes
        if isinstance(node, n.ColumnReference)
    ):
        return False
    # A column used as a region (CONTAINS(POINT(..), s_region)) must be typed as one: the same
    # double array without an xtype is only numbers to the service and the query fails.
    regions = [
        arg.name.key
        for node in nodes
        if isinstance(node, n.FunctionCall) and node.name.upper() in _GEOMETRY_PREDICATES
        for arg in node.args
        if isinstance(arg, n.ColumnReference)
    ]
    return all(
        key in aliases or (columns[key].xtype or "").lower() in _GEOMETRY_XTYPES for key in regions
    )
