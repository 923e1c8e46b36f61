"""Shared sky layout of the demo data: field centres and the ECDFS anchor objects.

The HSC, Rubin (DP1) and SDSS demo tables are generated independently, but some of their
objects must be the *same* astrophysical sources so that cross-service joins find pairs.
Those shared sources are the ECDFS anchors below; each generator places its own rows at the
anchor positions (plus its own measurement scatter) in addition to its unrelated rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SMC_CENTER = (13.18659, -72.8286)
"""The HSC SMC notebook's field centre (deg)."""

ECDFS_CENTER = (53.2, -28.1)
"""The Extended Chandra Deep Field South, where every demo service overlaps (deg)."""

ECDFS_RADIUS_DEG = 0.5
"""Radius of the ECDFS demo field (deg)."""

MASTER_SEED = 20261121
"""Seed of every demo generator; each derives its own stream from it."""


@dataclass(frozen=True, slots=True)
class Anchors:
    """Sources seen by several services: positions (deg) and a true r-band magnitude."""

    ra: np.ndarray
    dec: np.ndarray
    rmag: np.ndarray
    redshift: np.ndarray


def rng(stream: str) -> np.random.Generator:
    """A deterministic generator for one named stream of the demo data."""
    digest = sum((i + 1) * ord(c) for i, c in enumerate(stream))
    return np.random.default_rng([MASTER_SEED, digest])


def ecdfs_anchors(n: int = 400) -> Anchors:
    """The shared ECDFS sources, uniform on the sphere within ``ECDFS_RADIUS_DEG``."""
    gen = rng("ecdfs-anchors")
    ra0, dec0 = np.radians(ECDFS_CENTER)
    # Uniform in solid angle inside a cap: cos(theta) uniform, azimuth uniform.
    cos_max = np.cos(np.radians(ECDFS_RADIUS_DEG))
    cos_t = gen.uniform(cos_max, 1.0, n)
    theta = np.arccos(cos_t)
    phi = gen.uniform(0.0, 2 * np.pi, n)
    # Rotate offsets (theta, phi) about the field centre.
    sin_dec = np.sin(dec0) * np.cos(theta) + np.cos(dec0) * np.sin(theta) * np.cos(phi)
    dec = np.arcsin(np.clip(sin_dec, -1.0, 1.0))
    y = np.sin(phi) * np.sin(theta) * np.cos(dec0)
    x = np.cos(theta) - np.sin(dec0) * sin_dec
    ra = (ra0 + np.arctan2(y, x)) % (2 * np.pi)
    rmag = gen.uniform(17.0, 23.5, n)
    redshift = np.round(gen.gamma(2.0, 0.25, n), 5)
    return Anchors(np.degrees(ra), np.degrees(dec), rmag, redshift)
