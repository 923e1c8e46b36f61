"""UWS 1.1 XML documents for job resources (U §2.2, UWS-v1.1.xsd).

Elements are emitted with literal ``uws:``/``xlink:`` prefixes and explicit ``xmlns``
attributes instead of registering namespaces with ElementTree, because
``ElementTree.register_namespace`` is process-global and would change other modules' output.

``base_url`` everywhere is the TAP service base (``http://host/tap``); jobs live under
``{base_url}/async/{job_id}``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from gateway.jobs import Job, JobParameter, JobResult

UWS_NS = "http://www.ivoa.net/xml/UWS/v1.0"
XLINK_NS = "http://www.w3.org/1999/xlink"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
UWS_VERSION = "1.1"
#: Namespace of the gateway's own ``jobInfo`` content (UWS lets it hold any elements).
JOB_INFO_NS = "urn:adql-gateway:uws-job-info:1"


def format_time(value: datetime) -> str:
    """ISO 8601 UTC with milliseconds and ``Z`` (``2026-11-21T12:00:00.000Z``)."""
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def job_url(base_url: str, job_id: str) -> str:
    """Absolute URL of a job resource."""
    return f"{base_url.rstrip('/')}/async/{job_id}"


def _absolute(base_url: str, job_id: str, href: str) -> str:
    # Stored hrefs are relative to the job so records survive a change of public URL.
    if "://" in href:
        return href
    return f"{job_url(base_url, job_id)}/{href.lstrip('/')}"


def _root(tag: str, *, xlink: bool = False, xsi: bool = False) -> ET.Element:
    root = ET.Element(f"uws:{tag}", {"xmlns:uws": UWS_NS})
    if xlink:
        root.set("xmlns:xlink", XLINK_NS)
    if xsi:
        root.set("xmlns:xsi", XSI_NS)
    if tag in {"job", "jobs"}:  # the XSD declares version only on these two roots
        root.set("version", UWS_VERSION)
    return root


def _text(parent: ET.Element, tag: str, value: str) -> ET.Element:
    child = ET.SubElement(parent, f"uws:{tag}")
    child.text = value
    return child


def _nillable(parent: ET.Element, tag: str, value: str | None) -> None:
    # Nillable elements are always present; absence of a value is xsi:nil, not omission.
    child = ET.SubElement(parent, f"uws:{tag}")
    if value is None:
        child.set("xsi:nil", "true")
    else:
        child.text = value


def _opt_time(value: datetime | None) -> str | None:
    return None if value is None else format_time(value)


def _serialize(root: ET.Element) -> bytes:
    data: bytes = ET.tostring(root, encoding="UTF-8", xml_declaration=True)
    return data


def _add_parameters(
    parent: ET.Element, base_url: str, job_id: str, params: Iterable[JobParameter]
) -> None:
    for param in params:
        el = ET.SubElement(parent, "uws:parameter", {"id": param.name})
        if param.by_reference:
            el.set("byReference", "true")
            el.text = _absolute(base_url, job_id, param.value)
        else:
            el.text = param.value


def _add_results(
    parent: ET.Element, base_url: str, job_id: str, results: Iterable[JobResult]
) -> None:
    for result in results:
        el = ET.SubElement(
            parent,
            "uws:result",
            {"id": result.result_id, "xlink:href": _absolute(base_url, job_id, result.href)},
        )
        if result.size is not None:
            el.set("size", str(result.size))
        if result.mime_type is not None:
            el.set("mime-type", result.mime_type)


def job_xml(job: Job, base_url: str, fetched: Mapping[str, int] | None = None) -> bytes:
    """``<uws:job>`` for ``GET /async/{id}``, children in JobSummary order.

    ``fetched`` (rows fetched so far from each backend) becomes the ``jobInfo`` progress:
    ``<gw:fetched backend="hsc" rows="1200"/>`` per backend.
    """
    root = _root("job", xlink=True, xsi=True)
    _text(root, "jobId", job.job_id)
    if job.run_id is not None:
        _text(root, "runId", job.run_id)
    _nillable(root, "ownerId", job.owner_id)
    _text(root, "phase", job.phase.value)
    _nillable(root, "quote", _opt_time(job.quote))
    _text(root, "creationTime", format_time(job.creation_time))
    _nillable(root, "startTime", _opt_time(job.start_time))
    _nillable(root, "endTime", _opt_time(job.end_time))
    _text(root, "executionDuration", str(job.execution_duration))
    _nillable(root, "destruction", _opt_time(job.destruction))
    _add_parameters(ET.SubElement(root, "uws:parameters"), base_url, job.job_id, job.parameters)
    _add_results(ET.SubElement(root, "uws:results"), base_url, job.job_id, job.results)
    if job.error is not None:
        # hasDetail: the /error resource always serves a DALI error document.
        summary = ET.SubElement(
            root, "uws:errorSummary", {"type": job.error.type, "hasDetail": "true"}
        )
        _text(summary, "message", job.error.message)
    if fetched:
        info = ET.SubElement(root, "uws:jobInfo")
        for backend, rows in fetched.items():
            ET.SubElement(
                info, "gw:fetched", {"xmlns:gw": JOB_INFO_NS, "backend": backend, "rows": str(rows)}
            )
    return _serialize(root)


def job_list_xml(jobs: Iterable[Job], base_url: str) -> bytes:
    """``<uws:jobs>`` for ``GET /async``: one ``jobref`` per job (U §2.2.2)."""
    root = _root("jobs", xlink=True, xsi=True)
    for job in jobs:
        ref = ET.SubElement(
            root, "uws:jobref", {"id": job.job_id, "xlink:href": job_url(base_url, job.job_id)}
        )
        _text(ref, "phase", job.phase.value)
        if job.run_id is not None:
            _text(ref, "runId", job.run_id)
        if job.owner_id is not None:
            _text(ref, "ownerId", job.owner_id)
        _text(ref, "creationTime", format_time(job.creation_time))
    return _serialize(root)


def parameters_xml(job: Job, base_url: str) -> bytes:
    """``<uws:parameters>`` for ``GET /async/{id}/parameters``."""
    root = _root("parameters")
    _add_parameters(root, base_url, job.job_id, job.parameters)
    return _serialize(root)


def results_xml(job: Job, base_url: str) -> bytes:
    """``<uws:results>`` for ``GET /async/{id}/results``."""
    root = _root("results", xlink=True)
    _add_results(root, base_url, job.job_id, job.results)
    return _serialize(root)
