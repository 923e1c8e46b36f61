"""Cone pushdown through the running demo: the README cross-match takes the derived-cone path.

The whole demo runs as processes (``adql-gateway demo``). The README's own cross-match (radius
``1.0/3600``) and its ``DISTANCE`` twin must fetch the HSC side restricted by the spectra's
positions (a cone derived from them), never the whole 1.1 million-row catalogue, and return
what astropy's ``search_around_sky`` finds in the Parquet files. A query that would fetch the
HSC summary whole is refused with a DALI error naming the table, the estimate, the limit and
the opt-in, and runs when the client opts in.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import httpx
import numpy as np
import pyarrow.parquet as pq
import pytest
from astropy.coordinates import angular_separation
from astropy.io.votable import parse_single_table

from standins.data import ensure_demo_data
from tests.gateway.test_demo import DemoRun, _cleanup, _free_port, _launch

pytestmark = [pytest.mark.integration, pytest.mark.slow]

README_XMATCH = (
    "SELECT h.MatchID, s.specobjid, s.z FROM hscv3.summary AS h JOIN sdss_dr16.specobj AS s "
    "ON CONTAINS(POINT('ICRS', h.MatchRA, h.MatchDec), CIRCLE('ICRS', s.ra, s.dec, 1.0/3600)) = 1 "
    "WHERE CONTAINS(POINT('ICRS', s.ra, s.dec), CIRCLE('ICRS', 53.2, -28.1, 0.1)) = 1"
)
DISTANCE_XMATCH = (
    "SELECT h.MatchID, s.specobjid, s.z FROM hscv3.summary AS h JOIN sdss_dr16.specobj AS s "
    "ON DISTANCE(POINT(h.MatchRA, h.MatchDec), POINT(s.ra, s.dec)) < 1.0/3600 "
    "WHERE 6.0/60 > DISTANCE(POINT(53.2, -28.1), POINT(s.ra, s.dec))"
)
NS = "{http://www.ivoa.net/xml/VOTable/v1.3}"


@pytest.fixture(scope="module")
def tap_url() -> Iterator[str]:
    runs: list[DemoRun] = []
    try:
        run = _launch(runs, "--port", str(_free_port()))
        yield str(run.state["tap_url"])
    finally:
        for run in runs:
            _cleanup(run)


def _oracle(*, strict: bool) -> set[tuple[int, int]]:
    """(MatchID, specobjid) pairs within 1 arcsec, spectra within 0.1 deg of the field centre.

    Brute force with astropy's ``angular_separation`` over every pair near the field.
    """
    data = ensure_demo_data().tables()
    hsc = pq.read_table(data["hscv3.summary"], columns=["MatchID", "MatchRA", "MatchDec"])
    spec = pq.read_table(data["sdss_dr16.specobj"], columns=["specobjid", "ra", "dec"])
    s_ra, s_dec = spec["ra"].to_numpy(), spec["dec"].to_numpy()
    rad = np.radians
    near = np.degrees(angular_separation(rad(s_ra), rad(s_dec), rad(53.2), rad(-28.1)))
    keep = near < 0.1 if strict else near <= 0.1
    h_ra, h_dec = hsc["MatchRA"].to_numpy(), hsc["MatchDec"].to_numpy()
    # Every HSC source within 0.2 deg in Dec and 0.3 deg in RA (cos(-28) > 0.8) of the centre.
    box = (np.abs(h_dec + 28.1) < 0.2) & (np.abs(h_ra - 53.2) < 0.3)
    sep = np.degrees(
        angular_separation(
            rad(h_ra[box])[:, None], rad(h_dec[box])[:, None], rad(s_ra[keep]), rad(s_dec[keep])
        )
    )
    radius = 1.0 / 3600
    i_hsc, i_spec = np.nonzero(sep < radius if strict else sep <= radius)
    ids, spec_ids = hsc["MatchID"].to_numpy()[box], spec["specobjid"].to_numpy()[keep]
    return {(int(ids[h]), int(spec_ids[s])) for h, s in zip(i_hsc, i_spec, strict=True)}


def _sync(tap_url: str, adql: str, **extra: str) -> httpx.Response:
    data = {"LANG": "ADQL", "QUERY": adql, "MAXREC": "1000000", **extra}
    return httpx.post(f"{tap_url}/sync", data=data, timeout=300)


def _infos(body: bytes) -> dict[str, str]:
    root = ET.fromstring(body)
    return {str(info.get("value")): (info.text or "") for info in root.iter(f"{NS}INFO")} | {
        str(info.get("name")): str(info.get("value")) for info in root.iter(f"{NS}INFO")
    }


@pytest.mark.parametrize(("adql", "strict"), [(README_XMATCH, False), (DISTANCE_XMATCH, True)])
def test_readme_cross_match_takes_the_derived_cone(tap_url: str, adql: str, strict: bool) -> None:
    explained = httpx.get(f"{tap_url}/explain", params={"QUERY": adql}, timeout=60)
    assert explained.status_code == 200, explained.text
    plan = str(explained.json()["plan"])
    assert "- Fetch h: hscv3.summary [hsc (hsc)]" in plan
    assert "cross-match with s (r = 0.0002777777777777778 deg): fetched after it" in plan
    assert "fetched whole" not in plan

    response = _sync(tap_url, adql)
    assert response.status_code == 200, response.text
    infos = _infos(response.content)
    strategy = infos.get("JOIN_STRATEGY", "")
    assert strategy == "h: LocalJoin", infos
    table = parse_single_table(io.BytesIO(response.content)).to_table(use_names_over_ids=True)
    got = {(int(a), int(b)) for a, b in zip(table["MatchID"], table["specobjid"], strict=True)}
    expected = _oracle(strict=strict)
    assert len(expected) > 5, "the oracle finds matches: the test can fail"
    assert got == expected
    assert np.all(np.isfinite(np.asarray(table["z"], dtype=float)))


def test_whole_catalogue_fetch_is_refused_unless_opted_in(tap_url: str) -> None:
    adql = "SELECT COUNT(*) AS n FROM hscv3.summary WHERE MatchRA * 2 > 107"
    explained = httpx.get(f"{tap_url}/explain", params={"QUERY": adql}, timeout=60)
    assert explained.status_code == 200, explained.text  # EXPLAIN fetches nothing: it tells
    assert (
        "fetched whole: hscv3.summary: hscv3.summary is fetched whole from hsc (hsc), about "
        "1,112,940 rows: the hsc backend cannot evaluate its conditions (MatchRA * 2 > 107), so "
        "the gateway filters every row; above the limit of 1,000,000 rows, so running the query "
        "is refused unless it comes with FETCH_WHOLE=true"
    ) in str(explained.json()["plan"])
    refused = _sync(tap_url, adql)
    assert refused.status_code == 400, refused.text
    status = next(
        i
        for i in ET.fromstring(refused.content).iter(f"{NS}INFO")
        if i.get("name") == "QUERY_STATUS"
    )
    assert status.get("value") == "ERROR"
    text = status.text or ""
    for part in ("hscv3.summary", "1,112,940 rows", "limit of 1,000,000", "FETCH_WHOLE=true"):
        assert part in text, text
    assert "cannot evaluate its conditions (MatchRA * 2 > 107)" in text
    assert "hscv3.summary at line 1, column 27" in text

    allowed = _sync(tap_url, adql, FETCH_WHOLE="true")
    assert allowed.status_code == 200, allowed.text
    table = parse_single_table(io.BytesIO(allowed.content)).to_table(use_names_over_ids=True)
    ra = pq.read_table(ensure_demo_data().tables()["hscv3.summary"], columns=["MatchRA"])
    assert int(table["n"][0]) == int(np.count_nonzero(ra["MatchRA"].to_numpy() * 2 > 107))
