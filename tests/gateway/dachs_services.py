"""Shared pieces of the tests that federate DaCHS's DAL services (SCS, SSA, SIAv2).

Each such test module federates one DaCHS service as a backend next to DaCHS's TAP service
(backend ``dachs``) and compares the gateway's answers with what pyvo reads from the service
directly, the rest computed with astropy.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyvo
from astropy.coordinates import angular_separation
from astropy.table import Table

from gateway.federation.service import FederatedQueryService
from gateway.settings import BackendConfig, GatewaySettings
from tests.gateway.service_runs import run_query
from tests.gateway.test_dachs_backend import DACHS_URL, _answers, _start_dachs, brute_pairs

DACHS_ROOT = DACHS_URL.removesuffix("/tap")


def ensure_dachs() -> None:
    """Start DaCHS when it does not answer (fails in CI, skips elsewhere, when it cannot)."""
    if not _answers(DACHS_URL):
        _start_dachs()


@contextmanager
def gateway_with(backend: BackendConfig, data_dir: Path) -> Iterator[FederatedQueryService]:
    """A federated service over ``backend`` and DaCHS's TAP service."""
    tap = BackendConfig(name="dachs", kind="tap", url=DACHS_URL, timeout_seconds=60)
    yield FederatedQueryService(GatewaySettings(data_dir=data_dir, backends=[backend, tap]))


def run(svc: FederatedQueryService, adql: str) -> tuple[pa.Table, list[tuple[str, str, str]]]:
    """All rows and the INFOs of one query."""
    table, result = run_query(svc, adql)
    return table, list(result.infos)


def within(table: Table, columns: tuple[str, str], cone: tuple[float, float, float]) -> np.ndarray:
    """Rows of ``table`` whose (``columns``) position is within the cone (astropy)."""
    ra, dec, radius = cone
    sep = angular_separation(
        np.radians(np.asarray(table[columns[0]], dtype=float)),
        np.radians(np.asarray(table[columns[1]], dtype=float)),
        np.radians(ra),
        np.radians(dec),
    )
    return np.asarray(np.degrees(sep) <= radius)


def tap_stars(where: str) -> Table:
    """``id, ra, dec`` of fedtest.stars rows matching ``where``, read directly with pyvo."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # astropy's remarks on DaCHS's (valid) VOTable
        return (
            pyvo.dal.TAPService(DACHS_URL)
            .search(f"SELECT id, ra, dec FROM fedtest.stars WHERE {where}")
            .to_table()
        )


def cosmos_pairs(
    others: Table, columns: tuple[str, str, str], radius: float
) -> set[tuple[int, str]]:
    """(star id, other id) of every fedtest.stars row within 0.5 deg of COSMOS (read by pyvo)
    and row of ``others`` (its id, ra and dec ``columns``) within ``radius`` deg (astropy)."""
    stars = tap_stars("1 = CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 150.1, 2.2, 0.5))")
    ids = np.asarray(others[columns[0]]).astype(str)
    positions = Table(
        {
            "id": np.arange(len(ids)),
            "ra": np.asarray(others[columns[1]], dtype=float),
            "dec": np.asarray(others[columns[2]], dtype=float),
        }
    )
    left = (
        np.asarray(stars["id"]).astype(np.int64),
        np.asarray(stars["ra"], dtype=float),
        np.asarray(stars["dec"], dtype=float),
    )
    return {(star, str(ids[i])) for star, i in brute_pairs(left, positions, radius)}


COSMOS_STARS = "1 = CONTAINS(POINT('ICRS', s.ra, s.dec), CIRCLE('ICRS', 150.1, 2.2, 0.5))"
"""The WHERE of the cross-match tests: fedtest.stars in COSMOS (alias ``s``)."""
