"""The Simple Cone Search planner: ADQL on ``<backend>.<table>`` -> SCS 1.03 ``RA``/``DEC``/``SR``.

An SCS service (IVOA Simple Cone Search 1.03) answers one question: the rows of its one
catalogue within ``SR`` degrees of (``RA``, ``DEC``), as a VOTable. So the only thing it can
take is one cone over its position columns (the ones the service marks ``POS_EQ_RA_MAIN`` /
``POS_EQ_DEC_MAIN``); everything else stays with the gateway::

    CONTAINS(POINT(ra, dec), CIRCLE(a, d, r)) = 1      RA=a&DEC=d&SR=r            residual
    DISTANCE(POINT(ra, dec), POINT(a, d)) <= r          RA=a&DEC=d&SR=r            residual
    CONTAINS(POINT(ra, dec), BOX(...)) = 1              the box's enclosing cone   residual
    (no cone)                                           RA=0&DEC=90&SR=180 (all sky)

The cone stays residual too: the service's own distance arithmetic may differ from the
gateway's at the boundary, so the radius is widened a little and the exact test is the
gateway's. ``VERB=3`` asks for every column, so the rows match the catalogued columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from grammar import nodes as n
from grammar.errors import AdqlSemanticError, SemanticProblem
from grammar.suggestions import suggestion
from planners import predicates as p
from planners.base import Applied, BackendRequest, Capability
from planners.sql_catalog import ColumnInfo

__all__ = ["ALL_SKY", "Cone", "ConeHandle", "ScsPlanner", "widened"]

Cone = tuple[float, float, float]
"""Centre RA, Dec and radius, degrees."""

ALL_SKY: Cone = (0.0, 90.0, 180.0)
"""The cone holding the whole sky: what a scan without a cone asks for."""

_MARGIN = 1e-7
"""Relative widening of a pushed radius (plus as much in degrees): covers the service's
rounding at the boundary; the exact test stays residual."""


def widened(radius: float) -> float:
    """``radius`` grown by the boundary margin, at most the whole sky."""
    return min(180.0, radius * (1 + _MARGIN) + _MARGIN)


@dataclass(frozen=True, slots=True)
class ConeHandle:
    """What has been pushed to a cone service: at most one cone (None: the whole sky).

    ``maxrec`` is a pushed row limit (services that take one); ``narrowed`` records that a
    conjunct was offered, which rules a limit out (every conjunct stays residual here);
    ``params`` are further pushed parameters of services that take some (SSA's BAND, TIME).
    """

    cone: Cone | None = None
    maxrec: int | None = None
    narrowed: bool = False
    params: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ScsPlanner:
    """Planner for the one table of a Simple Cone Search service.

    Parameters
    ----------
    backend
        The configured backend name, also the table's schema.
    url
        The service's base URL (parameters are appended).
    table
        The table's name within the schema (``<backend>.<table>``).
    catalog_columns
        The columns of the service's answer (VERB=3), in order.
    ra_column, dec_column
        The position columns the cone applies to.
    """

    backend: str
    url: str
    table: str
    catalog_columns: tuple[ColumnInfo, ...]
    ra_column: str
    dec_column: str
    kind: str = field(default="scs", init=False)

    @property
    def capabilities(self) -> Capability:
        """One cone, nothing else."""
        return Capability.FILTER | Capability.CONE

    @property
    def table_name(self) -> str:
        """The federated name of the service's table."""
        return f"{self.backend}.{self.table}"

    def scan(self, table: n.TableName) -> ConeHandle:
        """A handle on ``<backend>.<table>``; any other name is a semantic error."""
        written = ".".join(part.name for part in table.parts)
        if written.lower() != self.table_name.lower():
            hint = suggestion(written, [self.table_name], limit=1, cutoff=0.5, quote=True)
            problem = SemanticProblem(
                f"Unknown table '{written}'; backend '{self.backend}' has only "
                f"'{self.table_name}'{hint}",
                table.span,
            )
            raise AdqlSemanticError([problem])
        return ConeHandle()

    def columns(self, h: ConeHandle) -> tuple[ColumnInfo, ...]:
        """Every column of the service's answer."""
        del h
        return self.catalog_columns

    def cone_of(self, cond: n.SearchCondition) -> Cone | None:
        """The cone ``cond`` restricts the position columns to (a superset), if any."""
        circle = p.sky_circle(cond, self.catalog_columns)
        if circle is None:
            box = p.sky_box(cond, self.catalog_columns)
            circle = box.enclosing_cone() if box is not None else None
        if circle is None:
            return None
        if (circle.lon.name, circle.lat.name) != (self.ra_column, self.dec_column):
            return None
        return circle.ra, circle.dec, widened(circle.radius)

    def apply_filter(
        self, h: ConeHandle, conjuncts: Sequence[n.SearchCondition]
    ) -> Applied[ConeHandle] | None:
        """Push the first cone when none is pushed yet; every conjunct stays residual."""
        if h.cone is not None or not conjuncts:
            return None
        for cond in conjuncts:
            cone = self.cone_of(cond)
            if cone is not None:
                pushed = ConeHandle(cone, h.maxrec, narrowed=True)
                return Applied(pushed, tuple(conjuncts), guaranteed=False)
        if h.narrowed:
            return None
        return Applied(
            ConeHandle(None, h.maxrec, narrowed=True), tuple(conjuncts), guaranteed=False
        )

    def apply_projection(self, h: ConeHandle, columns: Sequence[str]) -> Applied[ConeHandle] | None:
        """SCS returns whole rows: nothing to push."""
        del h, columns
        return None

    def apply_order(
        self, h: ConeHandle, items: Sequence[n.OrderItem]
    ) -> Applied[ConeHandle] | None:
        """SCS has no ordering."""
        del h, items
        return None

    def apply_limit(self, h: ConeHandle, n_rows: int) -> Applied[ConeHandle] | None:
        """SCS 1.03 has no row limit."""
        del h, n_rows
        return None

    def apply_semijoin(self, h: ConeHandle, upload: str, key: str) -> Applied[ConeHandle] | None:
        """SCS takes no uploads."""
        del h, upload, key
        return None

    def render(self, h: ConeHandle) -> tuple[BackendRequest, ...]:
        """One GET with ``RA``, ``DEC``, ``SR`` (the whole sky without a cone) and ``VERB=3``."""
        ra, dec, radius = h.cone or ALL_SKY
        params = (
            ("RA", p.number_text(ra)),
            ("DEC", p.number_text(dec)),
            ("SR", p.number_text(radius)),
            ("VERB", "3"),
        )
        return (BackendRequest("GET", self.url, params, response_format="votable"),)
