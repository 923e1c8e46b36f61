"""ADQL value types as the binder sees them: kinds, their compatibility, built-in signatures.

ADQL 2.1 (section 2.3) has numeric, character string, geometry and (optional) TIMESTAMP
values. The binder only needs the *kind* of a value to reject what no service can evaluate:
numbers compare with numbers of any precision, strings with strings, a TIMESTAMP with a
TIMESTAMP or the ISO text of one. Anything the catalogue does not describe precisely (NULL,
user-defined functions, arrays, unknown columns of pass-through tables) is ``unknown`` and
compatible with everything: the binder never rejects a query it cannot prove wrong.

Column kinds come from VOTable datatypes and DALI xtypes; an unsigned 64-bit id (``long``
with ``xtype="uint64"``, declared ``char`` to clients) is an integer named ``unsigned long``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from planners.sql_catalog import CHAR_TYPES, FLOAT_TYPES, INTEGER_TYPES, UINT64_XTYPE, ColumnInfo

Kind = Literal["number", "string", "geometry", "timestamp", "unknown"]

_KIND_WORDS: Final = {
    "number": "a number",
    "string": "a character string",
    "geometry": "a geometry",
    "timestamp": "a timestamp",
    "unknown": "a value",
}
GEOMETRY_XTYPES: Final = frozenset({"point", "circle", "polygon", "box", "region", "moc"})


@dataclass(frozen=True, slots=True)
class AdqlType:
    """The kind of a value and the name shown in messages (``double``, ``char``, ``point``)."""

    kind: Kind
    name: str
    integer: bool = False
    floating: bool = False
    """Known to be approximate (REAL, DOUBLE); neither flag: a number of unknown precision."""

    def describe(self) -> str:
        """``a number (double)`` and the like, for error messages."""
        word = _KIND_WORDS[self.kind]
        plain = self.name in {"unknown", "number", self.kind}
        return word if plain else f"{word} ({self.name})"


UNKNOWN: Final = AdqlType("unknown", "unknown")
INTEGER: Final = AdqlType("number", "integer", integer=True)
DOUBLE: Final = AdqlType("number", "double", floating=True)
NUMBER: Final = AdqlType("number", "number")
STRING: Final = AdqlType("string", "char")
TIMESTAMP: Final = AdqlType("timestamp", "timestamp")
POINT: Final = AdqlType("geometry", "point")


def geometry(name: str) -> AdqlType:
    """A geometry type (``point``, ``circle``, ``polygon``, ``region``...)."""
    return AdqlType("geometry", name)


def column_type(meta: ColumnInfo) -> AdqlType:
    """The ADQL type of a catalogue column (TAP_SCHEMA datatype, arraysize and xtype)."""
    xtype = (meta.xtype or "").lower().removeprefix("adql:")
    if xtype in GEOMETRY_XTYPES:
        return geometry(xtype)
    if xtype == "timestamp":
        return TIMESTAMP
    if xtype == UINT64_XTYPE:
        return AdqlType("number", "unsigned long", integer=True)
    if meta.datatype in CHAR_TYPES:
        return AdqlType("string", meta.datatype)
    if meta.arraysize not in (None, "1"):
        return UNKNOWN  # numeric arrays: no ADQL operator applies to them as a whole
    if meta.datatype == "boolean":
        # ADQL has no boolean; services compare them with 1 or with 'true' (PostgreSQL).
        return UNKNOWN
    if meta.datatype in INTEGER_TYPES:
        return AdqlType("number", meta.datatype, integer=True)
    if meta.datatype in FLOAT_TYPES:
        return AdqlType("number", meta.datatype, floating=True)
    return UNKNOWN


def comparable(a: AdqlType, b: AdqlType) -> bool:
    """Whether ``a`` and ``b`` may be compared (=, <, BETWEEN, IN, COALESCE, UNION)."""
    if "unknown" in (a.kind, b.kind) or a.kind == b.kind:
        return True
    # A TIMESTAMP compares with its ISO 8601 text ('2024-01-01T00:00:00').
    return {a.kind, b.kind} == {"string", "timestamp"}


def cast_result(target: str) -> AdqlType:
    """The type of ``CAST(x AS target)`` (target as the parser spells it, upper case)."""
    name = " ".join(target.upper().split())
    if name in {"SMALLINT", "INTEGER", "BIGINT"}:
        return AdqlType("number", name.lower(), integer=True)
    if name in {"REAL", "DOUBLE PRECISION"}:
        return AdqlType("number", name.lower(), floating=True)
    if name in {"CHAR", "VARCHAR"}:
        return AdqlType("string", name.lower())
    if name == "TIMESTAMP":
        return TIMESTAMP
    if name in {"POINT", "CIRCLE", "POLYGON"}:
        return geometry(name.lower())
    return UNKNOWN


NUMERIC_FUNCTIONS: Final = frozenset(
    {
        "ABS", "CEILING", "DEGREES", "EXP", "FLOOR", "LOG", "LOG10", "RADIANS", "SQRT",
        "ACOS", "ASIN", "ATAN", "COS", "COT", "SIN", "TAN", "MOD", "POWER", "ATAN2",
        "ROUND", "TRUNCATE", "PI", "RAND",
    }
)  # fmt: skip
"""Math and trigonometric functions: every argument is a number."""

KEEP_INTEGER: Final = frozenset({"ABS", "CEILING", "FLOOR", "ROUND", "TRUNCATE", "MOD"})
"""Functions whose result is an integer when their (first) argument is."""

GEOMETRY_FUNCTIONS: Final = {
    "CONTAINS": INTEGER,
    "INTERSECTS": INTEGER,
    "AREA": DOUBLE,
    "COORD1": DOUBLE,
    "COORD2": DOUBLE,
    "CENTROID": POINT,
    "COORDSYS": STRING,
}
"""Functions of geometries only, with their result types (DISTANCE has two forms)."""

ARITY: Final = {
    **dict.fromkeys(
        ("ABS", "CEILING", "DEGREES", "EXP", "FLOOR", "LOG", "LOG10", "RADIANS", "SQRT",
         "ACOS", "ASIN", "ATAN", "COS", "COT", "SIN", "TAN", "LOWER", "UPPER",
         "AREA", "CENTROID", "COORD1", "COORD2", "COORDSYS"),
        frozenset({1}),
    ),
    **dict.fromkeys(("MOD", "POWER", "ATAN2", "CONTAINS", "INTERSECTS", "IN_UNIT"), frozenset({2})),
    "ROUND": frozenset({1, 2}),
    "TRUNCATE": frozenset({1, 2}),
    "PI": frozenset({0}),
    "RAND": frozenset({0, 1}),
    "DISTANCE": frozenset({2, 4}),
}  # fmt: skip
"""How many arguments each built-in takes (ADQL 2.1 section 2.4); COALESCE takes any."""
