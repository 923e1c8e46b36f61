"""How far async jobs have got: rows fetched from each backend, for the UWS job document.

A federated job spends most of its time waiting for backends; the rows each one has sent so
far are the progress a user can judge. Fetches report from the federated service's event loop
thread while the job document is read from the web server's, hence the lock.

Progress lives in the gateway process that runs the job: it is shown while the job runs and
kept until the job is destroyed, but not across a restart (the job record says how it ended).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from gateway.query.options import ProgressReport

__all__ = ["JobProgress"]


class JobProgress:
    """Rows fetched per backend, per job."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, dict[str, int]] = {}

    def reporter(self, job_id: str) -> ProgressReport:
        """The callback a query of ``job_id`` tells its fetched rows to."""

        def report(backend: str, rows: int) -> None:
            with self._lock:
                per_backend = self._rows.setdefault(job_id, {})
                per_backend[backend] = per_backend.get(backend, 0) + rows

        return report

    def rows(self, job_id: str) -> Mapping[str, int]:
        """Rows fetched so far from each backend, in the order backends first answered."""
        with self._lock:
            return dict(self._rows.get(job_id, {}))

    def forget(self, job_id: str) -> None:
        """Drop the job's figures (it was destroyed)."""
        with self._lock:
            self._rows.pop(job_id, None)
