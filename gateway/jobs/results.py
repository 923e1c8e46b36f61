"""Where job results and uploaded files live, shared by every replica and worker.

Two stores with one interface: a directory (the default; one machine's disk or a network file
system) and an S3-compatible bucket (when configured), so workers on other machines write
results that any replica serves. Objects are named ``<job_id>/<name>``; ids are checked before
they become names. Calls block: run them in worker threads.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol

from gateway.jobs.model import UnknownJobError

#: Ids used as path components: no separators, no dot-dot.
_SAFE_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}")
_CHUNK = 1 << 20


class ResultNotFoundError(LookupError):
    """The job has no stored file of that name."""


def upload_name(part: str) -> str:
    """The stored name of a job's inline upload ``part``."""
    return f"upload-{part}"


def _checked(job_id: str, name: str) -> tuple[str, str]:
    if not _SAFE_ID.fullmatch(job_id) or job_id in {".", ".."}:
        raise UnknownJobError(job_id)
    if not _SAFE_ID.fullmatch(name) or name in {".", ".."}:
        msg = f"invalid result id {name!r}"
        raise ValueError(msg)
    return job_id, name


class ResultStore(Protocol):
    """Files of jobs: results and uploads."""

    def save(self, job_id: str, name: str, chunks: Iterable[bytes]) -> int:
        """Store ``chunks`` as one file, whole or not at all; returns its size in bytes."""
        ...

    def load(self, job_id: str, name: str) -> bytes | None:
        """The whole file, or None if there is none (small files: uploads)."""
        ...

    def stream(self, job_id: str, name: str) -> Iterator[bytes]:
        """The file in chunks; :class:`ResultNotFoundError` if there is none."""
        ...

    def delete(self, job_id: str) -> None:
        """Remove every file of the job (none is fine)."""
        ...


class DirectoryResultStore:
    """Job files under ``root``: ``<root>/<job_id>/<name>``."""

    def __init__(self, root: Path) -> None:
        self._root = root
        root.mkdir(parents=True, exist_ok=True)

    def path(self, job_id: str, name: str) -> Path:
        """Where the file is kept."""
        job_id, name = _checked(job_id, name)
        return self._root / job_id / name

    def save(self, job_id: str, name: str, chunks: Iterable[bytes]) -> int:
        """Write to a partial file and rename it, so readers never see half a result."""
        target = self.path(job_id, name)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        size = 0
        with partial.open("wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
                size += len(chunk)
        partial.replace(target)
        return size

    def load(self, job_id: str, name: str) -> bytes | None:
        """The file's bytes, or None."""
        path = self.path(job_id, name)
        return path.read_bytes() if path.is_file() else None

    def stream(self, job_id: str, name: str) -> Iterator[bytes]:
        """The file in 1 MiB chunks."""
        path = self.path(job_id, name)
        if not path.is_file():
            raise ResultNotFoundError(f"job {job_id} has no stored {name!r}")
        return _read_chunks(path)

    def delete(self, job_id: str) -> None:
        """Remove the job's directory, if any."""
        job_id, _ = _checked(job_id, "x")
        shutil.rmtree(self._root / job_id, ignore_errors=True)


def _read_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            yield chunk


class S3ResultStore:
    """Job files as objects ``<prefix><job_id>/<name>`` in an S3-compatible bucket.

    ``client`` is a boto3 S3 client (its endpoint, region and credentials come from the
    configuration or the usual ``AWS_*`` environment variables).
    """

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self._client = client
        self._bucket = bucket
        self._prefix = prefix

    def _key(self, job_id: str, name: str) -> str:
        job_id, name = _checked(job_id, name)
        return f"{self._prefix}{job_id}/{name}"

    def save(self, job_id: str, name: str, chunks: Iterable[bytes]) -> int:
        """Spool to a temporary file (memory up to 64 MiB), then upload it in parts."""
        key = self._key(job_id, name)
        size = 0
        with tempfile.SpooledTemporaryFile(max_size=64 << 20) as spool:
            for chunk in chunks:
                spool.write(chunk)
                size += len(chunk)
            spool.seek(0)
            self._client.upload_fileobj(spool, self._bucket, key)
        return size

    def load(self, job_id: str, name: str) -> bytes | None:
        """The object's bytes, or None."""
        try:
            answer = self._client.get_object(Bucket=self._bucket, Key=self._key(job_id, name))
        except self._client.exceptions.NoSuchKey:
            return None
        body: bytes = answer["Body"].read()
        return body

    def stream(self, job_id: str, name: str) -> Iterator[bytes]:
        """The object in 1 MiB chunks."""
        try:
            answer = self._client.get_object(Bucket=self._bucket, Key=self._key(job_id, name))
        except self._client.exceptions.NoSuchKey:
            raise ResultNotFoundError(f"job {job_id} has no stored {name!r}") from None
        return _body_chunks(answer["Body"])

    def delete(self, job_id: str) -> None:
        """Delete every object under the job's prefix."""
        prefix = self._key(job_id, "x")[:-1]
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket, Prefix=prefix
        )
        for page in pages:
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                self._client.delete_objects(Bucket=self._bucket, Delete={"Objects": keys})


def _body_chunks(body: Any) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(_CHUNK)
    finally:
        body.close()


def result_store(
    data_dir: Path,
    *,
    bucket: str | None,
    prefix: str = "",
    endpoint_url: str | None = None,
    region: str | None = None,
) -> ResultStore:
    """The configured store: the bucket when one is named, else ``<data_dir>/jobs``."""
    if not bucket:
        return DirectoryResultStore(data_dir / "jobs")
    import boto3  # noqa: PLC0415  (only deployments with a bucket need it loaded)

    client = boto3.client("s3", endpoint_url=endpoint_url, region_name=region)
    return S3ResultStore(client, bucket, prefix)
