"""HSC REST request parameters -> a validated query -> DuckDB SQL with bound parameters.

Request values never reach the SQL text: every value becomes a named parameter, and column
names are checked against the table schema and then double-quoted. Anything the service
cannot honour raises :class:`RequestError` naming the offending parameter (HTTP 400).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from planners.sql_scope import quoted_sql

if TYPE_CHECKING:
    from collections.abc import Sequence

    from standins.hsc_schema import HscColumn, HscTable

DEFAULT_PAGESIZE = 50_000
MAX_RADIUS_DEG = 0.5
_MAX_OFFSET = 2**62  # keeps page * pagesize inside DuckDB's BIGINT

RESERVED = frozenset(
    {"ra", "dec", "radius", "sr", "columns", "sort_by", "page", "pagesize", "format"}
    | {"raw", "flatten_response", "include_info", "delimiter"}
)
"""Parameter names that are not column criteria (compared case-insensitively)."""

_COMPARISONS = {"gt": ">", "gte": ">=", "min": ">=", "lt": "<", "lte": "<=", "max": "<="}
DECORATORS = frozenset({*_COMPARISONS, "like", "contains"})


class RequestError(ValueError):
    """A request the service refuses: HTTP 400 with ``{"error": message, "param": param}``."""

    def __init__(self, message: str, param: str | None) -> None:
        super().__init__(message)
        self.param = param


@dataclass
class SqlParams:
    """Named DuckDB parameters, allocated in order (``$p0``, ``$p1``, ...)."""

    values: dict[str, object] = field(default_factory=dict)

    def bind(self, value: object) -> str:
        """Register ``value`` and return its placeholder."""
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f"${name}"


@dataclass(frozen=True, slots=True)
class Cone:
    """A great-circle cone in degrees."""

    ra: float
    dec: float
    radius: float


@dataclass(frozen=True, slots=True)
class HscQuery:
    """A validated request: what to select, filter, order and which page."""

    table: HscTable
    columns: tuple[HscColumn, ...]
    criteria: tuple[tuple[HscColumn, str, tuple[str, ...]], ...]
    cone: Cone | None
    order: tuple[tuple[HscColumn, bool], ...]
    page: int
    pagesize: int

    def where(self, params: SqlParams) -> str:
        """The WHERE clause body (``TRUE`` when unconstrained)."""
        terms = [_criterion(col, op, values, params) for col, op, values in self.criteria]
        if self.cone is not None:
            terms.append(_cone_sql(self.table, self.cone, params))
        return " AND ".join(terms) if terms else "TRUE"

    def order_by(self) -> str:
        """The ORDER BY clause, or ``""`` for file order (ids ascending)."""
        if not self.order:
            return ""
        keys = [f"{quoted_sql(c.name)} {'DESC' if desc else 'ASC'}" for c, desc in self.order]
        if all(c.name != self.table.key for c, _ in self.order):
            keys.append(quoted_sql(self.table.key))  # a total order keeps pages disjoint
        return "ORDER BY " + ", ".join(keys)


def _typed_value(col: HscColumn, raw: str, param: str) -> object:
    text = raw.strip()
    if col.xtype == "timestamp":
        try:
            return dt.datetime.fromisoformat(text)
        except ValueError:
            raise RequestError(f"{param}: {raw!r} is not an ISO-8601 date", param) from None
    if not col.numeric:
        return raw
    if col.datatype in {"long", "int", "short"} and re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    try:
        number = float(text)
    except ValueError:
        raise RequestError(f"{param}: {raw!r} is not a number", param) from None
    if not math.isfinite(number):
        raise RequestError(f"{param}: {raw!r} is not a finite number", param)
    return number


def _criterion(col: HscColumn, op: str, values: tuple[str, ...], params: SqlParams) -> str:
    name = quoted_sql(col.name)
    param = col.name if op == "eq" else f"{col.name}.{op}"
    alternatives = []
    for raw in values:
        if op == "like":
            # MAST portal filters treat both * and % as wildcards (hsc-rest.md §8).
            alternatives.append(f"{name} LIKE {params.bind(raw.replace('*', '%'))}")
        elif op == "contains":
            alternatives.append(f"contains({name}, {params.bind(raw)})")
        else:
            sql_op = _COMPARISONS.get(op, "=")
            alternatives.append(f"{name} {sql_op} {params.bind(_typed_value(col, raw, param))}")
    return "(" + " OR ".join(alternatives) + ")"


def _cone_sql(table: HscTable, cone: Cone, params: SqlParams) -> str:
    ra, dec = quoted_sql(table.ra), quoted_sql(table.dec)
    lo, hi = params.bind(cone.dec - cone.radius), params.bind(cone.dec + cone.radius)
    ra0, dec0, r = params.bind(cone.ra), params.bind(cone.dec), params.bind(cone.radius)
    # The declination band is a plain range, so DuckDB prunes Parquet row groups with it;
    # the haversine distance is the exact great-circle test.
    haversine = (
        f"sin(radians({dec} - {dec0}) / 2) ^ 2 + cos(radians({dec})) * cos(radians({dec0}))"
        f" * sin(radians({ra} - {ra0}) / 2) ^ 2"
    )
    return (
        f"({dec} BETWEEN {lo} AND {hi} AND degrees(2 * asin(sqrt(least(1.0, {haversine})))) <= {r})"
    )


def _names(values: Sequence[str]) -> list[str]:
    """Items of ``columns``/``sort_by``: ``[a,b]`` in one value, repeated keys, or both."""
    items: list[str] = []
    for value in values:
        inner = value.strip()
        if inner.startswith("[") and inner.endswith("]"):
            inner = inner[1:-1]
        items.extend(p.strip().strip("'\"") for p in inner.split(",") if p.strip())
    return items


def _column(table: HscTable, name: str, param: str) -> HscColumn:
    col = table.column(name)
    if col is None:
        raise RequestError(f"unknown column {name!r} in table {table.name}", param)
    return col


def _int_param(values: list[str], param: str, minimum: int) -> int:
    text = values[-1].strip()
    if not re.fullmatch(r"\+?\d+", text) or int(text) < minimum:
        raise RequestError(f"{param} must be an integer >= {minimum}, not {values[-1]!r}", param)
    return int(text)


def _float_param(values: list[str], param: str) -> float:
    try:
        number = float(values[-1])
    except ValueError:
        raise RequestError(f"{param}: {values[-1]!r} is not a number", param) from None
    if not math.isfinite(number):
        raise RequestError(f"{param}: {values[-1]!r} is not a finite number", param)
    return number


def _cone(grouped: dict[str, list[str]]) -> Cone | None:
    radius_key = "radius" if "radius" in grouped else "sr"
    given = [k for k in ("ra", "dec", radius_key) if k in grouped]
    if not given:
        return None
    for key in ("ra", "dec", radius_key):
        if key not in grouped:
            raise RequestError(f"a cone needs ra, dec and radius; {key} is missing", key)
    ra = _float_param(grouped["ra"], "ra")
    dec = _float_param(grouped["dec"], "dec")
    radius = _float_param(grouped[radius_key], radius_key)
    if not -90.0 <= dec <= 90.0:
        raise RequestError(f"dec must be within [-90, 90], not {dec}", "dec")
    if not 0.0 <= radius <= MAX_RADIUS_DEG:
        raise RequestError(f"radius must be within [0, {MAX_RADIUS_DEG}] deg", radius_key)
    return Cone(ra % 360.0, dec, radius)


def _sort_key(table: HscTable, item: str) -> tuple[HscColumn, bool]:
    parts = item.split(".")
    direction = "asc"
    if len(parts) == 2 and parts[1].lower() in {"asc", "desc"}:
        item, direction = parts[0], parts[1].lower()
    elif len(parts) == 2 and parts[0].lower() in {"asc", "desc"}:
        direction, item = parts[0].lower(), parts[1]
    elif len(parts) != 1:
        raise RequestError(f"sort_by: cannot read {item!r}", "sort_by")
    return _column(table, item, "sort_by"), direction == "desc"


def parse_query(table: HscTable, pairs: Sequence[tuple[str, str]]) -> HscQuery:
    """Validate request parameters against ``table``.

    Parameters
    ----------
    table
        The table addressed by the request path.
    pairs
        The request parameters in order; repeated keys are kept (they OR).

    Returns
    -------
    HscQuery
        The query; raises :class:`RequestError` for anything the service refuses.
    """
    grouped: dict[str, list[str]] = {}
    originals: dict[str, str] = {}
    for key, value in pairs:
        norm = key.strip().lower()
        grouped.setdefault(norm, []).append(value)
        originals.setdefault(norm, key)
    criteria = []
    for norm, values in grouped.items():
        if norm in RESERVED:
            continue
        name, _, op = norm.partition(".")
        col = _column(table, name, originals[norm])
        if op and op not in DECORATORS:
            raise RequestError(
                f"unknown decorator {op!r} (use one of {sorted(DECORATORS)})", originals[norm]
            )
        if op in {"like", "contains"} and (col.numeric or col.xtype):
            raise RequestError(
                f"{op} applies to text columns; {col.name} is not one", originals[norm]
            )
        criteria.append((col, op or "eq", tuple(values)))
    columns = tuple(_column(table, n, "columns") for n in _names(grouped.get("columns", [])))
    order = tuple(_sort_key(table, n) for n in _names(grouped.get("sort_by", [])))
    pagesize = _int_param(grouped.get("pagesize", [str(DEFAULT_PAGESIZE)]), "pagesize", 1)
    page = _int_param(grouped.get("page", ["1"]), "page", 1)
    if (page - 1) * pagesize > _MAX_OFFSET:
        raise RequestError("page * pagesize is too large", "page")
    return HscQuery(
        table=table,
        columns=tuple(dict.fromkeys(columns)) or table.columns,
        criteria=tuple(criteria),
        cone=_cone(grouped),
        order=order,
        page=page,
        pagesize=pagesize,
    )
