"""SDSS DR8+ ``specobjid`` packing (spectro-ids.md A.5), for id lookups and spectra requests.

Layout of the 64 bits, most significant first: plate (14), fiberid (12), MJD - 50000 (14),
run2d (14; ``vN_M_P`` as ``(N-5)*10000 + M*100 + P``, integer run2d as is), line (10).
The database stores the value as a signed int64 (plates >= 8192 are negative there); the
service speaks unsigned. DR7 and earlier used another layout and are not handled.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

_RUN2D = re.compile(r"v(\d+)_(\d+)_(\d+)")
_BITS = {
    "plate": (50, 14),
    "fiberid": (38, 12),
    "mjd": (24, 14),
    "run2d": (10, 14),
    "line": (0, 10),
}


@dataclass(frozen=True, slots=True)
class SpecObjId:
    """The fields packed into one specobjid."""

    plate: int
    fiberid: int
    mjd: int
    run2d: str
    line: int = 0


def run2d_code(run2d: str | int) -> int:
    """The 14-bit code of a run2d: ``v5_7_0`` -> ``(5 - 5) * 10000 + 7 * 100 + 0 = 700``."""
    if isinstance(run2d, int):
        return run2d
    text = run2d.strip()
    if text.isdigit():
        return int(text)
    match = _RUN2D.fullmatch(text)
    if match is None:
        msg = f"run2d {run2d!r} is neither an integer nor vN_M_P"
        raise ValueError(msg)
    major, minor, patch = (int(g) for g in match.groups())
    return (major - 5) * 10_000 + minor * 100 + patch


def run2d_text(code: int, *, integer_tags: Collection[int] = ()) -> str:
    """Inverse of :func:`run2d_code` for the string form (``0`` -> ``""``).

    The packed form cannot tell ``"103"`` from ``"v5_1_3"``; codes in ``integer_tags`` are
    given back as plain numbers.
    """
    if code == 0:
        return ""
    if code in integer_tags:
        return str(code)
    return f"v{code // 10_000 + 5}_{(code % 10_000) // 100}_{code % 100}"


def pack(plate: int, fiberid: int, mjd: int, run2d: str | int, line: int = 0) -> int:
    """The unsigned specobjid of a spectrum.

    Raises
    ------
    ValueError
        When a field does not fit its bit width (MJD before 50000 included).
    """
    values = {
        "plate": plate,
        "fiberid": fiberid,
        "mjd": mjd - 50_000,
        "run2d": run2d_code(run2d),
        "line": line,
    }
    out = 0
    for name, (shift, width) in _BITS.items():
        value = values[name]
        if not 0 <= value < 1 << width:
            msg = f"{name} {value} does not fit in {width} bits"
            raise ValueError(msg)
        out |= value << shift
    return out


def unpack(specobjid: int, *, integer_run2d: Collection[int] = ()) -> SpecObjId:
    """The fields of a specobjid (signed or unsigned); run2d in its ``vN_M_P`` form.

    ``integer_run2d``: run2d codes given back as plain numbers (see :func:`run2d_text`).
    """
    value = to_unsigned(specobjid)

    def field(name: str) -> int:
        shift, width = _BITS[name]
        return (value >> shift) & ((1 << width) - 1)

    return SpecObjId(
        plate=field("plate"),
        fiberid=field("fiberid"),
        mjd=field("mjd") + 50_000,
        run2d=run2d_text(field("run2d"), integer_tags=integer_run2d),
        line=field("line"),
    )


def to_signed(specobjid: int) -> int:
    """The database's signed int64 form."""
    value = to_unsigned(specobjid)
    return value - (1 << 64) if value >= 1 << 63 else value


def to_unsigned(specobjid: int) -> int:
    """The service's unsigned form (accepts either form).

    Raises
    ------
    ValueError
        Outside the int64/uint64 range.
    """
    if not -(1 << 63) <= specobjid < 1 << 64:
        msg = f"{specobjid} is not a 64-bit specobjid"
        raise ValueError(msg)
    return specobjid % (1 << 64)
