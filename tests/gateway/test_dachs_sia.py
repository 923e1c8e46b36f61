"""GAVO DaCHS's SIAv2 service as a ``sia`` backend of the gateway.

DaCHS (``tests/install_dachs.sh``) publishes 40 synthetic image footprints
(``tests/dachs/gendata.py``, ``fedtest.images`` with the ``//siap#pgs`` mixin) to
``ivoa.obscore``, which its sitewide SIAv2 service answers from; the gateway federates that
service as backend ``dsia`` (table ``dsia.obscore``) next to DaCHS's TAP service. Answers are
checked against DaCHS's own SIAv2 answer read with pyvo's ``SIA2Service``, the rest of the
query (exact cone on the centres, band cut, cross-match pairs) computed with numpy/astropy.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import pyvo
from astropy.coordinates import angular_separation
from astropy.table import Table

from gateway.federated_service import FederatedQueryService
from gateway.settings import BackendConfig, GatewaySettings
from grammar import parse
from tests.gateway.test_dachs_backend import DACHS_URL, _answers, _start_dachs, brute_pairs

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SIA_URL = DACHS_URL.removesuffix("/tap") + "/__system__/siap2/sitewide/siap2.xml"


@pytest.fixture(scope="module")
def sia() -> pyvo.dal.SIA2Service:
    """DaCHS's SIAv2 service through pyvo: the independent side of every comparison."""
    if not _answers(DACHS_URL):
        _start_dachs()
    return pyvo.dal.SIA2Service(SIA_URL, check_baseurl=False)


def search(sia: pyvo.dal.SIA2Service, ra: float, dec: float, radius: float) -> Table:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # astropy's remarks on DaCHS's (valid) VOTable
        return sia.search(pos=(ra, dec, radius), maxrec=10_000).to_table()


@pytest.fixture(scope="module")
def service(
    sia: pyvo.dal.SIA2Service, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FederatedQueryService]:
    del sia  # DaCHS is up
    settings = GatewaySettings(
        data_dir=Path(tmp_path_factory.mktemp("sia-gw")),
        backends=[
            BackendConfig(name="dsia", kind="sia", url=SIA_URL, timeout_seconds=60),
            BackendConfig(name="dachs", kind="tap", url=DACHS_URL, timeout_seconds=60),
        ],
    )
    svc = FederatedQueryService(settings)
    yield svc
    svc.close()


def run(svc: FederatedQueryService, adql: str) -> tuple[pa.Table, list[tuple[str, str, str]]]:
    result = svc.run(parse(adql), uploads={}, maxrec=1_000_000)
    batches = list(result.batches)
    return (pa.Table.from_batches(batches) if batches else pa.table({})), list(result.infos)


def centres_within(table: Table, ra: float, dec: float, radius: float) -> np.ndarray:
    sep = angular_separation(
        np.radians(np.asarray(table["s_ra"], dtype=float)),
        np.radians(np.asarray(table["s_dec"], dtype=float)),
        np.radians(ra),
        np.radians(dec),
    )
    return np.asarray(np.degrees(sep) <= radius)


@pytest.mark.parametrize(("ra", "dec", "radius"), [(53.2, -28.1, 0.6), (359.9, 1.0, 0.5)])
def test_cone_and_band(
    service: FederatedQueryService, sia: pyvo.dal.SIA2Service, ra: float, dec: float, radius: float
) -> None:
    adql = (
        "SELECT obs_publisher_did FROM dsia.obscore WHERE "
        f"1 = CONTAINS(POINT('ICRS', s_ra, s_dec), CIRCLE('ICRS', {ra}, {dec}, {radius})) "
        "AND em_min < 6e-7"
    )
    plan = service.plan(parse(adql))
    assert plan.fragment is not None
    params = dict(plan.fragment.requests[0].params)
    assert [float(v) for v in params["POS"].split()[1:]] == [ra, dec, radius]
    got, _ = run(service, adql)
    direct = search(sia, ra, dec, radius)
    keep = centres_within(direct, ra, dec, radius) & (np.asarray(direct["em_min"]) < 6e-7)
    expected = sorted(str(d) for d in np.asarray(direct["obs_publisher_did"])[keep])
    assert expected, "the oracle found nothing: the test would prove nothing"
    assert sorted(got.column("obs_publisher_did").to_pylist()) == expected


def test_cross_match_with_the_tap_side(
    service: FederatedQueryService, sia: pyvo.dal.SIA2Service
) -> None:
    """fedtest.stars (TAP) in COSMOS x image centres: the pairs astropy finds."""
    radius = 0.05
    adql = (
        "SELECT s.id AS sid, c.obs_publisher_did AS did FROM fedtest.stars AS s "
        "JOIN dsia.obscore AS c "
        f"ON 1 = CONTAINS(POINT('ICRS', s.ra, s.dec), CIRCLE('ICRS', c.s_ra, c.s_dec, {radius})) "
        "WHERE 1 = CONTAINS(POINT('ICRS', s.ra, s.dec), CIRCLE('ICRS', 150.1, 2.2, 0.5))"
    )
    got, infos = run(service, adql)
    assert any(name == "JOIN_STRATEGY" for name, _, _ in infos)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stars = (
            pyvo.dal.TAPService(DACHS_URL)
            .search(
                "SELECT id, ra, dec FROM fedtest.stars WHERE "
                "1 = CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 150.1, 2.2, 0.5))"
            )
            .to_table()
        )
    images = search(sia, 150.1, 2.2, 1.0)
    dids = np.asarray(images["obs_publisher_did"]).astype(str)
    centres = Table(
        {
            "id": np.arange(len(dids)),
            "ra": np.asarray(images["s_ra"], dtype=float),
            "dec": np.asarray(images["s_dec"], dtype=float),
        }
    )
    left = (
        np.asarray(stars["id"]).astype(np.int64),
        np.asarray(stars["ra"], dtype=float),
        np.asarray(stars["dec"], dtype=float),
    )
    expected = brute_pairs(left, centres, radius)
    assert expected, "the oracle found no pair: the test would prove nothing"
    index = {did: i for i, did in enumerate(dids)}
    pairs = zip(got.column("sid").to_pylist(), got.column("did").to_pylist(), strict=True)
    assert {(int(a), index[b]) for a, b in pairs} == expected
