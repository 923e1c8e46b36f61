"""DaCHS's cone search and spectral service behind the gateway's own TAP service.

The gateway runs under uvicorn on 127.0.0.1 with DaCHS's SCS and SSA services as backends
``dcone`` (``scs``) and ``dspec`` (``ssap``); a TAP client (pyvo) finds their tables in
``/tables`` and TAP_SCHEMA and queries them, and the rows are those pyvo reads from the
services directly, cut with astropy.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree as ET

import httpx
import numpy as np
import pytest
import pyvo

from gateway.settings import BackendConfig, GatewaySettings
from gateway.tap.serve import build_app
from tests.gateway.dachs_services import DACHS_ROOT, ensure_dachs, within
from tests.live_server import reserve_port, serve_app

VOSI_AVAILABILITY = "http://www.ivoa.net/xml/VOSIAvailability/v1.0"

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCS_URL = DACHS_ROOT + "/fedtest/q/cone/scs.xml"
SSA_URL = DACHS_ROOT + "/fedtest/q/ssa/ssap.xml"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pyvo.dal.TAPService]:
    ensure_dachs()
    sock = reserve_port()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}/tap"
    settings = GatewaySettings(
        base_url=base,
        data_dir=Path(tmp_path_factory.mktemp("dal-http")),
        backends=[
            BackendConfig(name="dcone", kind="scs", url=SCS_URL, timeout_seconds=60),
            BackendConfig(name="dspec", kind="ssap", url=SSA_URL, timeout_seconds=60),
        ],
    )
    with serve_app(build_app(settings), sock=sock, lifespan="on"):
        yield pyvo.dal.TAPService(base)


def test_tables_list_the_services(gateway: pyvo.dal.TAPService) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        names = {t.name for t in gateway.tables}
        listed = gateway.search(
            "SELECT table_name FROM TAP_SCHEMA.tables WHERE schema_name IN ('dcone', 'dspec')"
        ).to_table()
    assert {"dcone.cone", "dspec.ssa"} <= names
    assert sorted(str(n) for n in listed["table_name"]) == ["dcone.cone", "dspec.ssa"]


def test_cone_and_spectra_through_tap(gateway: pyvo.dal.TAPService) -> None:
    cone = (53.2, -28.1, 0.3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stars = gateway.search(
            "SELECT id FROM dcone.cone WHERE "
            "1 = CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 53.2, -28.1, 0.3))"
        ).to_table()
        spectra = gateway.search(
            "SELECT ssa_pubDID FROM dspec.ssa WHERE "
            "1 = CONTAINS(POINT('ICRS', location_ra, location_dec), "
            "CIRCLE('ICRS', 53.2, -28.1, 0.3))"
        ).to_table()
        direct_stars = pyvo.dal.SCSService(SCS_URL).search(pos=cone[:2], radius=0.31).to_table()
        direct_spectra = pyvo.dal.SSAService(SSA_URL).search(maxrec=10_000).to_table()
    star_ids = np.asarray(direct_stars["id"])[within(direct_stars, ("ra", "dec"), cone)]
    inside = within(direct_spectra, ("location_ra", "location_dec"), cone)
    dids = np.asarray(direct_spectra["ssa_pubDID"])[inside]
    assert len(star_ids) > 10
    assert len(dids) > 0
    assert sorted(str(i) for i in stars["id"]) == sorted(str(i) for i in star_ids)
    assert sorted(str(d) for d in spectra["ssa_pubDID"]) == sorted(str(d) for d in dids)


def test_availability_probes_the_services(gateway: pyvo.dal.TAPService) -> None:
    answer = httpx.get(f"{gateway.baseurl}/availability", timeout=30)
    assert answer.status_code == 200
    document = ET.fromstring(answer.content)
    assert document.findtext(f"{{{VOSI_AVAILABILITY}}}available") == "true"
    assert "every backend answers" in (document.findtext(f"{{{VOSI_AVAILABILITY}}}note") or "")
