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

import numpy as np
import pytest
import pyvo
from astropy.table import Table

from gateway.federation.service import FederatedQueryService
from gateway.settings import BackendConfig
from grammar import parse
from tests.gateway.dachs_services import (
    COSMOS_STARS,
    DACHS_ROOT,
    cosmos_pairs,
    ensure_dachs,
    gateway_with,
    run,
    within,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SIA_URL = DACHS_ROOT + "/__system__/siap2/sitewide/siap2.xml"


@pytest.fixture(scope="module")
def sia() -> pyvo.dal.SIA2Service:
    """DaCHS's SIAv2 service through pyvo: the independent side of every comparison."""
    ensure_dachs()
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
    backend = BackendConfig(name="dsia", kind="sia", url=SIA_URL, timeout_seconds=60)
    with gateway_with(backend, tmp_path_factory.mktemp("sia-gw")) as svc:
        yield svc


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
    keep = within(direct, ("s_ra", "s_dec"), (ra, dec, radius)) & (
        np.asarray(direct["em_min"]) < 6e-7
    )
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
        f"WHERE {COSMOS_STARS}"
    )
    got, infos = run(service, adql)
    assert any(name == "JOIN_STRATEGY" for name, _, _ in infos)
    expected = cosmos_pairs(
        search(sia, 150.1, 2.2, 1.0), ("obs_publisher_did", "s_ra", "s_dec"), radius
    )
    assert expected, "the oracle found no pair: the test would prove nothing"
    pairs = zip(got.column("sid").to_pylist(), got.column("did").to_pylist(), strict=True)
    assert {(int(a), b) for a, b in pairs} == expected
