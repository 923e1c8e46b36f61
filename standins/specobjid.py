"""SDSS DR8+ ``specobjid`` bit packing (plate, fiber, MJD, run2d), scalar and vectorised.

Layout (most significant first): plate 14 bits, fiberid 12, MJD - 50000 14, run2d 14, line 10.
``run2d`` is either an integer tag (``26``, ``103``, ``104``) or ``vN_M_P``, packed as
``(N - 5) * 10000 + M * 100 + P``. Ids are unsigned 64-bit numbers; the SDSS databases store
them as signed ``bigint``, so plates >= 8192 look negative there: :func:`to_signed` and
:func:`to_unsigned` convert between the two views.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

_RUN2D = re.compile(r"v(\d+)_(\d+)_(\d+)")
_MASK64 = (1 << 64) - 1
INTEGER_RUN2D = frozenset({26, 103, 104})
"""The plain-number ``run2d`` tags of SDSS-I/II reductions."""


@dataclass(frozen=True, slots=True)
class SpecObjId:
    """The fields packed into one ``specobjid``."""

    plate: int
    fiberid: int
    mjd: int
    run2d: str
    line: int = 0


def run2d_to_int(run2d: str | int) -> int:
    """Pack a ``run2d`` tag: ``"v5_7_0"`` -> 20700, ``"26"`` -> 26."""
    if isinstance(run2d, int):
        return run2d
    text = run2d.strip()
    match = _RUN2D.fullmatch(text)
    if match:
        major, minor, patch = (int(g) for g in match.groups())
        return (major - 5) * 10000 + minor * 100 + patch
    if text.isdigit():
        return int(text)
    raise ValueError(f"run2d {run2d!r} is neither an integer nor vN_M_P")


def run2d_from_int(value: int) -> str:
    """Unpack a ``run2d`` tag: 20700 -> ``"v5_7_0"``, 0 -> ``""``, 26/103/104 stay numbers.

    The packed form cannot tell ``"103"`` from ``"v5_1_3"``; like the Data Lab service we
    patch back the three integer tags SDSS-I/II actually used.
    """
    if value == 0:
        return ""
    if value in INTEGER_RUN2D:
        return str(value)
    major, rest = divmod(value, 10000)
    minor, patch = divmod(rest, 100)
    return f"v{major + 5}_{minor}_{patch}"


def pack(plate: int, fiberid: int, mjd: int, run2d: str | int, line: int = 0) -> int:
    """The unsigned ``specobjid`` of one spectrum.

    Raises
    ------
    ValueError
        If a field does not fit its bit width.
    """
    run = run2d_to_int(run2d)
    fields = (("plate", plate, 14), ("fiberid", fiberid, 12), ("mjd - 50000", mjd - 50000, 14))
    for name, value, bits in (*fields, ("run2d", run, 14), ("line", line, 10)):
        if not 0 <= value < (1 << bits):
            raise ValueError(f"{name}={value} does not fit in {bits} bits")
    return (plate << 50) | (fiberid << 38) | ((mjd - 50000) << 24) | (run << 10) | line


def unpack(specobjid: int) -> SpecObjId:
    """The fields of an unsigned (or signed: it is reinterpreted) ``specobjid``."""
    value = specobjid & _MASK64
    return SpecObjId(
        plate=(value >> 50) & 0x3FFF,
        fiberid=(value >> 38) & 0xFFF,
        mjd=((value >> 24) & 0x3FFF) + 50000,
        run2d=run2d_from_int((value >> 10) & 0x3FFF),
        line=value & 0x3FF,
    )


def pack_array(
    plate: np.ndarray, fiberid: np.ndarray, mjd: np.ndarray, run2d_int: np.ndarray
) -> np.ndarray:
    """Vectorised :func:`pack` for already-packed integer ``run2d`` values; uint64 result."""
    u = np.uint64
    packed: np.ndarray = (
        (plate.astype(u) << u(50))
        | (fiberid.astype(u) << u(38))
        | ((mjd.astype(u) - u(50000)) << u(24))
        | (run2d_int.astype(u) << u(10))
    )
    return packed


def to_signed(specobjid: int) -> int:
    """The signed 64-bit view used by SQL databases (and SPARCL's ``specid``)."""
    value = specobjid & _MASK64
    return value - (1 << 64) if value >= (1 << 63) else value


def to_unsigned(specobjid: int) -> int:
    """The unsigned view used by the SDSS science archive and the legacy service's output."""
    return specobjid & _MASK64
