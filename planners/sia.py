"""The SIAv2 planner: ADQL on ``<backend>.obscore`` -> SIAv2 query parameters, and back.

Forward (specs/sia-obscore.md §5): the WHERE conjuncts are put in negation normal form;
each AND term whose disjuncts all speak to one SIA parameter becomes that parameter's group
of repeated values (``CALIB=2&CALIB=3``); terms SIA cannot say exactly are pushed as a
superset where possible (strict bounds, ``CONTAINS(POINT(s_ra, s_dec), ...)``, lone
``em_min``/``em_max`` bounds, ID's case-insensitive match) and kept as residual; OR terms
that do not map as a whole are distributed to CNF clauses, whose pushable clauses narrow the
request while the term itself stays residual. SIA has no projection, ordering or joins;
``TOP n`` becomes ``MAXREC`` only once nothing is residual.

Reverse (§4): :func:`sia_params_to_query` (in :mod:`planners.sia_reverse`).

What goes where, by example (``exact`` = no residual)::

    INTERSECTS(s_region, CIRCLE(a, d, r)) = 1        POS=CIRCLE a d r               exact
    CONTAINS(POINT(s_ra, s_dec), CIRCLE(a, d, r)) = 1 POS=CIRCLE a d r              residual
    DISTANCE(POINT(s_ra, s_dec), POINT(a, d)) < r     POS=CIRCLE a d r              residual
    s_ra BETWEEN l1 AND l2 AND s_dec BETWEEN b1 AND b2 POS=RANGE l1 l2 b1 b2        residual
    em_min <= b AND em_max >= a                      BAND=a b                       exact
    em_min >= a                                      BAND=a +Inf                    residual
    t_exptime > 30                                   EXPTIME=30 +Inf                residual
    calib_level IN (2, 3)                            CALIB=2&CALIB=3                exact
    dataproduct_type = 'spectrum'                    (no request: no rows)          exact
    pol_states LIKE '%/Q/%'                          POL=Q                          exact
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from grammar import nodes as n
from grammar.errors import AdqlSemanticError, SemanticProblem
from planners.base import Applied, BackendRequest, Capability
from planners.sia_atoms import PosMode, atom_constraint, meet
from planners.sia_groups import (
    Group,
    cnf_clauses,
    conjunct_list,
    disjunct_list,
    merge_groups,
    nnf,
    render_group,
)
from planners.sia_obscore import OBSCORE_COLUMNS, PARAM_ORDER, RUBIN_DP1_COLUMNS
from planners.sia_reverse import sia_params_to_query
from planners.sql_catalog import ColumnInfo

__all__ = [
    "OBSCORE_COLUMNS",
    "RUBIN_DP1_COLUMNS",
    "SiaHandle",
    "SiaPlanner",
    "sia_params_to_query",
]

STANDARD_PARAMS = frozenset(PARAM_ORDER) - {"DPSUBTYPE", "RELEASEDATE"}


@dataclass(frozen=True, slots=True)
class SiaHandle:
    """What has been pushed to one SIA backend.

    ``groups`` holds one entry per parameter (its ORed values); ``empty`` means the pushed
    conditions cannot match any row the service holds (no request is needed);
    ``residual_seen`` records that some conjunct stayed with the gateway, which rules out
    MAXREC.
    """

    table: n.TableName
    groups: tuple[Group, ...] = ()
    maxrec: int | None = None
    empty: bool = False
    residual_seen: bool = False


@dataclass(frozen=True, slots=True)
class SiaPlanner:
    """Planner for the ``<backend>.obscore`` table of an SIAv2 service.

    Parameters
    ----------
    backend
        The configured backend name; the table is ``<backend>.obscore``.
    url
        The SIAv2 ``{query}`` endpoint (e.g. ``http://127.0.0.1:8002/query``).
    extra_columns
        Declared extension columns after the 30 ObsCore ones (e.g. :data:`RUBIN_DP1_COLUMNS`).
    extensions
        Non-standard parameters the service understands: ``DPSUBTYPE`` (Rubin),
        ``RELEASEDATE`` (SIA 2.1) — unknown parameters are ignored by SIA services, so an
        undeclared one is never pushed.
    pos
        ``"region"`` when POS intersects ``s_region`` (the standard); ``"centre"`` for a
        service that tests only the position (then ``INTERSECTS(s_region, ...)`` is never
        pushed, because such a service would miss images reaching into the shape).
    max_maxrec
        The service's hard MAXREC limit, sent when the query has no pushable TOP (a service's
        default MAXREC could silently truncate otherwise).
    """

    backend: str
    url: str
    extra_columns: tuple[ColumnInfo, ...] = ()
    extensions: frozenset[str] = frozenset()
    pos: PosMode = "region"
    max_maxrec: int = 10000
    kind: str = field(default="sia", init=False)

    @property
    def capabilities(self) -> Capability:
        """Filters (including cones) and a row limit; no projection, order or joins."""
        return Capability.FILTER | Capability.CONE | Capability.LIMIT

    @property
    def table_name(self) -> str:
        """The federated table name, ``<backend>.obscore``."""
        return f"{self.backend}.obscore"

    def _known(self) -> frozenset[str]:
        return frozenset(c.name.lower() for c in self.columns(None))

    def _params(self) -> frozenset[str]:
        return STANDARD_PARAMS | self.extensions

    # ------------------------------------------------------------------ protocol

    def scan(self, table: n.TableName) -> SiaHandle:
        """A handle on ``<backend>.obscore``; any other name is a semantic error."""
        keys = tuple(p.name if p.delimited else p.name.lower() for p in table.parts)
        if keys != (self.backend.lower(), "obscore") and keys != (self.backend, "obscore"):
            written = ".".join(p.name for p in table.parts)
            problem = SemanticProblem(
                f"Unknown table '{written}'; backend '{self.backend}' has only '{self.table_name}'",
                table.span,
            )
            raise AdqlSemanticError([problem])
        return SiaHandle(table)

    def columns(self, h: SiaHandle | None) -> tuple[ColumnInfo, ...]:
        """The ObsCore columns, then the declared extension columns."""
        del h
        return OBSCORE_COLUMNS + self.extra_columns

    def apply_filter(
        self, h: SiaHandle, conjuncts: Sequence[n.SearchCondition]
    ) -> Applied[SiaHandle] | None:
        """Push what SIA can say of the conjunction; return the rest as residual."""
        if h.empty:
            return None
        known, allowed = self._known(), self._params()
        items = [t for c in conjuncts for t in conjunct_list(nnf(c))]
        candidates: list[tuple[Group, int | None]] = []
        for i, item in enumerate(items):
            group = self._term_group(item, known, allowed)
            if group is not None:
                candidates.append((group, i))
                continue
            for clause in cnf_clauses(item) or [] if isinstance(item, n.OrCondition) else []:
                sub = self._term_group(n.OrCondition(tuple(clause)), known, allowed)
                if sub is not None:
                    candidates.append((replace(sub, exact=False), None))
        if not candidates:
            return None
        groups = {g.param: g for g in h.groups}
        sources: dict[str, list[int]] = {}
        for group, source in candidates:
            current = groups.get(group.param)
            merged = group if current is None else merge_groups(current, group)
            if merged is None or render_group(merged) is None:
                continue
            groups[group.param] = merged
            if source is not None:
                sources.setdefault(group.param, []).append(source)
        dropped: set[int] = set()
        empty = False
        for param, group in groups.items():
            rendered = render_group(group)
            assert rendered is not None
            values, exact = rendered
            empty = empty or not values
            if exact:
                dropped.update(sources.get(param, ()))
        ordered = tuple(groups[p] for p in PARAM_ORDER if p in groups)
        if empty:
            return Applied(SiaHandle(h.table, ordered, h.maxrec, empty=True), (), guaranteed=True)
        if ordered == h.groups:
            return None
        residual = tuple(item for i, item in enumerate(items) if i not in dropped)
        seen = h.residual_seen or bool(residual)
        return Applied(replace(h, groups=ordered, residual_seen=seen), residual, not residual)

    def _term_group(
        self, term: n.SearchCondition, known: frozenset[str], allowed: frozenset[str]
    ) -> Group | None:
        """One AND term as one parameter's group (each disjunct one value), or None."""
        alternatives = []
        for disjunct in disjunct_list(term):
            atoms = conjunct_list(disjunct)
            constraints = [atom_constraint(a, known, self.pos) for a in atoms]
            if any(c is None for c in constraints):
                return None
            merged = constraints[0]
            for c in constraints[1:]:
                merged = None if merged is None or c is None else meet(merged, c)
            if merged is None or merged.param not in allowed:
                return None
            alternatives.append(merged)
        return Group.of(alternatives)

    def apply_projection(self, h: SiaHandle, columns: Sequence[str]) -> Applied[SiaHandle] | None:
        """SIA always returns whole ObsCore rows: nothing to push."""
        del h, columns
        return None

    def apply_order(self, h: SiaHandle, items: Sequence[n.OrderItem]) -> Applied[SiaHandle] | None:
        """SIA has no ordering."""
        del h, items
        return None

    def apply_limit(self, h: SiaHandle, n_rows: int) -> Applied[SiaHandle] | None:
        """``MAXREC``, only when no conjunct stayed residual."""
        if h.residual_seen or h.empty or (h.maxrec is not None and h.maxrec <= n_rows):
            return None
        return Applied(replace(h, maxrec=n_rows), (), guaranteed=True)

    def apply_semijoin(self, h: SiaHandle, upload: str, key: str) -> Applied[SiaHandle] | None:
        """SIA takes no uploads."""
        del h, upload, key
        return None

    def render(self, h: SiaHandle) -> tuple[BackendRequest, ...]:
        """One GET of the query endpoint; no request at all for an empty handle."""
        if h.empty:
            return ()
        params: list[tuple[str, str]] = []
        for group in h.groups:
            rendered = render_group(group)
            assert rendered is not None
            params += [(group.param, value) for value in rendered[0]]
        maxrec = self.max_maxrec if h.maxrec is None else min(h.maxrec, self.max_maxrec)
        params.append(("MAXREC", str(maxrec)))
        return (BackendRequest("GET", self.url, tuple(params), response_format="votable"),)
