"""The reverse of :mod:`planners.spectral`: a legacy ``/query`` request -> ADQL.

Accepts the parameters the Data Lab client sends (``id``, ``fields``, ``catalog``, ``cond``
or ``constraint``, ``context``) and the stand-in's ``ra``/``dec``/``radius``. The ``cond``
SQL is rewritten only where it is not ADQL (``q3c_radial_query``/``q3c_poly_query`` calls and
the trailing ``order by``/``limit``) and then parsed as ADQL, so anything else that is not
valid ADQL is reported as a syntax error rather than passed through.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import parse_qsl

from grammar import nodes as n
from grammar.errors import ParamError
from grammar.parser import parse

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


def _params(params: str | Mapping[str, object]) -> dict[str, str]:
    if isinstance(params, str):
        return dict(parse_qsl(params.removeprefix("?"), keep_blank_values=True))
    return {k: str(v) for k, v in params.items() if v is not None}


def _q3c(where: str) -> str:
    where = Q3C_RADIAL.sub(r"CONTAINS(POINT(ra, dec), CIRCLE(\1, \2, \3)) = 1", where)

    def polygon(match: re.Match[str]) -> str:
        return f"CONTAINS(POINT(ra, dec), POLYGON({match.group(1)})) = 1"

    return Q3C_POLY.sub(polygon, where)


def spectral_params_to_query(params: str | Mapping[str, object]) -> n.Query:
    """The ADQL query a legacy spectral ``/query`` request stands for.

    Raises
    ------
    grammar.AdqlError
        :class:`ParamError` for malformed parameters, a syntax error for a ``cond`` that is not
        ADQL once its q3c calls are rewritten.
    """
    p = _params(params)
    catalog = p.get("catalog") or f"{p.get('context') or 'sdss_dr16'}.specobj"
    if not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)?", catalog):
        raise ParamError(f"invalid catalog {catalog!r}", "catalog")
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
        cone = [p.get(k) for k in ("ra", "dec", "radius")]
        if all(cone):
            if not all(re.fullmatch(_NUM, str(v).strip()) for v in cone):
                raise ParamError("ra, dec and radius must be numbers", "ra")
            conditions.append(f"CONTAINS(POINT(ra, dec), CIRCLE({', '.join(map(str, cone))})) = 1")
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
    return parse(text)
