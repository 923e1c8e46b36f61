"""The body of an async job: read its parameters, run the query, write the result file.

The body is a coroutine on the executor's loop; reading parameters and uploads, parsing and
writing the result run in worker threads, the query on the service's own terms.
"""

from __future__ import annotations

import grammar
from gateway.jobs.execute import JobBody
from gateway.jobs.model import Job, JobResult
from gateway.jobs.progress import JobProgress
from gateway.jobs.results import ResultStore, upload_name
from gateway.query.cancellation import Cancellation, in_worker_thread
from gateway.query.fault_location import faults_located
from gateway.query.log import QueryLog
from gateway.query.options import RunOptions
from gateway.query.service import QueryResult, QueryService
from gateway.settings import GatewaySettings
from gateway.tap.datalink import DatalinkRoutes
from gateway.tap.params import ParamBag, TapQueryParams, parse_uploads, query_params
from gateway.tap.responses import render_result
from gateway.tap.uploads import UploadedTable, UploadPolicy, load_uploads
from grammar.nodes import Query


def make_job_work(settings: GatewaySettings, service: QueryService, store: ResultStore) -> JobBody:
    """Bind the job body to one service and result store."""
    policy = UploadPolicy(
        max_rows=settings.upload_max_rows,
        max_bytes=settings.upload_max_bytes,
        url_hosts=tuple(settings.upload_url_hosts),
    )
    links = DatalinkRoutes.from_settings(settings)
    progress = JobProgress()

    def read(job: Job) -> tuple[TapQueryParams, Query, dict[str, UploadedTable]]:
        """The job's parameters, parsed query and uploads (blocking: a worker thread)."""
        bag = ParamBag((p.name, p.value) for p in job.parameters if not p.by_reference)
        tap = query_params(
            bag, maxrec_default=settings.maxrec_default, maxrec_hard=settings.maxrec_hard
        )
        query = grammar.parse(tap.query)
        files: dict[str, bytes] = {}
        for spec in parse_uploads(bag.all("UPLOAD")):
            if spec.uri.startswith("param:"):
                part = spec.uri.removeprefix("param:")
                data = store.load(job.job_id, upload_name(part))
                if data is not None:
                    files[part] = data
        return tap, query, load_uploads(tap.uploads, files, policy)

    def save(job: Job, tap: TapQueryParams, result: QueryResult) -> JobResult:
        """Write the result file (blocking: reads every row)."""
        media_type, chunks = render_result(
            result, tap.response_format, query_text=tap.query, links=links
        )
        size = store.save(job.job_id, "result", chunks)
        return JobResult("result", "results/result", media_type, size)

    async def run(job: Job, cancellation: Cancellation, record: QueryLog) -> tuple[JobResult, ...]:
        tap, query, uploads = await in_worker_thread(cancellation, read, job)
        options = RunOptions(
            tap.partial,
            tap.allow_allsky,
            tap.run_id,
            fetch_whole=tap.fetch_whole,
            progress=record.progress(progress.reporter(job.job_id)),
        )
        # A runtime fault of the query ends the job in ERROR, placed where certain.
        with faults_located(query):
            result = await service.run(
                query, uploads=uploads, maxrec=tap.maxrec, cancellation=cancellation,
                options=options,
            )  # fmt: skip
            saved = await in_worker_thread(cancellation, save, job, tap, record.counted(result))
        return (saved,)

    async def logged_run(job: Job, cancellation: Cancellation) -> tuple[JobResult, ...]:
        record = QueryLog("async", job.job_id, _run_id(job))
        try:
            return await run(job, cancellation, record)
        except Exception as exc:
            record.failed(exc)
            raise

    return JobBody(logged_run, progress)


def _run_id(job: Job) -> str | None:
    """The job's RUNID parameter, for the log line even when its parameters are bad."""
    return next((p.value for p in job.parameters if p.name.upper() == "RUNID"), None)
