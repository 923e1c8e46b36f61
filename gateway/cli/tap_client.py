"""A small blocking TAP 1.1 client for the command line: sync queries and UWS jobs over httpx.

It speaks to any TAP service, not only this gateway, so it reads what the standards promise:
DALI error documents (a VOTable whose ``QUERY_STATUS`` INFO is ``ERROR``), UWS 1.1 job
documents, and a VOTable trailer after the table (``OVERFLOW``, or ``ERROR`` when a fault
stopped the rows mid-stream). The rows fetched per backend that this gateway adds to a job's
``jobInfo`` (:data:`gateway.tap.uws_xml.JOB_INFO_NS`) are read when present.
"""

from __future__ import annotations

import contextlib
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO
from xml.etree import ElementTree as ET

import httpx

from gateway.tap.uws_xml import JOB_INFO_NS, UWS_NS, XLINK_NS

__all__ = ["JobStatus", "TapClient", "TapError", "copy_result", "dali_message"]

TERMINAL = frozenset({"COMPLETED", "ERROR", "ABORTED", "ARCHIVED"})
"""UWS phases after which a job changes no more."""

_TAIL_BYTES = 65_536
"""How much of the end of a VOTable is kept to read its trailer INFOs."""

_STATUS = re.compile(
    rb'<INFO\b[^>]*\bname="QUERY_STATUS"[^>]*\bvalue="(?P<value>[A-Z]+)"[^>]*?'
    rb"(?:/>|>(?P<text>.*?)</INFO>)",
    re.DOTALL,
)

_END = re.compile(rb"</(?:[\w.-]+:)?VOTABLE>\s*$")


class TapError(Exception):
    """The service refused or failed the query; the text is the service's own message."""


@dataclass(frozen=True, slots=True)
class JobStatus:
    """What a UWS job document says now."""

    url: str
    phase: str
    fetched: dict[str, int] = field(default_factory=dict)
    """Rows fetched so far per backend (this gateway's ``jobInfo``; empty elsewhere)."""
    result_url: str | None = None
    error_summary: str | None = None

    @property
    def finished(self) -> bool:
        """Whether the job has reached a terminal phase."""
        return self.phase in TERMINAL


def _xml_text(text: bytes) -> str:
    # The trailer regex sees raw XML; its character references are a subset of HTML's.
    return html.unescape(text.decode("utf-8", "replace"))


def dali_message(body: bytes, status: int, url: str) -> str:
    """The message of a DALI error document, or a description of what came instead."""
    try:
        root = ET.fromstring(body)  # noqa: S314  (the service the user chose; expat bounds entities)
    except ET.ParseError:
        root = None
    if root is not None:
        for info in root.iter():
            value = info.get("value") if info.get("name") == "QUERY_STATUS" else None
            if info.tag.endswith("INFO") and value == "ERROR":
                return (info.text or "").strip() or "the service gave no message"
    text = body.decode("utf-8", "replace").strip()
    excerpt = " ".join(text.split())[:300] or "empty body"
    return f"HTTP {status} from {url}: {excerpt}"


def _check(response: httpx.Response, *expected: int) -> None:
    if response.status_code not in expected:
        response.read()
        raise TapError(dali_message(response.content, response.status_code, str(response.url)))


def copy_result(response: httpx.Response, sink: BinaryIO) -> str | None:
    """Stream ``response`` into ``sink``; the ``OVERFLOW`` message if the result was cut.

    Raises
    ------
    TapError
        The VOTable ends with ``QUERY_STATUS=ERROR`` (rows up to the fault were written).
    """
    tail = b""
    for chunk in response.iter_bytes():
        sink.write(chunk)
        tail = (tail + chunk)[-_TAIL_BYTES:]
    if "xml" not in response.headers.get("content-type", ""):
        return None  # CSV, TSV, JSON and Parquet have no trailer
    if not _END.search(tail):
        # A stream that ended cleanly but early (a proxy, a crashed writer): rows are missing.
        msg = "the result stopped before the end of its VOTable document"
        raise TapError(msg)
    # Statuses after the table are the trailer; a document without a table has only its own.
    after = tail.rsplit(b"</TABLE>", 1)[-1]
    for match in _STATUS.finditer(after):
        value, text = match.group("value"), _xml_text(match.group("text") or b"")
        if value == b"ERROR":
            raise TapError(text.strip() or "the service reported an error after the rows")
        if value == b"OVERFLOW":
            return text.strip() or "the result was cut at MAXREC"
    return None


class TapClient:
    """Requests to one TAP service at ``url`` (its base, ending in ``/tap`` for this gateway)."""

    def __init__(self, url: str, client: httpx.Client) -> None:
        self.url = url.rstrip("/")
        self.client = client

    @contextlib.contextmanager
    def sync(self, params: dict[str, str]) -> Iterator[httpx.Response]:
        """``POST /sync``: the streaming response of a successful query."""
        with self.client.stream("POST", f"{self.url}/sync", data=params) as response:
            _check(response, 200)
            yield response

    def submit(self, params: dict[str, str]) -> str:
        """``POST /async`` with ``PHASE=RUN``: the new job's URL."""
        response = self.client.post(f"{self.url}/async", data={**params, "PHASE": "RUN"})
        _check(response, 303, 201, 200)
        location = response.headers.get("location")
        if not location:
            msg = f"{self.url}/async answered HTTP {response.status_code} without a job URL"
            raise TapError(msg)
        return str(response.url.join(location))

    def status(self, job_url: str, wait: float) -> JobStatus:
        """The job document, after waiting up to ``wait`` seconds for a phase change."""
        response = self.client.get(job_url, params={"WAIT": f"{wait:g}"})
        _check(response, 200)
        try:
            root = ET.fromstring(response.content)  # noqa: S314  (as in dali_message)
        except ET.ParseError as exc:
            msg = f"{job_url} did not answer a UWS job document ({exc})"
            raise TapError(msg) from None
        fetched = {
            el.get("backend", "?"): int(el.get("rows", "0"))
            for el in root.iter(f"{{{JOB_INFO_NS}}}fetched")
        }
        result = next(
            (r for r in root.iter(f"{{{UWS_NS}}}result") if r.get("id") == "result"), None
        )
        href = None if result is None else result.get(f"{{{XLINK_NS}}}href")
        return JobStatus(
            url=job_url,
            phase=(root.findtext(f"{{{UWS_NS}}}phase") or "UNKNOWN").strip(),
            fetched=fetched,
            result_url=href or f"{job_url}/results/result",
            error_summary=root.findtext(f"{{{UWS_NS}}}errorSummary/{{{UWS_NS}}}message"),
        )

    def error(self, status: JobStatus) -> str:
        """The message of a job in phase ERROR (its DALI error document, else the summary)."""
        response = self.client.get(f"{status.url}/error")
        if response.status_code == 200:
            return dali_message(response.content, 200, str(response.url))
        return status.error_summary or f"the job failed ({status.url})"

    @contextlib.contextmanager
    def result(self, status: JobStatus) -> Iterator[httpx.Response]:
        """The streaming response of a completed job's result."""
        assert status.result_url is not None
        with self.client.stream("GET", status.result_url) as response:
            _check(response, 200)
            yield response

    def abort(self, job_url: str) -> None:
        """``POST {job}/phase PHASE=ABORT`` (UWS 1.1 §2.2.3.1)."""
        response = self.client.post(f"{job_url}/phase", data={"PHASE": "ABORT"})
        _check(response, 303, 200)
