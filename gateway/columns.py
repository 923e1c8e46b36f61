"""Column metadata as TAP and VOTable describe it, shared by TAP_SCHEMA, results and uploads."""

from __future__ import annotations

from dataclasses import dataclass

from planners.sql_catalog import UINT64_XTYPE, ColumnInfo

__all__ = ["ColumnMeta", "column_info", "column_meta"]


@dataclass(frozen=True, slots=True)
class ColumnMeta:
    """One column: VOTable ``FIELD`` attributes and TAP_SCHEMA.columns flags.

    ``datatype`` is a VOTable datatype (``boolean``, ``unsignedByte``, ``short``, ``int``,
    ``long``, ``char``, ``unicodeChar``, ``float``, ``double``); ``arraysize`` is None for a
    scalar, else the VOTable text (``"*"``, ``"2"``, ``"10*"``). Geometry follows DALI:
    ``double`` with ``arraysize`` ``2``/``3``/``*`` and ``xtype`` ``point``/``circle``/``polygon``.
    """

    name: str
    datatype: str
    arraysize: str | None = None
    xtype: str | None = None
    unit: str | None = None
    ucd: str | None = None
    utype: str | None = None
    description: str | None = None
    indexed: bool = False
    principal: bool = False
    std: bool = False
    nullable: bool = True


def column_meta(info: ColumnInfo) -> ColumnMeta:
    """A planner's column description as TAP metadata (``char`` when the type is unknown).

    An unsigned 64-bit integer (``xtype="uint64"``) is an integer for ADQL and ``char``
    decimal text for VOTable and TAP_SCHEMA (see ``planners.sql_catalog.UINT64_XTYPE``).
    """
    unsigned = info.xtype == UINT64_XTYPE
    return ColumnMeta(
        info.name,
        "char" if unsigned else info.datatype or "char",
        "*" if unsigned else info.arraysize,
        info.xtype,
        info.unit,
        info.ucd,
        info.utype,
        info.description,
    )


def column_info(meta: ColumnMeta) -> ColumnInfo:
    """TAP column metadata as the planners' :class:`ColumnInfo` (the TAP_SCHEMA flags dropped)."""
    unsigned = meta.xtype == UINT64_XTYPE
    return ColumnInfo(
        meta.name,
        "long" if unsigned else meta.datatype,
        None if unsigned else meta.arraysize,
        meta.xtype,
        meta.unit,
        meta.ucd,
        meta.utype,
        meta.description,
    )
