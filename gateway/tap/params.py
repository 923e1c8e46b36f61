"""TAP request parameters (TAP 1.1 §2.7, DALI §3): case-insensitive names, typed values.

Parameter names are case-insensitive and values case-sensitive; unknown parameters are
ignored; a single-valued parameter given twice is an error; UPLOAD accumulates.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

LANGUAGES = ("ADQL", "ADQL-2.0", "ADQL-2.1")
"""Values of LANG this service accepts."""

_UPLOAD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_MULTI_VALUED = frozenset({"UPLOAD"})
_RUNID_MAX = 64


class TapUsageError(ValueError):
    """The request is malformed: missing or invalid TAP parameters (HTTP 400, UsageError)."""


@dataclass(frozen=True, slots=True)
class UploadSpec:
    """One ``UPLOAD=name,URI`` pair; ``uri`` is ``param:<part>`` or an http(s) URL."""

    name: str
    uri: str


@dataclass(frozen=True, slots=True)
class TapQueryParams:
    """The validated parameters of one ADQL query request."""

    query: str
    lang: str
    maxrec: int
    response_format: str | None
    uploads: tuple[UploadSpec, ...]
    run_id: str | None
    partial: bool = False
    """Gateway extension ``PARTIAL=true``: answer with the healthy backends' part."""
    allow_allsky: bool = False
    """Gateway extension ``XMATCH_ALLSKY=true``: allow unrestricted federated cross-matches."""
    fetch_whole: bool = False
    """Gateway extension ``FETCH_WHOLE=true``: allow fetching a big remote table whole."""


class ParamBag:
    """Request parameters keyed by upper-cased name, keeping every value in order."""

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        self._values: dict[str, list[str]] = {}
        for key, value in pairs:
            self.add(key, value)

    def add(self, key: str, value: str) -> None:
        """Append ``value`` under ``key`` (any case)."""
        self._values.setdefault(key.upper(), []).append(value)

    def items(self) -> list[tuple[str, str]]:
        """Every (NAME, value) pair, names upper-cased."""
        return [(k, v) for k, vs in self._values.items() for v in vs]

    def all(self, key: str) -> list[str]:
        """Every value given for ``key``."""
        return list(self._values.get(key.upper(), ()))

    def one(self, key: str) -> str | None:
        """The single value of ``key``, None if absent; repeating it is a usage error."""
        values = self._values.get(key.upper())
        if not values:
            return None
        # Identical repeats are tolerated: astroquery sends FORMAT twice with the same value.
        if len(set(values)) > 1 and key.upper() not in _MULTI_VALUED:
            raise TapUsageError(f"parameter {key.upper()} was given {len(values)} different values")
        return values[0]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.upper() in self._values

    def as_mapping(self) -> Mapping[str, list[str]]:
        """A read-only view, for diagnostics."""
        return dict(self._values)


def parse_maxrec(value: str | None, *, default: int, hard: int) -> tuple[int, bool]:
    """Return the effective MAXREC and whether the client asked for it explicitly.

    A request above the hard limit is lowered to it (TAP lets the service impose limits).
    """
    if value is None or value.strip() == "":
        return default, False
    try:
        number = int(value.strip())
    except ValueError:
        raise TapUsageError(f"MAXREC must be a non-negative integer, not {value!r}") from None
    if number < 0:
        raise TapUsageError(f"MAXREC must be a non-negative integer, not {value!r}")
    return min(number, hard), True


def parse_uploads(values: Iterable[str]) -> tuple[UploadSpec, ...]:
    """Parse UPLOAD values (``name,URI``; several per value separated by ``;`` also accepted)."""
    specs: list[UploadSpec] = []
    seen: set[str] = set()
    for value in values:
        for item in filter(None, (part.strip() for part in value.split(";"))):
            name, sep, uri = item.partition(",")
            name, uri = name.strip(), uri.strip()
            if not sep or not uri:
                raise TapUsageError(f"UPLOAD must be 'name,URI', not {item!r}")
            if not _UPLOAD_NAME.match(name):
                raise TapUsageError(
                    f"UPLOAD table name {name!r} must start with a letter and contain only "
                    "letters, digits and underscores"
                )
            if name.lower() in seen:
                raise TapUsageError(f"UPLOAD table name {name!r} is used twice")
            seen.add(name.lower())
            specs.append(UploadSpec(name, uri))
    return tuple(specs)


def query_params(bag: ParamBag, *, maxrec_default: int, maxrec_hard: int) -> TapQueryParams:
    """Validate the parameters of an ADQL query (sync request or job at run time)."""
    lang = bag.one("LANG")
    if lang is None:
        raise TapUsageError("missing parameter LANG (use LANG=ADQL)")
    if lang.strip().upper() not in LANGUAGES:
        raise TapUsageError(
            f"unknown query language {lang!r}; this service accepts {', '.join(LANGUAGES)}"
        )
    query = bag.one("QUERY")
    if query is None or not query.strip():
        raise TapUsageError("missing parameter QUERY")
    maxrec, _ = parse_maxrec(bag.one("MAXREC"), default=maxrec_default, hard=maxrec_hard)
    fmt = bag.one("RESPONSEFORMAT")
    alt = bag.one("FORMAT")
    if fmt is None:
        fmt = alt
    run_id = bag.one("RUNID")
    if run_id is not None and len(run_id) > _RUNID_MAX:
        raise TapUsageError(f"RUNID is limited to {_RUNID_MAX} characters")
    return TapQueryParams(
        query=query,
        lang=lang.strip().upper(),
        maxrec=maxrec,
        response_format=fmt,
        uploads=parse_uploads(bag.all("UPLOAD")),
        run_id=run_id,
        partial=parse_flag(bag, "PARTIAL"),
        allow_allsky=parse_flag(bag, "XMATCH_ALLSKY"),
        fetch_whole=parse_flag(bag, "FETCH_WHOLE"),
    )


def parse_flag(bag: ParamBag, key: str) -> bool:
    """A boolean gateway extension parameter (``true``/``false``, default false)."""
    value = bag.one(key)
    if value is None or value.strip().lower() in {"", "false", "0", "no"}:
        return False
    if value.strip().lower() in {"true", "1", "yes"}:
        return True
    raise TapUsageError(f"{key} must be true or false, not {value!r}")
