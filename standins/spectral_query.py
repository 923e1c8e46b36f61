"""The legacy spectral service's ``/query``: a SQL-like ``cond`` evaluated without SQL.

The real service splices ``cond`` into ``SELECT ... WHERE <cond>``. Here the text goes
through three strict steps and is never executed:

1. a trailing ``order by <col> [asc|desc], ...`` and/or ``limit <n>`` (outside string
   literals) is split off and checked against the column allow-list;
2. ``q3c_radial_query(ra,dec,<num>,<num>,<num>)`` and ``q3c_poly_query(ra,dec,ARRAY[<nums>])``
   (the positional clauses the Data Lab client writes) become ``q3c_...(...) = 1`` so that
   they are ADQL comparison predicates; only numeric arguments are matched;
3. the rest is parsed by :func:`grammar.parse_condition` and evaluated by
   :mod:`standins.evaluate` over the catalogue's own columns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

import grammar
from planners.spectral_reverse import Q3C_POLY as _POLY
from planners.spectral_reverse import Q3C_RADIAL as _RADIAL
from standins.evaluate import ConstraintError, Evaluator, TableColumns, Value
from standins.sia_geometry import GeometryError, SphericalPolygon, unit
from standins.specobjid import ID_COLUMN

_ORDER_ITEM = re.compile(r"([A-Za-z_]\w*)(?:\s+(asc|desc))?", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class SpecQuery:
    """A parsed ``cond``: the filter text plus ordering and a row limit."""

    where: str
    order_by: tuple[tuple[str, bool], ...]
    limit: int | None


def _outside_quotes(text: str) -> list[bool]:
    """For each character, whether it is outside '...' literals and "..." identifiers."""
    flags, quote = [], ""
    for ch in text:
        if quote:
            flags.append(False)
            if ch == quote:
                quote = ""
        else:
            if ch in "'\"":
                quote = ch
            flags.append(not quote)
    return flags


def split_cond(cond: str) -> SpecQuery:
    """Split ``cond`` into filter, ORDER BY and LIMIT parts (strictly validated)."""
    free = _outside_quotes(cond)
    lowered = cond.lower()

    def find(pattern: str) -> int:
        for m in re.finditer(pattern, lowered):
            if free[m.start()]:
                return m.start()
        return -1

    order_at, limit_at = find(r"(?<![\w.])order\s+by\b"), find(r"(?<![\w.])limit\b")
    cuts = [i for i in (order_at, limit_at) if i >= 0]
    where = cond[: min(cuts)] if cuts else cond
    limit: int | None = None
    if limit_at >= 0:
        limit_text = cond[limit_at + 5 :].strip()
        if not limit_text.isdigit():
            raise ConstraintError(f"LIMIT needs a non-negative integer, not {limit_text!r}")
        limit = int(limit_text)
        if order_at > limit_at:
            raise ConstraintError("ORDER BY must come before LIMIT")
    order: list[tuple[str, bool]] = []
    if order_at >= 0:
        end = limit_at if limit_at > order_at else len(cond)
        body = re.sub(r"^order\s+by", "", cond[order_at:end].strip(), flags=re.IGNORECASE)
        for item in body.split(","):
            m = _ORDER_ITEM.fullmatch(item.strip())
            if not m:
                raise ConstraintError(f"invalid ORDER BY item {item.strip()!r}")
            order.append((m.group(1), (m.group(2) or "").lower() == "desc"))
    return SpecQuery(where.strip(), tuple(order), limit)


def normalise_q3c(where: str) -> str:
    """Turn the Data Lab client's q3c calls into ADQL predicates (numeric arguments only)."""
    where = _RADIAL.sub(r"q3c_radial_query(ra, dec, \1, \2, \3) = 1", where)
    return _POLY.sub(lambda m: f"q3c_poly_query(ra, dec, {m.group(1)}) = 1", where)


def _numbers(args: list[Value], name: str) -> list[float]:
    if any(a.kind != "num" or a.data.ndim for a in args):
        raise ConstraintError(f"{name} takes ra, dec and numeric literals")
    return [float(a.data) for a in args]


def database_view(table: pa.Table) -> pa.Table:
    """``table`` as the service's database holds it: ``specobjid`` as signed ``bigint``.

    The service runs ``cond`` and ``order by`` in SQL over that column, so ids >= 2**63 are
    negative there (spectro-ids.md A.5); only its output is converted back to unsigned.
    """
    index = table.schema.get_field_index(ID_COLUMN)
    if index < 0 or not pa.types.is_uint64(table.schema.field(index).type):
        return table
    signed = table.column(index).combine_chunks().view(pa.int64())
    return table.set_column(index, ID_COLUMN, signed)


class SpecCatalog:
    """One catalogue table plus its evaluator and the q3c functions.

    ``table`` holds the unsigned ids the service outputs; filtering and sorting run over
    :func:`database_view`, as the real service's SQL does.
    """

    def __init__(self, table: pa.Table) -> None:
        self.table = table
        self.columns = TableColumns(database_view(table))
        self.evaluator = Evaluator(
            self.columns,
            {"q3c_radial_query": self._radial, "q3c_poly_query": self._poly},
        )

    def _positions(self, args: list[Value], name: str) -> tuple[np.ndarray, list[float]]:
        if len(args) < 3:
            raise ConstraintError(f"{name} needs ra, dec and a shape")
        ra, dec = args[0], args[1]
        if ra.kind != "num" or dec.kind != "num" or ra.data.ndim != 1:
            raise ConstraintError(f"{name} must start with the ra and dec columns")
        return unit(ra.data.astype(float), dec.data.astype(float)), _numbers(args[2:], name)

    def _radial(self, args: list[Value]) -> Value:
        points, shape = self._positions(args, "q3c_radial_query")
        if len(shape) != 3:
            raise ConstraintError("q3c_radial_query(ra, dec, ra0, dec0, radius)")
        cos_sep = points @ unit(shape[0], shape[1])
        inside = cos_sep >= np.cos(np.radians(shape[2]))
        return Value(inside.astype(np.int64), args[0].null | args[1].null, "num")

    def _poly(self, args: list[Value]) -> Value:
        points, shape = self._positions(args, "q3c_poly_query")
        try:
            polygon = SphericalPolygon.from_flat(shape)
        except GeometryError as exc:
            raise ConstraintError(f"q3c_poly_query: {exc}") from None
        inside = polygon.contains(points)
        return Value(inside.astype(np.int64), args[0].null | args[1].null, "num")

    def select(self, cond: str, extra: str = "") -> pa.Table:
        """Rows matching ``cond`` (and ``extra``, an already-safe positional clause)."""
        query = split_cond(cond)
        present = [w for w in (normalise_q3c(extra), normalise_q3c(query.where)) if w]
        # Parenthesise only when combining, so error columns match the client's own text.
        where = " AND ".join(f"({w})" for w in present) if len(present) > 1 else "".join(present)
        rows = np.arange(self.table.num_rows)
        if where:
            try:
                condition = grammar.parse_condition(where)
            except grammar.AdqlError as exc:
                raise ConstraintError(f"invalid constraint: {exc}") from None
            rows = rows[self.evaluator.select(condition)]
        if query.order_by:
            keys = [
                (self.columns.resolve(name), "descending" if desc else "ascending")
                for name, desc in query.order_by
            ]
            stored = self.columns.table.take(rows)
            rows = rows[pc.sort_indices(stored, sort_keys=keys).to_numpy()]
        if query.limit is not None:
            rows = rows[: query.limit]
        return self.table.take(rows)
