"""A client's upload reaches a TAP backend byte for byte, and the backend's format is negotiated.

The backend is a real HTTP server on 127.0.0.1 that speaks just enough TAP (VOSI tables and
capabilities, ``/sync`` with multipart uploads) and records what it receives; its capabilities
declare CSV and TABLEDATA only. The gateway must ask for CSV where the catalogue gives the
column types (a scan of a federated query), and for VOTable where it does not (a query the
backend runs whole). The gateway is a real uvicorn server too, queried over HTTP.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.formats.output import OutputFormat
from gateway.settings import BackendConfig, GatewaySettings, LocalTable
from gateway.tap.serve import build_app
from gateway.tap.vosi import ServiceLimits, capabilities_xml
from tests.live_server import reserve_port, serve_app

pytestmark = pytest.mark.integration

TABLES = b"""<?xml version="1.0"?>
<vosi:tableset xmlns:vosi="http://www.ivoa.net/xml/VOSITables/v1.0">
 <schema><name>rec</name>
  <table><name>rec.t</name>
   <column><name>id</name><dataType>int</dataType></column>
   <column><name>label</name><dataType arraysize="*">char</dataType></column>
  </table>
 </schema>
</vosi:tableset>"""

# Written by hand, as a client might: unicodeChar, a unit, a description, TABLEDATA with an
# empty cell. A re-encoding by the gateway would change every one of these bytes.
UPLOAD = """<?xml version="1.0" encoding="utf-8"?>
<VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">
<RESOURCE type="results"><TABLE name="mine">
<FIELD name="id" datatype="int"><DESCRIPTION>my ids</DESCRIPTION></FIELD>
<FIELD name="note" datatype="unicodeChar" arraysize="*" unit="deg"/>
<DATA><TABLEDATA>
<TR><TD>2</TD><TD>étoile</TD></TR>
<TR><TD>3</TD><TD></TD></TR>
</TABLEDATA></DATA></TABLE></RESOURCE></VOTABLE>
""".encode()


VOTABLE_ANSWER = b"""<?xml version="1.0"?>
<VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">
<RESOURCE type="results"><INFO name="QUERY_STATUS" value="OK"/><TABLE>
<FIELD name="id" datatype="int"/><FIELD name="label" datatype="char" arraysize="*"/>
<DATA><TABLEDATA><TR><TD>2</TD><TD>007</TD></TR><TR><TD>3</TD><TD>three</TD></TR></TABLEDATA>
</DATA></TABLE></RESOURCE></VOTABLE>"""


class Recorder:
    """The TAP backend: remembers each /sync request's form fields and upload parts."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.requests: list[dict[str, Any]] = []

    async def tables(self, request: Request) -> Response:
        del request
        return Response(TABLES, media_type="text/xml")

    async def capabilities(self, request: Request) -> Response:
        del request
        limits = ServiceLimits(1000, 10000, 100, None, 600, 3600, 86400, 86400, 4)
        formats = (
            OutputFormat(
                "application/x-votable+xml",
                ("votable",),
                "ivo://ivoa.net/std/TAPRegExt#output-votable-td",
            ),
            OutputFormat("text/csv", ("csv",)),
        )
        body = capabilities_xml(self.base, limits, output_formats=formats)
        return Response(body, media_type="text/xml")

    async def sync(self, request: Request) -> Response:
        seen: dict[str, Any] = {}
        async with request.form() as form:
            for key, value in form.multi_items():
                seen[key] = await value.read() if hasattr(value, "read") else value
        self.requests.append(seen)
        if seen["RESPONSEFORMAT"] == "votable":
            return Response(VOTABLE_ANSWER, media_type="application/x-votable+xml")
        # "007" stays text only if the gateway reads CSV with the catalogue's types.
        return Response("id,label\n2,007\n3,three\n", media_type="text/csv")

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/tap/tables", self.tables),
                Route("/tap/capabilities", self.capabilities),
                Route("/tap/sync", self.sync, methods=["POST"]),
            ]
        )


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Recorder]]:
    backend_sock = reserve_port()
    backend_url = f"http://127.0.0.1:{backend_sock.getsockname()[1]}/tap"
    recorder = Recorder(backend_url)
    gateway_sock = reserve_port()
    base = f"http://127.0.0.1:{gateway_sock.getsockname()[1]}/tap"
    work = Path(tmp_path_factory.mktemp("forward"))
    pq.write_table(
        pa.table({"id": pa.array([2, 3, 4], pa.int32()), "x": [0.5, 1.5, 2.5]}), work / "l.parquet"
    )
    settings = GatewaySettings(
        base_url=base,
        data_dir=work / "jobs",
        backends=[
            BackendConfig(name="rec", kind="tap", url=backend_url),
            BackendConfig(
                name="loc", kind="local", tables=[LocalTable(name="loc.l", path=work / "l.parquet")]
            ),
        ],
    )
    with serve_app(recorder.app(), sock=backend_sock):
        app = build_app(settings)
        with serve_app(app, sock=gateway_sock, lifespan="on"):
            yield base, recorder


def sync_csv(base: str, query: str, **kwargs: Any) -> list[list[str]]:
    form = {"LANG": "ADQL", "QUERY": query, "RESPONSEFORMAT": "csv", **kwargs.pop("data", {})}
    response = httpx.post(f"{base}/sync", data=form, timeout=60, **kwargs)
    assert response.status_code == 200, response.text
    return list(csv.reader(io.StringIO(response.text)))


def test_upload_is_forwarded_as_received_and_a_whole_query_asks_votable(
    recorded: tuple[str, Recorder],
) -> None:
    base, recorder = recorded
    query = "SELECT t.id, t.label FROM rec.t AS t JOIN TAP_UPLOAD.mine AS m ON t.id = m.id"
    rows = sync_csv(
        base,
        query,
        data={"UPLOAD": "mine,param:mine"},
        files={"mine": ("mine.xml", UPLOAD, "application/x-votable+xml")},
    )
    assert rows == [["id", "label"], ["2", "007"], ["3", "three"]]
    sent = recorder.requests[-1]
    assert sent["RESPONSEFORMAT"] == "votable"
    assert sent["UPLOAD"] == "mine,param:mine"
    assert sent["mine"] == UPLOAD


def test_a_scan_of_a_federated_query_asks_csv_and_keeps_catalogue_types(
    recorded: tuple[str, Recorder],
) -> None:
    base, recorder = recorded
    query = "SELECT t.id, t.label, l.x FROM rec.t AS t JOIN loc.l AS l ON t.id = l.id ORDER BY t.id"
    rows = sync_csv(base, query)
    assert rows == [["id", "label", "x"], ["2", "007", "0.5"], ["3", "three", "1.5"]]
    assert recorder.requests[-1]["RESPONSEFORMAT"] == "text/csv"
