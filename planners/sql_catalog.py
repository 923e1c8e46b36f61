"""What the SQL generator knows about the catalogue: column types and a table resolver.

The generator never guesses physical names. A :class:`TableResolver` supplied by the caller
(the gateway adapts its federated TAP_SCHEMA to it) turns an ADQL table name into the SQL name
to emit and its ordered columns. :class:`ColumnInfo` is the one column type of the project:
the compiler, the gateway's TAP_SCHEMA, result writers and upload readers all use it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from sqlglot import exp

from grammar.nodes import TableName

INTEGER_TYPES = frozenset({"unsignedByte", "short", "int", "long", "boolean"})
"""VOTable datatypes for which ADQL ``/`` is integer division."""

FLOAT_TYPES = frozenset({"float", "double", "floatComplex", "doubleComplex"})
CHAR_TYPES = frozenset({"char", "unicodeChar"})
UINT64_XTYPE = "uint64"
"""xtype of unsigned 64-bit integers such as SDSS ``specobjid`` (all 64 bits used).

A :class:`ColumnInfo` always holds the ADQL view: ``datatype="long"``, no arraysize, this
xtype; the column is an exact integer compared and sorted by its unsigned value. VOTable has
no unsigned 64-bit datatype and its ``long`` cannot hold ids >= 2**63, so TAP_SCHEMA, VOSI
and results declare ``char`` with this xtype and carry the unsigned decimal text, which every
reader gets back exactly. That translation happens only where columns are written or read
(``gateway.formats.columns.to_votable`` and ``from_votable``).
"""


@dataclass(frozen=True, slots=True)
class ColumnInfo:
    """A column of a catalogue table, an upload or a query result.

    The VOTable ``FIELD`` attributes and the TAP_SCHEMA.columns flags. ``datatype`` is a VOTable
    datatype (``boolean``, ``unsignedByte``, ``short``, ``int``, ``long``, ``char``,
    ``unicodeChar``, ``float``, ``double``, ...), or None when nothing is known: a column of a
    table translated without a catalogue, or a NULL literal, which the compiler must not
    type-check (written as ``char``). ``arraysize`` is None for a scalar, else the VOTable text
    (``"*"``, ``"2"``, ``"10*"``). Geometry follows DALI: ``double`` with ``arraysize``
    ``2``/``3``/``*`` and ``xtype`` ``point``/``circle``/``polygon``. Unsigned 64-bit ids are
    ``long`` with ``xtype="uint64"`` (see :data:`UINT64_XTYPE`).
    """

    name: str
    datatype: str | None = None
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

    @property
    def is_integer(self) -> bool:
        """True for scalar integer columns (ADQL integer arithmetic applies)."""
        return self.datatype in INTEGER_TYPES and self.arraysize is None

    @property
    def is_geometry(self) -> bool:
        """True for DALI point, circle and polygon values."""
        return self.xtype in {"point", "circle", "polygon"}

    def renamed(self, name: str) -> ColumnInfo:
        """The same column under another name."""
        return replace(self, name=name)


@dataclass(frozen=True, slots=True)
class ResolvedTable:
    """A catalogue table as the SQL generator sees it.

    ``sql_name`` holds the parts of the physical name to emit (each emitted quoted, exactly as
    given); ``columns`` are in TAP_SCHEMA order, which is the order ``SELECT *`` expands to.
    """

    sql_name: tuple[str, ...]
    columns: tuple[ColumnInfo, ...]
    open: bool = False
    """Pass-through: any column name resolves (emitted as written, of unknown type)."""


class TableResolver(Protocol):
    """Name resolution against the catalogue, supplied by whoever runs the compiler."""

    def resolve_table(self, name: TableName) -> ResolvedTable | None:
        """The table ``name`` designates (regular parts case-insensitive), or None."""
        ...

    def table_names(self) -> Sequence[str]:
        """Every known table as written in ADQL, used to suggest close matches."""
        ...


class PassThroughResolver:
    """Resolves every table as written, with open columns: translation without a catalogue.

    Regular identifiers are emitted in lower case (what PostgreSQL folds them to; DuckDB and
    SQLite compare case-insensitively), delimited ones exactly; there are no type checks.
    """

    def resolve_table(self, name: TableName) -> ResolvedTable | None:
        """Any name designates a table of that name."""
        parts = tuple(p.name if p.delimited else p.name.lower() for p in name.parts)
        return ResolvedTable(parts, (), open=True)

    def table_names(self) -> Sequence[str]:
        """Nothing is known in advance."""
        return ()


UnitConverter = Callable[[str, str], float]
"""``(from_unit, to_unit) -> factor``; raises ``ValueError`` when the units are incompatible."""


def scalar(datatype: str | None, unit: str | None = None) -> ColumnInfo:
    """An anonymous scalar type (the name is filled in when it becomes a result column)."""
    return ColumnInfo(name="", datatype=datatype, unit=unit)


DOUBLE = scalar("double")
LONG = scalar("long")
INT = scalar("int")
TEXT = ColumnInfo(name="", datatype="char", arraysize="*")
UNKNOWN = scalar(None)
POINT_TYPE = ColumnInfo(name="", datatype="double", arraysize="2", xtype="point", unit="deg")
CIRCLE_TYPE = ColumnInfo(name="", datatype="double", arraysize="3", xtype="circle", unit="deg")
POLYGON_TYPE = ColumnInfo(name="", datatype="double", arraysize="*", xtype="polygon", unit="deg")

_INTEGER_RANK = {"boolean": 0, "unsignedByte": 1, "short": 2, "int": 3, "long": 4}


def numeric_result(left: ColumnInfo, right: ColumnInfo) -> ColumnInfo:
    """The type of ``left op right`` for ``+ - * /``: integer only if both are integers."""
    unit = left.unit if left.unit == right.unit else None
    if left.is_integer and right.is_integer:
        wider = max(left, right, key=lambda c: _INTEGER_RANK[c.datatype or "long"])
        return scalar(wider.datatype if wider.datatype != "boolean" else "int", unit)
    if left.datatype is None or right.datatype is None:
        return scalar(None, unit)
    return scalar("double", unit)


CAST_TARGETS: dict[str, tuple[str, str]] = {
    # ADQL type -> (VOTable datatype, SQL type name understood by every target dialect)
    "SMALLINT": ("short", "SMALLINT"),
    "INTEGER": ("int", "INTEGER"),
    "INT": ("int", "INTEGER"),
    "BIGINT": ("long", "BIGINT"),
    "REAL": ("float", "REAL"),
    "DOUBLE PRECISION": ("double", "DOUBLE PRECISION"),
    "DOUBLE": ("double", "DOUBLE PRECISION"),
    "CHAR": ("char", "CHAR"),
    "VARCHAR": ("char", "VARCHAR"),
    "CHARACTER": ("char", "CHAR"),
    "CHARACTER VARYING": ("char", "VARCHAR"),
    "TIMESTAMP": ("char", "TIMESTAMP"),
}


@dataclass(frozen=True, slots=True)
class Typed:
    """A compiled scalar value: its SQL and what is known about its type and unit."""

    sql: exp.Expr
    type: ColumnInfo
