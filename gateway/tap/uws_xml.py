"""UWS 1.1 XML documents for job resources (U §2.2, UWS-v1.1.xsd), written with vo-models.

The documents are vo-models' pydantic-xml models of the UWS schema, serialized with
``exclude_unset``: an element is written when it is given, so optional elements without a
value (``runId``, a job reference's ``ownerId``) are left out while nillable ones that the
schema requires (``ownerId``, ``startTime``, ...) are given as None and come out as
``xsi:nil="true"``.

``base_url`` everywhere is the TAP service base (``http://host/tap``); jobs live under
``{base_url}/async/{job_id}``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from pydantic_xml import BaseXmlModel, attr, element, wrapped
from vo_models.uws.models import (
    NSMAP,
    ErrorSummary,
    Jobs,
    JobSummary,
    Parameter,
    ResultReference,
    Results,
    ShortJobDescription,
)
from vo_models.uws.types import ErrorType, ExecutionPhase, UWSVersion

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from gateway.jobs.model import Job, JobParameter, JobResult

UWS_NS: Final = NSMAP["uws"]
XLINK_NS: Final = NSMAP["xlink"]
XSI_NS: Final = NSMAP["xsi"]
#: Namespace of the gateway's own ``jobInfo`` content (UWS lets it hold any elements).
JOB_INFO_NS = "urn:adql-gateway:uws-job-info:1"

# Characters XML 1.0 cannot carry, even as references. lxml (pydantic-xml's writer) refuses
# them, a ValueError that would make a job holding such a QUERY an HTTP 500; they are written
# as U+FFFD instead.
_XML_INVALID: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class _Parameters(BaseXmlModel, tag="parameters", ns="uws", nsmap=NSMAP):
    """``uws:parameters`` as a list, in the order the client sent them.

    vo-models' ``Parameters`` wants one model field per parameter name (a model per service);
    TAP's parameter set is open (UPLOAD table names, client extensions), so the same
    ``uws:parameter`` model is kept in a plain list.
    """

    parameter: list[Parameter] = element(tag="parameter", default_factory=list)


class _Fetched(BaseXmlModel, tag="fetched", ns="gw", nsmap={"gw": JOB_INFO_NS}):
    """``gw:fetched``: rows fetched so far from one backend (our ``jobInfo`` content)."""

    backend: str = attr()
    rows: int = attr()


class _JobSummary(JobSummary[_Parameters], tag="job"):
    """``uws:job`` whose ``jobInfo`` holds :class:`_Fetched` elements.

    vo-models types ``jobInfo`` as strings (text-only elements); UWS lets it hold any
    elements, and ours are of the gateway's own namespace.
    """

    job_info: list[_Fetched] = wrapped(  # type: ignore[assignment]
        "jobInfo", ns="uws", entity=element(tag="fetched", ns="gw"), default_factory=list
    )


def format_time(value: datetime) -> str:
    """ISO 8601 UTC with milliseconds and ``Z`` (``2026-11-21T12:00:00.000Z``)."""
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def job_url(base_url: str, job_id: str) -> str:
    """Absolute URL of a job resource."""
    return f"{base_url.rstrip('/')}/async/{job_id}"


def xml_text(value: str) -> str:
    """``value`` with the characters XML 1.0 cannot carry replaced by U+FFFD."""
    return _XML_INVALID.sub("\ufffd", value)


def _absolute(base_url: str, job_id: str, href: str) -> str:
    # Stored hrefs are relative to the job so records survive a change of public URL.
    if "://" in href:
        return xml_text(href)
    return xml_text(f"{job_url(base_url, job_id)}/{href.lstrip('/')}")


def utc(value: datetime | None) -> datetime | None:
    """``value`` in UTC, as vo-models' timestamps need it."""
    # vo-models' UTCTimestamp keeps the wall time and drops any offset, so convert first.
    return None if value is None else value.astimezone(UTC)


def model_xml(document: BaseXmlModel) -> bytes:
    """``document`` as UTF-8 XML with a declaration, leaving out the fields never given."""
    data = document.to_xml(exclude_unset=True, xml_declaration=True, encoding="UTF-8")
    return data if isinstance(data, bytes) else data.encode()


def _parameter(base_url: str, job_id: str, param: JobParameter) -> Parameter:
    if param.by_reference:
        value = _absolute(base_url, job_id, param.value)
        return Parameter(id=param.name, value=value, by_reference=True)
    return Parameter(id=param.name, value=xml_text(param.value))


def _parameters(base_url: str, job_id: str, params: Iterable[JobParameter]) -> _Parameters:
    return _Parameters(parameter=[_parameter(base_url, job_id, p) for p in params])


def _results(base_url: str, job_id: str, results: Iterable[JobResult]) -> Results:
    refs = []
    for result in results:
        fields: dict[str, Any] = {
            "id": result.result_id,
            "href": _absolute(base_url, job_id, result.href),
        }
        if result.size is not None:
            fields["size"] = result.size
        if result.mime_type is not None:
            fields["mime_type"] = result.mime_type
        refs.append(ResultReference.model_validate(fields))
    return Results(results=refs)


def job_xml(job: Job, base_url: str, fetched: Mapping[str, int] | None = None) -> bytes:
    """``<uws:job>`` for ``GET /async/{id}``, children in JobSummary order.

    ``fetched`` (rows fetched so far from each backend) becomes the ``jobInfo`` progress:
    ``<gw:fetched backend="hsc" rows="1200"/>`` per backend.
    """
    fields: dict[str, Any] = {
        "job_id": job.job_id,
        "owner_id": None if job.owner_id is None else xml_text(job.owner_id),
        "phase": ExecutionPhase(job.phase.value),
        "quote": utc(job.quote),
        "creation_time": utc(job.creation_time),
        "start_time": utc(job.start_time),
        "end_time": utc(job.end_time),
        "execution_duration": job.execution_duration,
        "destruction": utc(job.destruction),
        "parameters": _parameters(base_url, job.job_id, job.parameters),
        "results": _results(base_url, job.job_id, job.results),
        "version": UWSVersion.V1_1,
    }
    if job.run_id is not None:
        fields["run_id"] = xml_text(job.run_id)
    if job.error is not None:
        # hasDetail: the /error resource always serves a DALI error document.
        fields["error_summary"] = ErrorSummary(
            message=xml_text(job.error.message), type=ErrorType(job.error.type), has_detail=True
        )
    if fetched:
        # Nothing fetched (yet, or a local query): no jobInfo at all.
        fields["job_info"] = [
            _Fetched(backend=xml_text(backend), rows=rows) for backend, rows in fetched.items()
        ]
    return model_xml(_JobSummary.model_validate(fields))


def _job_ref(job: Job, base_url: str) -> ShortJobDescription:
    fields: dict[str, Any] = {
        "job_id": job.job_id,
        "href": job_url(base_url, job.job_id),
        "phase": ExecutionPhase(job.phase.value),
        "creation_time": utc(job.creation_time),
    }
    if job.run_id is not None:
        fields["run_id"] = xml_text(job.run_id)
    if job.owner_id is not None:
        fields["owner_id"] = xml_text(job.owner_id)
    return ShortJobDescription.model_validate(fields)


def job_list_xml(jobs: Iterable[Job], base_url: str) -> bytes:
    """``<uws:jobs>`` for ``GET /async``: one ``jobref`` per job (U §2.2.2)."""
    listing = Jobs(jobref=[_job_ref(job, base_url) for job in jobs], version=UWSVersion.V1_1)
    return model_xml(listing)


def parameters_xml(job: Job, base_url: str) -> bytes:
    """``<uws:parameters>`` for ``GET /async/{id}/parameters``."""
    return model_xml(_parameters(base_url, job.job_id, job.parameters))


def results_xml(job: Job, base_url: str) -> bytes:
    """``<uws:results>`` for ``GET /async/{id}/results``."""
    return model_xml(_results(base_url, job.job_id, job.results))
