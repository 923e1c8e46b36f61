"""Bounding boxes of spherical caps, for backends that can only filter on RA/Dec ranges.

A box is a *superset* of the cap, so a planner that pushes it must keep the exact cap as a
residual. RA ranges are returned already split at 0/360, so a backend that compares RA as a
plain number never sees a wrapped range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

_MARGIN = 1e-9
"""Degrees added around every box edge: rounding in the backend must never cut a row."""


@dataclass(frozen=True, slots=True)
class CapBox:
    """Dec limits plus zero, one or two disjoint RA ranges (none: every RA is possible)."""

    dec_min: float
    dec_max: float
    ra_ranges: tuple[tuple[float, float], ...]


def cap_box(ra: float, dec: float, radius: float) -> CapBox:
    """The RA/Dec box around the cap of ``radius`` degrees centred on (``ra``, ``dec``).

    The half-width in RA of a cap not containing a pole is ``asin(sin r / cos dec)``
    (the RA of the tangent meridians). A cap reaching a pole spans every RA, and then
    only the declination limit is useful.

    Returns
    -------
    CapBox
        ``ra_ranges`` is empty when RA cannot be restricted; otherwise one range, or two
        when the box crosses RA 0/360 (``[lo + 360, 360]`` and ``[0, hi]``).
    """
    ra %= 360.0
    dec_min = max(-90.0, dec - radius - _MARGIN)
    dec_max = min(90.0, dec + radius + _MARGIN)
    if radius >= 90.0 or dec_max >= 90.0 or dec_min <= -90.0:
        return CapBox(dec_min, dec_max, ())
    ratio = math.sin(math.radians(radius)) / math.cos(math.radians(dec))
    if ratio >= 1.0:
        return CapBox(dec_min, dec_max, ())
    half = math.degrees(math.asin(ratio)) + _MARGIN
    if half >= 180.0:
        return CapBox(dec_min, dec_max, ())
    lo, hi = ra - half, ra + half
    if lo < 0.0:
        return CapBox(dec_min, dec_max, ((lo + 360.0, 360.0), (0.0, hi)))
    if hi > 360.0:
        return CapBox(dec_min, dec_max, ((lo, 360.0), (0.0, hi - 360.0)))
    return CapBox(dec_min, dec_max, ((lo, hi),))
