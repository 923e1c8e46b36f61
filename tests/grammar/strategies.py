"""Hypothesis strategies generating random ADQL ASTs the parser could have produced.

Trees are bounded in depth and typed the way the ADQL BNF types them (numeric, string and
geometry expressions appear only where the grammar allows them), so ``to_adql`` of a generated
tree always parses back to the same tree. ``NULL`` appears among the numeric and string leaves:
where the BNF wants a typed operand the printer writes it as ``(NULL)``, elsewhere bare.
"""

from __future__ import annotations

from functools import cache

from hypothesis import strategies as st

from grammar import nodes as n
from grammar.keywords import is_reserved

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _regular_name() -> st.SearchStrategy[str]:
    return st.builds(
        lambda head, tail: head + tail,
        st.sampled_from(_LETTERS),
        st.text(alphabet=_LETTERS + "0123456789_", max_size=6),
    ).filter(lambda name: not is_reserved(name))


identifiers: st.SearchStrategy[n.Identifier] = st.one_of(
    _regular_name().map(n.Identifier),
    _regular_name().map(n.Identifier),
    st.text(alphabet='abcXYZ _"-.', min_size=1, max_size=6).map(
        lambda name: n.Identifier(name, delimited=True)
    ),
)

table_names = st.lists(identifiers, min_size=1, max_size=3).map(lambda ps: n.TableName(tuple(ps)))
columns = st.builds(
    n.ColumnReference,
    identifiers,
    st.one_of(st.none(), table_names),
)

_DIGITS = st.integers(min_value=0, max_value=10**6).map(str)
numeric_texts = st.one_of(
    _DIGITS,
    st.builds(lambda a, b: f"{a}.{b}", _DIGITS, _DIGITS),
    st.builds(
        lambda m, s, e: f"{m}E{s}{e}",
        st.one_of(_DIGITS, st.builds(lambda a, b: f"{a}.{b}", _DIGITS, _DIGITS)),
        st.sampled_from(["", "-", "+"]),
        st.integers(min_value=0, max_value=300).map(str),
    ),
    st.integers(min_value=0, max_value=2**40).map(lambda i: f"0x{i:X}"),
)
numeric_literals = numeric_texts.map(n.NumericLiteral)
string_literals = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=8
).map(n.StringLiteral)
unsigned_ints = st.integers(min_value=0, max_value=10**6)
nulls = st.just(n.NullLiteral())

_NUMERIC_FUNCTIONS: dict[str, int] = {
    "ABS": 1,
    "CEILING": 1,
    "DEGREES": 1,
    "EXP": 1,
    "FLOOR": 1,
    "LOG": 1,
    "LOG10": 1,
    "MOD": 2,
    "PI": 0,
    "POWER": 2,
    "RADIANS": 1,
    "SQRT": 1,
    "ROUND": 1,
    "TRUNCATE": 1,
    "ACOS": 1,
    "ASIN": 1,
    "ATAN": 1,
    "ATAN2": 2,
    "COS": 1,
    "COT": 1,
    "SIN": 1,
    "TAN": 1,
}
_CAST_TARGETS = st.one_of(
    st.sampled_from(["INTEGER", "SMALLINT", "BIGINT", "REAL", "DOUBLE PRECISION"]).map(
        n.CastTarget
    ),
    st.builds(
        n.CastTarget,
        st.sampled_from(["CHAR", "VARCHAR"]),
        st.one_of(st.none(), st.integers(min_value=1, max_value=255)),
    ),
    st.just(n.CastTarget("TIMESTAMP")),
    st.sampled_from(["POINT", "CIRCLE", "POLYGON"]).map(n.CastTarget),
)
_SIGNED_INTS = st.integers(min_value=-9, max_value=9).map(
    lambda i: (
        n.NumericLiteral(str(i)) if i >= 0 else n.UnaryExpression("-", n.NumericLiteral(str(-i)))
    )
)
_COORD_SYS = st.one_of(
    st.none(), st.sampled_from(["ICRS", "GALACTIC", ""]).map(n.StringLiteral), nulls
)


def _tuple(strategy: st.SearchStrategy[object], lo: int, hi: int) -> st.SearchStrategy[tuple]:  # type: ignore[type-arg]
    return st.lists(strategy, min_size=lo, max_size=hi).map(tuple)


@cache
def numeric(depth: int) -> st.SearchStrategy[n.ValueExpression]:
    """Numeric value expressions of at most ``depth`` levels of operators and calls."""
    leaves: st.SearchStrategy[n.ValueExpression] = st.one_of(columns, numeric_literals, nulls)
    if depth <= 0:
        return leaves
    sub = numeric(depth - 1)
    calls = st.sampled_from(sorted(_NUMERIC_FUNCTIONS)).flatmap(
        lambda name: st.builds(
            n.FunctionCall, st.just(name), _tuple(sub, *[_NUMERIC_FUNCTIONS[name]] * 2)
        )
    )
    geometry_calls = st.one_of(
        st.builds(
            lambda a, b: n.FunctionCall("CONTAINS", (a, b)),
            geometry(depth - 1),
            geometry(depth - 1),
        ),
        st.builds(
            lambda a, b: n.FunctionCall("INTERSECTS", (a, b)),
            geometry(depth - 1),
            geometry(depth - 1),
        ),
        st.builds(
            lambda a, b: n.FunctionCall("DISTANCE", (a, b)), points(depth - 1), points(depth - 1)
        ),
        st.builds(lambda a: n.FunctionCall("AREA", (a,)), geometry(depth - 1)),
        st.builds(
            n.FunctionCall, st.sampled_from(["COORD1", "COORD2"]), _tuple(points(depth - 1), 1, 1)
        ),
    )
    return st.one_of(
        leaves,
        st.builds(n.UnaryExpression, st.sampled_from(["-", "+"]), sub),
        st.builds(n.BinaryExpression, st.sampled_from(["+", "-", "*", "/"]), sub, sub),
        st.builds(n.BinaryExpression, st.sampled_from(["&", "|", "^"]), sub, sub),
        st.builds(n.UnaryExpression, st.just("~"), sub),
        calls,
        geometry_calls,
        st.builds(n.FunctionCall, st.just("IN_UNIT"), st.tuples(sub, string_literals.filter(bool))),
        st.builds(n.Cast, sub, _CAST_TARGETS),
        st.builds(
            n.UserDefinedFunction, _regular_name().map(lambda s: "udf_" + s), _tuple(sub, 0, 3)
        ),
        st.builds(
            n.FunctionCall,
            st.sampled_from(["ROUND", "TRUNCATE"]),
            st.tuples(sub, _SIGNED_INTS),
        ),
        st.builds(
            n.FunctionCall,
            st.just("RAND"),
            st.one_of(st.just(()), st.tuples(_DIGITS.map(n.NumericLiteral))),
        ),
    )


@cache
def strings(depth: int) -> st.SearchStrategy[n.ValueExpression]:
    """String value expressions: literals, columns, ``||``, LOWER and UPPER."""
    leaves: st.SearchStrategy[n.ValueExpression] = st.one_of(columns, string_literals, nulls)
    if depth <= 0:
        return leaves
    sub = strings(depth - 1)
    return st.one_of(
        leaves,
        st.builds(n.BinaryExpression, st.just("||"), sub, sub),
        st.builds(n.FunctionCall, st.sampled_from(["LOWER", "UPPER"]), _tuple(sub, 1, 1)),
        st.builds(n.FunctionCall, st.just("COALESCE"), _tuple(sub, 1, 3)),
    )


@cache
def _centre(depth: int) -> st.SearchStrategy[n.Coordinates | n.ValueExpression]:
    sub = numeric(depth)
    return st.one_of(st.builds(n.Coordinates, sub, sub), points(depth))


@cache
def point_constructors(depth: int) -> st.SearchStrategy[n.ValueExpression]:
    """POINT constructors only (the polygon's vertex form needs them to be recognisable)."""
    sub = numeric(max(depth - 1, 0))
    return st.builds(n.Point, _COORD_SYS, sub, sub)


@cache
def points(depth: int) -> st.SearchStrategy[n.ValueExpression]:
    """POINT constructors and geometry-valued columns."""
    sub = numeric(max(depth - 1, 0))
    return st.one_of(columns, st.builds(n.Point, _COORD_SYS, sub, sub))


@cache
def geometry(depth: int) -> st.SearchStrategy[n.ValueExpression]:
    """Geometry values: constructors, REGION and columns."""
    if depth <= 0:
        return st.one_of(columns, points(0))
    sub = numeric(depth - 1)
    coords = st.builds(n.Coordinates, sub, sub)
    return st.one_of(
        points(depth),
        st.builds(n.Circle, _COORD_SYS, _centre(depth - 1), sub),
        st.builds(n.Box, _COORD_SYS, _centre(depth - 1), sub, sub),
        st.builds(
            n.Polygon,
            _COORD_SYS,
            st.one_of(
                _tuple(coords, 3, 4),
                _tuple(point_constructors(depth - 1), 3, 4),
                _tuple(columns, 3, 5),  # point-valued columns (at most 5: 6 read as pairs)
            ),
        ),
        st.builds(n.Region, string_literals.filter(bool)),
        st.builds(lambda g: n.FunctionCall("CENTROID", (g,)), geometry(depth - 1)),
    )


@cache
def predicates(depth: int) -> st.SearchStrategy[n.SearchCondition]:
    """Every kind of predicate over typed operands."""
    num, text = numeric(depth), strings(depth)
    ops = st.sampled_from(["=", "<>", "<", ">", "<=", ">="])
    flag = st.booleans()
    simple = st.one_of(
        st.builds(n.ComparisonPredicate, ops, num, num),
        st.builds(n.ComparisonPredicate, ops, text, text),
        st.builds(n.BetweenPredicate, num, num, num, flag),
        st.builds(n.InPredicate, num, _tuple(num, 1, 4), flag),
        st.builds(n.LikePredicate, st.one_of(text, num), st.one_of(text, num), flag, flag),
        st.builds(n.NullPredicate, columns, flag),
    )
    if depth <= 0:
        return simple
    subquery = select_queries(depth - 1, single_column=True).map(n.Query)
    return st.one_of(
        simple,
        st.builds(n.InPredicate, num, subquery, flag),
        st.builds(n.ExistsPredicate, select_queries(depth - 1).map(n.Query)),
    )


@cache
def conditions(depth: int) -> st.SearchStrategy[n.SearchCondition]:
    """Search conditions: predicates combined with AND, OR and NOT (any nesting)."""
    if depth <= 0:
        return predicates(0)
    sub = conditions(depth - 1)
    return st.one_of(
        predicates(depth - 1),
        st.builds(n.NotCondition, sub),
        _tuple(sub, 2, 3).map(n.AndCondition),
        _tuple(sub, 2, 3).map(n.OrCondition),
    )


@cache
def _table_references(depth: int) -> st.SearchStrategy[n.FromItem]:
    plain = st.builds(n.TableReference, table_names, st.one_of(st.none(), identifiers))
    if depth <= 0:
        return plain
    derived = st.builds(n.DerivedTable, select_queries(depth - 1).map(n.Query), identifiers)
    return st.one_of(plain, plain, derived)


@cache
def from_items(depth: int) -> st.SearchStrategy[n.FromItem]:
    """Tables, derived tables and joins of them (left-deep, sometimes right-nested)."""
    base = _table_references(depth)
    if depth <= 0:
        return base
    sub = from_items(depth - 1)
    cond = conditions(depth - 1)
    using = _tuple(identifiers, 1, 3)
    kinds = st.sampled_from(["INNER", "LEFT", "RIGHT", "FULL"])
    return st.one_of(
        base,
        st.builds(
            lambda lhs, r, k, c: n.JoinedTable(lhs, r, k, condition=c), sub, sub, kinds, cond
        ),
        st.builds(lambda lhs, r, k, u: n.JoinedTable(lhs, r, k, using=u), sub, sub, kinds, using),
        st.builds(lambda lhs, r, k: n.JoinedTable(lhs, r, k, natural=True), sub, base, kinds),
        st.builds(lambda lhs, r: n.JoinedTable(lhs, r, "CROSS"), sub, sub),
        # no ON/USING: <join_specification> is optional in the BNF
        st.builds(n.JoinedTable, sub, sub, kinds),
    )


@cache
def _select_items(
    depth: int, *, single_column: bool
) -> st.SearchStrategy[tuple[n.SelectItem, ...]]:
    value = st.one_of(numeric(depth), strings(depth), geometry(depth), nulls)
    aggregate = st.one_of(
        st.just(n.SetFunction("COUNT", None)),
        st.builds(
            n.SetFunction,
            st.sampled_from(["AVG", "MAX", "MIN", "SUM", "COUNT"]),
            numeric(max(depth - 1, 0)),
            st.sampled_from([None, "DISTINCT", "ALL"]),
        ),
    )
    column = st.builds(
        n.DerivedColumn, st.one_of(value, aggregate), st.one_of(st.none(), identifiers)
    )
    if single_column:
        return _tuple(column, 1, 1)
    qualified = st.builds(n.Asterisk, table_names)
    bare = st.just(n.Asterisk())  # extension: a bare * beside other items
    return st.one_of(
        st.just((n.Asterisk(),)), _tuple(st.one_of(column, column, qualified, bare), 1, 3)
    )


@cache
def select_queries(depth: int, *, single_column: bool = False) -> st.SearchStrategy[n.SelectQuery]:
    """One SELECT block with every optional clause sometimes present."""
    cond = st.one_of(st.none(), conditions(depth))
    return st.builds(
        n.SelectQuery,
        items=_select_items(depth, single_column=single_column),
        from_=_tuple(from_items(depth), 1, 2),
        quantifier=st.sampled_from([None, "DISTINCT", "ALL"]),
        top=st.one_of(st.none(), unsigned_ints),
        where=cond,
        group_by=_tuple(columns, 0, 2),
        having=st.one_of(st.none(), conditions(max(depth - 1, 0))),
    )


_LEVEL = {"UNION": 1, "EXCEPT": 1, "INTERSECT": 2}


def _set_operation(op: str, left: n.QueryBody, right: n.QueryBody, every: bool) -> n.SetOperation:
    """A set operation whose operands are wrapped in a Query where the text needs parentheses."""
    if isinstance(left, n.SetOperation) and _LEVEL[left.op] < _LEVEL[op]:
        left = n.Query(left)
    if isinstance(right, n.SetOperation) and _LEVEL[right.op] <= _LEVEL[op]:
        right = n.Query(right)
    return n.SetOperation(op, left, right, every)  # type: ignore[arg-type]


@cache
def query_bodies(depth: int) -> st.SearchStrategy[n.QueryBody]:
    """SELECT blocks and set operations of them."""
    select = select_queries(max(depth - 1, 0))
    if depth <= 1:
        return select
    sub = query_bodies(depth - 1)
    operand = st.one_of(sub, select.map(n.Query))
    ops = st.sampled_from(["UNION", "INTERSECT", "EXCEPT"])
    return st.one_of(select, st.builds(_set_operation, ops, operand, operand, st.booleans()))


def order_items(depth: int) -> st.SearchStrategy[n.OrderItem]:
    """ORDER BY terms: columns or select-list positions, ascending or descending."""
    key = st.one_of(
        columns, st.integers(min_value=1, max_value=9).map(lambda i: n.NumericLiteral(str(i)))
    )
    del depth
    return st.builds(n.OrderItem, key, st.booleans())


@cache
def queries(depth: int = 3) -> st.SearchStrategy[n.Query]:
    """Whole queries: optional WITH, a body, optional ORDER BY and OFFSET."""
    with_queries = st.builds(
        n.WithQuery, identifiers, select_queries(max(depth - 2, 0)).map(n.Query)
    )
    return st.builds(
        n.Query,
        query_bodies(depth),
        order_by=_tuple(order_items(depth), 0, 2),
        offset=st.one_of(st.none(), unsigned_ints),
        with_=_tuple(with_queries, 0, 2),
    )
