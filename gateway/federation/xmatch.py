"""Positional cross-match as a federated join operator: detection, derived cones, strategy.

A cross-match conjunct joins two table references by position (federation-anchors.md §10):
``CONTAINS(POINT(a.ra, a.dec), CIRCLE(b.ra, b.dec, r)) = 1`` or
``DISTANCE(POINT(a.ra, a.dec), POINT(b.ra, b.dec)) < r`` (``<=``, flipped, 4-argument form).
Once one side (the *outer* one) has been fetched, the other (*inner*) side can be restricted:

* **LocalJoin** with a derived cone: one cone around all outer positions (plus ``r``) is pushed
  into the inner fetch; DuckDB does the exact join (zone join);
* **UploadJoin**: the outer positions and a row index go to a TAP backend as
  ``TAP_UPLOAD.<name>`` (in blocks), the join runs there;
* **BindJoin**: one cone per cluster of nearby outer rows, bounded parallelism.

:func:`choose_strategy` picks one from the outer row count, the derived cone, the bind clusters
and an estimate of the inner side's density (rows per square degree: a configured hint, a
COUNT probe of a TAP backend, or the rows of the first bind cone). Everything here is pure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from gateway.federation.refs import Ref, owners
from grammar import nodes as n
from grammar.printer_values import name_identifier
from planners.predicates import constant, find_column, normalise_contains

__all__ = [
    "Cone",
    "FederationOptions",
    "JoinChoice",
    "XmatchEdge",
    "bounding_cone",
    "choose_strategy",
    "clusters",
    "cone_area",
    "cone_condition",
    "detect_xmatch",
]

Strategy = Literal["LocalJoin", "UploadJoin", "BindJoin"]
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class FederationOptions:
    """Tuning of the federated join strategies (all have defaults; see ``choose_strategy``).

    Parameters
    ----------
    allow_allsky
        Run a federated positional cross-match with no spatial restriction on either side
        (TAP parameter ``XMATCH_ALLSKY=true``); refused otherwise.
    strategy
        ``auto`` or a forced strategy (a configured hint).
    cone_max_deg
        A derived cone up to this radius is fetched whole (LocalJoin).
    upload_ratio
        UploadJoin is chosen when the inner side has more than this many rows per outer row
        inside the derived cone (COUNT probe).
    upload_max_rows
        Most outer rows sent as an upload, in total.
    upload_block_rows
        Rows per upload block (lowered to the backend's stated upload limit).
    bind_max_rows
        Most outer rows a BindJoin is considered for (clustering them is O(rows x clusters)).
    bind_max_clusters
        Most cone requests (clusters) of one BindJoin.
    request_cost_rows
        The fixed cost of one backend request, in rows fetched (the density cost model:
        LocalJoin costs one request plus the rows of the derived cone, BindJoin one request per
        cluster plus the rows of the cluster cones).
    bind_cluster_deg
        Outer rows within this distance of a cluster's first row share one cone.
    bind_parallel
        Cone requests of one BindJoin in flight at once.
    allow_whole
        Fetch a remote table whole even above ``whole_max_rows`` (TAP parameter
        ``FETCH_WHOLE=true``; see :mod:`gateway.federation.whole`).
    whole_max_rows
        Largest row estimate of a remote table fetched whole without the opt-in.
    """

    allow_allsky: bool = False
    strategy: Literal["auto", "LocalJoin", "UploadJoin", "BindJoin"] = "auto"
    cone_max_deg: float = 1.0
    upload_ratio: float = 4.0
    upload_max_rows: int = 200_000
    upload_block_rows: int = 20_000
    bind_max_rows: int = 20_000
    bind_max_clusters: int = 5_000
    request_cost_rows: float = 20_000.0
    bind_cluster_deg: float = 0.1
    bind_parallel: int = 8
    allow_whole: bool = False
    whole_max_rows: int = 1_000_000


@dataclass(frozen=True, slots=True)
class XmatchEdge:
    """A cross-match conjunct between references ``left`` and ``right`` (catalogue columns)."""

    condition: n.SearchCondition
    left: int
    left_pos: tuple[str, str]
    right: int
    right_pos: tuple[str, str]
    radius: float

    def positions(self, ref: int) -> tuple[str, str]:
        """The (ra, dec) columns of reference ``ref`` in this edge."""
        return self.left_pos if ref == self.left else self.right_pos

    def other(self, ref: int) -> int:
        """The reference on the other side of ``ref``."""
        return self.right if ref == self.left else self.left


@dataclass(frozen=True, slots=True)
class Cone:
    """A cone on the sky, degrees."""

    ra: float
    dec: float
    radius: float


@dataclass(frozen=True, slots=True)
class JoinChoice:
    """The chosen strategy for one dependent side, why, and the numbers behind it."""

    strategy: Strategy
    reason: str
    estimates: dict[str, object] = field(default_factory=dict)


def _point_columns(point: n.ValueExpression, refs: Sequence[Ref]) -> tuple[int, str, str] | None:
    if isinstance(point, n.Point):
        lon, lat = point.lon, point.lat
    else:
        return None
    if not isinstance(lon, n.ColumnReference) or not isinstance(lat, n.ColumnReference):
        return None
    lon_refs, lat_refs = owners(lon, refs), owners(lat, refs)
    if len(lon_refs) != 1 or len(lat_refs) != 1 or lon_refs[0].index != lat_refs[0].index:
        return None
    ref = lon_refs[0]
    lon_col, lat_col = find_column(ref.columns, lon.name), find_column(ref.columns, lat.name)
    if lon_col is None or lat_col is None:
        return None
    return ref.index, lon_col.name, lat_col.name


def _number(expr: n.ValueExpression) -> float | None:
    value = constant(expr)
    if value is None or isinstance(value, str):
        return None
    return float(value)


def _edge(
    cond: n.SearchCondition, a: n.ValueExpression, b: n.ValueExpression, r: float | None,
    refs: Sequence[Ref],
) -> XmatchEdge | None:  # fmt: skip
    pa_, pb = _point_columns(a, refs), _point_columns(b, refs)
    if pa_ is None or pb is None or r is None or r <= 0 or pa_[0] == pb[0]:
        return None
    return XmatchEdge(cond, pa_[0], pa_[1:], pb[0], pb[1:], r)


def detect_xmatch(cond: n.SearchCondition, refs: Sequence[Ref]) -> XmatchEdge | None:
    """The cross-match ``cond`` expresses between two references, or None."""
    norm = normalise_contains(cond)
    if not isinstance(norm, n.ComparisonPredicate):
        return None
    left, op, right = norm.left, norm.op, norm.right
    if isinstance(left, n.FunctionCall) and left.name == "CONTAINS" and op == "=":
        if _number(right) != 1 or len(left.args) != 2:
            return None
        point, circle = left.args
        if not isinstance(circle, n.Circle):
            return None
        center = circle.center
        centre = (
            n.Point(None, center.lon, center.lat) if isinstance(center, n.Coordinates) else center
        )
        return _edge(cond, point, centre, _number(circle.radius), refs)
    if isinstance(right, n.FunctionCall) and right.name == "DISTANCE" and op in {">", ">="}:
        left, right = right, left
    elif not (isinstance(left, n.FunctionCall) and left.name == "DISTANCE" and op in {"<", "<="}):
        return None
    assert isinstance(left, n.FunctionCall)
    args = left.args
    if len(args) == 4:
        args = (n.Point(None, args[0], args[1]), n.Point(None, args[2], args[3]))
    if len(args) != 2:
        return None
    return _edge(cond, args[0], args[1], _number(right), refs)


# ---------------------------------------------------------------------- geometry


def _unit(ra: Floats, dec: Floats) -> Floats:
    r, d = np.radians(ra), np.radians(dec)
    return np.stack([np.cos(d) * np.cos(r), np.cos(d) * np.sin(r), np.sin(d)], axis=-1)


def _separation(ra: Floats, dec: Floats, ra0: float, dec0: float) -> Floats:
    r1, d1, r0, d0 = np.radians(ra), np.radians(dec), math.radians(ra0), math.radians(dec0)
    a = np.sin((d1 - d0) / 2) ** 2 + np.cos(d1) * math.cos(d0) * np.sin((r1 - r0) / 2) ** 2
    out: Floats = np.degrees(2 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))))
    return out


def bounding_cone(ra: Floats, dec: Floats, radius: float) -> Cone | None:
    """A cone holding every point grown by ``radius`` (None for no finite points)."""
    ok = np.isfinite(ra) & np.isfinite(dec)
    ra, dec = ra[ok], dec[ok]
    if ra.size == 0:
        return None
    mean = _unit(ra, dec).sum(axis=0)
    norm = float(np.linalg.norm(mean))
    if norm < 1e-12:
        return Cone(0.0, 90.0, 180.0)
    x, y, z = mean / norm
    ra0 = math.degrees(math.atan2(y, x)) % 360.0
    dec0 = math.degrees(math.asin(max(-1.0, min(1.0, z))))
    spread = float(_separation(ra, dec, ra0, dec0).max())
    return Cone(ra0, dec0, min(180.0, spread + radius * (1 + 1e-9) + 1e-9))


def clusters(
    ra: Floats, dec: Floats, size: float, radius: float, limit: int | None = None
) -> list[Cone]:
    """Greedy clusters of points within ``size`` of a seed; one cone (grown by ``radius``) each.

    With ``limit``, stops after ``limit + 1`` cones (enough to tell the limit is exceeded).
    """
    ok = np.flatnonzero(np.isfinite(ra) & np.isfinite(dec))
    remaining = ok
    cones: list[Cone] = []
    while remaining.size and (limit is None or len(cones) <= limit):
        seed = remaining[0]
        sep = _separation(ra[remaining], dec[remaining], float(ra[seed]), float(dec[seed]))
        members = remaining[sep <= size]
        cone = bounding_cone(ra[members], dec[members], radius)
        if cone is not None:
            cones.append(cone)
        remaining = remaining[sep > size]
    return cones


def _lit(value: float) -> n.NumericLiteral:
    if float(value).is_integer() and abs(value) < 1e15:
        return n.NumericLiteral(str(int(abs(value))))
    text = format(abs(float(value)), ".12f").rstrip("0")
    return n.NumericLiteral(text + "0" if text.endswith(".") else text)


def _signed(value: float) -> n.ValueExpression:
    return n.UnaryExpression("-", _lit(value)) if value < 0 else _lit(value)


def cone_condition(positions: tuple[str, str], cone: Cone) -> n.SearchCondition:
    """``CONTAINS(POINT(ra, dec), CIRCLE(ra0, dec0, r)) = 1`` over unqualified columns."""
    ra_col, dec_col = (n.ColumnReference(name_identifier(c)) for c in positions)
    point = n.Point(None, ra_col, dec_col)
    circle = n.Circle(None, n.Coordinates(_signed(cone.ra), _signed(cone.dec)), _lit(cone.radius))
    return n.ComparisonPredicate("=", n.FunctionCall("CONTAINS", (point, circle)), _lit(1))


# ---------------------------------------------------------------------- strategy


def cone_area(cone: Cone) -> float:
    """The solid angle of a cone, square degrees."""
    radius = math.radians(min(cone.radius, 180.0))
    return 2 * math.pi * (1 - math.cos(radius)) * (180 / math.pi) ** 2


def choose_strategy(
    *,
    outer_rows: int,
    cone: Cone | None,
    inner_cone: bool,
    inner_uploads: bool,
    probe: int | None,
    options: FederationOptions,
    bind_cones: Sequence[Cone] | None = None,
    density: float | None = None,
    density_source: str | None = None,
) -> JoinChoice:
    """The cheapest strategy for the inner side of a cross-match, and why.

    Rules, in order: a forced strategy wins when it is possible; an empty outer side needs
    no fetch (LocalJoin over nothing); a TAP inner side with uploads is joined remotely when
    the COUNT probe shows more than ``upload_ratio`` rows per outer row in the derived cone,
    or when the cone is wider than ``cone_max_deg``; an inner side without uploads gets one
    cone per cluster (BindJoin, at most ``bind_max_clusters`` of them) when the derived cone
    is wider than ``cone_max_deg``, or when ``density`` (rows per square degree) is known and
    the cost model favours it: BindJoin costs ``clusters x request_cost_rows`` plus the rows
    of the cluster cones, LocalJoin ``request_cost_rows`` plus the rows of the derived cone;
    otherwise the derived cone is fetched whole (LocalJoin).

    ``inner_cone`` says the inner backend takes cone requests (declares
    :attr:`~planners.base.Capability.CONE`), so a BindJoin can query it; ``bind_cones`` are
    the clusters a BindJoin would query (None: not computed, e.g. too many
    outer rows); ``density_source`` says where ``density`` came from (shown in the estimates).
    """
    estimates: dict[str, object] = {"outer_rows": outer_rows, "inner_probe_count": probe}
    if cone is not None:
        estimates["derived_cone"] = (round(cone.ra, 6), round(cone.dec, 6), round(cone.radius, 6))
    upload_ok = inner_uploads and outer_rows <= options.upload_max_rows
    bind_ok = (
        inner_cone
        and outer_rows <= options.bind_max_rows
        and (bind_cones is None or len(bind_cones) <= options.bind_max_clusters)
    )
    if bind_cones is not None:
        estimates["bind_clusters"] = len(bind_cones)
    forced = options.strategy
    if forced == "UploadJoin" and upload_ok:
        return JoinChoice("UploadJoin", "forced by the strategy hint", estimates)
    if forced == "BindJoin" and bind_ok:
        return JoinChoice("BindJoin", "forced by the strategy hint", estimates)
    if forced == "LocalJoin":
        return JoinChoice("LocalJoin", "forced by the strategy hint", estimates)
    if outer_rows == 0 or cone is None:
        return JoinChoice("LocalJoin", "the outer side is empty: nothing to fetch", estimates)
    wide = cone.radius > options.cone_max_deg
    if upload_ok and probe is not None and probe > options.upload_ratio * outer_rows:
        reason = f"COUNT probe {probe} > {options.upload_ratio} x {outer_rows} outer rows"
        return JoinChoice("UploadJoin", reason, estimates)
    if upload_ok and wide:
        reason = f"derived cone {cone.radius:.3f} deg > {options.cone_max_deg} deg"
        return JoinChoice("UploadJoin", reason, estimates)
    bind_ok = bind_ok and not inner_uploads
    if wide and bind_ok:
        reason = (
            f"derived cone {cone.radius:.3f} deg > {options.cone_max_deg} deg and "
            f"{outer_rows} <= {options.bind_max_rows} outer rows"
        )
        return JoinChoice("BindJoin", reason, estimates)
    if bind_ok and density is not None and bind_cones:
        local_rows = density * cone_area(cone)
        bind_rows = min(density * sum(cone_area(c) for c in bind_cones), 1e18)
        local_cost = options.request_cost_rows + local_rows
        bind_cost = len(bind_cones) * options.request_cost_rows + bind_rows
        estimates |= {
            "density_per_deg2": round(density, 1),
            "density_source": density_source,
            "local_rows_est": round(local_rows),
            "bind_rows_est": round(bind_rows),
            "local_cost": round(local_cost),
            "bind_cost": round(bind_cost),
        }
        if bind_cost < local_cost:
            reason = (
                f"density {density:.3g}/deg2: {len(bind_cones)} cluster cones "
                f"(~{bind_rows:.0f} rows) cost {bind_cost:.0f} < derived cone "
                f"{cone.radius:.3f} deg (~{local_rows:.0f} rows) {local_cost:.0f}"
            )
            return JoinChoice("BindJoin", reason, estimates)
        reason = (
            f"derived cone {cone.radius:.3f} deg fetched whole: density {density:.3g}/deg2, "
            f"cost {local_cost:.0f} <= {len(bind_cones)} cluster cones {bind_cost:.0f}"
        )
        return JoinChoice("LocalJoin", reason, estimates)
    reason = f"derived cone {cone.radius:.3f} deg fetched whole"
    return JoinChoice("LocalJoin", reason, estimates)
