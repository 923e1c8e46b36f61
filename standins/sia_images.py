"""Deterministic FITS images behind the demo ObsCore rows, and SODA-style cutouts of them.

Every ObsCore row of the demo data describes an image that never existed; the SIA stand-in
serves one built on request, small enough to generate in milliseconds and real enough to cut
and measure:

- WCS: gnomonic (``RA---TAN``/``DEC--TAN``) about the ECDFS centre, the same tangent plane the
  demo footprints were drawn on, so the image axes follow the patch grid exactly; the image
  covers the footprint's bounding box on that plane at :data:`PIXEL_DEG` per pixel.
- Pixels: a sky level with Gaussian noise (seeded by the ``obs_id``) plus every ``dp1.Object``
  source inside the image in the row's band, as a Gaussian of the row's ``s_resolution``
  (FWHM) holding ``10**(-0.4 (mag - ZERO_POINT))`` counts.

So a cutout around a bright DP1 object shows it at the object's catalogue position, which
tests check against astropy's own WCS.
"""

from __future__ import annotations

import io
import math
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from astropy import units as u  # type: ignore[import-untyped]
from astropy.coordinates import SkyCoord  # type: ignore[import-untyped]
from astropy.io import fits  # type: ignore[import-untyped]
from astropy.nddata import Cutout2D, NoOverlapError  # type: ignore[import-untyped]
from astropy.wcs import WCS  # type: ignore[import-untyped]

from standins.data_rubin import sky_to_tangent
from standins.sky import ECDFS_CENTER

PIXEL_DEG = 1.0e-3
"""Pixel side (deg): 3.6 arcsec, so a 0.2-degree patch is a 200x200 image."""

SKY_LEVEL = 100.0
NOISE_SIGMA = 3.0
ZERO_POINT = 30.0
"""Magnitude of one count: a 20th-magnitude star holds 10,000 counts."""


class CutoutError(ValueError):
    """A cutout that cannot be made (``NoOverlap`` or a bad region); answered with HTTP 400."""


@dataclass(frozen=True, slots=True)
class ImageRow:
    """What an image is built from: one ObsCore row."""

    obs_id: str
    band: str
    region: tuple[float, ...]
    fwhm_arcsec: float


class ImageMaker:
    """Builds the image of an ObsCore row over the demo's ``dp1.Object`` sources."""

    def __init__(self, objects: pa.Table | None) -> None:
        if objects is None:
            objects = pa.table(
                {"coord_ra": pa.array([], pa.float64()), "coord_dec": pa.array([], pa.float64())}
            )
        self._ra = objects.column("coord_ra").to_numpy()
        self._dec = objects.column("coord_dec").to_numpy()
        self._xi, self._eta = sky_to_tangent(self._ra, self._dec)
        self._mags = {
            name.split("_", 1)[0]: objects.column(name).to_numpy(zero_copy_only=False)
            for name in objects.column_names
            if name.endswith("_cModelMag")
        }

    def wcs(self, row: ImageRow) -> tuple[WCS, tuple[int, int]]:
        """The image's WCS and its shape ``(ny, nx)``."""
        xi, eta = sky_to_tangent(np.array(row.region[0::2]), np.array(row.region[1::2]))
        nx = math.ceil((xi.max() - xi.min()) / PIXEL_DEG)
        ny = math.ceil((eta.max() - eta.min()) / PIXEL_DEG)
        wcs = WCS(naxis=2)
        wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
        wcs.wcs.crval = list(ECDFS_CENTER)
        # FITS pixel 1 sits at the east edge (RA grows to the left) and the south edge.
        wcs.wcs.cdelt = [-PIXEL_DEG, PIXEL_DEG]
        wcs.wcs.crpix = [1 + float(xi.max()) / PIXEL_DEG, 1 - float(eta.min()) / PIXEL_DEG]
        wcs.wcs.cunit = ["deg", "deg"]
        wcs.wcs.radesys = "ICRS"
        return wcs, (ny, nx)

    def pixels(self, row: ImageRow) -> tuple[np.ndarray, WCS]:
        """The image data (float32) and its WCS."""
        wcs, (ny, nx) = self.wcs(row)
        noise = np.random.default_rng(zlib.crc32(row.obs_id.encode()))
        data = SKY_LEVEL + noise.normal(0.0, NOISE_SIGMA, (ny, nx))
        mags = self._mags.get(row.band)
        if mags is not None:
            self._add_sources(data, wcs, mags, row.fwhm_arcsec)
        return data.astype(np.float32), wcs

    def _add_sources(self, data: np.ndarray, wcs: WCS, mags: np.ndarray, fwhm: float) -> None:
        ny, nx = data.shape
        sigma = max(fwhm / 3600 / 2.3548 / PIXEL_DEG, 0.3)
        half = math.ceil(4 * sigma)
        # Preselect on the tangent plane (cheap), then place exactly with the WCS.
        x0 = -(self._xi / PIXEL_DEG) + wcs.wcs.crpix[0] - 1
        y0 = self._eta / PIXEL_DEG + wcs.wcs.crpix[1] - 1
        inside = (x0 > -half) & (x0 < nx + half) & (y0 > -half) & (y0 < ny + half)
        inside &= np.isfinite(mags)
        if not inside.any():
            return
        xs, ys = wcs.all_world2pix(self._ra[inside], self._dec[inside], 0)
        flux = 10.0 ** (-0.4 * (mags[inside] - ZERO_POINT))
        grid = np.arange(-half, half + 1)
        for x, y, f in zip(xs, ys, flux, strict=True):
            cx, cy = round(float(x)), round(float(y))
            px, py = grid + cx, grid + cy
            keep_x, keep_y = (px >= 0) & (px < nx), (py >= 0) & (py < ny)
            if not keep_x.any() or not keep_y.any():
                continue
            # Integrated over each pixel (not sampled at its centre): the flux is conserved
            # however undersampled the PSF is, so aperture photometry gives the magnitude.
            gx = _pixel_fractions(px[keep_x], float(x), sigma)
            gy = _pixel_fractions(py[keep_y], float(y), sigma)
            stamp = np.outer(gy, gx) * f
            data[np.ix_(py[keep_y], px[keep_x])] += stamp

    def fits_bytes(self, row: ImageRow, header: Mapping[str, object]) -> bytes:
        """The whole image as a FITS file."""
        data, wcs = self.pixels(row)
        return _fits(data, wcs, header)

    def cutout(
        self, row: ImageRow, centre: tuple[float, float], size_deg: tuple[float, float],
        header: Mapping[str, object],
    ) -> bytes:  # fmt: skip
        """A FITS cutout of ``size_deg`` (width, height) about ``centre`` (ra, dec in deg).

        Raises
        ------
        CutoutError
            ``NoOverlap`` when the region misses the image.
        """
        data, wcs = self.pixels(row)
        position = SkyCoord(centre[0] * u.deg, centre[1] * u.deg, frame="icrs")
        size = (size_deg[1] * u.deg, size_deg[0] * u.deg)  # Cutout2D wants (ny, nx)
        try:
            cut = Cutout2D(data, position, size, wcs=wcs, mode="trim")
        except NoOverlapError:
            msg = f"NoOverlap: the region does not overlap image {row.obs_id}"
            raise CutoutError(msg) from None
        return _fits(cut.data, cut.wcs, header)


_ERF = np.frompyfunc(math.erf, 1, 1)


def _pixel_fractions(pixels: np.ndarray, centre: float, sigma: float) -> np.ndarray:
    """Fraction of a 1-D Gaussian's flux falling in each pixel (pixel p spans p +- 0.5)."""
    scale = 1.0 / (sigma * math.sqrt(2.0))
    upper = np.asarray(_ERF((pixels + 0.5 - centre) * scale), float)
    lower = np.asarray(_ERF((pixels - 0.5 - centre) * scale), float)
    fractions: np.ndarray = 0.5 * (upper - lower)
    return fractions


def _fits(data: np.ndarray, wcs: WCS, header: Mapping[str, object]) -> bytes:
    hdu = fits.PrimaryHDU(data, header=wcs.to_header())
    for key, value in header.items():
        hdu.header[key] = value
    hdu.header["BUNIT"] = "count"
    buffer = io.BytesIO()
    hdu.writeto(buffer)
    return buffer.getvalue()
