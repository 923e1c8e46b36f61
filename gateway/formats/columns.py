"""Columns as VOTable, TAP_SCHEMA and VOSI declare them, and back.

Inside the gateway a column is a :class:`planners.sql_catalog.ColumnInfo` in ADQL terms. Two
things have no VOTable spelling: unsigned 64-bit ids (``long`` with ``xtype="uint64"``,
declared ``char`` decimal text, see ``planners.sql_catalog.UINT64_XTYPE``) and a column of
unknown type (declared ``char``). :func:`to_votable` is the one place that spells them out
for clients (result FIELDs, TAP_SCHEMA rows, the VOSI tableset); :func:`from_votable` reads
the ids back from what a backend or an upload declares.
"""

from __future__ import annotations

from dataclasses import replace

from planners.sql_catalog import CHAR_TYPES, UINT64_XTYPE, ColumnInfo

__all__ = ["from_votable", "is_uint64", "to_votable"]


def to_votable(column: ColumnInfo) -> ColumnInfo:
    """``column`` as a VOTable FIELD, a TAP_SCHEMA row or the VOSI tableset declares it."""
    if is_uint64(column):
        return replace(column, datatype="char", arraysize="*")
    if column.datatype is None:
        return replace(column, datatype="char")
    return column


def from_votable(column: ColumnInfo) -> ColumnInfo:
    """A declared column (VOTable FIELD, TAP_SCHEMA row) in the gateway's terms.

    ``char`` text with ``xtype="uint64"`` is the declaration :func:`to_votable` writes for an
    unsigned 64-bit id; anything else is taken as declared.
    """
    if column.xtype == UINT64_XTYPE and column.datatype in CHAR_TYPES:
        return replace(column, datatype="long", arraysize=None)
    return column


def is_uint64(column: ColumnInfo) -> bool:
    """True for a scalar unsigned 64-bit id (``long`` with ``xtype="uint64"``)."""
    return column.xtype == UINT64_XTYPE and column.arraysize is None
