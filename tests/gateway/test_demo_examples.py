"""/examples on the demo federation: the demo's and the seeds' queries, each runnable.

The federation is the demo's own configuration (stand-ins, the ``rsp`` TAP instance with the
shipped column metadata, the federating gateway) served in this process. Every example the
examples document lists is run through /sync and must return rows; the ``rsp`` instance
(local tables only) lists only the examples over its tables; taplint's examples stage (which
parses and runs each example) reports nothing.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree as ET

import httpx
import pytest
from astropy.io.votable import parse_single_table

from gateway.tap.example_catalog import candidate_examples
from standins.data import ensure_demo_data
from standins.demo.config import DemoPorts
from tests.gateway.federation_servers import serve_demo_gateway
from tests.gateway.test_federation_taplint import messages, taplint, totals

pytestmark = pytest.mark.integration

XHTML = "{http://www.w3.org/1999/xhtml}"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoPorts]:
    work: Path = tmp_path_factory.mktemp("demo-examples")
    with serve_demo_gateway(ensure_demo_data(), work) as ports:
        yield ports


def listed(tap_url: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    """The examples document as {id: (query, tables)}, read as TOPCAT reads it (RDFa)."""
    response = httpx.get(f"{tap_url}/examples", timeout=30)
    assert response.status_code == 200
    root = ET.fromstring(response.content)
    body = root.find(f"{XHTML}body")
    assert body is not None
    assert body.get("vocab") == "http://www.ivoa.net/rdf/examples#"
    out = {}
    for div in root.iter(f"{XHTML}div"):
        if div.get("typeof") != "example":
            continue
        assert div.get("resource") == f"#{div.get('id')}"
        props = [(e.get("property"), e.text or "") for e in div.iter() if e.get("property")]
        queries = [text for name, text in props if name == "query"]
        assert len(queries) == 1
        assert any(name == "name" and text for name, text in props)
        out[str(div.get("id"))] = (queries[0], tuple(t for n, t in props if n == "table"))
    return out


def rows_of(tap_url: str, query: str, maxrec: int = 50) -> int:
    data = {"REQUEST": "doQuery", "LANG": "ADQL", "QUERY": query, "MAXREC": str(maxrec)}
    response = httpx.post(f"{tap_url}/sync", data=data, timeout=300)
    assert response.status_code == 200, (query, response.text[-800:])
    table = parse_single_table(io.BytesIO(response.content)).to_table()
    return len(table)


def test_federation_lists_every_known_example(demo: DemoPorts) -> None:
    examples = listed(demo.tap_url)
    assert sorted(q for q, _ in examples.values()) == sorted(e.query for e in candidate_examples())
    tables = {t for _, ts in examples.values() for t in ts}
    assert {"dp1.Object", "ivoa.ObsCore", "hscv3.summary", "sdss_dr16.specobj"} <= tables


def test_every_listed_example_returns_rows(demo: DemoPorts) -> None:
    examples = listed(demo.tap_url)
    empty = [name for name, (query, _) in examples.items() if rows_of(demo.tap_url, query) == 0]
    assert not empty, f"examples without rows: {empty}"


def test_local_tables_service_lists_only_its_own_tables(demo: DemoPorts) -> None:
    rsp = f"http://127.0.0.1:{demo.rsp}/tap"
    examples = listed(rsp)
    served = {"dp1.Object", "ivoa.ObsCore", "TAP_SCHEMA.tables"}
    assert all(set(tables) <= served for _, tables in examples.values()), examples
    queries = " ".join(q for q, _ in examples.values())
    assert "FROM dp1.Object" in queries
    assert "lsst.deep_coadd" in queries
    assert "hscv3" not in queries
    for query, _ in examples.values():
        assert rows_of(rsp, query) > 0, query


def test_taplint_examples_stage_is_clean(demo: DemoPorts) -> None:
    # TME gives taplint the table metadata it checks the examples' names against.
    report = taplint(demo.tap_url, "stages=TME EXA")
    counts = totals(report)
    assert counts["Errors"] == 0, messages(report)
    assert counts["Warnings"] == 0, messages(report)
    assert counts["Failures"] == 0, messages(report)
    n = len(listed(demo.tap_url))
    assert f"Found {n} examples" in report
    assert f"Execution success/attempt: {n}/{n}" in report
