"""A client's upload reaches a TAP backend byte for byte, and the backend's format is negotiated.

The backend is a real HTTP server on 127.0.0.1 that speaks just enough TAP (VOSI tables and
capabilities, ``/sync`` with multipart uploads) and records what it receives; its capabilities
declare CSV and TABLEDATA only, so the gateway must ask for CSV. The gateway is a real
uvicorn server too, queried over HTTP as a client would.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.serve import build_app
from gateway.settings import BackendConfig, GatewaySettings
from gateway.vosi import OutputFormat, ServiceLimits, capabilities_xml
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
        return Response("id,label\n2,two\n3,three\n", media_type="text/csv")

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
    settings = GatewaySettings(
        base_url=base,
        data_dir=Path(tmp_path_factory.mktemp("forward")),
        backends=[BackendConfig(name="rec", kind="tap", url=backend_url)],
    )
    with serve_app(recorder.app(), sock=backend_sock):
        app = build_app(settings)
        with serve_app(app, sock=gateway_sock, lifespan="on"):
            yield base, recorder


def test_upload_is_forwarded_as_received_and_csv_is_negotiated(
    recorded: tuple[str, Recorder],
) -> None:
    base, recorder = recorded
    query = "SELECT t.id, t.label FROM rec.t AS t JOIN TAP_UPLOAD.mine AS m ON t.id = m.id"
    response = httpx.post(
        f"{base}/sync",
        data={"LANG": "ADQL", "QUERY": query, "UPLOAD": "mine,param:mine", "RESPONSEFORMAT": "csv"},
        files={"mine": ("mine.xml", UPLOAD, "application/x-votable+xml")},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows == [["id", "label"], ["2", "two"], ["3", "three"]]
    sent = recorder.requests[-1]
    assert sent["RESPONSEFORMAT"] == "text/csv"
    assert sent["UPLOAD"] == "mine,param:mine"
    assert sent["mine"] == UPLOAD
