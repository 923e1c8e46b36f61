"""Positional cross-match as a declination-zone join instead of a nested loop.

``CONTAINS(POINT(a.ra, a.dec), CIRCLE(b.ra, b.dec, r)) = 1`` or ``DISTANCE(...) < r`` between
two tables is a theta join that DuckDB would evaluate as a nested loop. With zones of height
``h = r`` (``zone = floor(dec / h)``), a match can only lie in the same or a neighbouring zone.
One side is replaced by a derived table that repeats each row for zones ``z-1, z, z+1``
(``UNNEST``), and the join gains the equality ``b.__zone = floor(a.dec / h)``: a hash join.
A cheap ``|Δdec| <= r`` range test and the exact haversine test (kept from the query) follow.
RA wrap needs nothing special: zones are declination strips spanning all RA, and the exact test
uses ``sin²(Δα/2)``. Each pair is produced at most once because the non-repeated side has one
zone per row, so inner and outer join semantics are unchanged as long as the repeated side is
not a preserved (outer) side.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from planners.sql_geometry import Geo, num
from planners.sql_scope import quoted

ZONE_COLUMN = "__adql_zone"


def tables_of(node: exp.Expr) -> set[str]:
    """SQL aliases of the tables whose columns appear in ``node``."""
    return {c.table for c in node.find_all(exp.Column) if c.table}


@dataclass(frozen=True, slots=True)
class Match:
    """A detected cross-match: two points from two different tables and a constant radius."""

    probe: Geo
    build: Geo
    radius: float
    probe_table: str
    build_table: str


def detect(p: Geo, q: Geo, radius: float | None) -> Match | None:
    """A :class:`Match` if ``p`` and ``q`` are positions of two single, distinct tables."""
    if radius is None or radius <= 0 or p.kind != "point" or q.kind not in {"point", "circle"}:
        return None
    pt, qt = (
        tables_of(exp.Tuple(expressions=list(p.parts[:2]))),
        tables_of(exp.Tuple(expressions=list(q.parts[:2]))),
    )
    if len(pt) != 1 or len(qt) != 1 or pt == qt:
        return None
    return Match(p, q, radius, next(iter(pt)), next(iter(qt)))


def zone_join(match: Match, sources: dict[str, exp.Expr], preserved: set[str]) -> list[exp.Expr]:
    """Rewrite one side's FROM source to repeat rows per zone; return the extra conjuncts.

    ``sources`` maps SQL aliases to the FROM nodes emitted for them (replaced in place);
    ``preserved`` holds aliases on the preserved side of an outer join, which must not be
    repeated. Returns no conjuncts when the rewrite does not apply.
    """
    probe, build = match.probe, match.build
    build_alias, probe_alias = match.build_table, match.probe_table
    if build_alias in preserved or build_alias not in sources:
        probe, build = build, probe
        build_alias, probe_alias = probe_alias, build_alias
        if build_alias in preserved or build_alias not in sources:
            return []
    source = sources.pop(build_alias)
    height = match.radius

    def zone(lat: exp.Expr) -> exp.Expr:
        return exp.Floor(this=exp.Div(this=exp.Paren(this=lat.copy()), expression=num(height)))

    build_zone = zone(build.parts[1])
    zones = exp.Array(
        expressions=[
            exp.Sub(this=build_zone, expression=num(1)),
            build_zone.copy(),
            exp.Add(this=build_zone.copy(), expression=num(1)),
        ]
    )
    inner = exp.select(
        exp.Column(this=exp.Star(), table=quoted(build_alias)),
        exp.alias_(exp.Unnest(expressions=[zones]), quoted(ZONE_COLUMN)),
    ).from_(source.copy())
    source.replace(exp.Subquery(this=inner, alias=exp.TableAlias(this=quoted(build_alias))))
    equality = exp.EQ(
        this=exp.Column(this=quoted(ZONE_COLUMN), table=quoted(build_alias)),
        expression=zone(probe.parts[1]),
    )
    band = exp.Between(
        this=probe.parts[1].copy(),
        low=exp.Sub(this=build.parts[1].copy(), expression=num(match.radius)),
        high=exp.Add(this=build.parts[1].copy(), expression=num(match.radius)),
    )
    return [equality, band]
