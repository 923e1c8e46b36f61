"""Demo data entry point: generate every demo table once into a cache directory as Parquet.

``ensure_demo_data()`` is cheap when the cache is current: it reads one stamp file. Otherwise
it takes an exclusive file lock (so concurrent test processes generate once), writes all
tables into a fresh temporary directory beside the cache, then a manifest (federated table
name -> file, as each generator reported it) and the stamp last, and renames the directory
into place, so a reader never sees half-written files.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from standins import data_hsc, data_rubin, data_sdss

if TYPE_CHECKING:
    from collections.abc import Iterator

DATA_VERSION = "demo-1"
"""Version of the cache layout; the stamp also records every generator's own version."""

_STAMP = "VERSION"
_MANIFEST = "manifest.json"


class _Generator(Protocol):
    def __call__(self, out_dir: Path) -> dict[str, Path]: ...


@dataclass(frozen=True, slots=True)
class DemoData:
    """Paths of the demo tables, one Parquet file each, named after the federated table.

    A table whose generator module is not available yet has its expected path, but no file
    there (see :meth:`missing`).
    """

    root: Path
    hscv3_summary: Path
    hscv3_summary_magauto: Path
    hscv3_detailed: Path
    hscv3_propermotions: Path
    hscv3_sourcepositions: Path
    hscv2_summary: Path
    hscv2_summary_magauto: Path
    hscv2_detailed: Path
    dp1_object: Path
    ivoa_obscore: Path
    sdss_dr16_specobj: Path
    sdss_dr16_specobjall: Path
    sdss_dr16_spectra: Path

    def tables(self) -> dict[str, Path]:
        """Federated table name (``hscv3.summary``, ``dp1.Object``, ...) to its file."""
        return {_TABLE_NAMES[f.name]: getattr(self, f.name) for f in fields(self)[1:]}

    def missing(self) -> list[str]:
        """Federated names of the tables that have no file (their generator was absent)."""
        return [name for name, path in self.tables().items() if not path.is_file()]


_TABLE_NAMES = {
    "hscv3_summary": "hscv3.summary",
    "hscv3_summary_magauto": "hscv3.summary_magauto",
    "hscv3_detailed": "hscv3.detailed",
    "hscv3_propermotions": "hscv3.propermotions",
    "hscv3_sourcepositions": "hscv3.sourcepositions",
    "hscv2_summary": "hscv2.summary",
    "hscv2_summary_magauto": "hscv2.summary_magauto",
    "hscv2_detailed": "hscv2.detailed",
    "dp1_object": "dp1.Object",
    "ivoa_obscore": "ivoa.ObsCore",
    "sdss_dr16_specobj": "sdss_dr16.specobj",
    "sdss_dr16_specobjall": "sdss_dr16.specobjall",
    "sdss_dr16_spectra": "sdss_dr16.spectra",
}


def default_data_dir() -> Path:
    """``$ADQL_GATEWAY_DATA`` if set, else ``~/.cache/adql-gateway/demo-v1``."""
    env = os.environ.get("ADQL_GATEWAY_DATA")
    if env:
        return Path(env)
    return Path.home() / ".cache" / "adql-gateway" / "demo-v1"


def _generators() -> dict[str, tuple[_Generator | None, str]]:
    """Each generator and its version, recorded in the stamp so a change regenerates."""
    return {
        "hsc": (data_hsc.generate_hsc, data_hsc.GENERATOR_VERSION),
        "rubin": (data_rubin.generate_rubin, str(getattr(data_rubin, "GENERATOR_VERSION", "1"))),
        "sdss": (data_sdss.generate_sdss, str(getattr(data_sdss, "GENERATOR_VERSION", "1"))),
    }


def _stamp_text(generators: dict[str, tuple[_Generator | None, str]]) -> str:
    parts = [f"data={DATA_VERSION}"] + [f"{k}={v}" for k, (_, v) in sorted(generators.items())]
    return "\n".join(parts) + "\n"


def _read_stamp(directory: Path) -> str | None:
    try:
        return (directory / _STAMP).read_text(encoding="utf-8")
    except OSError:
        return None


@contextlib.contextmanager
def _exclusive_lock(path: Path) -> Iterator[None]:
    with path.open("a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _demo_data(root: Path, produced: dict[str, Path]) -> DemoData:
    paths = {
        attr: produced.get(name, root / f"{name}.parquet") for attr, name in _TABLE_NAMES.items()
    }
    return DemoData(root=root, **paths)


def _generate(target: Path, generators: dict[str, tuple[_Generator | None, str]]) -> None:
    stamp = _stamp_text(generators)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        produced: dict[str, str] = {}
        for func, _ in generators.values():
            if func is not None:
                for name, path in func(staging).items():
                    produced[name] = str(path.relative_to(staging))
        manifest = json.dumps(produced, indent=1, sort_keys=True)
        (staging / _MANIFEST).write_text(manifest, encoding="utf-8")
        (staging / _STAMP).write_text(stamp, encoding="utf-8")
        if target.exists():
            # Rename the stale copy away first: a rename over a non-empty directory fails.
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
            target.rename(old / "data")
            shutil.rmtree(old, ignore_errors=True)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def ensure_demo_data(data_dir: Path | None = None) -> DemoData:
    """Generate the demo tables into ``data_dir`` unless a current copy is already there.

    Parameters
    ----------
    data_dir
        Cache directory; default :func:`default_data_dir`. Its parent is created if needed.

    Returns
    -------
    DemoData
        The paths of every table (absent generators leave their paths without files).
    """
    target = (data_dir or default_data_dir()).expanduser().resolve()
    generators = _generators()
    stamp = _stamp_text(generators)
    if _read_stamp(target) != stamp:
        target.parent.mkdir(parents=True, exist_ok=True)
        with _exclusive_lock(target.parent / f".{target.name}.lock"):
            # Another process may have finished the work while this one waited.
            if _read_stamp(target) != stamp:
                _generate(target, generators)
    manifest = json.loads((target / _MANIFEST).read_text(encoding="utf-8"))
    return _demo_data(target, {name: target / rel for name, rel in manifest.items()})
