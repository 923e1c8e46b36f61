"""What a remote TAP service's ADQL understands, and which constructs a query needs.

A :class:`TapCapabilities` value mirrors TAPRegExt: ADQL versions, optional feature groups
(``ivo://ivoa.net/std/tapregext#features-adql-<group>``), user-defined functions, geometry
functions, upload support and MAXREC limits. :func:`needs` lists the optional constructs a
tree uses, each with its node (for the error span); :func:`to_adql20` rewrites 2.1-only
geometry spellings for services that speak ADQL 2.0 only; :func:`portable_adql` writes
our extensions and the join forms strict services reject in plain ADQL.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from grammar import nodes as n
from grammar.walk import iter_nodes, transform
from planners.sql_functions import UDF_BUILDERS

__all__ = [
    "FEATURES", "GEOMETRY", "Need", "TapCapabilities", "needs", "portable_adql", "to_adql20",
]  # fmt: skip

FEATURES = frozenset({"string", "offset", "with", "sets", "type", "unit", "conditional", "bitwise"})
"""ADQL 2.1 optional feature groups (TAPRegExt ``features-adql-<group>``)."""
GEOMETRY = frozenset(
    {"POINT", "CIRCLE", "BOX", "POLYGON", "REGION", "CONTAINS", "INTERSECTS", "DISTANCE"}
    | {"AREA", "CENTROID", "COORD1", "COORD2", "COORDSYS"}
)
_LOCAL_GEOMETRY = GEOMETRY - {"REGION", "COORDSYS"}
"""Geometry the gateway's local engine evaluates itself."""


@dataclass(frozen=True, slots=True)
class TapCapabilities:
    """Declared abilities of a remote TAP service.

    ``features`` are whole groups; ``forms`` admits single forms of a group the service does
    not fully declare (``{"LOWER", "UPPER"}`` for a service without ``ILIKE``). ``udfs`` are
    lower-case function names. ``maxrec_hard`` is sent as MAXREC when the query has no TOP.
    ``response_format`` is the RESPONSEFORMAT to ask for (the fastest declared output format to
    read); None means ``votable``.
    """

    adql_versions: tuple[str, ...] = ("2.0", "2.1")
    features: frozenset[str] = FEATURES
    forms: frozenset[str] = frozenset()
    geometry: frozenset[str] = GEOMETRY
    udfs: frozenset[str] = frozenset()
    upload: bool = True
    maxrec_default: int | None = None
    maxrec_hard: int | None = None
    response_format: str | None = None

    @property
    def adql21(self) -> bool:
        """True if the service accepts ADQL 2.1 (every optional feature is 2.1)."""
        return "2.1" in self.adql_versions

    def allows(self, need: Need) -> bool:
        """Whether the service evaluates ``need``."""
        if need.group == "geometry":
            return need.form in self.geometry
        if need.group == "udf":
            return need.form.lower() in self.udfs
        if need.group == "upload":
            return self.upload
        return self.adql21 and (need.group in self.features or need.form in self.forms)


@dataclass(frozen=True, slots=True)
class Need:
    """One optional construct a query uses: its feature group, form name and node."""

    group: str
    form: str
    node: Any

    @property
    def local(self) -> bool:
        """Whether the gateway's own engine can evaluate the construct instead."""
        if self.group == "udf":
            return self.form.lower() in UDF_BUILDERS
        if self.group == "geometry":
            return self.form in _LOCAL_GEOMETRY
        return self.group != "upload"

    @property
    def span(self) -> n.Span:
        """Where the construct is in the query text."""
        span = getattr(self.node, "span", n.NO_SPAN)
        return span if isinstance(span, n.Span) else n.NO_SPAN


_FUNCTION_GROUPS = {
    "LOWER": "string", "UPPER": "string", "IN_UNIT": "unit", "COALESCE": "conditional",
}  # fmt: skip
_BITWISE = {"&": "BIT_AND", "|": "BIT_OR", "^": "BIT_XOR", "~": "BIT_NOT"}
_GEOMETRY_NODES = {n.Point: "POINT", n.Circle: "CIRCLE", n.Box: "BOX", n.Polygon: "POLYGON"}


def _need(node: object) -> Need | None:
    match node:
        case n.Query(offset=int()):
            return Need("offset", "OFFSET", node)
        case n.Query(with_=(_, *_)):
            return Need("with", "WITH", node)
        case n.SetOperation():
            return Need("sets", node.op, node)
        case n.Cast():
            return Need("type", "CAST", node)
        case n.LikePredicate(case_insensitive=True):
            return Need("string", "ILIKE", node)
        case n.BinaryExpression(op="&" | "|" | "^") | n.UnaryExpression(op="~"):
            return Need("bitwise", _BITWISE[node.op], node)
        case n.FunctionCall() if node.name.upper() in _FUNCTION_GROUPS:
            return Need(_FUNCTION_GROUPS[node.name.upper()], node.name.upper(), node)
        case n.FunctionCall() if node.name.upper() in GEOMETRY:
            return Need("geometry", node.name.upper(), node)
        case n.Point() | n.Circle() | n.Box() | n.Polygon():
            return Need("geometry", _GEOMETRY_NODES[type(node)], node)
        case n.Region():
            return Need("geometry", "REGION", node)
        case n.UserDefinedFunction():
            return Need("udf", node.name, node)
        case n.TableReference() if node.name.schema is not None and (
            node.name.schema.key == "tap_upload"
        ):
            return Need("upload", "TAP_UPLOAD", node)
        case _:
            return None


def needs(node: n.Node) -> list[Need]:
    """Every optional construct in ``node``, in pre-order."""
    return [need for sub in iter_nodes(node) if (need := _need(sub)) is not None]


def _coords(v: n.Coordinates | n.ValueExpression) -> n.Coordinates | n.ValueExpression:
    return n.Coordinates(v.lon, v.lat, span=v.span) if isinstance(v, n.Point) else v


def _point_of(v: n.Coordinates | n.ValueExpression) -> n.Coordinates | n.ValueExpression:
    """A point-valued vertex (column, CENTROID) as ``POINT(COORD1(v), COORD2(v))``."""
    if isinstance(v, n.Coordinates | n.Point):
        return v
    return n.Point(None, n.FunctionCall("COORD1", (v,)), n.FunctionCall("COORD2", (v,)))


def _adql20(node: Any) -> Any:
    icrs = n.StringLiteral("ICRS")
    # A NULL coordinate system (ADQL 2.1) means none was given, like an absent one.
    match node:
        case n.Point(coord_sys=None | n.NullLiteral()) | n.Box(coord_sys=None | n.NullLiteral()):
            return replace(node, coord_sys=icrs)
        case n.Circle():
            frame = node.coord_sys if isinstance(node.coord_sys, n.StringLiteral) else icrs
            return replace(node, coord_sys=frame, center=_coords(node.center))
        case n.Polygon():
            # ADQL 2.0 vertices are coordinate pairs: a point column becomes COORD1, COORD2.
            vertices = tuple(_coords(_point_of(v)) for v in node.vertices)
            frame = node.coord_sys if isinstance(node.coord_sys, n.StringLiteral) else icrs
            return replace(node, coord_sys=frame, vertices=vertices)
        case n.FunctionCall(name="DISTANCE", args=(a, b, c, d)):
            return replace(node, args=(n.Point(icrs, a, b), n.Point(icrs, c, d)))
        case _:
            return node


_TRUE = n.ComparisonPredicate("=", n.NumericLiteral("1"), n.NumericLiteral("1"))


def _explicit_join(node: Any) -> Any:
    bare = isinstance(node, n.JoinedTable) and node.condition is None and node.using is None
    if bare and not node.natural:
        kind = "INNER" if node.kind == "CROSS" else node.kind
        return replace(node, kind=kind, condition=_TRUE)
    return node


def _qualifiers(item: n.FromItem) -> list[n.TableName] | None:
    """What ``q.*`` must name, in order, to list ``item``'s columns; None for NATURAL/USING."""
    match item:
        case n.TableReference():
            return [n.TableName((item.alias,)) if item.alias is not None else item.name]
        case n.DerivedTable():
            return [n.TableName((item.alias,))]
        case n.JoinedTable():
            if item.natural or item.using is not None:
                return None  # their * merges the join columns: no list of q.* says that
            left, right = _qualifiers(item.left), _qualifiers(item.right)
            return None if left is None or right is None else left + right


def _qualified_stars(node: Any) -> Any:
    if not isinstance(node, n.SelectQuery) or len(node.items) < 2:
        return node
    if not any(isinstance(i, n.Asterisk) and i.qualifier is None for i in node.items):
        return node
    found = [_qualifiers(item) for item in node.from_]
    names = [q for group in found if group is not None for q in group]
    if any(group is None for group in found):
        return node
    items: list[n.SelectItem] = []
    for item in node.items:
        bare = isinstance(item, n.Asterisk) and item.qualifier is None
        items += [n.Asterisk(q) for q in names] if bare else [item]
    return replace(node, items=tuple(items))


def portable_adql(query: n.Query) -> n.Query:
    """Our extensions and the ADQL 2.1 forms strict services reject, in plain ADQL.

    Joins without ON/USING (and CROSS JOIN) are written ``ON 1 = 1``: the same rows in every
    ADQL dialect (ADQL 2.1's BNF lets a join omit its specification, but services that follow
    SQL-92's rule, and the IVOA validator suite in places, reject it; CROSS JOIN is not ADQL).
    A bare ``*`` beside other select items becomes ``t1.*, t2.*, ...`` over the FROM tables.
    """
    return transform(transform(query, _explicit_join), _qualified_stars)


def to_adql20(query: n.Query) -> n.Query:
    """2.1-only geometry spellings rewritten for an ADQL 2.0 service.

    Coordinate systems are filled in as ``'ICRS'``, ``CIRCLE(POINT, r)`` becomes
    ``CIRCLE(sys, lon, lat, r)`` and the four-number DISTANCE two points.
    """
    return transform(query, _adql20)
