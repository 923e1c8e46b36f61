"""SIAv2 query parameters: validation and evaluation over an ObsCore table (sia-obscore.md §2).

Repeats of one parameter are ORed, different parameters ANDed; a NULL column never satisfies
a constraint. Any invalid value raises :class:`UsageFault`. Parameter names are matched
case-insensitively; unknown parameters are ignored (DALI lets services ignore what they do
not know, and pyvo may send extras).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from planners.sia_obscore import INTERVAL_OVERLAP, INTERVAL_WITHIN, POL_STATES, SIA_DPTYPES
from planners.sia_reverse import NonFiniteNumberError, dali_number
from standins.evaluate import Value, column_value
from standins.sia_geometry import Circle, GeometryError, Range, Shape, SphericalPolygon, intersects


class UsageFault(ValueError):
    """An invalid SIA request; the message follows ``UsageFault: ``."""


STRING_EQUAL = {
    "COLLECTION": "obs_collection",
    "FACILITY": "facility_name",
    "INSTRUMENT": "instrument_name",
    "DPTYPE": "dataproduct_type",
    "TARGET": "target_name",
    "FORMAT": "access_format",
    "DPSUBTYPE": "dataproduct_subtype",
}
"""Parameters matched by exact, case-sensitive equality."""

DPTYPES = SIA_DPTYPES
RESPONSE_FORMATS = frozenset(
    {"votable", "application/x-votable+xml", "application/x-votable", "text/xml"}
)
SINGLE_VALUED = ("MAXREC", "RESPONSEFORMAT")
QUERY_PARAMS = frozenset(
    {"POS", "POL", "ID", "CALIB", "RELEASEDATE"}
    | set(INTERVAL_OVERLAP)
    | set(INTERVAL_WITHIN)
    | set(STRING_EQUAL)
)


@dataclass(frozen=True, slots=True)
class SiaRequest:
    """A validated request: per-parameter values plus MAXREC and RESPONSEFORMAT."""

    params: dict[str, list[str]]
    maxrec: int
    responseformat: str


def normalise(items: Sequence[tuple[str, str]], default_maxrec: int, max_maxrec: int) -> SiaRequest:
    """Group raw ``(name, value)`` pairs by upper-cased name and validate the single ones."""
    params: dict[str, list[str]] = {}
    for key, value in items:
        params.setdefault(key.upper(), []).append(value)
    for name in SINGLE_VALUED:
        if len(params.get(name, [])) > 1:
            raise UsageFault(f"{name} may be given only once")
    maxrec = default_maxrec
    if "MAXREC" in params:
        text = params["MAXREC"][0].strip()
        if not text.isdigit():
            raise UsageFault(f"invalid MAXREC value {text!r}: a non-negative integer is needed")
        maxrec = min(int(text), max_maxrec)
    if "ID" in params:
        # Rubin's service caps MAXREC at the number of IDs: each ID names one dataset.
        maxrec = min(maxrec, len(params["ID"]))
    fmt = params.get("RESPONSEFORMAT", ["votable"])[0].strip()
    if fmt.split(";")[0].strip().lower() not in RESPONSE_FORMATS:
        raise UsageFault(f"RESPONSEFORMAT {fmt!r} is not supported; use votable")
    return SiaRequest(params, maxrec, fmt)


def parse_number(text: str, name: str) -> float:
    """A finite or infinite number; ``-Inf``/``+Inf``/``Inf`` spelled as DALI allows."""
    try:
        return dali_number(text)
    except NonFiniteNumberError:
        raise UsageFault(f"invalid {name} value {text!r}") from None
    except ValueError:
        raise UsageFault(f"invalid {name} value {text!r}: not a number") from None


def parse_interval(text: str, name: str, minimum: float | None = 0.0) -> tuple[float, float]:
    """``lo hi`` or a single ``v`` (meaning ``[v, v]``); bounds inclusive."""
    parts = text.split()
    if len(parts) not in {1, 2}:
        raise UsageFault(f"invalid {name} value {text!r}: expected 'lo hi' or one number")
    values = [parse_number(p, name) for p in parts]
    lo, hi = values[0], values[-1]
    if lo > hi:
        raise UsageFault(f"invalid {name} value {text!r}: lower bound above upper bound")
    if minimum is not None and (
        (math.isfinite(lo) and lo < minimum) or (math.isfinite(hi) and hi < minimum)
    ):
        bad = lo if math.isfinite(lo) and lo < minimum else hi
        raise UsageFault(f"invalid {name} value {bad:g}")
    return lo, hi


def parse_pos(text: str) -> Shape:
    """``CIRCLE ra dec r``, ``RANGE lon1 lon2 lat1 lat2`` or ``POLYGON ra1 dec1 ...``."""
    words = text.split()
    if not words:
        raise UsageFault("empty POS value")
    kind, numbers = words[0].upper(), [parse_number(w, "POS") for w in words[1:]]
    if kind == "CIRCLE":
        if len(numbers) != 3 or not all(math.isfinite(v) for v in numbers):
            raise UsageFault(f"invalid POS value {text!r}: CIRCLE needs ra dec radius")
        ra, dec, radius = numbers
        _check_lonlat(ra, dec, text)
        if not 0 < radius <= 180:
            raise UsageFault(f"invalid POS value {text!r}: radius must be in (0, 180] deg")
        return Circle(ra, dec, radius)
    if kind == "RANGE":
        if len(numbers) != 4:
            raise UsageFault(f"invalid POS value {text!r}: RANGE needs lon1 lon2 lat1 lat2")
        lon1 = 0.0 if numbers[0] == -math.inf else numbers[0]
        lon2 = 360.0 if numbers[1] == math.inf else numbers[1]
        lat1, lat2 = max(numbers[2], -90.0), min(numbers[3], 90.0)
        if not (0 <= lon1 <= 360 and 0 <= lon2 <= 360 and -90 <= lat1 <= lat2 <= 90):
            raise UsageFault(f"invalid POS value {text!r}: RANGE bounds out of order or range")
        return Range(lon1, lon2, lat1, lat2)  # lon1 > lon2 wraps through 0
    if kind == "POLYGON":
        if len(numbers) < 6 or len(numbers) % 2:
            raise UsageFault(f"invalid POS value {text!r}: POLYGON needs >= 3 ra dec pairs")
        for ra, dec in zip(numbers[0::2], numbers[1::2], strict=True):
            _check_lonlat(ra, dec, text)
        try:
            return SphericalPolygon.from_flat(numbers)
        except GeometryError as exc:
            raise UsageFault(f"invalid POS value {text!r}: {exc}") from None
    raise UsageFault(f"invalid POS value {text!r}: shape must be CIRCLE, RANGE or POLYGON")


def _check_lonlat(ra: float, dec: float, text: str) -> None:
    if not (math.isfinite(ra) and math.isfinite(dec) and 0 <= ra <= 360 and -90 <= dec <= 90):
        raise UsageFault(f"invalid POS value {text!r}: ra must be in [0, 360], dec in [-90, 90]")


class ObsCoreFilter:
    """Evaluates SIA requests against one ObsCore table, held as NumPy columns."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table
        self.n = table.num_rows
        self._values = {name: column_value(table.column(name)) for name in _scalar_columns(table)}
        regions = table.column("s_region").to_pylist()
        self._regions = [None if r is None else SphericalPolygon.from_flat(r) for r in regions]

    def _col(self, name: str) -> Value:
        if name in self._values:
            return self._values[name]
        # An absent optional column behaves as all-NULL: no row can satisfy a constraint on it.
        return Value(np.zeros(self.n), np.ones(self.n, bool), "num")

    def mask(self, params: dict[str, list[str]]) -> np.ndarray:
        """Rows satisfying every query parameter present (AND across, OR within)."""
        selected = np.ones(self.n, bool)
        for name, values in params.items():
            if name in QUERY_PARAMS:
                selected &= np.logical_or.reduce([self._one(name, v) for v in values])
        return selected

    def _one(self, name: str, value: str) -> np.ndarray:
        if name == "POS":
            shape = parse_pos(value)
            return np.array([r is not None and intersects(shape, r) for r in self._regions], bool)
        if name in INTERVAL_OVERLAP:
            lo, hi = parse_interval(value, name, 0.0 if name == "BAND" else None)
            cmin, cmax = (self._col(c) for c in INTERVAL_OVERLAP[name])
            return _mask((cmin.data <= hi) & (cmax.data >= lo) & ~cmin.null & ~cmax.null)
        if name in INTERVAL_WITHIN:
            lo, hi = parse_interval(value, name)
            col = self._col(INTERVAL_WITHIN[name])
            return _mask((col.data >= lo) & (col.data <= hi) & ~col.null)
        if name in STRING_EQUAL:
            if name == "DPTYPE" and value not in DPTYPES:
                raise UsageFault(f"invalid DPTYPE value {value!r}: SIA serves image or cube")
            col = self._col(STRING_EQUAL[name])
            return _mask((col.data == value) & ~col.null)
        if name == "ID":
            col = self._col("obs_publisher_did")
            lowered = np.array([s.lower() for s in col.data], dtype=object)
            return _mask((lowered == value.lower()) & ~col.null)
        if name == "CALIB":
            if value.strip() not in {"0", "1", "2", "3", "4"}:
                raise UsageFault(f"invalid CALIB value {value!r}: an integer 0-4 is needed")
            col = self._col("calib_level")
            return _mask((col.data == int(value)) & ~col.null)
        if name == "POL":
            if value not in POL_STATES:
                raise UsageFault(f"invalid POL value {value!r}")
            col = self._col("pol_states")
            needle = f"/{value}/"
            return _mask(np.array([needle in s for s in col.data], bool) & ~col.null)
        return self._release_date(value)

    def _release_date(self, value: str) -> np.ndarray:
        parts = value.split()
        if len(parts) not in {1, 2} or not all(_is_iso_date(p) for p in parts):
            raise UsageFault(f"invalid RELEASEDATE value {value!r}: ISO-8601 dates expected")
        col = self._col("obs_release_date")
        if col.kind != "str":  # the column is absent: SIA 2.1 says the result is empty
            return np.zeros(self.n, bool)
        lo, hi = parts[0], parts[-1]
        text = col.data.astype(str)
        return _mask((text >= lo) & (text <= hi) & ~col.null)


def _mask(value: object) -> np.ndarray:
    """A boolean row mask (keeps mypy's view of NumPy comparisons typed)."""
    return np.asarray(value, dtype=bool)


def _is_iso_date(text: str) -> bool:
    return len(text) >= 10 and text[4] == "-" and text[7] == "-" and text[:4].isdigit()


def _scalar_columns(table: pa.Table) -> list[str]:
    return [f.name for f in table.schema if not pa.types.is_list(f.type)]
