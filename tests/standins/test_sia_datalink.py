"""DataLink, SODA cutouts and images of the SIA stand-in, read with the real pyvo and astropy."""

from __future__ import annotations

import io
from collections.abc import Iterator

import httpx
import numpy as np
import pyarrow.parquet as pq
import pytest
import pyvo
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS

from standins.data import DemoData
from standins.sia import create_sia_app
from tests.live_server import serve_app

pytestmark = [pytest.mark.integration, pytest.mark.interop]

ECDFS = (53.2, -28.1)


@pytest.fixture(scope="module")
def sia_url(demo_data: DemoData) -> Iterator[str]:
    with serve_app(create_sia_app(demo_data)) as url:
        yield url


def _coadd(sia_url: str, band: str = "r") -> pyvo.dal.adhoc.DatalinkResults:
    service = pyvo.dal.SIA2Service(f"{sia_url}/query", check_baseurl=False)
    rows = service.search(pos=(*ECDFS, 0.01), maxrec=200)
    coadds = [r for r in rows if r["dataproduct_subtype"] == "lsst.deep_coadd"]
    record = next(r for r in coadds if r["lsst_band"] == band)
    assert str(record["access_url"]).startswith(f"{sia_url}/datalink/links?ID=")
    return pyvo.dal.adhoc.DatalinkResults.from_result_url(record["access_url"]), record


def test_links_point_at_a_fits_image_covering_the_footprint(sia_url: str) -> None:
    links, record = _coadd(sia_url)
    this = next(links.bysemantics("#this", include_narrower=False))
    assert this["ID"] == record["obs_publisher_did"]
    assert this["content_type"] == "image/fits"
    with fits.open(io.BytesIO(this.getdataset().read())) as hdus:
        header = hdus[0].header
        shape = hdus[0].data.shape
    wcs = WCS(header)
    # The footprint's corners fall inside the image (astropy's own WCS, not the stand-in's).
    corners = np.array(record["s_region"], float).reshape(-1, 2)
    x, y = wcs.all_world2pix(corners[:, 0], corners[:, 1], 0)
    assert np.all((x > -1) & (x < shape[1]) & (y > -1) & (y < shape[0]))
    assert header["FILTER"] == "r"


def test_soda_cutout_shows_the_brightest_dp1_object_at_its_position(
    sia_url: str, demo_data: DemoData
) -> None:
    links, record = _coadd(sia_url)
    objects = pq.read_table(
        demo_data.tables()["dp1.Object"], columns=["coord_ra", "coord_dec", "r_cModelMag"]
    )
    ra, dec = objects["coord_ra"].to_numpy(), objects["coord_dec"].to_numpy()
    mag = objects["r_cModelMag"].to_numpy(zero_copy_only=False).astype(float)
    centre = SkyCoord(record["s_ra"] * u.deg, record["s_dec"] * u.deg)
    coords = SkyCoord(ra * u.deg, dec * u.deg)
    near = np.flatnonzero(coords.separation(centre).deg < 0.03)
    # An isolated bright object: nothing within 20 arcsec brighter than 4 mag fainter.
    isolated = [
        i
        for i in near
        if np.isfinite(mag[i])
        and not np.any(
            (coords.separation(coords[i]).arcsec < 20)
            & (np.nan_to_num(mag, nan=99.0) < mag[i] + 4)
            & (np.arange(mag.size) != i)
        )
    ]
    best = min(isolated, key=lambda i: mag[i])
    brightest = {"coord_ra": ra[best], "coord_dec": dec[best], "r_cModelMag": mag[best]}
    assert brightest["r_cModelMag"] < 21  # bright enough to dominate the noise
    proc = links.get_first_proc()
    assert proc["semantics"] == "#cutout"
    radius = 0.01
    stream = proc.processed(circle=(brightest["coord_ra"], brightest["coord_dec"], radius))
    with fits.open(io.BytesIO(stream.read())) as hdus:
        data = hdus[0].data
        wcs = WCS(hdus[0].header)
    assert abs(data.shape[0] - 2 * radius / 1e-3) <= 2
    # Oracle: aperture photometry at the catalogue position, placed by astropy's WCS, gives
    # back the catalogue magnitude (ZERO_POINT 30, sky level 100).
    x, y = wcs.all_world2pix(brightest["coord_ra"], brightest["coord_dec"], 0)
    cx, cy = round(float(x)), round(float(y))
    box = data[cy - 3 : cy + 4, cx - 3 : cx + 4].astype(float)
    flux = box.sum() - 100.0 * box.size
    assert -2.5 * np.log10(flux) + 30 == pytest.approx(brightest["r_cModelMag"], abs=0.1)
    assert data[cy - 1 : cy + 2, cx - 1 : cx + 2].max() > 0.2 * flux


def test_cutout_errors_are_dali_documents(sia_url: str) -> None:
    _, record = _coadd(sia_url)
    did = record["obs_publisher_did"]
    with httpx.Client(base_url=sia_url, trust_env=False, timeout=30) as client:
        far = client.get("/datalink/cutout", params={"ID": did, "CIRCLE": "10 10 0.01"})
        assert far.status_code == 400
        assert "NoOverlap" in far.text
        bad = client.get("/datalink/cutout", params={"ID": did, "POS": "CIRCLE 53 x 1"})
        assert bad.status_code == 400
        assert "UsageError" in bad.text
        missing = client.get("/datalink/cutout", params={"ID": "ivo://nowhere", "CIRCLE": "1 1 1"})
        assert missing.status_code == 404
        ranged = client.get(
            "/datalink/cutout",
            params={
                "ID": did,
                "POS": f"RANGE {record['s_ra'] - 0.01} {record['s_ra'] + 0.01} "
                f"{record['s_dec'] - 0.005} {record['s_dec'] + 0.005}",
            },
        )
        assert ranged.status_code == 200
        with fits.open(io.BytesIO(ranged.content)) as hdus:
            ny, nx = hdus[0].data.shape
        assert abs(ny - 10) <= 1
        assert abs(nx - 0.02 * np.cos(np.radians(record["s_dec"])) / 1e-3) <= 1


def test_unknown_id_gets_an_error_row(sia_url: str) -> None:
    links = pyvo.dal.adhoc.DatalinkResults.from_result_url(
        f"{sia_url}/datalink/links?ID=ivo%3A%2F%2Fnowhere%2Fx"
    )
    rows = list(links)
    assert len(rows) == 1
    assert str(rows[0]["error_message"]).startswith("NotFoundFault")
