"""Where job results and uploaded files live: one directory per job under a shared root.

Replicas and workers on several machines share the root (a network file system, or one
machine's disk); ids are checked before they become path components.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from gateway.jobs import UnknownJobError

#: Ids used as path components: no separators, no dot-dot.
_SAFE_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}")


class ResultStore:
    """Job directories under ``root``: ``<root>/<job_id>/<result_id>``."""

    def __init__(self, root: Path) -> None:
        self._root = root
        root.mkdir(parents=True, exist_ok=True)

    def job_dir(self, job_id: str) -> Path:
        """Return ``<root>/<job_id>``; rejects ids that could escape it."""
        if not _SAFE_ID.fullmatch(job_id) or job_id in {".", ".."}:
            raise UnknownJobError(job_id)
        return self._root / job_id

    def result_path(self, job_id: str, result_id: str) -> Path:
        """Return ``<root>/<job_id>/<result_id>``."""
        if not _SAFE_ID.fullmatch(result_id) or result_id in {".", ".."}:
            msg = f"invalid result id {result_id!r}"
            raise ValueError(msg)
        return self.job_dir(job_id) / result_id

    def delete(self, job_id: str) -> None:
        """Remove the job's directory, if any."""
        shutil.rmtree(self.job_dir(job_id), ignore_errors=True)
