"""ADQL -> HSC REST (Catalogs.MAST) requests: the HSC planner (hsc-rest.md §2 and §8).

What is pushed, as decorators on the request:

* ``col op literal`` (either side) -> ``col.gt/.gte/.lt/.lte=v``, ``col=v``; ``BETWEEN`` ->
  ``.gte`` + ``.lte``; ``col IN (...)`` -> the bare key repeated (the service ORs repeated
  keys); ``LIKE`` on a text column -> ``col.like`` (not when the pattern holds ``*``, which
  MAST also reads as a wildcard).
* ``CONTAINS(POINT(ra_col, dec_col), CIRCLE(...)) = 1`` on the table's own position columns
  with ``r <= 0.5`` deg -> ``ra, dec, radius``; so is ``DISTANCE(POINT(ra_col, dec_col),
  POINT(...)) <= r`` (``< r`` too, keeping the open cone residual), and a BOX as the cone
  through its corners (the box residual).
* A larger circle, or a circle on other position columns: a **bounding box** of decorators on
  the point's columns plus the exact circle as residual. We chose the box over tiling
  because tiles overlap (rows would need de-duplication by key, and TOP could not be pushed
  either way) while a box is one disjoint request, or two when it crosses RA 0/360
  (``ra.gte=lo+360`` and ``ra.lte=hi``); a cap touching a pole keeps only the Dec limits.

Each key is used once: the service ORs repeated keys, so a second condition on the same
``col.op`` (``x > 1 AND x > 2``) stays residual rather than silently widening the filter.
``float`` (32-bit) columns are compared by the service as doubles while SQL engines may round
the literal to 32 bits, so their bounds are pushed widened to the neighbouring 32-bit values
and the exact comparison stays residual; ``=`` on them is not pushed. Everything else
(``<>``, ``OR``, ``NOT``, ``IS NULL``, arithmetic, functions, polygons) is residual.
"""

from __future__ import annotations

import datetime as dt
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass, replace

from grammar import nodes as n
from planners import predicates as p
from planners.base import Applied, BackendRequest, Capability, Paging
from planners.hsc_tables import NUMERIC_TYPES, HscTable, lookup
from planners.sky import cap_box
from planners.sql_catalog import ColumnInfo

DEFAULT_BASE_URL = "https://catalogs.mast.stsci.edu/api/v0.1/hsc"
DEFAULT_PAGESIZE = 50_000
MAX_RADIUS_DEG = 0.5
_DECORATORS = {">": "gt", ">=": "gte", "<": "lt", "<=": "lte", "=": ""}

Pairs = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class HscHandle:
    """What one HSC scan asks for.

    ``criteria`` are the decorator pairs every request carries; ``splits`` (when not empty)
    turns the scan into one request per entry, each adding its own pairs (RA ranges of a box
    crossing RA 0/360).
    """

    table: HscTable
    criteria: Pairs = ()
    cone: tuple[float, float, float] | None = None
    splits: tuple[Pairs, ...] = ()
    columns: tuple[str, ...] | None = None
    sort: tuple[tuple[str, bool], ...] = ()
    limit: int | None = None

    def keys(self) -> set[str]:
        """Lower-cased decorator keys in use by every request."""
        used = {k.lower() for k, _ in self.criteria}
        used |= {k.lower() for split in self.splits for k, _ in split}
        return used


def _float32(value: float, *, up: bool) -> float:
    """The nearest 32-bit float on the ``up`` (or down) side of ``value``, as a double."""
    (rounded,) = struct.unpack("f", struct.pack("f", value))
    if (rounded < value and up) or (rounded > value and not up):
        rounded = math.nextafter(rounded, math.inf if up else -math.inf)
        (rounded,) = struct.unpack("f", struct.pack("f", rounded))
    return float(rounded)


def _value_text(column: ColumnInfo, value: p.Scalar) -> str | None:
    """The wire text of ``value`` compared with ``column``, or None when not comparable."""
    if column.xtype == "timestamp":
        if not isinstance(value, str):
            return None
        try:
            dt.datetime.fromisoformat(value.strip())
        except ValueError:
            return None
        return value
    if column.datatype in NUMERIC_TYPES:
        if isinstance(value, (str, bool)):
            return None
        return p.number_text(value)
    if not isinstance(value, str) or value == "" or value != value.strip():
        return None  # empty or padded strings do not survive query-string handling
    return value


class _Builder:
    """Accumulates decorator pairs for one ``apply_filter`` call, one key at a time."""

    def __init__(self, handle: HscHandle) -> None:
        self.handle = handle
        self.used = handle.keys()
        self.pairs: list[tuple[str, str]] = list(handle.criteria)

    def free(self, *keys: str) -> bool:
        return not any(k.lower() in self.used for k in keys)

    def add(self, key: str, *values: str) -> None:
        self.used.add(key.lower())
        self.pairs.extend((key, v) for v in values)

    def bound(self, column: ColumnInfo, op: str, value: p.Scalar) -> bool:
        """Push ``column op value``; True when the pushed filter is exact."""
        text = _value_text(column, value)
        if text is None:
            return False
        if column.datatype == "float":
            if op == "=" or isinstance(value, str):
                return False
            up = op in {"<", "<="}
            key = f"{column.name}.{'lte' if up else 'gte'}"
            if not self.free(key):
                return False
            self.add(key, repr(_float32(float(value), up=up)))
            return False
        key = f"{column.name}.{_DECORATORS[op]}" if _DECORATORS[op] else column.name
        if not self.free(key):
            return False
        self.add(key, text)
        return True


def _is_text(column: ColumnInfo) -> bool:
    return column.datatype not in NUMERIC_TYPES and column.xtype is None


def _push(b: _Builder, cond: n.SearchCondition, columns: Sequence[ColumnInfo]) -> bool | None:
    """Push one conjunct: True exact, False pushed as a superset (keep it), None not pushed."""
    table = b.handle.table
    cmp = p.comparison(cond, columns)
    if cmp is not None:
        if cmp.op == "<>":
            return None
        before = len(b.pairs)
        exact = b.bound(cmp.column, cmp.op, cmp.value)
        return exact if exact or len(b.pairs) > before else None
    rng = p.between(cond, columns)
    if rng is not None:
        column, low, high = rng
        gte, lte = f"{column.name}.gte", f"{column.name}.lte"
        if not b.free(gte, lte) or None in (_value_text(column, low), _value_text(column, high)):
            return None
        return b.bound(column, ">=", low) & b.bound(column, "<=", high)
    members = p.in_list(cond, columns)
    if members is not None:
        column, values = members
        texts = [_value_text(column, v) for v in values]
        if column.datatype == "float" or None in texts or not b.free(column.name) or not texts:
            return None
        b.add(column.name, *(t for t in texts if t is not None))
        return True
    pattern = p.like(cond, columns)
    if pattern is not None:
        column, text = pattern
        key = f"{column.name}.like"
        if not _is_text(column) or "*" in text or not text or not b.free(key):
            return None
        b.add(key, text)
        return True
    circle = p.sky_circle(cond, columns)
    if circle is None:
        box = p.sky_box(cond, columns)
        if box is None:
            return None
        circle = box.enclosing_cone()
    own = circle.lon.name == table.ra and circle.lat.name == table.dec
    cone = (circle.ra, circle.dec, circle.radius)
    if own and b.handle.cone == cone:
        return None  # pushed in an earlier round as a superset; it stays residual
    if own and circle.radius <= MAX_RADIUS_DEG and b.handle.cone is None:
        b.handle = replace(b.handle, cone=cone)
        return circle.exact
    return _push_box(b, circle)


def _push_box(b: _Builder, circle: p.SkyCircle) -> bool | None:
    """Push the RA/Dec box around a circle (a superset: the circle stays residual)."""
    box = cap_box(circle.ra, circle.dec, circle.radius)
    lon, lat = circle.lon.name, circle.lat.name
    pushed = False
    if circle.lat.datatype == "double" and b.free(f"{lat}.gte", f"{lat}.lte"):
        b.add(f"{lat}.gte", repr(box.dec_min))
        b.add(f"{lat}.lte", repr(box.dec_max))
        pushed = True
    lon_keys = (f"{lon}.gte", f"{lon}.lte")
    if circle.lon.datatype != "double" or not box.ra_ranges or not b.free(*lon_keys):
        return False if pushed else None
    if len(box.ra_ranges) == 1:
        ((lo, hi),) = box.ra_ranges
        b.add(lon_keys[0], repr(lo))
        b.add(lon_keys[1], repr(hi))
    elif not b.handle.splits:
        (lo, _), (_, hi) = box.ra_ranges
        b.used.update(k.lower() for k in lon_keys)
        b.handle = replace(
            b.handle, splits=(((lon_keys[0], repr(lo)),), ((lon_keys[1], repr(hi)),))
        )
    return False


@dataclass(frozen=True, slots=True)
class HscPlanner:
    """The planner of one HSC REST backend (``base_url`` without a trailing slash)."""

    backend: str = "hsc"
    base_url: str = DEFAULT_BASE_URL
    pagesize: int = DEFAULT_PAGESIZE
    kind: str = "hsc"
    capabilities: Capability = (
        Capability.PROJECTION
        | Capability.FILTER
        | Capability.CONE
        | Capability.LIMIT
        | Capability.ORDER
    )

    def scan(self, table: n.TableName) -> HscHandle:
        """A handle on one of the federated HSC tables (see :data:`hsc_tables.TABLES`)."""
        return HscHandle(lookup(table))

    def columns(self, h: HscHandle) -> tuple[ColumnInfo, ...]:
        """The columns ``h`` returns: the projection, else the whole table, in order."""
        if h.columns is None:
            return h.table.columns
        by_name = {c.name: c for c in h.table.columns}
        return tuple(by_name[name] for name in h.columns)

    def apply_filter(
        self, h: HscHandle, conjuncts: Sequence[n.SearchCondition]
    ) -> Applied[HscHandle] | None:
        """Push every conjunct the service can evaluate (see the module notes)."""
        b = _Builder(h)
        residual: list[n.SearchCondition] = []
        changed = False
        for cond in conjuncts:
            outcome = _push(b, cond, h.table.columns)
            changed |= outcome is not None
            if outcome is not True:
                residual.append(cond)
        if not changed:
            return None
        handle = replace(b.handle, criteria=tuple(b.pairs))
        return Applied(handle, tuple(residual), guaranteed=not residual)

    def apply_projection(self, h: HscHandle, columns: Sequence[str]) -> Applied[HscHandle] | None:
        """Ask for ``columns`` only (``columns=[a,b]``), in the order given."""
        wanted = tuple(dict.fromkeys(columns))
        known = {c.name for c in h.table.columns}
        if not wanted or wanted == h.columns or not set(wanted) <= known:
            return None
        return Applied(replace(h, columns=wanted))

    def apply_order(self, h: HscHandle, items: Sequence[n.OrderItem]) -> Applied[HscHandle] | None:
        """``sort_by=col`` / ``sort_by=col.desc``, one key per item; plain columns only.

        Descending order is pushed for the table's key only (NULL placement differs).

        Declined for a split scan: each request would only be sorted within itself.
        """
        sort = []
        for item in items:
            column = p.column_of(item.expression, h.table.columns)
            # ADQL sorts NULL as the largest value (first when descending); the service's
            # SQL puts NULLs last either way, so DESC is only safe on the non-null key.
            if column is None or (item.descending and column.name != h.table.key):
                return None
            sort.append((column.name, item.descending))
        if not sort or tuple(sort) == h.sort or h.splits:
            return None
        return Applied(replace(h, sort=tuple(sort)))

    def apply_limit(self, h: HscHandle, n_rows: int) -> Applied[HscHandle] | None:
        """``pagesize=n&page=1``; declined for a split scan and for ``TOP 0``."""
        if n_rows < 1 or h.splits or h.limit == n_rows:
            return None
        return Applied(replace(h, limit=n_rows))

    def apply_semijoin(self, h: HscHandle, upload: str, key: str) -> Applied[HscHandle] | None:
        """The REST service takes no uploads."""
        del h, upload, key
        return None

    def render(self, h: HscHandle) -> tuple[BackendRequest, ...]:
        """One CSV request per split (usually one); paging per :class:`Paging`."""
        shape: list[tuple[str, str]] = []
        if h.cone is not None:
            shape += [
                (k, p.number_text(v)) for k, v in zip(("ra", "dec", "radius"), h.cone, strict=True)
            ]
        if h.columns is not None:
            shape.append(("columns", "[" + ",".join(h.columns) + "]"))
        shape += [("sort_by", f"{c}.desc" if d else c) for c, d in h.sort]
        pagesize = h.limit if h.limit is not None else self.pagesize
        paging = Paging(1, pagesize, may_overflow=h.limit is None)
        shape += [("pagesize", str(pagesize)), ("page", "1")]
        url = f"{self.base_url.rstrip('/')}/{h.table.path}.csv"
        return tuple(
            BackendRequest("GET", url, (*h.criteria, *split, *shape), paging=paging)
            for split in (h.splits or ((),))
        )
