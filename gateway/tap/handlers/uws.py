"""``/async``: the UWS 1.1 job list and job resources (TAP 1.1 §2.2, UWS 1.1 §2.2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from gateway.errors import classify
from gateway.formats.votable import error_votable
from gateway.jobs.model import ACTIVE_PHASES, Job, JobParameter, JobPhaseError, Phase
from gateway.jobs.results import ResultNotFoundError, upload_name
from gateway.tap.handlers.common import (
    TEXT,
    XML,
    GatewayState,
    ResourceNotFoundError,
    gateway_state,
)
from gateway.tap.identity import NotAuthenticatedError, User, require_user
from gateway.tap.params import ParamBag, TapUsageError
from gateway.tap.request_params import read_request_params
from gateway.tap.uws_xml import format_time, job_list_xml, job_xml, parameters_xml, results_xml

router = APIRouter(prefix="/async")

_WAIT_MAX = 600.0
_JOB_PROPERTIES = frozenset({"PHASE", "EXECUTIONDURATION", "DESTRUCTION"})


class JobNotFoundError(ResourceNotFoundError):
    """No job with that id (HTTP 404)."""


class QuotaExceededError(PermissionError):
    """A per-user limit would be passed (HTTP 429)."""


def _owner(user: User | None) -> str | None:
    return None if user is None else user.name


async def _user(state: GatewayState, request: Request) -> User | None:
    return await require_user(state.identity, request)


async def _job_or_404(state: GatewayState, request: Request, job_id: str) -> Job:
    """The job if the requester owns it; another user's job does not exist for them."""
    user = await _user(state, request)
    job = await state.jobs.get(job_id)
    if job is None or (state.identity.required and job.owner_id != _owner(user)):
        raise JobNotFoundError(f"no job {job_id!r}")
    return job


async def _save_uploads(state: GatewayState, job_id: str, files: dict[str, bytes]) -> None:
    if not files:
        return
    for part, data in files.items():
        await anyio.to_thread.run_sync(state.results.save, job_id, upload_name(part), (data,))
    await state.jobs.update_parameters(
        job_id,
        tuple(JobParameter(part, f"parameters/{part}", by_reference=True) for part in files),
    )


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _parse_time(value: str, name: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise TapUsageError(f"{name} must be an ISO 8601 timestamp, not {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _phase(value: str) -> Phase:
    try:
        return Phase(value.strip().upper())
    except ValueError:
        raise TapUsageError(f"unknown phase {value!r}") from None


@router.get("", summary="List jobs (UWS 1.1 §2.2.2.1 filters PHASE, AFTER, LAST)")
async def list_jobs(request: Request) -> Response:
    state = gateway_state(request)
    bag = ParamBag(request.query_params.multi_items())
    phases = {_phase(p) for p in bag.all("PHASE")} or None
    after_value = bag.one("AFTER")
    after = _parse_time(after_value, "AFTER") if after_value else None
    last_value = bag.one("LAST")
    last = None
    if last_value is not None:
        if not last_value.strip().isdigit() or int(last_value) <= 0:
            raise TapUsageError(f"LAST must be a positive integer, not {last_value!r}")
        last = int(last_value)
    user = await _user(state, request)
    owner = _owner(user) if state.identity.required else None
    jobs = await state.jobs.list(phases=phases, after=after, last=last, owner=owner)
    # Thousands of jobs make a document worth a worker thread (the loop serves everyone).
    text = await anyio.to_thread.run_sync(job_list_xml, jobs, state.base_url)
    return Response(text, media_type=XML)


@router.post("", summary="Create a job; PHASE=RUN in the same request starts it")
async def create_job(request: Request) -> Response:
    state = gateway_state(request)
    user = await _user(state, request)
    params = await read_request_params(request, max_file_bytes=state.settings.upload_max_bytes)
    run = [v for k, v in params.bag.items() if k == "PHASE"]
    # UWS job properties given with the creating POST set the job, not its parameters.
    duration_value = params.bag.one("EXECUTIONDURATION")
    destruction_value = params.bag.one("DESTRUCTION")
    destruction = (
        None if destruction_value is None else _parse_time(destruction_value, "DESTRUCTION")
    )
    duration = (
        state.settings.execution_duration_default
        if duration_value is None
        else _execution_duration(state, duration_value)
    )
    kept = [(k, v) for k, v in params.bag.items() if k not in _JOB_PROPERTIES]
    job = await state.jobs.create(
        tuple(kept),
        owner=_owner(user),
        run_id=params.bag.one("RUNID"),
        execution_duration=duration,
        destruction=None,
    )
    # Without DESTRUCTION the job lives for the advertised default retention period.
    if destruction is None and state.settings.retention_default:
        retention = timedelta(seconds=state.settings.retention_default)
        destruction = job.creation_time + retention
    if destruction is not None:
        await _set_destruction(state, job, destruction)
    await _save_uploads(state, job.job_id, params.files)
    if run and run[-1].strip().upper() == "RUN":
        await _start(state, job)
    return _see_other(f"{state.base_url}/async/{job.job_id}")


async def _start(state: GatewayState, job: Job) -> None:
    """PHASE=RUN: check the owner's quotas, queue the job, hand it to the queue."""
    quota = state.settings.quota_running_jobs
    if quota and await state.jobs.count_active(job.owner_id) >= quota:
        raise QuotaExceededError(
            f"at most {quota} async job(s) may be queued or running at once per user; "
            "wait for one to finish or abort one"
        )
    byte_quota = state.settings.quota_result_bytes
    if byte_quota and await state.jobs.result_bytes(job.owner_id) >= byte_quota:
        raise QuotaExceededError(
            f"the results you keep on this service reach the {byte_quota}-byte limit; "
            "delete finished jobs to run more"
        )
    if job.phase in ACTIVE_PHASES - {Phase.PENDING, Phase.HELD}:
        return
    await state.jobs.run(job.job_id)
    try:
        await state.queue.enqueue(job.job_id, 0)
    except ConnectionError:
        # Not lost: HELD until the client asks again, when the queue may be back.
        await state.jobs.set_phase(job.job_id, Phase.HELD)
        raise


@router.get("/{job_id}", summary="The job summary; WAIT blocks until the phase changes")
async def get_job(job_id: str, request: Request) -> Response:
    state = gateway_state(request)
    job = await _job_or_404(state, request, job_id)
    bag = ParamBag(request.query_params.multi_items())
    wait = bag.one("WAIT")
    if wait is not None:
        try:
            seconds = float(wait)
        except ValueError:
            raise TapUsageError(f"WAIT must be a number of seconds, not {wait!r}") from None
        limit = _WAIT_MAX if seconds < 0 else min(seconds, _WAIT_MAX)
        phase_value = bag.one("PHASE")
        wanted = _phase(phase_value) if phase_value else None
        # UWS 1.1 §2.2.1.2: block only while the job is active, and with PHASE given only
        # while it is in that phase.
        if job.phase in ACTIVE_PHASES and (wanted is None or job.phase is wanted):
            job = await state.jobs.wait_for_change(job_id, job.phase, limit)
    fetched = await state.jobs.progress(job_id)
    # A job's parameters hold its query, which may be long: rendered off the loop.
    text = await anyio.to_thread.run_sync(job_xml, job, state.base_url, fetched)
    return Response(text, media_type=XML)


@router.post("/{job_id}", summary="ACTION=DELETE destroys the job")
async def post_job(job_id: str, request: Request) -> Response:
    state = gateway_state(request)
    await _job_or_404(state, request, job_id)
    params = await read_request_params(request, max_file_bytes=1024)
    action = params.bag.one("ACTION")
    if action is None or action.strip().upper() != "DELETE":
        raise TapUsageError("POST to a job accepts only ACTION=DELETE")
    await _delete(state, job_id)
    return _see_other(f"{state.base_url}/async")


@router.delete("/{job_id}", summary="Destroy the job")
async def delete_job(job_id: str, request: Request) -> Response:
    state = gateway_state(request)
    await _job_or_404(state, request, job_id)
    await _delete(state, job_id)
    return _see_other(f"{state.base_url}/async")


async def _abort(state: GatewayState, job_id: str) -> None:
    """Abort an unfinished job; a finished one is left as it is."""
    try:
        await state.jobs.mark_aborted(job_id)
    except JobPhaseError:
        return
    state.queue.abort(job_id)


async def _delete(state: GatewayState, job_id: str) -> None:
    await _abort(state, job_id)
    await state.jobs.delete(job_id)
    await anyio.to_thread.run_sync(state.results.delete, job_id)


@router.get("/{job_id}/phase", summary="The job's phase as text")
async def get_phase(job_id: str, request: Request) -> Response:
    job = await _job_or_404(gateway_state(request), request, job_id)
    return Response(job.phase.value, media_type=TEXT)


@router.post("/{job_id}/phase", summary="PHASE=RUN starts the job, PHASE=ABORT aborts it")
async def post_phase(job_id: str, request: Request) -> Response:
    state = gateway_state(request)
    job = await _job_or_404(state, request, job_id)
    params = await read_request_params(request, max_file_bytes=1024)
    value = (params.bag.one("PHASE") or "").strip().upper()
    if value == "RUN":
        if job.phase not in {Phase.PENDING, Phase.HELD}:
            raise JobPhaseError(job_id, job.phase, "RUN")
        await _start(state, job)
    elif value == "ABORT":
        await _abort(state, job_id)
    else:
        raise TapUsageError(f"PHASE must be RUN or ABORT, not {value!r}")
    return _see_other(f"{state.base_url}/async/{job_id}")


@router.get("/{job_id}/executionduration", summary="Maximum run time in seconds")
async def get_execution_duration(job_id: str, request: Request) -> Response:
    job = await _job_or_404(gateway_state(request), request, job_id)
    return Response(str(job.execution_duration), media_type=TEXT)


@router.post("/{job_id}/executionduration", summary="Change the maximum run time")
async def post_execution_duration(job_id: str, request: Request) -> Response:
    state = gateway_state(request)
    await _job_or_404(state, request, job_id)
    params = await read_request_params(request, max_file_bytes=1024)
    value = params.bag.one("EXECUTIONDURATION") or ""
    await state.jobs.set_execution_duration(job_id, _execution_duration(state, value))
    return _see_other(f"{state.base_url}/async/{job_id}")


def _execution_duration(state: GatewayState, value: str) -> int:
    """A requested EXECUTIONDURATION clamped to the hard limit (0 means the hard limit)."""
    if not value.strip().isdigit():
        raise TapUsageError(f"EXECUTIONDURATION must be whole seconds, not {value!r}")
    hard = state.settings.execution_duration_hard
    seconds = int(value)
    return min(seconds, hard) if seconds else hard


@router.get("/{job_id}/destruction", summary="When the job will be destroyed")
async def get_destruction(job_id: str, request: Request) -> Response:
    job = await _job_or_404(gateway_state(request), request, job_id)
    text = format_time(job.destruction) if job.destruction else ""
    return Response(text, media_type=TEXT)


@router.post("/{job_id}/destruction", summary="Change the destruction time")
async def post_destruction(job_id: str, request: Request) -> Response:
    state = gateway_state(request)
    job = await _job_or_404(state, request, job_id)
    params = await read_request_params(request, max_file_bytes=1024)
    value = params.bag.one("DESTRUCTION")
    if value is None:
        raise TapUsageError("missing parameter DESTRUCTION")
    await _set_destruction(state, job, _parse_time(value, "DESTRUCTION"))
    return _see_other(f"{state.base_url}/async/{job_id}")


async def _set_destruction(state: GatewayState, job: Job, requested: datetime) -> None:
    """Set a requested DESTRUCTION time, clamped to the retention limit."""
    latest = datetime.fromtimestamp(
        job.creation_time.timestamp() + state.settings.retention_hard, tz=UTC
    )
    await state.jobs.set_destruction(job.job_id, min(requested, latest))


@router.get("/{job_id}/quote", summary="Estimated completion time (not estimated: empty)")
async def get_quote(job_id: str, request: Request) -> Response:
    await _job_or_404(gateway_state(request), request, job_id)
    return Response("", media_type=TEXT)


@router.get("/{job_id}/owner", summary="The job's owner (anonymous: empty)")
async def get_owner(job_id: str, request: Request) -> Response:
    job = await _job_or_404(gateway_state(request), request, job_id)
    return Response(job.owner_id or "", media_type=TEXT)


@router.get("/{job_id}/error", summary="The error document of a failed job")
async def get_error(job_id: str, request: Request) -> Response:
    job = await _job_or_404(gateway_state(request), request, job_id)
    if job.error is None:
        raise JobNotFoundError(f"job {job_id} has no error")
    return _error_document(job.error.message)


def _error_document(message: str) -> Response:
    return Response(error_votable(message), media_type="application/x-votable+xml")


@router.get("/{job_id}/parameters", summary="The job's parameters")
async def get_parameters(job_id: str, request: Request) -> Response:
    state = gateway_state(request)
    job = await _job_or_404(state, request, job_id)
    text = await anyio.to_thread.run_sync(parameters_xml, job, state.base_url)
    return Response(text, media_type=XML)


@router.post("/{job_id}/parameters", summary="Add parameters while the job is PENDING")
async def post_parameters(job_id: str, request: Request) -> Response:
    state = gateway_state(request)
    await _job_or_404(state, request, job_id)
    params = await read_request_params(request, max_file_bytes=state.settings.upload_max_bytes)
    await _save_uploads(state, job_id, params.files)
    await state.jobs.update_parameters(job_id, tuple(params.bag.items()))
    return _see_other(f"{state.base_url}/async/{job_id}")


@router.get("/{job_id}/results", summary="The list of the job's results")
async def get_results(job_id: str, request: Request) -> Response:
    state = gateway_state(request)
    job = await _job_or_404(state, request, job_id)
    return Response(results_xml(job, state.base_url), media_type=XML)


@router.get("/{job_id}/results/{result_id}", summary="One result of the job")
async def get_result(job_id: str, result_id: str, request: Request) -> Response:
    state = gateway_state(request)
    job = await _job_or_404(state, request, job_id)
    for result in job.results:
        if result.result_id == result_id:
            try:
                chunks = await anyio.to_thread.run_sync(state.results.stream, job_id, result_id)
            except ResultNotFoundError:
                raise JobNotFoundError(f"job {job_id} has lost its result {result_id!r}") from None
            headers = {} if result.size is None else {"Content-Length": str(result.size)}
            return StreamingResponse(chunks, media_type=result.mime_type, headers=headers)
    if job.phase is Phase.ERROR and job.error is not None and result_id == "result":
        # What a failed query produced is its error document, as from /error. astroquery's
        # TapPlus fetches results/result before it looks at the phase: a 404 there hid the
        # message, and it cannot follow a redirect (it sends the absolute URL as the path).
        return _error_document(job.error.message)
    raise JobNotFoundError(f"job {job_id} has no result {result_id!r}")


def fault_response(exc: Exception) -> Response:
    """The DALI error document for a failure in a UWS or TAP request."""
    if isinstance(exc, ResourceNotFoundError):
        return Response(str(exc), status_code=404, media_type=TEXT)
    if isinstance(exc, JobPhaseError):
        return Response(
            error_votable(str(exc)), status_code=400, media_type="application/x-votable+xml"
        )
    if isinstance(exc, NotAuthenticatedError):
        return Response(
            error_votable(str(exc)),
            status_code=401,
            media_type="application/x-votable+xml",
            headers={"WWW-Authenticate": 'Bearer realm="adql-gateway"'},
        )
    if isinstance(exc, QuotaExceededError):
        return Response(
            error_votable(str(exc)), status_code=429, media_type="application/x-votable+xml"
        )
    fault = classify(exc)
    return Response(
        error_votable(fault.message),
        status_code=fault.status,
        media_type="application/x-votable+xml",
    )
