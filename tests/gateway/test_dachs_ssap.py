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

SSA_URL = DACHS_URL.removesuffix("/tap") + "/fedtest/q/ssa/ssap.xml"
N_SPECTRA = 120


@pytest.fixture(scope="module")
def ssa() -> pyvo.dal.SSAService:
    """DaCHS's SSA service through pyvo: the independent side of every comparison."""
    if not _answers(DACHS_URL):
        _start_dachs()
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
    settings = GatewaySettings(
        data_dir=Path(tmp_path_factory.mktemp("ssa-gw")),
        backends=[
            BackendConfig(name="dspec", kind="ssap", url=SSA_URL, timeout_seconds=60),
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
    sep = angular_separation(
        np.radians(np.asarray(all_spectra["location_ra"], dtype=float)),
        np.radians(np.asarray(all_spectra["location_dec"], dtype=float)),
        np.radians(ra),
        np.radians(dec),
    )
    expected = sorted(
        str(d) for d in np.asarray(all_spectra["ssa_pubDID"])[np.degrees(sep) <= radius]
    )
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
        "WHERE 1 = CONTAINS(POINT('ICRS', s.ra, s.dec), CIRCLE('ICRS', 150.1, 2.2, 0.5))"
    )
    got, infos = run(service, adql)
    assert any(name == "JOIN_STRATEGY" for name, _, _ in infos)
    stars = (
        pyvo.dal.TAPService(DACHS_URL)
        .search(
            "SELECT id, ra, dec FROM fedtest.stars WHERE "
            "1 = CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 150.1, 2.2, 0.5))"
        )
        .to_table()
    )
    dids = np.asarray(all_spectra["ssa_pubDID"]).astype(str)
    index = {did: i for i, did in enumerate(dids)}
    spectra = Table(
        {
            "id": np.arange(len(dids)),
            "ra": np.asarray(all_spectra["location_ra"], dtype=float),
            "dec": np.asarray(all_spectra["location_dec"], dtype=float),
        }
    )
    left = (
        np.asarray(stars["id"]).astype(np.int64),
        np.asarray(stars["ra"], dtype=float),
        np.asarray(stars["dec"], dtype=float),
    )
    expected = brute_pairs(left, spectra, radius)
    assert expected, "the oracle found no pair: the test would prove nothing"
    pairs = zip(got.column("sid").to_pylist(), got.column("did").to_pylist(), strict=True)
    assert {(int(a), index[b]) for a, b in pairs} == expected


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
