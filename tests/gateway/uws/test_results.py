"""Job file stores: a directory and an S3-compatible bucket served by a real HTTP server
(moto's S3 server on 127.0.0.1), with one contract; and an async job whose result lives in the
bucket, served through the TAP service and checked against numpy."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest
from astropy.io.votable import parse_single_table
from moto.server import ThreadedMotoServer

from gateway.jobs.model import UnknownJobError
from gateway.jobs.results import (
    DirectoryResultStore,
    ResultNotFoundError,
    ResultStore,
    S3ResultStore,
    upload_name,
)
from tests.gateway.conftest import create_job, make_stars, run_tap_service, wait_terminal
from tests.gateway.uws.scaleout import free_port

pytestmark = pytest.mark.integration

BUCKET = "adqlgw-results"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A real S3-compatible HTTP server on loopback, with the results bucket."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
    )  # fmt: skip
    client.create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture(params=["directory", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ResultStore:
    if request.param == "directory":
        return DirectoryResultStore(tmp_path / "jobs")
    endpoint = request.getfixturevalue("s3_endpoint")
    client = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
    )  # fmt: skip
    return S3ResultStore(client, BUCKET, prefix=f"{tmp_path.name}/")


def test_save_load_stream_delete(store: ResultStore):
    payload = [b"x" * 1_500_000, b"tail"]
    assert store.save("job1", "result", payload) == 1_500_004
    assert b"".join(store.stream("job1", "result")) == b"".join(payload)
    assert store.save("job1", upload_name("mine"), [b"<VOTABLE/>"]) == 10
    assert store.load("job1", upload_name("mine")) == b"<VOTABLE/>"
    assert store.load("job1", "absent") is None
    store.save("job2", "result", [b"other"])
    store.delete("job1")
    assert store.load("job1", "result") is None
    with pytest.raises(ResultNotFoundError):
        store.stream("job1", "result")
    assert store.load("job2", "result") == b"other"
    store.delete("never-made")  # nothing to delete is fine


def test_names_are_checked(store: ResultStore):
    with pytest.raises(UnknownJobError):
        store.save("../etc", "result", [b""])
    for bad in ("../x", "a/b", ".."):
        with pytest.raises(ValueError, match="invalid result id"):
            store.load("job", bad)


def test_async_job_results_in_the_bucket(tmp_path: Path, s3_endpoint: str, s3_env: None):
    del s3_env
    stars = make_stars()
    with run_tap_service(
        tmp_path, stars, results_bucket=BUCKET, results_prefix="svc/",
        results_endpoint_url=s3_endpoint,
    ) as tap:  # fmt: skip
        votable = (
            b'<?xml version="1.0"?><VOTABLE version="1.4" '
            b'xmlns="http://www.ivoa.net/xml/VOTable/v1.3"><RESOURCE><TABLE>'
            b'<FIELD name="id" datatype="long"/><DATA><TABLEDATA>'
            b"<TR><TD>3</TD></TR><TR><TD>5</TD></TR></TABLEDATA></DATA></TABLE></RESOURCE></VOTABLE>"
        )
        job_url = create_job(
            tap.url,
            files={"ids": ("ids.xml", votable, "application/x-votable+xml")},
            LANG="ADQL",
            QUERY="SELECT s.id, s.ra FROM demo.stars AS s JOIN TAP_UPLOAD.ids AS u ON s.id = u.id",
            UPLOAD="ids,param:ids",
            PHASE="RUN",
        )
        assert wait_terminal(job_url) == "COMPLETED"
        answer = httpx.get(f"{job_url}/results/result", timeout=30)
        assert answer.status_code == 200
        table = parse_single_table(io.BytesIO(answer.content)).to_table()
        assert sorted(int(i) for i in table["id"]) == [3, 5]
        expected = {
            int(i): float(r) for i, r in zip(stars.id, stars.ra, strict=True) if i in (3, 5)
        }
        assert {int(i): float(r) for i, r in zip(table["id"], table["ra"], strict=True)} == expected
        # The files are in the bucket, not on the service's disk.
        job_id = job_url.rsplit("/", 1)[1]
        client = boto3.client("s3", endpoint_url=s3_endpoint)
        keys = {o["Key"] for o in client.list_objects_v2(Bucket=BUCKET, Prefix="svc/")["Contents"]}
        assert keys == {f"svc/{job_id}/result", f"svc/{job_id}/upload-ids"}
        assert not (tap.data_dir / "jobs" / job_id).exists()
        assert httpx.delete(job_url, timeout=30).status_code == 303
        after = client.list_objects_v2(Bucket=BUCKET, Prefix=f"svc/{job_id}/")
        assert after.get("KeyCount", 0) == 0
