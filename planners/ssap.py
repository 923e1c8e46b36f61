"""The Simple Spectral Access planner: ADQL on ``<backend>.ssa`` -> SSA 1.1 ``queryData``.

An SSA service (IVOA Simple Spectral Access 1.1) lists spectra: ``POS=ra,dec`` with ``SIZE``
(the search region's diameter, degrees) selects by position, ``MAXREC`` caps the rows. The
table is the service's answer, whose columns carry SSA utypes. Like a cone search, only a cone
over the position columns is pushed, and it stays residual (the service's region arithmetic
and its reading of ``SIZE`` vary: DaCHS takes it as a radius, so a diameter is a superset
either way); ``TOP n`` becomes ``MAXREC`` when the query has no WHERE at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from typing_extensions import override

from planners import predicates as p
from planners.base import Applied, BackendRequest, Capability
from planners.scs import ALL_SKY, ConeHandle, ScsPlanner

__all__ = ["SsapPlanner"]


@dataclass(frozen=True, slots=True)
class SsapPlanner(ScsPlanner):
    """Planner for the one table of an SSA service (columns of its answer)."""

    max_maxrec: int = 1_000_000
    kind: str = field(default="ssap", init=False)

    @property
    @override
    def capabilities(self) -> Capability:
        """A cone, and a row limit."""
        return Capability.FILTER | Capability.CONE | Capability.LIMIT

    @override
    def apply_limit(self, h: ConeHandle, n_rows: int) -> Applied[ConeHandle] | None:
        """``MAXREC``, only when no conjunct was offered (all of them stay residual)."""
        if h.narrowed or (h.maxrec is not None and h.maxrec <= n_rows):
            return None
        return Applied(replace(h, maxrec=n_rows), (), guaranteed=True)

    @override
    def render(self, h: ConeHandle) -> tuple[BackendRequest, ...]:
        """One ``queryData`` GET; the whole sky when no cone was pushed."""
        params = [("REQUEST", "queryData")]
        if h.cone is not None and h.cone != ALL_SKY:
            ra, dec, radius = h.cone
            params += [
                ("POS", f"{p.number_text(ra)},{p.number_text(dec)}"),
                ("SIZE", p.number_text(min(360.0, 2 * radius))),
            ]
        maxrec = self.max_maxrec if h.maxrec is None else min(h.maxrec, self.max_maxrec)
        params.append(("MAXREC", str(maxrec)))
        return (BackendRequest("GET", self.url, tuple(params), response_format="votable"),)
