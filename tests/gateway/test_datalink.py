"""DataLink through the federating gateway, with the real pyvo against real servers on 127.0.0.1.

The demo federation runs as in the federation tests (stand-ins plus the ``rsp`` gateway); the
federating gateway routes the Rubin dataset IDs to the SIA stand-in's ``{links}`` endpoint and
writes the links of spectra itself. Oracles: the demo Parquet files (which image belongs to
which ID) and astropy's reading of the FITS files.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import pyvo
import requests
from astropy.io import fits
from astropy.wcs import WCS

from gateway.settings import BackendConfig, GatewaySettings
from gateway.tap.datalink import DatalinkRoutes
from gateway.tap.serve import build_app
from planners.sql_catalog import ColumnInfo
from standins.data import DemoData, ensure_demo_data
from standins.data_rubin import DID_PREFIX
from tests.gateway.conftest import error_message
from tests.gateway.federation_servers import Federation, dead_url, run_federation
from tests.live_server import reserve_port, serve_app

pytestmark = pytest.mark.integration

COADDS = (
    "SELECT TOP 4 obs_id, obs_publisher_did, access_url, access_format, s_ra, s_dec "
    "FROM {table} WHERE dataproduct_subtype = 'lsst.deep_coadd' "
    "AND CONTAINS(POINT('ICRS', s_ra, s_dec), CIRCLE('ICRS', 53.2, -28.1, 0.15)) = 1 ORDER BY obs_id"
)


@dataclass(frozen=True)
class Gateway:
    url: str
    federation: Federation


HTTP = requests.Session()
"""pyvo's HTTP session for this module, closed after it (pyvo's own per-service sessions are
never closed, and their pooled sockets then surface as unclosed-socket warnings in later tests)."""


@pytest.fixture(scope="module", autouse=True)
def _close_http_session() -> Iterator[None]:
    yield
    HTTP.close()


@pytest.fixture(scope="module")
def demo() -> DemoData:
    return ensure_demo_data()


@pytest.fixture(scope="module")
def gateway(demo: DemoData, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with run_federation(demo, tmp_path_factory.mktemp("rsp")) as fed:
        links = fed.sia.removesuffix("/query") + "/datalink/links"
        backends = [
            b.model_copy(update={"datalink_url": links, "datalink_id_prefix": DID_PREFIX})
            if b.name == "rsp_sia"
            else b
            for b in fed.backends(sia_profile="rubin")
        ]
        sock = reserve_port()
        base = f"http://127.0.0.1:{sock.getsockname()[1]}/tap"
        settings = GatewaySettings(
            base_url=base, data_dir=tmp_path_factory.mktemp("gw"), backends=backends
        )
        with serve_app(build_app(settings), sock=sock, lifespan="on"):
            yield Gateway(base, fed)


def _obs_ids(demo: DemoData) -> dict[str, str]:
    table = pq.read_table(demo.tables()["ivoa.ObsCore"], columns=["obs_publisher_did", "obs_id"])
    return dict(
        zip(table["obs_publisher_did"].to_pylist(), table["obs_id"].to_pylist(), strict=True)
    )


def _fits(stream: object) -> fits.HDUList:
    data = stream.read()  # type: ignore[attr-defined]
    return fits.open(io.BytesIO(data))


@pytest.mark.parametrize("table", ["ivoa.ObsCore", "rsp_sia.obscore"])
def test_access_url_of_a_federated_obscore_row_links_to_its_image(
    gateway: Gateway, demo: DemoData, table: str
) -> None:
    service = pyvo.dal.TAPService(gateway.url, session=HTTP)
    rows = service.run_sync(COADDS.format(table=table))
    assert len(rows) == 4
    owners = _obs_ids(demo)
    for row in rows:
        assert row["access_url"].startswith(f"{gateway.url}/datalink/links?ID=")
        links = pyvo.dal.adhoc.DatalinkResults.from_result_url(row["access_url"], session=HTTP)
        this = next(links.bysemantics("#this", include_narrower=False))
        assert this["ID"] == row["obs_publisher_did"]
        with _fits(this.getdataset()) as hdus:
            assert hdus[0].header["OBS_ID"] == owners[row["obs_publisher_did"]]
            assert hdus[0].data.ndim == 2


def test_iter_datalinks_uses_the_service_descriptor(gateway: Gateway, demo: DemoData) -> None:
    service = pyvo.dal.TAPService(gateway.url, session=HTTP)
    # No access_url selected: only the descriptor in the result can lead to the links.
    rows = service.run_sync(
        "SELECT obs_id, obs_publisher_did FROM rsp_sia.obscore "
        "WHERE CONTAINS(POINT('ICRS', s_ra, s_dec), CIRCLE('ICRS', 53.2, -28.1, 0.15)) = 1 AND calib_level = 3"
    )
    assert len(rows) > 4
    descriptor = rows.get_adhocservice_by_ivoid("ivo://ivoa.net/std/DataLink#links")
    assert descriptor.params[1].value == f"{gateway.url}/datalink/links"  # accessURL
    seen = {}
    for links in rows.iter_datalinks():
        this = next(links.bysemantics("#this", include_narrower=False))
        seen[str(this["ID"])] = str(this["access_url"])
    owners = _obs_ids(demo)
    assert set(seen) == {str(d) for d in rows["obs_publisher_did"]}
    for did, url in seen.items():
        assert url.endswith(f"/images/{owners[did]}.fits")


def test_soda_cutout_of_a_federated_row_opens_with_astropy(gateway: Gateway) -> None:
    service = pyvo.dal.TAPService(gateway.url, session=HTTP)
    row = service.run_sync(COADDS.format(table="ivoa.ObsCore"))[0]
    links = pyvo.dal.adhoc.DatalinkResults.from_result_url(row["access_url"], session=HTTP)
    proc = links.get_first_proc()
    assert proc["semantics"] == "#cutout"
    centre = (float(row["s_ra"]), float(row["s_dec"]))
    with _fits(proc.processed(circle=(*centre, 0.02))) as hdus:
        data = hdus[0].data
        wcs = WCS(hdus[0].header)
    assert abs(data.shape[0] - 40) <= 2
    assert abs(data.shape[1] - 40) <= 2
    x, y = wcs.all_world2pix(*centre, 0)
    assert abs(x - (data.shape[1] - 1) / 2) <= 1
    assert abs(y - (data.shape[0] - 1) / 2) <= 1


def test_spectral_rows_link_to_their_spectrum_and_its_cutout(gateway: Gateway) -> None:
    service = pyvo.dal.TAPService(gateway.url, session=HTTP)
    rows = service.run_sync(
        "SELECT TOP 3 specobjid, z FROM sdss_dr16.specobj "
        "WHERE CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 53.2, -28.1, 0.3)) = 1"
    )
    assert len(rows) == 3
    all_links = list(rows.iter_datalinks())
    assert len(all_links) == 3
    for links in all_links:
        this = next(links.bysemantics("#this", include_narrower=False))
        assert this["access_url"].startswith(f"{gateway.url}/datalink/spectrum?ID=")
        with _fits(this.getdataset()) as hdus:
            wave = 10.0 ** np.asarray(hdus[1].data["loglam"], float)
        assert wave.size > 1000
        cutout = next(links.bysemantics("#cutout", include_narrower=False))
        query = pyvo.dal.adhoc.DatalinkQuery.from_resource(
            cutout, links.get_adhocservice_by_id(cutout["service_def"]), cutout="5000,6000"
        )
        with _fits(query.execute_stream()) as hdus:
            cut = 10.0 ** np.asarray(hdus[1].data["loglam"], float)
        expected = wave[(wave >= 5000) & (wave <= 6000)]
        assert cut.size == expected.size > 0
        np.testing.assert_allclose(cut, expected, rtol=1e-6)


def test_csv_results_carry_the_gateway_links_too(gateway: Gateway) -> None:
    response = httpx.get(
        f"{gateway.url}/sync",
        params={"LANG": "ADQL", "QUERY": COADDS.format(table="ivoa.ObsCore"), "FORMAT": "csv"},
        timeout=60,
        trust_env=False,
    )
    assert response.status_code == 200
    assert response.text.count(f"{gateway.url}/datalink/links?ID=") == 4
    assert "data.lsst.cloud" not in response.text


def test_links_errors(gateway: Gateway) -> None:
    url = f"{gateway.url}/datalink/links"
    with httpx.Client(timeout=30, trust_env=False) as client:
        missing = client.get(url)
        assert missing.status_code == 400
        assert "ID parameter is required" in error_message(missing.content)
        mixed = client.get(url, params=[("ID", DID_PREFIX + "x"), ("ID", "123")])
        assert mixed.status_code == 400
        assert "several services (rsp_sia, spec)" in error_message(mixed.content)
        bad_backend = client.get(url, params={"ID": "1", "BACKEND": "nope"})
        assert bad_backend.status_code == 400
    unknown = pyvo.dal.adhoc.DatalinkResults.from_result_url(
        f"{url}?ID=ivo%3A%2F%2Felsewhere", session=HTTP
    )
    assert [str(r["error_message"]).split(":")[0] for r in unknown] == ["NotFoundFault"]


def test_async_results_carry_links_and_the_descriptor(gateway: Gateway) -> None:
    service = pyvo.dal.TAPService(gateway.url, session=HTTP)
    rows = service.run_async(COADDS.format(table="rsp_sia.obscore"))
    assert len(rows) == 4
    assert all(str(u).startswith(f"{gateway.url}/datalink/links?ID=") for u in rows["access_url"])
    assert len(list(rows.iter_datalinks())) == 4


def test_an_unreachable_owner_is_a_503_naming_the_backend(
    gateway: Gateway, tmp_path_factory: pytest.TempPathFactory
) -> None:
    backends = [
        b.model_copy(update={"datalink_url": dead_url() + "/links", "datalink_id_prefix": "ivo://"})
        if b.name == "rsp_sia"
        else b
        for b in gateway.federation.backends(sia_profile="rubin", timeout=5)
    ]
    sock = reserve_port()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}/tap"
    settings = GatewaySettings(
        base_url=base, data_dir=tmp_path_factory.mktemp("dead"), backends=backends
    )
    with serve_app(build_app(settings), sock=sock, lifespan="on"):
        answer = httpx.get(
            f"{base}/datalink/links", params={"ID": DID_PREFIX + "x"}, timeout=30, trust_env=False
        )
    assert answer.status_code == 503
    assert "backend 'rsp_sia'" in error_message(answer.content)


@pytest.mark.parametrize(
    "kind", [pa.string(), pa.large_string(), pa.dictionary(pa.int32(), pa.string())]
)
def test_access_url_rewrite_keeps_the_column_type(kind: pa.DataType) -> None:
    settings = GatewaySettings(
        base_url="http://gw/tap",
        backends=[
            BackendConfig(
                name="img", kind="sia", url="http://sia/query",
                datalink_url="http://sia/links", datalink_id_prefix="ivo://x/",
            )
        ],
    )  # fmt: skip
    links = DatalinkRoutes.from_settings(settings).for_result([ColumnInfo("access_url", "char")])
    assert links is not None
    urls = [
        "https://far/links?ID=ivo%3A%2F%2Fx%2F1",
        "https://far/file.fits",
        None,
        "x?ID=ivo://y/2",
    ]
    batch = pa.RecordBatch.from_arrays([pa.array(urls).cast(kind)], names=["access_url"])
    (out,) = links.batches([batch])
    assert out.schema == batch.schema
    assert out.column(0).cast(pa.string()).to_pylist() == [
        "http://gw/tap/datalink/links?ID=ivo%3A%2F%2Fx%2F1",
        "https://far/file.fits",
        None,
        "x?ID=ivo://y/2",
    ]


def test_spectra_aligned_on_one_grid_match_the_single_spectra(gateway: Gateway) -> None:
    service = pyvo.dal.TAPService(gateway.url, session=HTTP)
    ids = [
        str(i)
        for i in service.run_sync(
            "SELECT TOP 2 specobjid FROM sdss_dr16.specobj "
            "WHERE CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 53.2, -28.1, 0.3)) = 1"
        )["specobjid"]
    ]
    url = f"{gateway.url}/datalink/spectrum"
    with httpx.Client(timeout=60, trust_env=False) as client:
        aligned = client.post(url, data={"ID": ids, "FORMAT": "numpy", "ALIGN": "true"})
        assert aligned.status_code == 200, aligned.text
        grid = np.load(io.BytesIO(aligned.content), allow_pickle=False)
        assert grid.shape[0] == 2
        loglam = np.asarray(grid["loglam"][0], float)
        for row, specobjid in enumerate(ids):
            single = client.get(url, params={"ID": specobjid})
            with fits.open(io.BytesIO(single.content)) as hdus:
                own = hdus[1].data
                # Oracle: place each pixel of the single spectrum on the shared grid by its
                # wavelength; the aligned flux there is the same value.
                at = np.searchsorted(loglam, np.asarray(own["loglam"], float) - 1e-6)
                np.testing.assert_allclose(loglam[at], own["loglam"], atol=1e-5)
                np.testing.assert_allclose(grid["flux"][row][at], own["flux"], rtol=1e-6)
        bad = client.get(url, params={"ID": "not-a-number"})
        assert bad.status_code == 400
        assert "not a specobjid" in error_message(bad.content)
