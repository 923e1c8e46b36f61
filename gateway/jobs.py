"""UWS 1.1 job model: phases, the legal phase machine, job values and the store interface.

The SQLite implementation lives in :mod:`gateway.job_store`; this module has no I/O so the
HTTP layer and a future PostgreSQL store can share it.
"""

from __future__ import annotations

import builtins
import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol, TypeAlias

if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path

    from gateway.job_store import SqliteJobStore

ErrorType: TypeAlias = Literal["fatal", "transient"]


class Phase(enum.Enum):
    """UWS 1.1 execution phases (U §2.1.3)."""

    PENDING = "PENDING"
    QUEUED = "QUEUED"
    EXECUTING = "EXECUTING"
    COMPLETED = "COMPLETED"
    ERROR = "ERROR"
    ABORTED = "ABORTED"
    UNKNOWN = "UNKNOWN"
    HELD = "HELD"
    SUSPENDED = "SUSPENDED"
    ARCHIVED = "ARCHIVED"


#: Phases from which a job can still reach COMPLETED.
ACTIVE_PHASES = frozenset(
    {Phase.PENDING, Phase.QUEUED, Phase.EXECUTING, Phase.HELD, Phase.SUSPENDED}
)
#: Phases in which the service is (or was) working on the job.
RUNNING_PHASES = frozenset({Phase.QUEUED, Phase.EXECUTING})
#: Phases that end a job.
FINAL_PHASES = frozenset({Phase.COMPLETED, Phase.ERROR, Phase.ABORTED})

#: Legal transitions. ERROR and ABORTED are reachable from every phase before COMPLETED
#: (U §2.1.3); finished jobs may only be archived (their results deleted, record kept).
TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    Phase.PENDING: frozenset(
        {Phase.QUEUED, Phase.HELD, Phase.ERROR, Phase.ABORTED, Phase.ARCHIVED}
    ),
    Phase.QUEUED: frozenset({Phase.EXECUTING, Phase.HELD, Phase.ERROR, Phase.ABORTED}),
    Phase.HELD: frozenset({Phase.QUEUED, Phase.ERROR, Phase.ABORTED}),
    Phase.EXECUTING: frozenset({Phase.COMPLETED, Phase.SUSPENDED, Phase.ERROR, Phase.ABORTED}),
    Phase.SUSPENDED: frozenset({Phase.EXECUTING, Phase.ERROR, Phase.ABORTED}),
    Phase.COMPLETED: frozenset({Phase.ARCHIVED}),
    Phase.ERROR: frozenset({Phase.ARCHIVED}),
    Phase.ABORTED: frozenset({Phase.ARCHIVED}),
    Phase.UNKNOWN: frozenset({Phase.ERROR, Phase.ABORTED, Phase.ARCHIVED}),
    Phase.ARCHIVED: frozenset(),
}

#: Message recorded on jobs a previous process left running.
RESTART_MESSAGE = "the service restarted while the job was running"


class UnknownJobError(LookupError):
    """No job has this id (HTTP 404)."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"no job with id {job_id!r}")
        self.job_id = job_id


class JobPhaseError(ValueError):
    """The request is illegal in the job's current phase (a UWS usage error)."""

    def __init__(self, job_id: str, phase: Phase, action: str) -> None:
        super().__init__(f"cannot {action} job {job_id!r} in phase {phase.value}")
        self.job_id = job_id
        self.phase = phase
        self.action = action


@dataclass(frozen=True, slots=True)
class JobParameter:
    """One job parameter, in the order the client sent it.

    ``name`` is upper-cased (TAP parameter names are case-insensitive); ``value`` is kept as
    given. ``by_reference`` marks uploaded content: ``value`` is then the location of the
    content, either an absolute URL or a path relative to the job URL (``parameters/mine``).
    """

    name: str
    value: str
    by_reference: bool = False


@dataclass(frozen=True, slots=True)
class JobResult:
    """One result of a job.

    ``href`` is relative to the job URL (``results/result``) so that records stay valid if
    the service moves; renderers make it absolute.
    """

    result_id: str
    href: str
    mime_type: str | None = None
    size: int | None = None


@dataclass(frozen=True, slots=True)
class JobError:
    """UWS errorSummary: why a job ended in ERROR."""

    message: str
    type: ErrorType = "fatal"


@dataclass(frozen=True, slots=True)
class Job:
    """A snapshot of one UWS job (U §2.2.3). Times are timezone-aware UTC."""

    job_id: str
    run_id: str | None
    owner_id: str | None
    phase: Phase
    creation_time: datetime
    start_time: datetime | None
    end_time: datetime | None
    #: Seconds the job may run; 0 means unlimited.
    execution_duration: int
    destruction: datetime | None
    parameters: tuple[JobParameter, ...]
    results: tuple[JobResult, ...] = ()
    error: JobError | None = None
    quote: datetime | None = None

    def parameter(self, name: str) -> str | None:
        """Return the last value of parameter ``name`` (any case), or None."""
        upper = name.upper()
        values = [p.value for p in self.parameters if p.name == upper]
        return values[-1] if values else None

    def parameter_values(self, name: str) -> tuple[str, ...]:
        """Return every value of a repeatable parameter (``UPLOAD``), in order."""
        upper = name.upper()
        return tuple(p.value for p in self.parameters if p.name == upper)


ParameterInput: TypeAlias = "tuple[str, str] | JobParameter"


def normalize_parameters(parameters: Iterable[ParameterInput]) -> tuple[JobParameter, ...]:
    """Upper-case names; plain ``(name, value)`` pairs become inline parameters."""
    out: list[JobParameter] = []
    for item in parameters:
        if isinstance(item, JobParameter):
            out.append(JobParameter(item.name.upper(), item.value, item.by_reference))
        else:
            name, value = item
            out.append(JobParameter(name.upper(), value))
    return tuple(out)


def check_transition(job_id: str, current: Phase, target: Phase) -> None:
    """Raise :class:`JobPhaseError` unless ``current -> target`` is legal."""
    if target not in TRANSITIONS[current]:
        raise JobPhaseError(job_id, current, f"move to {target.value}")


class JobStore(Protocol):
    """Persistent UWS job records and their result files."""

    def create(
        self,
        parameters: Iterable[ParameterInput],
        *,
        owner: str | None = None,
        run_id: str | None = None,
        execution_duration: int = 0,
        destruction: datetime | None = None,
    ) -> Job:
        """Create a PENDING job."""
        ...

    def get(self, job_id: str) -> Job | None:
        """Return the job, or None."""
        ...

    def list(
        self,
        *,
        phases: set[Phase] | None = None,
        after: datetime | None = None,
        last: int | None = None,
        owner: str | None = None,
    ) -> Sequence[Job]:
        """Return jobs filtered as UWS 1.1 §2.2.2.1 says, newest first."""
        ...

    def set_phase(self, job_id: str, phase: Phase) -> Job:
        """Move a job to ``phase`` if that transition is legal."""
        ...

    def run(self, job_id: str) -> Job:
        """Apply ``PHASE=RUN``."""
        ...

    def mark_started(self, job_id: str) -> Job:
        """QUEUED -> EXECUTING, recording startTime."""
        ...

    def mark_completed(self, job_id: str, results: Sequence[JobResult]) -> Job:
        """EXECUTING -> COMPLETED with results."""
        ...

    def mark_error(self, job_id: str, message: str, error_type: ErrorType = "fatal") -> Job:
        """Move an unfinished job to ERROR."""
        ...

    def mark_aborted(self, job_id: str) -> Job:
        """Move an unfinished job to ABORTED."""
        ...

    def update_parameters(self, job_id: str, parameters: Iterable[ParameterInput]) -> Job:
        """Append parameters (PENDING only); a repeated single-valued name replaces."""
        ...

    def set_destruction(self, job_id: str, destruction: datetime) -> Job:
        """Change the destruction time."""
        ...

    def set_execution_duration(self, job_id: str, seconds: int) -> Job:
        """Change the execution duration (PENDING only)."""
        ...

    def delete(self, job_id: str) -> None:
        """Remove the job and its files."""
        ...

    def expired(self, now: datetime) -> builtins.list[str]:
        """Return ids of jobs whose destruction time has passed."""
        ...

    def recover_after_restart(self) -> builtins.list[str]:
        """Move jobs a previous process left QUEUED/EXECUTING to ERROR."""
        ...

    def job_dir(self, job_id: str) -> Path:
        """Return the directory holding the job's files."""
        ...

    def result_path(self, job_id: str, result_id: str) -> Path:
        """Return where result ``result_id`` of the job is stored."""
        ...


def __getattr__(name: str) -> object:
    # Re-export the SQLite store lazily so callers can take the whole job API from this
    # module; a top-level import would be circular (job_store imports the names above).
    if name == "SqliteJobStore":
        from gateway.job_store import SqliteJobStore  # noqa: PLC0415

        return SqliteJobStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ACTIVE_PHASES",
    "FINAL_PHASES",
    "RESTART_MESSAGE",
    "RUNNING_PHASES",
    "TRANSITIONS",
    "ErrorType",
    "Job",
    "JobError",
    "JobParameter",
    "JobPhaseError",
    "JobResult",
    "JobStore",
    "ParameterInput",
    "Phase",
    "SqliteJobStore",
    "UnknownJobError",
    "check_transition",
    "normalize_parameters",
]
