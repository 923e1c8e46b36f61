"""SDSS DR8+ ``specobjid`` bit packing (plate, fiber, MJD, run2d), scalar and vectorised.

The layout and the scalar packing are :mod:`planners.specobjid`'s; this module adds what the
stand-in service needs on top: a vectorised :func:`pack_array`, the SDSS-I/II integer ``run2d``
tags given back as numbers, and 64-bit views that reinterpret any integer rather than reject it.
Ids are unsigned 64-bit numbers; the SDSS databases store them as signed ``bigint``, so
plates >= 8192 look negative there: :func:`to_signed` and :func:`to_unsigned` convert between
the two views.
"""

from __future__ import annotations

import numpy as np

from planners import specobjid as _packing
from planners.specobjid import SpecObjId, pack
from planners.specobjid import run2d_code as run2d_to_int

__all__ = [
    "ID_COLUMN",
    "INTEGER_RUN2D",
    "SpecObjId",
    "pack",
    "pack_array",
    "run2d_from_int",
    "run2d_to_int",
    "to_signed",
    "to_unsigned",
    "unpack",
]

_MASK64 = (1 << 64) - 1
ID_COLUMN = "specobjid"
INTEGER_RUN2D = frozenset({26, 103, 104})
"""The plain-number ``run2d`` tags of SDSS-I/II reductions."""


def run2d_from_int(value: int) -> str:
    """Unpack a ``run2d`` tag: 20700 -> ``"v5_7_0"``, 0 -> ``""``, 26/103/104 stay numbers.

    The packed form cannot tell ``"103"`` from ``"v5_1_3"``; like the Data Lab service we
    patch back the three integer tags SDSS-I/II actually used.
    """
    return _packing.run2d_text(value, integer_tags=INTEGER_RUN2D)


def unpack(specobjid: int) -> SpecObjId:
    """The fields of an unsigned (or signed: it is reinterpreted) ``specobjid``."""
    return _packing.unpack(to_unsigned(specobjid), integer_run2d=INTEGER_RUN2D)


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
    return _packing.to_signed(to_unsigned(specobjid))


def to_unsigned(specobjid: int) -> int:
    """The unsigned view used by the SDSS science archive and the legacy service's output."""
    return specobjid & _MASK64
