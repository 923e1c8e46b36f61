"""One log line per query on ``adql_gateway.query``; internal failures told by reference only.

Real uvicorn servers on 127.0.0.1 in this process, so ``caplog`` sees the gateway's records.
Row counts are checked against numpy over the same synthetic stars the service serves.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from typing_extensions import override

from gateway.engine.local import QueryResult as EngineResult
from gateway.engine.service import LocalQueryService
from gateway.query.cancellation import Cancellation
from gateway.query.log import LOGGER_NAME
from gateway.query.options import RunOptions
from gateway.settings import load_settings
from gateway.tap.app import create_app
from gateway.tap.uploads import UploadedTable
from grammar.nodes import Query
from tests.gateway.conftest import (
    Stars,
    TapService,
    create_job,
    error_message,
    job_document,
    make_stars,
    read_votable,
    wait_terminal,
    write_config,
    write_stars,
)
from tests.live_server import reserve_port, serve_app

pytestmark = pytest.mark.integration

BRIGHT = "SELECT id FROM demo.stars WHERE gmag < 18"
SECRET = "secret-internal-detail-42"
_LINE = re.compile(
    r"query kind=(?P<kind>\S+) id=(?P<id>\S+) runid=(?P<runid>\S+) backends=(?P<backends>\S+) "
    r"rows=(?P<rows>\d+) ms=(?P<ms>\d+) outcome=(?P<outcome>\S+) error=(?P<error>\S+) "
    r"ref=(?P<ref>\S+)$"
)


def query_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, str]]:
    """The parsed query lines logged so far (each must match the documented form)."""
    lines = []
    for record in caplog.records:
        if record.name == LOGGER_NAME:
            assert record.levelno == logging.INFO
            match = _LINE.match(record.getMessage())
            assert match is not None, record.getMessage()
            lines.append(match.groupdict())
    return lines


def bright_ids(stars: Stars) -> list[int]:
    """The independent answer: numpy over the stars (NaN magnitudes are NULL: not < 18)."""
    return sorted(int(i) for i in stars.id[np.nan_to_num(stars.gmag, nan=99.0) < 18])


@pytest.fixture
def caplog_info(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger=LOGGER_NAME)
    return caplog


def sync(url: str, query: str, **params: str) -> httpx.Response:
    data = {"LANG": "ADQL", "QUERY": query, **params}
    return httpx.post(f"{url}/sync", data=data, timeout=60)


def test_sync_query_logs_one_line_with_its_rows(
    tap_service: TapService, caplog_info: pytest.LogCaptureFixture
) -> None:
    response = sync(tap_service.url, BRIGHT, RUNID="night run/7")
    assert response.status_code == 200
    expected = bright_ids(tap_service.stars)
    assert sorted(int(i) for i in read_votable(response.content)["id"]) == expected
    [line] = query_lines(caplog_info)
    assert line["kind"] == "sync"
    assert line["runid"] == "night_run/7"  # one token per value: the blank is replaced
    assert line["backends"] == "-"  # a local table: no backend asked
    assert int(line["rows"]) == len(expected)
    assert line["outcome"] == "OK"
    assert (line["error"], line["ref"]) == ("-", "-")
    assert re.fullmatch(r"[0-9a-f]{12}", line["id"])


def test_maxrec_cut_is_overflow(
    tap_service: TapService, caplog_info: pytest.LogCaptureFixture
) -> None:
    response = sync(tap_service.url, BRIGHT, MAXREC="7")
    assert response.status_code == 200
    [line] = query_lines(caplog_info)
    assert (line["outcome"], line["rows"]) == ("OVERFLOW", "7")


def test_bad_adql_is_an_error_line(
    tap_service: TapService, caplog_info: pytest.LogCaptureFixture
) -> None:
    response = sync(tap_service.url, "SELECT FROM WHERE")
    assert response.status_code == 400
    [line] = query_lines(caplog_info)
    assert (line["outcome"], line["error"], line["rows"]) == ("ERROR", "AdqlSyntaxError", "0")
    assert line["ref"] == "-"  # the client's own mistake, told in full: no reference needed


def test_async_job_logs_one_line_under_its_job_id(
    tap_service: TapService, caplog_info: pytest.LogCaptureFixture
) -> None:
    job = create_job(tap_service.url, LANG="ADQL", QUERY=BRIGHT, RUNID="r1", PHASE="RUN")
    assert wait_terminal(job) == "COMPLETED"
    lines = [line for line in query_lines(caplog_info) if line["kind"] == "async"]
    assert len(lines) == 1
    [line] = lines
    assert line["id"] == job.rsplit("/", 1)[1]
    assert line["runid"] == "r1"
    assert int(line["rows"]) == len(bright_ids(tap_service.stars))
    assert line["outcome"] == "OK"


class BrokenService(LocalQueryService):
    """A service with a bug: running any query fails with an exception naming a secret."""

    @override
    async def run(
        self,
        query: Query,
        *,
        uploads: Mapping[str, UploadedTable],
        maxrec: int,
        cancellation: Cancellation,
        options: RunOptions,
    ) -> EngineResult:
        del query, uploads, maxrec, cancellation, options
        raise KeyError(SECRET)


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory: Path = tmp_path_factory.mktemp("broken")
    write_stars(make_stars(), directory / "stars.parquet")
    sock = reserve_port()
    config = write_config(directory, f"http://127.0.0.1:{sock.getsockname()[1]}")
    app = create_app(load_settings(config), BrokenService)
    with serve_app(app, sock=sock, lifespan="on") as url:
        yield url + "/tap"


def reference_in(message: str) -> str:
    match = re.search(r"internal error \(reference ([0-9a-f]{12})\)", message)
    assert match is not None, message
    return match.group(1)


def test_internal_error_shows_a_reference_not_its_text(
    broken: str, caplog_info: pytest.LogCaptureFixture
) -> None:
    response = sync(broken, BRIGHT)
    assert response.status_code == 500
    assert SECRET not in response.text
    assert "KeyError" not in response.text
    reference = reference_in(error_message(response.content))
    [line] = query_lines(caplog_info)
    assert (line["outcome"], line["error"], line["ref"]) == ("ERROR", "KeyError", reference)
    # The operator finds the traceback under the same reference.
    [failure] = [r for r in caplog_info.records if r.name == "gateway.errors"]
    assert reference in failure.getMessage()
    assert failure.exc_info is not None
    assert SECRET in str(failure.exc_info[1])


def test_internal_error_of_a_job_shows_a_reference_not_its_text(
    broken: str, caplog_info: pytest.LogCaptureFixture
) -> None:
    job = create_job(broken, LANG="ADQL", QUERY=BRIGHT, PHASE="RUN")
    assert wait_terminal(job) == "ERROR"
    document: Any = job_document(job)
    summary = "".join(document.itertext())
    assert SECRET not in summary
    reference = reference_in(summary)
    [line] = [line for line in query_lines(caplog_info) if line["kind"] == "async"]
    assert (line["error"], line["ref"]) == ("KeyError", reference)
