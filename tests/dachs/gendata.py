"""Writes the deterministic CSV inputs of the DaCHS test resource (``tests/dachs/q.rd``).

Only the standard library is used (``random.Random`` with a fixed seed), so the files are
byte-identical on every run and under any Python 3; ``install_dachs.sh`` runs this with
Debian's ``/usr/bin/python3``.

Files written into the directory given as the first argument:

``stars.csv``
    ``N`` sources (default 3000, env ``FEDTEST_NSTARS``): id, ra, dec, three magnitudes
    (``imag`` empty = NULL for about 3 %), and an object class. Four fifths lie in small
    fields (listed in ``FIELDS``), the rest anywhere on the sky.
``fields.csv``
    One row per field: name, centre and radius.
``images.csv``
    ``N_IMAGES`` image footprints (for the SIAv2 service): name, FITS WCS keys of a small
    tangent-plane image in a field, observation date (MJD) and band (metres).
``spectra.csv``
    ``N_SPECTRA`` spectra (metadata only, for the SSAP service): name, position (in the
    fields), observation date (MJD) and wavelength range (metres).
"""

from __future__ import annotations

import math
import os
import random
import sys
from pathlib import Path

SEED = 4242
FIELDS = [
    # name, ra, dec, radius [deg]
    ("ecdfs", 53.2, -28.1, 0.5),
    ("cosmos", 150.1, 2.2, 0.7),
    ("wrap", 359.9, 1.0, 0.4),  # straddles RA 0/360
    ("north", 45.0, 88.8, 0.5),  # near the pole
    ("virgo", 187.7, 12.4, 0.6),
]
CLASSES = ("star", "galaxy", "qso")


def point_in_cap(rng: random.Random, ra0: float, dec0: float, radius: float) -> tuple[float, float]:
    """A uniformly distributed point within ``radius`` degrees of (ra0, dec0)."""
    # Distance from the centre (uniform in area) and position angle; then the
    # spherical "destination point" formula.
    cos_r = math.cos(math.radians(radius))
    dist = math.acos(1.0 - rng.random() * (1.0 - cos_r))
    angle = rng.random() * 2.0 * math.pi
    d0 = math.radians(dec0)
    sin_dec = math.sin(d0) * math.cos(dist) + math.cos(d0) * math.sin(dist) * math.cos(angle)
    dec = math.asin(max(-1.0, min(1.0, sin_dec)))
    dra = math.atan2(
        math.sin(angle) * math.sin(dist) * math.cos(d0),
        math.cos(dist) - math.sin(d0) * sin_dec,
    )
    return (ra0 + math.degrees(dra)) % 360.0, math.degrees(dec)


def main(out: Path, n_stars: int) -> None:
    rng = random.Random(SEED)
    n_field = (n_stars * 4 // 5) // len(FIELDS)
    positions: list[tuple[float, float]] = []
    for _name, ra0, dec0, radius in FIELDS:
        positions.extend(point_in_cap(rng, ra0, dec0, radius) for _ in range(n_field))
    while len(positions) < n_stars:
        ra = rng.random() * 360.0
        dec = math.degrees(math.asin(2.0 * rng.random() - 1.0))
        positions.append((ra, dec))
    lines = ["id,ra,dec,gmag,rmag,imag,otype"]
    for i, (ra, dec) in enumerate(positions, start=1):
        gmag = 14.0 + 8.0 * rng.random()
        rmag = gmag - 0.2 - 0.6 * rng.random()
        imag = rmag - 0.1 - 0.4 * rng.random()
        imag_text = "" if rng.random() < 0.03 else f"{imag:.4f}"
        otype = CLASSES[int(rng.random() * len(CLASSES))]
        lines.append(f"{i},{ra:.8f},{dec:.8f},{gmag:.4f},{rmag:.4f},{imag_text},{otype}")
    (out / "stars.csv").write_text("\n".join(lines) + "\n")
    rows = ["name,ra,dec,radius"] + [f"{n},{ra},{dec},{r}" for n, ra, dec, r in FIELDS]
    (out / "fields.csv").write_text("\n".join(rows) + "\n")
    (out / "spectra.csv").write_text(spectra(rng))
    (out / "images.csv").write_text(images(rng))


N_IMAGES = 40
IMAGE_PIXELS = 360
PIXEL_DEG = 0.1 / IMAGE_PIXELS


def images(rng: random.Random) -> str:
    """Image WCS headers in the fields: 0.1 x 0.1 deg TAN images, a date and a band."""
    header = "name,NAXIS,NAXIS1,NAXIS2,CTYPE1,CTYPE2,CRVAL1,CRVAL2,CRPIX1,CRPIX2,CDELT1,CDELT2"
    lines = [header + ",mjd,wmin,wmax"]
    half = IMAGE_PIXELS / 2 + 0.5
    for i in range(N_IMAGES):
        _name, ra0, dec0, radius = FIELDS[i % len(FIELDS)]
        ra, dec = point_in_cap(rng, ra0, dec0, radius)
        mjd = 55000.0 + 3000.0 * rng.random()
        wmin = (4.0 + 4.0 * rng.random()) * 1e-7
        lines.append(
            f"img{i:04d},2,{IMAGE_PIXELS},{IMAGE_PIXELS},RA---TAN,DEC--TAN,{ra:.8f},{dec:.8f},"
            f"{half},{half},{-PIXEL_DEG:.10e},{PIXEL_DEG:.10e},{mjd:.5f},{wmin:.6e},"
            f"{wmin + 1.5e-7:.6e}"
        )
    return "\n".join(lines) + "\n"


N_SPECTRA = 120


def spectra(rng: random.Random) -> str:
    """Spectrum metadata in the fields: name, ra, dec, mjd, wavelength range (m)."""
    lines = ["name,ra,dec,mjd,wmin,wmax"]
    for i in range(N_SPECTRA):
        _name, ra0, dec0, radius = FIELDS[i % len(FIELDS)]
        ra, dec = point_in_cap(rng, ra0, dec0, radius)
        mjd = 55000.0 + 3000.0 * rng.random()
        wmin = (3.5 + 2.0 * rng.random()) * 1e-7
        wmax = wmin + (1.0 + 3.0 * rng.random()) * 1e-7
        lines.append(f"spec{i:04d},{ra:.8f},{dec:.8f},{mjd:.5f},{wmin:.6e},{wmax:.6e}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main(
        Path(sys.argv[1] if len(sys.argv) > 1 else "."),
        int(os.environ.get("FEDTEST_NSTARS", "3000")),
    )
