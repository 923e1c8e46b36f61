"""The ADQL abstract syntax tree: frozen, slotted dataclasses with source spans.

Every node carries a :class:`Span` that is excluded from equality, so two trees that differ
only in where they came from compare equal (``parse(to_adql(q)) == parse(q)``). Children are
tuples, never lists, so a tree can be shared between the fragments of a federated plan without
aliasing bugs. Rewrites build new trees with :func:`dataclasses.replace`.

Node names follow the nonterminals of the ADQL 2.1 BNF where one exists
(``ComparisonPredicate`` for ``<comparison_predicate>``); parentheses leave no node behind,
because the canonical printer puts them back from operator precedence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypeAlias


@dataclass(frozen=True, slots=True)
class Span:
    """Where a node came from: 0-based character offsets, 1-based line and column."""

    start: int
    end: int
    line: int
    column: int
    end_line: int
    end_column: int


NO_SPAN = Span(0, 0, 0, 0, 0, 0)
"""The span of nodes built by code rather than parsed from text."""


def _span() -> Span:
    return field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


# --------------------------------------------------------------------------- identifiers


@dataclass(frozen=True, slots=True)
class Identifier:
    """A regular (case-insensitive) or delimited (``"Exact"``, case-sensitive) identifier."""

    name: str
    delimited: bool = False
    span: Span = _span()

    @property
    def key(self) -> str:
        """The matching key: folded to lower case unless delimited."""
        return self.name if self.delimited else self.name.lower()


@dataclass(frozen=True, slots=True)
class TableName:
    """``[catalog.][schema.]table``; ``parts`` holds one to three identifiers."""

    parts: tuple[Identifier, ...]
    span: Span = _span()

    @property
    def table(self) -> Identifier:
        """The last part: the table's own name."""
        return self.parts[-1]

    @property
    def schema(self) -> Identifier | None:
        """The schema part, if written."""
        return self.parts[-2] if len(self.parts) >= 2 else None


# --------------------------------------------------------------------------- value expressions


@dataclass(frozen=True, slots=True)
class ColumnReference:
    """``[qualifier.]column`` where the qualifier is a table name or a correlation name."""

    name: Identifier
    qualifier: TableName | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class NumericLiteral:
    """An unsigned numeric literal kept as its canonical text (``12``, ``1.5``, ``2E-3``, ``0x1F``).

    The text is kept rather than a float so that ``0.1`` stays exact when printed for a backend.
    """

    text: str
    span: Span = _span()

    @property
    def is_integer(self) -> bool:
        """True for decimal integers and hexadecimal literals."""
        lowered = self.text.lower()
        return lowered.startswith("0x") or not any(c in lowered for c in ".e")

    @property
    def value(self) -> int | float:
        """The Python value: ``int`` for integer and hex literals, ``float`` otherwise."""
        lowered = self.text.lower()
        if lowered.startswith("0x"):
            return int(lowered, 16)
        if self.is_integer:
            return int(lowered)
        return float(lowered)


@dataclass(frozen=True, slots=True)
class StringLiteral:
    """A character string literal; ``value`` is decoded (``''`` is one quote, pieces joined)."""

    value: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class NullLiteral:
    """The keyword ``NULL`` used as a value."""

    span: Span = _span()


UnaryOperator: TypeAlias = Literal["+", "-", "~"]
BinaryOperator: TypeAlias = Literal["+", "-", "*", "/", "||", "&", "|", "^"]


@dataclass(frozen=True, slots=True)
class UnaryExpression:
    """A sign or bitwise NOT applied to a value."""

    op: UnaryOperator
    operand: ValueExpression
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class BinaryExpression:
    """Arithmetic, concatenation or a bitwise operator; left-associative chains nest leftwards."""

    op: BinaryOperator
    left: ValueExpression
    right: ValueExpression
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class FunctionCall:
    """A built-in function: math, trig, string, geometry scalar, COALESCE, IN_UNIT, MOC.

    ``name`` is the upper-case ADQL keyword (``ABS``, ``CONTAINS``, ``DISTANCE``, ``IN_UNIT``).
    Geometry constructors have their own nodes (:class:`Point`, :class:`Circle`, ...).
    """

    name: str
    args: tuple[ValueExpression, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class UserDefinedFunction:
    """A function outside the ADQL built-ins (``ivo_healpix_index``, ``gavo_match``...)."""

    name: str
    args: tuple[ValueExpression, ...]
    span: Span = _span()


SetFunctionName: TypeAlias = Literal["AVG", "MAX", "MIN", "SUM", "COUNT"]


@dataclass(frozen=True, slots=True)
class SetFunction:
    """An aggregate; ``argument`` is None for ``COUNT(*)``."""

    name: SetFunctionName
    argument: ValueExpression | None
    quantifier: Literal["DISTINCT", "ALL"] | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class CastTarget:
    """The type in ``CAST(x AS type)``: ``INTEGER``, ``DOUBLE PRECISION``, ``VARCHAR(n)``..."""

    name: str
    length: int | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Cast:
    """``CAST(operand AS target)``."""

    operand: ValueExpression
    target: CastTarget
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Coordinates:
    """A bare ``lon, lat`` pair inside CIRCLE, BOX or POLYGON (the ADQL 2.0 form)."""

    lon: ValueExpression
    lat: ValueExpression
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Point:
    """``POINT([coord_sys,] lon, lat)``.

    ``coord_sys`` (optional and deprecated in ADQL 2.1) is a string literal, ``NULL`` (a
    :class:`NullLiteral`, which means the same as leaving it out) or None when absent; the same
    holds for :class:`Circle`, :class:`Box` and :class:`Polygon`.
    """

    coord_sys: StringLiteral | NullLiteral | None
    lon: ValueExpression
    lat: ValueExpression
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Circle:
    """``CIRCLE([coord_sys,] lon, lat, r)`` or ``CIRCLE(point, r)``."""

    coord_sys: StringLiteral | NullLiteral | None
    center: Coordinates | ValueExpression
    radius: ValueExpression
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Box:
    """``BOX([coord_sys,] lon, lat, width, height)`` or ``BOX(point, width, height)``."""

    coord_sys: StringLiteral | NullLiteral | None
    center: Coordinates | ValueExpression
    width: ValueExpression
    height: ValueExpression
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Polygon:
    """``POLYGON([coord_sys,] v1, v2, v3, ...)``; vertices all coordinates or all points."""

    coord_sys: StringLiteral | NullLiteral | None
    vertices: tuple[Coordinates | ValueExpression, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Region:
    """``REGION('STC-S text')``."""

    text: StringLiteral
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ScalarSubquery:
    """A parenthesised query used as a value."""

    query: Query
    span: Span = _span()


ValueExpression: TypeAlias = (
    ColumnReference
    | NumericLiteral
    | StringLiteral
    | NullLiteral
    | UnaryExpression
    | BinaryExpression
    | FunctionCall
    | UserDefinedFunction
    | SetFunction
    | Cast
    | Point
    | Circle
    | Box
    | Polygon
    | Region
    | ScalarSubquery
)
GeometryConstructor: TypeAlias = Point | Circle | Box | Polygon | Region

# --------------------------------------------------------------------------- search conditions

ComparisonOperator: TypeAlias = Literal["=", "<>", "<", ">", "<=", ">="]


@dataclass(frozen=True, slots=True)
class ComparisonPredicate:
    """``left op right``; ``!=`` is read as ``<>``."""

    op: ComparisonOperator
    left: ValueExpression
    right: ValueExpression
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class BetweenPredicate:
    """``operand [NOT] BETWEEN low AND high`` (inclusive)."""

    operand: ValueExpression
    low: ValueExpression
    high: ValueExpression
    negated: bool = False
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class InPredicate:
    """``operand [NOT] IN (v1, v2, ...)`` or ``operand [NOT] IN (subquery)``."""

    operand: ValueExpression
    values: tuple[ValueExpression, ...] | Query
    negated: bool = False
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class LikePredicate:
    """``operand [NOT] LIKE|ILIKE pattern``."""

    operand: ValueExpression
    pattern: ValueExpression
    negated: bool = False
    case_insensitive: bool = False
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class NullPredicate:
    """``operand IS [NOT] NULL``."""

    operand: ValueExpression
    negated: bool = False
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ExistsPredicate:
    """``EXISTS (subquery)``."""

    query: Query
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class NotCondition:
    """``NOT condition``."""

    operand: SearchCondition
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class AndCondition:
    """A flat conjunction of two or more conditions."""

    operands: tuple[SearchCondition, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class OrCondition:
    """A flat disjunction of two or more conditions."""

    operands: tuple[SearchCondition, ...]
    span: Span = _span()


Predicate: TypeAlias = (
    ComparisonPredicate
    | BetweenPredicate
    | InPredicate
    | LikePredicate
    | NullPredicate
    | ExistsPredicate
)
SearchCondition: TypeAlias = Predicate | NotCondition | AndCondition | OrCondition

# --------------------------------------------------------------------------- FROM clause


@dataclass(frozen=True, slots=True)
class TableReference:
    """A named table with an optional correlation name (``FROM hscv3.summary AS s``)."""

    name: TableName
    alias: Identifier | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class DerivedTable:
    """A subquery in FROM; ADQL requires the correlation name."""

    query: Query
    alias: Identifier
    span: Span = _span()


JoinKind: TypeAlias = Literal["INNER", "LEFT", "RIGHT", "FULL", "CROSS"]


@dataclass(frozen=True, slots=True)
class JoinedTable:
    """``left [NATURAL] [kind] JOIN right [ON condition | USING (columns)]``."""

    left: FromItem
    right: FromItem
    kind: JoinKind = "INNER"
    natural: bool = False
    condition: SearchCondition | None = None
    using: tuple[Identifier, ...] | None = None
    span: Span = _span()


FromItem: TypeAlias = TableReference | DerivedTable | JoinedTable

# --------------------------------------------------------------------------- queries


@dataclass(frozen=True, slots=True)
class Asterisk:
    """``*`` as the whole select list, or ``qualifier.*`` when ``qualifier`` is set."""

    qualifier: TableName | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class DerivedColumn:
    """A select-list expression with an optional alias (``AS`` or bare)."""

    expression: ValueExpression
    alias: Identifier | None = None
    span: Span = _span()


SelectItem: TypeAlias = DerivedColumn | Asterisk


@dataclass(frozen=True, slots=True)
class SelectQuery:
    """One ``SELECT ... FROM ... [WHERE] [GROUP BY] [HAVING]`` block (``<select_query>``)."""

    items: tuple[SelectItem, ...]
    from_: tuple[FromItem, ...]
    quantifier: Literal["DISTINCT", "ALL"] | None = None
    top: int | None = None
    where: SearchCondition | None = None
    group_by: tuple[ValueExpression, ...] = ()
    having: SearchCondition | None = None
    span: Span = _span()


SetOperator: TypeAlias = Literal["UNION", "INTERSECT", "EXCEPT"]


@dataclass(frozen=True, slots=True)
class SetOperation:
    """``left UNION|INTERSECT|EXCEPT [ALL] right``."""

    op: SetOperator
    left: QueryBody
    right: QueryBody
    all: bool = False
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class OrderItem:
    """An ORDER BY term; an integer literal expression means a select-list position."""

    expression: ValueExpression
    descending: bool = False
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class WithQuery:
    """A common table expression: ``name AS (query)``."""

    name: Identifier
    query: Query
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Query:
    """A whole query: ``[WITH ...] body [ORDER BY ...] [OFFSET n]`` (``<query_specification>``).

    A parenthesised query inside a set operation, a subquery or a derived table is a
    ``Query`` too.
    """

    body: QueryBody
    order_by: tuple[OrderItem, ...] = ()
    offset: int | None = None
    with_: tuple[WithQuery, ...] = ()
    span: Span = _span()


QueryBody: TypeAlias = SelectQuery | SetOperation | Query

Node: TypeAlias = (
    Identifier
    | TableName
    | ValueExpression
    | CastTarget
    | Coordinates
    | SearchCondition
    | FromItem
    | SelectItem
    | SelectQuery
    | SetOperation
    | OrderItem
    | WithQuery
    | Query
)
