"""HSC demo tables as Parquet: v3 summary, detailed, proper motions, positions; v2 smaller.

v3 has summary (MagAper2 and MagAuto), detailed, propermotions and sourcepositions; v2 has
summary (both magtypes) and detailed over a subset of the objects.

Object populations come from :mod:`standins.hsc_objects`, detection-level tables from
:mod:`standins.hsc_detail`; this module turns them into Arrow tables with the column layout of
:mod:`standins.hsc_schema` and writes them. The SMC notebook query matches exactly
:data:`standins.hsc_objects.SMC_QUERY_ROWS` rows of ``hscv3.summary``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from standins import sky
from standins.hsc_detail import detailed_rows, propermotion_rows, sourceposition_rows
from standins.hsc_objects import TARGET_NAMES, Objects, concat, ecdfs_objects, smc_objects
from standins.hsc_schema import TABLES, HscTable, summary_table

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

GENERATOR_VERSION = "hsc-4"
"""Bumped whenever the generated HSC tables change; part of the demo-data cache stamp."""

SMC_FIRST_ID = 4_000_000_000
ECDFS_FIRST_ID = 7_000_000_000
V2_ID_OFFSET = -3_500_000_000  # v2 matched the same detections into different MatchIDs

_MJD_UNIX_EPOCH = 40587.0
_MS_PER_DAY = 86_400_000.0


def column_array(values: np.ndarray, arrow_type: pa.DataType) -> pa.Array:
    """An Arrow array from numpy values; NaN becomes null for floating types."""
    if pa.types.is_floating(arrow_type):
        return pa.array(values, type=arrow_type, mask=np.isnan(values))
    if pa.types.is_timestamp(arrow_type):
        ms = np.round((values - _MJD_UNIX_EPOCH) * _MS_PER_DAY).astype(np.int64)
        return pa.array(ms, type=arrow_type)
    return pa.array(values, type=arrow_type)


def strings(names: tuple[str, ...] | list[str], index: np.ndarray) -> pa.Array:
    """The string column ``names[index]``, built in Arrow without per-row Python objects."""
    return pa.array(names, type=pa.string()).take(pa.array(index.astype(np.int32)))


def yes_no(flags: np.ndarray) -> pa.Array:
    """A ``Y``/``N`` char column from booleans."""
    return strings(("N", "Y"), flags.astype(np.int8))


def build_table(table: HscTable, columns: Mapping[str, pa.Array | np.ndarray]) -> pa.Table:
    """An Arrow table in ``table``'s column order and types; every column must be given."""
    arrays = []
    for col in table.columns:
        value = columns[col.name]
        if isinstance(value, np.ndarray):
            value = column_array(value, col.arrow_type)
        arrays.append(value)
    return pa.Table.from_arrays(arrays, schema=table.schema())


def summary_columns(o: Objects, release: str, magtype: str) -> pa.Table:
    """The summary table of ``o`` for one release and magnitude type."""
    gen = sky.rng(f"hsc-summary-{release}-{magtype}")
    table = summary_table(release, magtype)
    images = o.n.sum(axis=1).astype(np.int32)
    several = images > 1
    mag, spread = o.mag, o.mad
    if magtype == "magauto":
        # Kron magnitudes catch the light outside aperture 2, more so for extended sources.
        aperture_loss = 0.12 + 0.6 * np.clip(o.ci - 1.2, 0.0, None)
        mag = (mag - aperture_loss[:, None]).astype(np.float32)
        spread = (spread * 1.15).astype(np.float32)
    if release == "v2":
        spread = (spread * 1.4826).astype(np.float32)  # v2 publishes a sigma, not a MAD
    cols: dict[str, pa.Array | np.ndarray] = {
        "MatchID": o.match_id + (V2_ID_OFFSET if release == "v2" else 0),
        "MatchRA": o.ra,
        "MatchDec": o.dec,
        "DSigma": o.dsigma,
        "AbsCorr": yes_no(o.abs_corr),
        "NumFilters": (o.n > 0).sum(axis=1).astype(np.int32),
        "NumVisits": o.n.max(axis=1).astype(np.int32),
        "NumImages": images,
        "StartTime": o.start_mjd,
        "StopTime": o.stop_mjd,
        "StartMJD": o.start_mjd,
        "StopMJD": o.stop_mjd,
        "TargetName": strings(TARGET_NAMES, o.target),
        "CI": o.ci,
        "CI_Sigma": np.where(several, np.abs(gen.normal(0.0, 0.04, len(o))), 0.0),
        "KronRadius": o.kron,
        "KronRadius_Sigma": np.where(several, np.abs(gen.normal(0.0, 0.2, len(o))), 0.0),
        "Extinction": o.extinction,
        "SpectrumFlag": yes_no(o.spectrum),
    }
    spread_name = "MAD" if release == "v3" else "Sigma"
    for j, col in enumerate(table.columns[19::3]):
        cols[col.name] = np.ascontiguousarray(mag[:, j])
        cols[f"{col.name}_{spread_name}"] = np.ascontiguousarray(spread[:, j])
        cols[f"{col.name}_N"] = np.ascontiguousarray(o.n[:, j])
    return build_table(table, cols)


def _write(table: pa.Table, path: Path) -> Path:
    # Row groups of 64k rows let DuckDB skip most of the file on cones and boxes (ids follow
    # declination); no compression because random floats barely compress and writing is faster.
    pq.write_table(table, path, row_group_size=65_536, compression="none")
    return path


def _near(o: Objects, centre: tuple[float, float], radius: float) -> np.ndarray:
    ddec = o.dec - centre[1]
    dra = (o.ra - centre[0]) * np.cos(np.radians(centre[1]))
    return np.asarray(dra * dra + ddec * ddec < radius * radius)


def generate_hsc(out_dir: Path) -> dict[str, Path]:
    """Write every HSC demo table into ``out_dir``.

    Parameters
    ----------
    out_dir
        An existing directory; files are named ``<federated name>.parquet``.

    Returns
    -------
    dict of str to Path
        Federated table name (``hscv3.summary``, ...) to the Parquet file.
    """
    smc = smc_objects(SMC_FIRST_ID)
    ecdfs = ecdfs_objects(ECDFS_FIRST_ID)
    every = concat([smc, ecdfs])
    # Detections only for the ECDFS and the SMC core: enough for per-object look-ups and
    # joins without writing tens of millions of rows.
    core = concat([smc.take(_near(smc, sky.SMC_CENTER, 0.03)), ecdfs])
    v2 = concat([smc.take(_near(smc, sky.SMC_CENTER, 0.1)), ecdfs])
    pm = propermotion_rows()
    built = {
        "hscv3.summary": summary_columns(every, "v3", "magaper2"),
        "hscv3.summary_magauto": summary_columns(every, "v3", "magauto"),
        "hscv3.detailed": build_table(TABLES["hscv3.detailed"], detailed_rows(core, 0)),
        "hscv3.propermotions": build_table(TABLES["hscv3.propermotions"], pm),
        "hscv3.sourcepositions": build_table(
            TABLES["hscv3.sourcepositions"], sourceposition_rows(pm)
        ),
        "hscv2.summary": summary_columns(v2, "v2", "magaper2"),
        "hscv2.summary_magauto": summary_columns(v2, "v2", "magauto"),
        "hscv2.detailed": build_table(TABLES["hscv2.detailed"], detailed_rows(core, V2_ID_OFFSET)),
    }
    return {name: _write(table, out_dir / f"{name}.parquet") for name, table in built.items()}
