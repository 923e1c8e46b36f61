"""Column metadata as TAP and VOTable describe it, shared by TAP_SCHEMA, results and uploads."""

from __future__ import annotations

from dataclasses import dataclass


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
