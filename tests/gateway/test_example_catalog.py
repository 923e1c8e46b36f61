"""Which known example queries a service lists: only those whose tables and columns it serves."""

from __future__ import annotations

import grammar
from gateway.table_meta import SchemaMeta, TableMeta
from gateway.tap.example_catalog import candidate_examples, runnable_examples
from gateway.tap.examples import Example
from planners.sql_catalog import ColumnInfo
from standins.demo.config import EXAMPLES as DEMO_EXAMPLES


def _schema(name: str, tables: dict[str, list[str]]) -> SchemaMeta:
    metas = tuple(
        TableMeta(name, table, None, tuple(ColumnInfo(c, "double") for c in columns))
        for table, columns in tables.items()
    )
    return SchemaMeta(name, None, metas)


def test_candidates_include_every_demo_query_and_the_seeds() -> None:
    queries = [e.query for e in candidate_examples()]
    assert all(demo.adql in queries for demo in DEMO_EXAMPLES)
    text = " ".join(queries)
    assert "dataproduct_subtype = 'lsst.deep_coadd'" in text
    assert "MatchDec > -74.3 AND MatchDec < -71.3" in text
    for example in candidate_examples():
        grammar.parse(example.query)  # every candidate is valid ADQL


def test_tables_are_read_from_the_query() -> None:
    join = next(e for e in candidate_examples() if "JOIN sdss_dr16.specobj" in e.query)
    assert join.tables == ("hscv3.summary", "sdss_dr16.specobj")


def test_only_examples_over_served_tables_and_columns_are_listed() -> None:
    candidates = [
        Example("a", "", "SELECT ra, dec FROM cat.stars WHERE ra > 1", ("cat.stars",)),
        Example("missing table", "", "SELECT ra FROM cat.galaxies", ("cat.galaxies",)),
        Example("missing column", "", "SELECT ra, gmag FROM cat.stars", ("cat.stars",)),
        Example("alias", "", "SELECT ra AS x FROM cat.stars ORDER BY x", ("cat.stars",)),
        Example(
            "join",
            "",
            "SELECT s.ra, o.z FROM cat.stars AS s JOIN Other.Obj AS o ON s.ra = o.ra",
            ("cat.stars", "Other.Obj"),
        ),
    ]
    schemas = [
        _schema("cat", {"cat.stars": ["RA", "Dec"]}),
        _schema("other", {"other.obj": ["ra", "z"]}),
    ]
    chosen = [e.name for e in runnable_examples(schemas, candidates)]
    # Names match case-insensitively, as regular ADQL identifiers do.
    assert chosen == ["a", "alias", "join"]


def test_a_service_without_the_demo_tables_lists_only_tap_schema() -> None:
    tap_schema = _schema(
        "TAP_SCHEMA", {"TAP_SCHEMA.tables": ["table_name", "description", "schema_name"]}
    )
    assert [e.tables for e in runnable_examples([tap_schema])] == [("TAP_SCHEMA.tables",)]


def test_a_region_column_must_be_typed_as_a_geometry() -> None:
    query = "SELECT obs_id FROM ivoa.obscore WHERE CONTAINS(POINT('ICRS', 1, 2), s_region) = 1"
    candidates = [Example("footprint", "", query, ("ivoa.obscore",))]

    def obscore(xtype: str | None) -> SchemaMeta:
        columns = (
            ColumnInfo("obs_id", "char", "*"),
            ColumnInfo("s_region", "double", "*", xtype),
        )
        return SchemaMeta("ivoa", None, (TableMeta("ivoa", "ivoa.ObsCore", None, columns),))

    assert runnable_examples([obscore("polygon")], candidates) == candidates
    # Without an xtype the service sees numbers, not a region: CONTAINS would fail there.
    assert runnable_examples([obscore(None)], candidates) == []
