"""The reverse of :mod:`planners.spectral`: a legacy ``/query`` request -> ADQL.

Accepts the parameters the Data Lab client sends (``id``, ``fields``, ``catalog``, ``cond``
or ``constraint``, ``context``, and ``profile``/``debug``/``verbose``, which change nothing),
the client's cone ``ra``/``dec``/``size`` (``radius``, the stand-in's name, is a synonym) and
the stand-in's ``polygon``. Any other parameter is an error naming it. The ``cond`` SQL is
rewritten only where it is not ADQL (``q3c_radial_query``/``q3c_poly_query`` calls and the
trailing ``order by``/``limit``) and then parsed as ADQL, so anything else that is not valid
ADQL is reported as a syntax error rather than passed through.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from urllib.parse import parse_qsl

from grammar import nodes as n
from grammar.errors import ParamError
from grammar.params import table_name
from grammar.parser import parse
from planners.spectral_ids import to_unsigned_domain

_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
Q3C_RADIAL = re.compile(
    rf"q3c_radial_query\s*\(\s*ra\s*,\s*dec\s*,\s*({_NUM})\s*,\s*({_NUM})\s*,\s*({_NUM})\s*\)",
    re.IGNORECASE,
)
Q3C_POLY = re.compile(
    rf"q3c_poly_query\s*\(\s*ra\s*,\s*dec\s*,\s*ARRAY\s*\[\s*({_NUM}(?:\s*,\s*{_NUM})*)\s*\]\s*\)",
    re.IGNORECASE,
)
_TAIL = re.compile(
    r"^(?P<where>.*?)\s*(?:\border\s+by\s+(?P<order>[\w\s,]+?))?\s*(?:\blimit\s+(?P<limit>\d+))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_FIELD = re.compile(r"[A-Za-z_]\w*")
KNOWN_PARAMS = (
    "id", "fields", "catalog", "cond", "constraint", "context", "ra", "dec", "size", "radius",
    "polygon", "profile", "debug", "verbose",
)  # fmt: skip
"""Parameters of a legacy ``/query`` request (the client's, the service's, the stand-in's)."""


def _params(params: str | Mapping[str, object]) -> dict[str, str]:
    if isinstance(params, str):
        return dict(parse_qsl(params.removeprefix("?"), keep_blank_values=True))
    return {k: str(v) for k, v in params.items() if v is not None}


def _q3c(where: str) -> str:
    where = Q3C_RADIAL.sub(r"CONTAINS(POINT(ra, dec), CIRCLE(\1, \2, \3)) = 1", where)

    def polygon(match: re.Match[str]) -> str:
        return f"CONTAINS(POINT(ra, dec), POLYGON({match.group(1)})) = 1"

    return Q3C_POLY.sub(polygon, where)


def _number(p: Mapping[str, str], key: str) -> str:
    text = p[key].strip()
    if not re.fullmatch(_NUM, text):
        raise ParamError(f"{key} must be a number, not {text!r}", key)
    return text


def _position(p: Mapping[str, str]) -> str | None:
    """The ADQL condition of the cone (``ra``, ``dec``, ``size``) or ``polygon``, if any."""
    radius_keys = [k for k in ("size", "radius") if p.get(k)]
    if len(radius_keys) == 2:
        raise ParamError("give the cone radius as size or as radius, not both", "radius")
    cone = ("ra", "dec", radius_keys[0] if radius_keys else "size")
    given = [k for k in cone if p.get(k)]
    if given and p.get("polygon"):
        raise ParamError("give a cone (ra, dec, size) or a polygon, not both", "polygon")
    if p.get("polygon"):
        values = [v.strip() for v in p["polygon"].strip().strip("[]()").split(",")]
        if len(values) < 6 or len(values) % 2 or not all(re.fullmatch(_NUM, v) for v in values):
            raise ParamError("polygon needs three or more ra, dec pairs of numbers", "polygon")
        return f"CONTAINS(POINT(ra, dec), POLYGON({', '.join(values)})) = 1"
    if not given:
        return None
    missing = [k for k in cone if k not in given]
    if missing:
        msg = f"a cone needs ra, dec and size (the radius in degrees); {missing[0]} is missing"
        raise ParamError(msg, missing[0])
    ra, dec, size = (_number(p, k) for k in cone)
    if float(size) < 0:
        raise ParamError(f"{cone[2]} must not be negative", cone[2])
    return f"CONTAINS(POINT(ra, dec), CIRCLE({ra}, {dec}, {size})) = 1"


def spectral_params_to_query(
    params: str | Mapping[str, object], *, table: str | None = None
) -> n.Query:
    """The ADQL query a legacy spectral ``/query`` request stands for.

    ``table`` is the catalogue when the request names none (default: the context's
    ``specobj``).

    Raises
    ------
    grammar.AdqlError
        :class:`ParamError` naming the parameter for an unknown or malformed one, a syntax
        error for a ``cond`` that is not ADQL once its q3c calls are rewritten.
    """
    p = _params(params)
    unknown = [k for k in p if k not in KNOWN_PARAMS]
    if unknown:
        known = ", ".join(KNOWN_PARAMS)
        raise ParamError(
            f"unknown spectral-service parameter {unknown[0]!r} (known: {known})", unknown[0]
        )
    if table and p.get("catalog") and p["catalog"] != table:
        raise ParamError("the catalog parameter and the table disagree", "catalog")
    catalog = p.get("catalog") or table or f"{p.get('context') or 'sdss_dr16'}.specobj"
    table_name(catalog, "catalog")  # validated: the name is spliced into ADQL text below
    fields_text = (p.get("fields") or "specobjid").strip()
    if fields_text == "tuple":
        fields_text = "plate,mjd,fiberid,run2d"
    fields = [f.strip() for f in fields_text.split(",") if f.strip()]
    if not all(_FIELD.fullmatch(f) for f in fields):
        raise ParamError(f"invalid fields {fields_text!r}", "fields")
    if "specobjid" not in [f.lower() for f in fields]:
        fields.insert(0, "specobjid")  # the service always returns the id first
    conditions: list[str] = []
    order = limit = None
    if p.get("id"):
        if not re.fullmatch(r"-?\d+", p["id"].strip()):
            raise ParamError("id must be an integer", "id")
        conditions.append(f"specobjid = {int(p['id']) % (1 << 64)}")
    else:
        position = _position(p)
        if position is not None:
            conditions.append(position)
        tail = _TAIL.match(p.get("cond") or p.get("constraint") or "")
        assert tail is not None  # every part of the pattern is optional
        if tail.group("where").strip():
            conditions.append(f"({_q3c(tail.group('where'))})")
        order, limit = tail.group("order"), tail.group("limit")
    top = f"TOP {limit} " if limit else ""
    # ADQL text that is parsed (and so validated) below, never executed as SQL.
    text = f"SELECT {top}{', '.join(fields)} FROM {catalog}"  # noqa: S608
    if conditions:
        text += " WHERE " + " AND ".join(conditions)
    if order:
        text += f" ORDER BY {order}"
    query = parse(text)
    body = query.body
    if p.get("id") or not isinstance(body, n.SelectQuery) or body.where is None:
        return query
    # cond compares the service's signed column; in ADQL specobjid is the unsigned id.
    where = to_unsigned_domain(body.where)
    if where is None:
        msg = "cond uses specobjid other than compared with integers; it cannot be translated"
        raise ParamError(msg, "cond")
    return replace(query, body=replace(body, where=where))
