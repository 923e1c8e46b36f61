"""GAVO DaCHS's Simple Spectral Access service as an ``ssap`` backend of the gateway.

DaCHS (``tests/install_dachs.sh``) serves 120 synthetic spectra (``tests/dachs/gendata.py``,
``fedtest.spectra`` with the ``//ssap#hcd`` mixin) as SSA 1.1 at ``/fedtest/q/ssa/ssap.xml``;
the gateway federates it as backend ``dspec`` (table ``dspec.ssa``) next to DaCHS's TAP
service. Every answer is checked against DaCHS's own answer read with pyvo's ``SSAService``,
the rest of the query (exact cone, cross-match pairs) computed with astropy.
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

SSA_URL = DACHS_ROOT + "/fedtest/q/ssa/ssap.xml"
N_SPECTRA = 120


@pytest.fixture(scope="module")
def ssa() -> pyvo.dal.SSAService:
    """DaCHS's SSA service through pyvo: the independent side of every comparison."""
    ensure_dachs()
    return pyvo.dal.SSAService(SSA_URL)


def search(ssa: pyvo.dal.SSAService, **kwargs: object) -> Table:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # astropy's remarks on DaCHS's (valid) VOTable
        return ssa.search(maxrec=10_000, **kwargs).to_table()


@pytest.fixture(scope="module")
def all_spectra(ssa: pyvo.dal.SSAService) -> Table:
    table = search(ssa)
    assert len(table) == N_SPECTRA
    return table


@pytest.fixture(scope="module")
def service(
    ssa: pyvo.dal.SSAService, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FederatedQueryService]:
    del ssa  # DaCHS is up
    backend = BackendConfig(name="dspec", kind="ssap", url=SSA_URL, timeout_seconds=60)
    with gateway_with(backend, tmp_path_factory.mktemp("ssa-gw")) as svc:
        yield svc


def test_catalogue_has_the_ssa_columns(
    service: FederatedQueryService, ssa: pyvo.dal.SSAService
) -> None:
    [status] = [s for s in service.catalog.statuses() if s.name == "dspec"]
    assert status.ok, status.message
    [table] = [t for t in service.catalog.tables() if t.meta.table_name == "dspec.ssa"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fields = ssa.search(pos=(53.2, -28.1), diameter=1.0, maxrec=1).fielddescs
    ssa_fields = [f.name for f in fields if (f.utype or "").startswith("ssa:")]
    assert [c.name for c in table.meta.columns] == ssa_fields
    assert {"ssa_pubDID", "location_ra", "location_dec", "ssa_dateObs"} <= set(ssa_fields)


@pytest.mark.parametrize(("ra", "dec", "radius"), [(53.2, -28.1, 0.4), (359.9, 1.0, 0.3)])
def test_cone(
    service: FederatedQueryService, all_spectra: Table, ra: float, dec: float, radius: float
) -> None:
    adql = (
        "SELECT ssa_pubDID FROM dspec.ssa WHERE "
        f"1 = CONTAINS(POINT('ICRS', location_ra, location_dec), CIRCLE('ICRS', {ra}, {dec}, "
        f"{radius}))"
    )
    plan = service.plan(parse(adql))
    assert plan.fragment is not None
    [request] = plan.fragment.requests
    assert dict(request.params)["POS"] == f"{ra},{dec}"
    got, _ = run(service, adql)
    inside = within(all_spectra, ("location_ra", "location_dec"), (ra, dec, radius))
    expected = sorted(str(d) for d in np.asarray(all_spectra["ssa_pubDID"])[inside])
    assert expected, "the oracle found nothing: the test would prove nothing"
    assert sorted(got.column("ssa_pubDID").to_pylist()) == expected


def test_top_is_maxrec(service: FederatedQueryService, all_spectra: Table) -> None:
    adql = "SELECT TOP 7 ssa_pubDID, ssa_dateObs FROM dspec.ssa"
    plan = service.plan(parse(adql))
    assert plan.fragment is not None
    assert dict(plan.fragment.requests[0].params)["MAXREC"] == "7"
    got, _ = run(service, adql)
    assert got.num_rows == 7
    assert set(got.column("ssa_pubDID").to_pylist()) <= {str(d) for d in all_spectra["ssa_pubDID"]}


def test_cross_match_with_the_tap_side(
    service: FederatedQueryService, all_spectra: Table, ssa: pyvo.dal.SSAService
) -> None:
    """fedtest.stars (TAP) in COSMOS x the spectra: the pairs astropy finds."""
    radius = 0.03
    adql = (
        "SELECT s.id AS sid, c.ssa_pubDID AS did FROM fedtest.stars AS s JOIN dspec.ssa AS c "
        "ON 1 = CONTAINS(POINT('ICRS', s.ra, s.dec), "
        f"CIRCLE('ICRS', c.location_ra, c.location_dec, {radius})) "
        f"WHERE {COSMOS_STARS}"
    )
    got, infos = run(service, adql)
    assert any(name == "JOIN_STRATEGY" for name, _, _ in infos)
    expected = cosmos_pairs(all_spectra, ("ssa_pubDID", "location_ra", "location_dec"), radius)
    assert expected, "the oracle found no pair: the test would prove nothing"
    pairs = zip(got.column("sid").to_pylist(), got.column("did").to_pylist(), strict=True)
    assert {(int(a), b) for a, b in pairs} == expected


@pytest.mark.parametrize(
    ("where", "pushed"),
    [
        ("ssa_specend >= 6e-7 AND ssa_specstart <= 7e-7", "BAND"),
        ("ssa_dateObs > 56000.5 AND ssa_dateObs <= 57000.25", "TIME"),
        ("ssa_specstart < 5e-7 AND ssa_dateObs >= 57500", "BAND TIME"),
    ],
)
def test_band_and_time(
    service: FederatedQueryService, all_spectra: Table, where: str, pushed: str
) -> None:
    adql = f"SELECT ssa_pubDID FROM dspec.ssa WHERE {where}"
    plan = service.plan(parse(adql))
    assert plan.fragment is not None
    params = dict(plan.fragment.requests[0].params)
    assert set(pushed.split()) <= set(params)
    got, _ = run(service, adql)
    start = np.asarray(all_spectra["ssa_specstart"], dtype=np.float32)
    end = np.asarray(all_spectra["ssa_specend"], dtype=np.float32)
    mjd = np.asarray(all_spectra["ssa_dateObs"], dtype=float)
    keep = {
        "BAND": (end >= np.float32(6e-7)) & (start <= np.float32(7e-7)),
        "TIME": (mjd > 56000.5) & (mjd <= 57000.25),
        "BAND TIME": (start < np.float32(5e-7)) & (mjd >= 57500),
    }[pushed]
    expected = sorted(str(d) for d in np.asarray(all_spectra["ssa_pubDID"])[keep])
    assert 0 < len(expected) < N_SPECTRA, "the oracle must select some, not all"
    assert sorted(got.column("ssa_pubDID").to_pylist()) == expected
