"""GAVO DaCHS's Simple Cone Search as an ``scs`` backend of the gateway.

DaCHS (``tests/install_dachs.sh``) publishes ``fedtest.stars`` as an SCS 1.03 service at
``/fedtest/q/cone/scs.xml`` (``tests/dachs/q.rd``); the gateway federates it as backend
``dcone`` (table ``dcone.cone``) next to DaCHS's TAP service (backend ``dachs``). Every answer
is checked against DaCHS's own answer read with pyvo's ``SCSService``, with the rest of the
query (magnitude cuts, exact cone, cross-match pairs) computed with numpy and astropy.
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
    DACHS_ROOT,
    ensure_dachs,
    gateway_with,
    run,
    within,
)
from tests.gateway.test_dachs_backend import brute_pairs

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCS_URL = DACHS_ROOT + "/fedtest/q/cone/scs.xml"
CENTRE = (53.2, -28.1)


@pytest.fixture(scope="module")
def scs() -> pyvo.dal.SCSService:
    """DaCHS's cone search through pyvo: the independent side of every comparison."""
    ensure_dachs()
    return pyvo.dal.SCSService(SCS_URL)


def cone_direct(scs: pyvo.dal.SCSService, ra: float, dec: float, radius: float) -> Table:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # astropy's remarks on DaCHS's (valid) VOTable
        return scs.search(pos=(ra, dec), radius=radius, verbosity=3).to_table()


@pytest.fixture(scope="module")
def service(
    scs: pyvo.dal.SCSService, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FederatedQueryService]:
    del scs  # DaCHS is up
    backend = BackendConfig(name="dcone", kind="scs", url=SCS_URL, timeout_seconds=60)
    with gateway_with(backend, tmp_path_factory.mktemp("scs-gw")) as svc:
        yield svc


def test_catalogue_has_the_answer_columns(
    service: FederatedQueryService, scs: pyvo.dal.SCSService
) -> None:
    [status] = [s for s in service.catalog.statuses() if s.name == "dcone"]
    assert status.ok, status.message
    [table] = [t for t in service.catalog.tables() if t.meta.table_name == "dcone.cone"]
    answer = cone_direct(scs, *CENTRE, 0.01)
    assert [c.name for c in table.meta.columns] == answer.colnames
    ucds = {c.name: c.ucd for c in table.meta.columns}
    assert ucds["ra"] == "pos.eq.ra;meta.main"
    assert ucds["id"] == "meta.id;meta.main"


@pytest.mark.parametrize("radius", [0.05, 0.2])
def test_cone_with_a_residual_filter(
    service: FederatedQueryService, scs: pyvo.dal.SCSService, radius: float
) -> None:
    ra, dec = CENTRE
    adql = (
        "SELECT id, ra, dec, gmag FROM dcone.cone WHERE "
        f"1 = CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', {ra}, {dec}, {radius})) "
        "AND gmag < 18"
    )
    plan = service.plan(parse(adql))
    assert plan.fragment is not None
    [request] = plan.fragment.requests
    assert dict(request.params)["SR"].startswith(str(radius))
    got, _ = run(service, adql)
    direct = cone_direct(scs, ra, dec, radius * 1.01)
    keep = within(direct, ("ra", "dec"), (ra, dec, radius)) & (np.asarray(direct["gmag"]) < 18)
    expected = sorted(str(i) for i in np.asarray(direct["id"])[keep])
    assert expected, "the oracle found nothing: the test would prove nothing"
    assert sorted(got.column("id").to_pylist()) == expected


def test_cross_match_with_the_tap_side(
    service: FederatedQueryService, scs: pyvo.dal.SCSService
) -> None:
    """fedtest.stars (TAP) near COSMOS x the cone search: the pairs astropy finds."""
    radius = 0.02
    adql = (
        "SELECT s.id AS sid, c.id AS cid FROM fedtest.stars AS s JOIN dcone.cone AS c "
        f"ON 1 = CONTAINS(POINT('ICRS', s.ra, s.dec), CIRCLE('ICRS', c.ra, c.dec, {radius})) "
        "WHERE 1 = CONTAINS(POINT('ICRS', s.ra, s.dec), CIRCLE('ICRS', 150.1, 2.2, 0.2))"
    )
    got, infos = run(service, adql)
    assert any(name == "JOIN_STRATEGY" for name, _, _ in infos)
    inner = cone_direct(scs, 150.1, 2.2, 0.3)
    outer = inner[within(inner, ("ra", "dec"), (150.1, 2.2, 0.2))]
    left = (
        np.asarray(outer["id"]).astype(np.int64),
        np.asarray(outer["ra"], dtype=float),
        np.asarray(outer["dec"], dtype=float),
    )
    inner["id"] = np.asarray(inner["id"]).astype(np.int64)
    expected = brute_pairs(left, inner, radius)
    assert len(expected) > len(outer)  # neighbours besides each star itself
    pairs = zip(got.column("sid").to_pylist(), got.column("cid").to_pylist(), strict=True)
    assert {(int(a), int(b)) for a, b in pairs} == expected
