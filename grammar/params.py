"""HSC-style REST parameters (``CI.gt=0.9&Filter=F475W``) read into the ADQL AST.

The wire form is described in ``specs/hsc-rest.md`` section 2: each key is ``column`` (equality)
or ``column.decorator`` with a decorator among ``gt gte lt lte min max like contains``
(``min`` means ``gte``, ``max`` means ``lte``); values given for the same key are ORed, different
keys are ANDed; ``ra``/``dec``/``radius`` (``sr`` is an alias of ``radius``) make a cone. The
shaping keys ``columns``, ``sort_by``, ``pagesize``, ``page`` and ``format`` are not conditions:
:func:`read_params` returns them alongside the condition and :func:`params_to_query` turns the
whole request into a ``SELECT``.

Column names become :class:`~grammar.nodes.Identifier` nodes only after they are checked to be
regular ADQL identifiers, and values become literal nodes: no parameter text is ever spliced
into ADQL.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias
from urllib.parse import parse_qsl

from grammar import nodes as n
from grammar.errors import ParamError
from grammar.keywords import is_reserved
from grammar.walk import and_of

Params: TypeAlias = Mapping[str, object] | str | Sequence[tuple[str, object]]
"""A query string, a mapping (list values repeat the key) or a sequence of ``(key, value)``."""

_REGULAR = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_NUMBER = re.compile(r"([+-]?)((?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\Z")

_COMPARISONS: dict[str, n.ComparisonOperator] = {
    "gt": ">",
    "gte": ">=",
    "min": ">=",
    "lt": "<",
    "lte": "<=",
    "max": "<=",
}
_DECORATORS = frozenset(_COMPARISONS) | {"like", "contains"}
_CONE_KEYS = frozenset({"ra", "dec", "radius", "sr"})
_SHAPING_KEYS = frozenset({"columns", "sort_by", "pagesize", "page", "format"})
_FORMATS = frozenset({"json", "csv", "xml", "votable"})
DEFAULT_PAGESIZE = 50000
"""The HSC service's page size when ``page`` is given without ``pagesize``."""


@dataclass(frozen=True, slots=True)
class ParamRequest:
    """Everything an HSC-style request asks for, read and checked."""

    condition: n.SearchCondition | None
    """The row filter: column criteria and the cone, ANDed; ``None`` when there is none."""
    columns: tuple[str, ...] = ()
    """Requested columns in order; empty means all."""
    sort: tuple[tuple[str, bool], ...] = ()
    """``(column, descending)`` pairs in order of precedence."""
    pagesize: int | None = None
    """Rows per page, if given."""
    page: int | None = None
    """1-based page number, if given."""
    format: Literal["json", "csv", "xml", "votable"] | None = None
    """The requested response format, lower case, if given."""


def _pairs(params: Params) -> list[tuple[str, object]]:
    if isinstance(params, str):
        return list(parse_qsl(params.removeprefix("?"), keep_blank_values=True))
    items = params.items() if isinstance(params, Mapping) else params
    out: list[tuple[str, object]] = []
    for key, value in items:
        if isinstance(value, (list, tuple)):
            out.extend((key, item) for item in value)
        else:
            out.append((key, value))
    return out


def _text(value: object, key: str) -> str:
    if isinstance(value, str):
        text = value.strip()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        text = _number_text(value, key)
    else:
        raise ParamError(f"unsupported value {value!r}", key)
    if not text:
        raise ParamError("empty value", key)
    return text


def _number_text(value: float, key: str) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        raise ParamError(f"{value!r} is not a finite number", key)
    return repr(value)


def _identifier(name: str, key: str, what: str = "column") -> n.Identifier:
    name = name.strip()
    if not name:
        raise ParamError(f"empty {what} name", key)
    if _REGULAR.match(name) is None:
        raise ParamError(f"{name!r} is not a valid {what} name", key)
    if is_reserved(name):
        raise ParamError(f"{name!r} is a reserved word, not a {what} name", key)
    return n.Identifier(name)


def table_name(text: str, key: str = "table") -> n.TableName:
    """A ``[catalog.][schema.]table`` name given as a request parameter, checked.

    Raises
    ------
    ParamError
        Naming ``key``, for an empty part, a part that is not a regular identifier, a reserved
        word, or more than three parts.
    """
    parts = text.split(".")
    if len(parts) > 3:
        raise ParamError(f"{text!r} has too many parts for a table name", key)
    return n.TableName(tuple(_identifier(part, key, "table") for part in parts))


def _column(name: str, key: str) -> n.ColumnReference:
    return n.ColumnReference(_identifier(name, key))


def _literal(value: object, key: str) -> n.ValueExpression:
    """A numeric literal (signed) when the value reads as a number, else a string literal."""
    text = _text(value, key)
    match = _NUMBER.match(text)
    if match is None:
        return n.StringLiteral(text)
    sign, digits = match.groups()
    literal = n.NumericLiteral(digits.replace("e", "E"))
    return n.UnaryExpression("-", literal) if sign == "-" else literal


def _float(value: object, key: str) -> tuple[float, n.ValueExpression]:
    literal = _literal(value, key)
    if isinstance(literal, n.StringLiteral):
        raise ParamError(f"{literal.value!r} is not a number", key)
    number = float(_text(value, key))
    return number, literal


def _positive_int(value: object, key: str) -> int:
    text = _text(value, key)
    if not text.isdigit():
        raise ParamError(f"{text!r} is not a positive integer", key)
    number = int(text)
    if number < 1:
        raise ParamError(f"{text!r} is not a positive integer", key)
    return number


def _predicate(
    column: n.ColumnReference, decorator: str | None, value: object, key: str
) -> n.SearchCondition:
    if decorator is None:
        return n.ComparisonPredicate("=", column, _literal(value, key))
    if decorator in _COMPARISONS:
        return n.ComparisonPredicate(_COMPARISONS[decorator], column, _literal(value, key))
    text = _text(value, key)
    pattern = text.replace("*", "%") if decorator == "like" else f"%{text}%"
    return n.LikePredicate(column, n.StringLiteral(pattern))


def _criterion(key: str) -> tuple[str, str | None]:
    """Split ``column.decorator`` into its parts, checking both."""
    column, dot, decorator = key.partition(".")
    _identifier(column, key)
    if not dot:
        return column.strip(), None
    lowered = decorator.strip().lower()
    if lowered not in _DECORATORS:
        raise ParamError(f"unknown decorator {decorator!r}", key)
    return column.strip(), lowered


def _cone(cone: dict[str, tuple[str, object]], position: tuple[str, str]) -> n.SearchCondition:
    for need, other in (("ra", "dec"), ("dec", "ra")):
        if need in cone and other not in cone:
            raise ParamError(f"{need} needs {other} too", cone[need][0])
    if "ra" not in cone:
        raise ParamError("radius needs ra and dec", cone["radius"][0])
    if "radius" not in cone:
        raise ParamError("ra and dec need a radius", "radius")
    _, ra = _float(cone["ra"][1], cone["ra"][0])
    _, dec = _float(cone["dec"][1], cone["dec"][0])
    radius_value, radius = _float(cone["radius"][1], cone["radius"][0])
    if radius_value <= 0:
        raise ParamError("radius must be positive", cone["radius"][0])
    icrs = n.StringLiteral("ICRS")
    point = n.Point(
        icrs, _column(position[0], "position_columns"), _column(position[1], "position_columns")
    )
    circle = n.Circle(icrs, n.Coordinates(ra, dec), radius)
    return n.ComparisonPredicate(
        "=", n.FunctionCall("CONTAINS", (point, circle)), n.NumericLiteral("1")
    )


def _list(value: object, key: str) -> list[str]:
    text = _text(value, key)
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return [part.strip() for part in text.split(",")]


def _sort_term(term: str, key: str) -> tuple[str, bool]:
    first, dot, second = term.partition(".")
    if not dot:
        return _identifier(first, key).name, False
    for column, direction in ((first, second), (second, first)):
        if direction.strip().lower() in {"asc", "desc"}:
            return _identifier(column, key).name, direction.strip().lower() == "desc"
    raise ParamError(f"invalid sort direction in {term!r} (use asc or desc)", key)


def read_params(
    params: Params, *, position_columns: tuple[str, str] = ("MatchRA", "MatchDec")
) -> ParamRequest:
    """Read an HSC-style request: the condition and the shaping parameters.

    Parameters
    ----------
    params
        A query string (``"CI.gt=0.9&Filter=F475W"``, URL-encoded), a mapping whose values
        are scalars or lists (a list repeats the key), or a sequence of ``(key, value)``.
    position_columns
        The columns a cone (``ra``/``dec``/``radius``) applies to.

    Returns
    -------
    ParamRequest
        The condition and the shaping parameters.

    Raises
    ------
    ParamError
        Naming the offending parameter: unknown decorator, invalid or reserved column name,
        an incomplete cone, a non-numeric or non-positive cone value, a non-positive-integer
        ``pagesize``/``page``, an invalid sort direction, an unknown ``format``, a value that
        is empty or not a string or number.
    """
    groups: dict[tuple[str, str | None], tuple[str, list[n.SearchCondition]]] = {}
    cone: dict[str, tuple[str, object]] = {}
    columns: list[str] = []
    sort: list[tuple[str, bool]] = []
    pagesize = page = None
    response_format: Literal["json", "csv", "xml", "votable"] | None = None
    for raw_key, value in _pairs(params):
        key = str(raw_key).strip()
        lowered = key.lower()
        if lowered in _CONE_KEYS:
            name = "radius" if lowered == "sr" else lowered
            if name in cone:
                raise ParamError(f"{name} given more than once", key)
            cone[name] = (key, value)
        elif lowered == "columns":
            columns.extend(_identifier(c, key).name for c in _list(value, key))
        elif lowered == "sort_by":
            sort.extend(_sort_term(term, key) for term in _list(value, key))
        elif lowered == "pagesize":
            pagesize = _positive_int(value, key)
        elif lowered == "page":
            page = _positive_int(value, key)
        elif lowered == "format":
            text = _text(value, key).lower()
            if text not in _FORMATS:
                raise ParamError(f"unknown format {text!r}", key)
            response_format = text  # type: ignore[assignment]
        else:
            column, decorator = _criterion(key)
            _, found = groups.setdefault((column.lower(), decorator), (column, []))
            found.append(_predicate(_column(column, key), decorator, value, key))
    conditions: list[n.SearchCondition] = [_cone(cone, position_columns)] if cone else []
    for _, predicates in groups.values():
        conditions.append(
            predicates[0] if len(predicates) == 1 else n.OrCondition(tuple(predicates))
        )
    return ParamRequest(
        condition=and_of(conditions),
        columns=tuple(columns),
        sort=tuple(sort),
        pagesize=pagesize,
        page=page,
        format=response_format,
    )


def parse_params(
    params: Params, *, position_columns: tuple[str, str] = ("MatchRA", "MatchDec")
) -> n.SearchCondition | None:
    """Read HSC-style filters into a search condition (shaping keys are checked, then ignored).

    Parameters
    ----------
    params
        See :func:`read_params`.
    position_columns
        The columns a cone (``ra``/``dec``/``radius``) applies to.

    Returns
    -------
    SearchCondition | None
        The ANDed criteria, or ``None`` if the request has no filter.

    Raises
    ------
    ParamError
        As :func:`read_params`.
    """
    return read_params(params, position_columns=position_columns).condition


def params_to_query(
    params: Params | ParamRequest,
    table: str,
    *,
    position_columns: tuple[str, str] = ("MatchRA", "MatchDec"),
) -> n.Query:
    """The ADQL query equivalent to an HSC-style request on ``table``.

    ``SELECT [TOP pagesize] columns-or-* FROM table WHERE condition ORDER BY sort``. A ``page``
    after the first becomes ``OFFSET (page - 1) * pagesize`` (``pagesize`` defaulting to the
    service's 50000); without ``pagesize`` and ``page`` there is no TOP.

    Parameters
    ----------
    params
        See :func:`read_params`; an already read :class:`ParamRequest` is used as is.
    table
        The table name, optionally qualified (``hscv3.summary``).
    position_columns
        The columns a cone (``ra``/``dec``/``radius``) applies to.

    Returns
    -------
    Query
        The query.

    Raises
    ------
    ParamError
        As :func:`read_params`; ``table`` is reported as the parameter ``table``.
    """
    request = (
        params
        if isinstance(params, ParamRequest)
        else read_params(params, position_columns=position_columns)
    )
    name = table_name(table)
    items: tuple[n.SelectItem, ...] = tuple(
        n.DerivedColumn(_column(c, "columns")) for c in request.columns
    ) or (n.Asterisk(),)
    top = offset = None
    if request.page is not None and request.page > 1:
        top = request.pagesize or DEFAULT_PAGESIZE
        offset = (request.page - 1) * top
    elif request.pagesize is not None:
        top = request.pagesize
    select = n.SelectQuery(
        items=items, from_=(n.TableReference(name),), top=top, where=request.condition
    )
    order = tuple(n.OrderItem(_column(c, "sort_by"), descending=d) for c, d in request.sort)
    return n.Query(select, order_by=order, offset=offset)
