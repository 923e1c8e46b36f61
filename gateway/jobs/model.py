"""UWS 1.1 job model: phases, the legal phase machine and job values.

The store (SQLite or PostgreSQL) lives in :mod:`gateway.jobs.store`; this module has no I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeAlias

if TYPE_CHECKING:
    from datetime import datetime

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
    "ParameterInput",
    "Phase",
    "UnknownJobError",
    "check_transition",
    "normalize_parameters",
]
