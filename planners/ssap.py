"""The Simple Spectral Access planner: ADQL on ``<backend>.ssa`` -> SSA 1.1 ``queryData``.

An SSA service (IVOA Simple Spectral Access 1.1) lists spectra: ``POS=ra,dec`` with ``SIZE``
(the search region's diameter, degrees) selects by position, ``MAXREC`` caps the rows. The
table is the service's answer, whose columns carry SSA utypes. Like a cone search, only a cone
over the position columns is pushed, and it stays residual (the service's region arithmetic
and its reading of ``SIZE`` vary: DaCHS takes it as a radius, so a diameter is a superset
either way); ``TOP n`` becomes ``MAXREC`` when the query has no WHERE at all.

Bounds on the spectral coverage and the observation date narrow the request too, as
supersets (the conjuncts stay residual)::

    ssa_specend >= a, ssa_specstart <= b       BAND=a/b   (coverage overlaps [a, b], metres)
    ssa_dateObs >= t1, ssa_dateObs <= t2        TIME=t1/t2 (ISO 8601 from the MJD bounds)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from typing_extensions import override

from grammar import nodes as n
from planners import predicates as p
from planners.base import Applied, BackendRequest, Capability
from planners.scs import ALL_SKY, ConeHandle, ScsPlanner

__all__ = ["SsapPlanner"]


@dataclass(frozen=True, slots=True)
class SsapPlanner(ScsPlanner):
    """Planner for the one table of an SSA service (columns of its answer)."""

    max_maxrec: int = 1_000_000
    band_columns: tuple[str, str] | None = None
    time_column: str | None = None
    kind: str = field(default="ssap", init=False)

    @property
    @override
    def capabilities(self) -> Capability:
        """A cone, and a row limit."""
        return Capability.FILTER | Capability.CONE | Capability.LIMIT

    @override
    def apply_filter(
        self, h: ConeHandle, conjuncts: Sequence[n.SearchCondition]
    ) -> Applied[ConeHandle] | None:
        """Push a cone, BAND and TIME once; every conjunct stays residual."""
        if h.narrowed or not conjuncts:
            return None
        cone = next((c for c in map(self.cone_of, conjuncts) if c is not None), None)
        found = [p.comparison(c, self.catalog_columns) for c in conjuncts]
        bounds = [c for c in found if c is not None and isinstance(c.value, int | float)]
        params = [*self._band(bounds), *self._time(bounds)]
        pushed = replace(h, cone=cone, narrowed=True, params=tuple(params))
        return Applied(pushed, tuple(conjuncts), guaranteed=False)

    def _band(self, bounds: Sequence[p.Comparison]) -> list[tuple[str, str]]:
        if self.band_columns is None:
            return []
        start, stop = self.band_columns
        low = _limit(bounds, stop, (">", ">="), max)
        high = _limit(bounds, start, ("<", "<="), min)
        if low is None and high is None:
            return []
        # widened by a hair: the service compares single-precision columns
        text = [p.number_text(low - abs(low) * _EPS) if low is not None else ""]
        text += [p.number_text(high + abs(high) * _EPS) if high is not None else ""]
        return [("BAND", "/".join(text))]

    def _time(self, bounds: Sequence[p.Comparison]) -> list[tuple[str, str]]:
        if self.time_column is None:
            return []
        low = _limit(bounds, self.time_column, (">", ">="), max)
        high = _limit(bounds, self.time_column, ("<", "<="), min)
        if low is None and high is None:
            return []
        text = [_iso(low - _SECOND) if low is not None else ""]
        text += [_iso(high + _SECOND) if high is not None else ""]
        return [("TIME", "/".join(text))]

    @override
    def apply_limit(self, h: ConeHandle, n_rows: int) -> Applied[ConeHandle] | None:
        """``MAXREC``, only when no conjunct was offered (all of them stay residual)."""
        if h.narrowed or (h.maxrec is not None and h.maxrec <= n_rows):
            return None
        return Applied(replace(h, maxrec=n_rows), (), guaranteed=True)

    @override
    def render(self, h: ConeHandle) -> tuple[BackendRequest, ...]:
        """One ``queryData`` GET; the whole sky when no cone was pushed."""
        params = [("REQUEST", "queryData"), *h.params]
        if h.cone is not None and h.cone != ALL_SKY:
            ra, dec, radius = h.cone
            params += [
                ("POS", f"{p.number_text(ra)},{p.number_text(dec)}"),
                ("SIZE", p.number_text(min(360.0, 2 * radius))),
            ]
        maxrec = self.max_maxrec if h.maxrec is None else min(h.maxrec, self.max_maxrec)
        params.append(("MAXREC", str(maxrec)))
        return (BackendRequest("GET", self.url, tuple(params), response_format="votable"),)


_EPS = 1e-6
"""Relative widening of a pushed BAND bound (single-precision columns at the service)."""

_SECOND = 1 / 86_400
"""One second in days: the widening of a pushed TIME bound."""

_MJD_ZERO = datetime(1858, 11, 17, tzinfo=UTC)


def _limit(
    bounds: Sequence[p.Comparison], column: str, ops: tuple[str, str], pick: Callable[..., float]
) -> float | None:
    values = [float(b.value) for b in bounds if b.column.name == column and b.op in ops]
    return pick(values) if values else None


def _iso(mjd: float) -> str:
    """An MJD as ISO 8601 (UTC, whole seconds; callers widen by a second)."""
    moment = _MJD_ZERO + timedelta(days=mjd)
    return moment.strftime("%Y-%m-%dT%H:%M:%S")
