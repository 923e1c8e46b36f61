"""UWS 1.1 XML: JobSummary order, nil elements, hrefs, XSD validity."""

from __future__ import annotations

import io
import shutil
import subprocess
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pyvo.io import uws

from gateway.jobs.model import Job, JobError, JobParameter, JobResult, Phase
from gateway.tap.uws_xml import (
    JOB_INFO_NS,
    format_time,
    job_list_xml,
    job_xml,
    parameters_xml,
    results_xml,
)

UWS = "{http://www.ivoa.net/xml/UWS/v1.0}"
XLINK = "{http://www.w3.org/1999/xlink}"
XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
BASE = "http://127.0.0.1:8000/tap"
T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def one(el: ET.Element, path: str) -> ET.Element:
    found = el.find(path)
    assert found is not None, path
    return found


def make_job(**changes: Any) -> Job:
    values: dict[str, Any] = {
        "job_id": "abc123",
        "run_id": None,
        "owner_id": None,
        "phase": Phase.PENDING,
        "creation_time": T0,
        "start_time": None,
        "end_time": None,
        "execution_duration": 0,
        "destruction": None,
        "parameters": (JobParameter("LANG", "ADQL"), JobParameter("QUERY", "SELECT a<1")),
    }
    values.update(changes)
    return Job(**values)


def children(el: ET.Element) -> list[str]:
    return [c.tag.removeprefix(UWS) for c in el]


def xsd_validate(tmp_path, data: bytes) -> None:
    if shutil.which("stilts") is None:
        pytest.skip("stilts (XSD validation with bundled IVOA schemas) is not installed")
    path = tmp_path / "doc.xml"
    path.write_bytes(data)
    proc = subprocess.run(
        ["stilts", "xsdvalidate", "uselocals=true", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_format_time_is_utc_millis_with_z():
    assert format_time(T0) == "2026-11-21T12:00:00.000Z"
    plus2 = timezone(timedelta(hours=2))
    assert format_time(datetime(2026, 1, 1, 3, 4, 5, 678_900, tzinfo=plus2)) == (
        "2026-01-01T01:04:05.678Z"
    )


def test_pending_job_has_every_element_in_xsd_order_with_nils():
    root = ET.fromstring(job_xml(make_job(), BASE))
    assert root.tag == f"{UWS}job"
    assert root.get("version") == "1.1"
    assert children(root) == [
        "jobId", "ownerId", "phase", "quote", "creationTime", "startTime", "endTime",
        "executionDuration", "destruction", "parameters", "results",
    ]  # fmt: skip
    for nil in ("ownerId", "quote", "startTime", "endTime", "destruction"):
        el = one(root, f"{UWS}{nil}")
        assert el.get(XSI_NIL) == "true", nil
        assert not el.text
    assert root.findtext(f"{UWS}creationTime") == "2026-11-21T12:00:00.000Z"
    assert root.findtext(f"{UWS}executionDuration") == "0"
    params = one(root, f"{UWS}parameters")
    assert [(p.get("id"), p.text) for p in params] == [("LANG", "ADQL"), ("QUERY", "SELECT a<1")]


def test_completed_job_with_run_id_owner_results_and_upload(tmp_path):
    job = make_job(
        run_id="r1",
        owner_id="alice",
        phase=Phase.COMPLETED,
        start_time=T0 + timedelta(seconds=1),
        end_time=T0 + timedelta(seconds=2),
        execution_duration=600,
        destruction=T0 + timedelta(days=7),
        parameters=(
            JobParameter("UPLOAD", "mine,param:mine"),
            JobParameter("MINE", "parameters/mine", by_reference=True),
        ),
        results=(JobResult("result", "results/result", "application/x-votable+xml", 1234),),
    )
    data = job_xml(job, BASE + "/")
    root = ET.fromstring(data)
    assert children(root)[:3] == ["jobId", "runId", "ownerId"]
    assert root.findtext(f"{UWS}runId") == "r1"
    assert root.findtext(f"{UWS}ownerId") == "alice"
    assert root.findtext(f"{UWS}destruction") == "2026-11-28T12:00:00.000Z"
    ref = one(root, f"{UWS}parameters/{UWS}parameter[@id='MINE']")
    assert ref.get("byReference") == "true"
    assert ref.text == f"{BASE}/async/abc123/parameters/mine"
    result = one(root, f"{UWS}results/{UWS}result")
    assert result.get("id") == "result"
    assert result.get(f"{XLINK}href") == f"{BASE}/async/abc123/results/result"
    assert result.get("size") == "1234"
    assert result.get("mime-type") == "application/x-votable+xml"
    assert root.find(f"{UWS}errorSummary") is None
    xsd_validate(tmp_path, data)


def test_error_job_has_error_summary_last(tmp_path):
    job = make_job(phase=Phase.ERROR, end_time=T0, error=JobError("bad & wrong", "transient"))
    data = job_xml(job, BASE)
    root = ET.fromstring(data)
    assert children(root)[-1] == "errorSummary"
    summary = one(root, f"{UWS}errorSummary")
    assert summary.get("type") == "transient"
    assert summary.get("hasDetail") == "true"
    assert summary.findtext(f"{UWS}message") == "bad & wrong"
    xsd_validate(tmp_path, data)


def test_job_list(tmp_path):
    jobs = [
        make_job(job_id="j1", phase=Phase.EXECUTING, run_id="r", owner_id="o"),
        make_job(job_id="j2"),
    ]
    data = job_list_xml(jobs, BASE)
    root = ET.fromstring(data)
    assert root.tag == f"{UWS}jobs"
    assert root.get("version") == "1.1"
    refs = root.findall(f"{UWS}jobref")
    assert [r.get("id") for r in refs] == ["j1", "j2"]
    assert refs[0].get(f"{XLINK}href") == f"{BASE}/async/j1"
    assert children(refs[0]) == ["phase", "runId", "ownerId", "creationTime"]
    assert children(refs[1]) == ["phase", "creationTime"]
    assert refs[0].findtext(f"{UWS}phase") == "EXECUTING"
    xsd_validate(tmp_path, data)


def test_empty_job_list_is_valid(tmp_path):
    data = job_list_xml([], BASE)
    assert list(ET.fromstring(data)) == []
    xsd_validate(tmp_path, data)


def test_parameters_and_results_documents(tmp_path):
    job = make_job(results=(JobResult("result", "http://elsewhere/r.xml"),))
    params = ET.fromstring(parameters_xml(job, BASE))
    assert params.tag == f"{UWS}parameters"
    assert [p.get("id") for p in params] == ["LANG", "QUERY"]
    results = ET.fromstring(results_xml(job, BASE))
    assert results.tag == f"{UWS}results"
    (result,) = list(results)
    assert result.get(f"{XLINK}href") == "http://elsewhere/r.xml"
    assert result.get("size") is None
    xsd_validate(tmp_path, parameters_xml(job, BASE))
    xsd_validate(tmp_path, results_xml(job, BASE))


def test_job_info_carries_rows_fetched_per_backend(tmp_path):
    job = make_job(phase=Phase.EXECUTING, start_time=T0)
    data = job_xml(job, BASE, {"hsc": 1200, "spec": 0})
    root = ET.fromstring(data)
    assert children(root)[-1] == "jobInfo"
    fetched = one(root, f"{UWS}jobInfo").findall(f"{{{JOB_INFO_NS}}}fetched")
    assert [(f.get("backend"), f.get("rows")) for f in fetched] == [("hsc", "1200"), ("spec", "0")]
    xsd_validate(tmp_path, data)
    # nothing fetched (yet, or a local query): no jobInfo at all
    assert ET.fromstring(job_xml(job, BASE, {})).find(f"{UWS}jobInfo") is None


def test_characters_xml_cannot_carry_become_replacement_characters(tmp_path):
    # A QUERY may hold any character; the job document must still be well-formed XML.
    job = make_job(
        run_id="run\x01",
        parameters=(JobParameter("QUERY", "SELECT 1 -- \x00\x0b"),),
        phase=Phase.ERROR,
        error=JobError("bad \x1f byte"),
    )
    data = job_xml(job, BASE)
    root = ET.fromstring(data)
    assert root.findtext(f"{UWS}runId") == "run\ufffd"
    assert one(root, f"{UWS}parameters/{UWS}parameter").text == "SELECT 1 -- \ufffd\ufffd"
    assert root.findtext(f"{UWS}errorSummary/{UWS}message") == "bad \ufffd byte"
    xsd_validate(tmp_path, data)


def test_pyvo_reads_the_job_and_the_job_list():
    job = make_job(
        run_id="r1",
        owner_id="alice",
        phase=Phase.COMPLETED,
        start_time=T0 + timedelta(seconds=1),
        end_time=T0 + timedelta(seconds=2),
        destruction=T0 + timedelta(days=7),
        results=(JobResult("result", "results/result", "application/x-votable+xml", 1234),),
    )
    parsed = uws.parse_job(io.BytesIO(job_xml(job, BASE, {"hsc": 5})))
    assert parsed.jobid == "abc123"
    assert parsed.runid == "r1"
    assert parsed.ownerid == "alice"
    assert parsed.phase == "COMPLETED"
    assert parsed.destruction.isot == "2026-11-28T12:00:00.000"
    assert [(p.id_, p.content) for p in parsed.parameters] == [
        ("LANG", "ADQL"),
        ("QUERY", "SELECT a<1"),
    ]
    (result,) = parsed.results
    assert result.href == f"{BASE}/async/abc123/results/result"
    refs = uws.parse_job_list(io.BytesIO(job_list_xml([job, make_job(job_id="j2")], BASE)))
    assert [(r.jobid, r.phase) for r in refs] == [("abc123", "COMPLETED"), ("j2", "PENDING")]
