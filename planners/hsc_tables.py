"""The HSC REST tables: federated names, URL paths, cone columns and shipped column metadata.

The column lists are the services' ``/metadata`` answers, shipped as package data in
``planners/data/hsc_<release>_<table>[_<magtype>].json`` so that planning needs no network
(``tests/planners/make_hsc_metadata.py`` regenerates them; a test keeps them equal to the
stand-in's ``/metadata``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from grammar.errors import AdqlSemanticError, SemanticProblem
from grammar.nodes import TableName
from grammar.suggestions import suggestion
from planners.sql_catalog import ColumnInfo

NUMERIC_TYPES = frozenset({"long", "int", "short", "double", "float", "unsignedByte"})


@dataclass(frozen=True, slots=True)
class HscTable:
    """One HSC table: ``path`` under the base URL, the key and the cone's columns."""

    name: str
    path: str
    stem: str
    key: str
    ra: str
    dec: str

    @property
    def columns(self) -> tuple[ColumnInfo, ...]:
        """The columns, in service order, from the shipped metadata."""
        return load_columns(self.stem)

    def column(self, name: str) -> ColumnInfo:
        """The catalogue column called ``name`` (exact catalogue spelling)."""
        return next(c for c in self.columns if c.name == name)


def _summary(release: str, magtype: str) -> HscTable:
    suffix = "" if magtype == "magaper2" else "_magauto"
    return HscTable(
        f"hsc{release}.summary{suffix}",
        f"{release}/summary/{magtype}",
        f"hsc_{release}_summary_{magtype}",
        "MatchID",
        "MatchRA",
        "MatchDec",
    )


def _detailed(release: str) -> HscTable:
    return HscTable(
        f"hsc{release}.detailed",
        f"{release}/detailed",
        f"hsc_{release}_detailed",
        "SourceID",
        "SourceRA",
        "SourceDec",
    )


TABLES: dict[str, HscTable] = {
    t.name: t
    for t in (
        _summary("v3", "magaper2"),
        _summary("v3", "magauto"),
        _detailed("v3"),
        HscTable(
            "hscv3.propermotions",
            "v3/propermotions",
            "hsc_v3_propermotions",
            "ObjID",
            "raMean",
            "decMean",
        ),
        HscTable(
            "hscv3.sourcepositions",
            "v3/sourcepositions",
            "hsc_v3_sourcepositions",
            "SourceID",
            "SourceRA",
            "SourceDec",
        ),
        _summary("v2", "magaper2"),
        _summary("v2", "magauto"),
        _detailed("v2"),
    )
}
"""The federated HSC tables (DESIGN.md "Federated names")."""


@cache
def load_metadata(stem: str) -> tuple[dict[str, object], ...]:
    """The shipped ``/metadata`` records of one table (read once per process)."""
    text = resources.files("planners").joinpath("data", f"{stem}.json").read_text("utf-8")
    return tuple(json.loads(text))


@cache
def load_columns(stem: str) -> tuple[ColumnInfo, ...]:
    """The shipped metadata as :class:`ColumnInfo` values."""
    out = []
    for record in load_metadata(stem):
        datatype = str(record["type"])
        out.append(
            ColumnInfo(
                name=str(record["name"]),
                datatype=datatype,
                arraysize=None if datatype in NUMERIC_TYPES else "*",
                xtype=str(record.get("xtype") or "") or None,
                unit=str(record.get("unit") or "") or None,
                ucd=str(record.get("ucd") or "") or None,
                description=str(record.get("description") or "") or None,
            )
        )
    return tuple(out)


def lookup(table: TableName) -> HscTable:
    """The HSC table ``table`` names (regular identifiers ignore case).

    Raises
    ------
    AdqlSemanticError
        For any other name, suggesting the closest HSC tables.
    """
    parts = [p.key for p in table.parts[-2:]]
    name = ".".join(parts)
    if name in TABLES:
        return TABLES[name]
    hint = suggestion(name, TABLES, cutoff=0.5, list_known=True)
    written = ".".join(p.name for p in table.parts)
    raise AdqlSemanticError([SemanticProblem(f"Unknown HSC table '{written}'{hint}", table.span)])
