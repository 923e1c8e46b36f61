"""The HSC demo tables: layout, densities, internal consistency, ECDFS anchor overlap."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest

from standins import data as data_module
from standins import sky
from standins.data import DemoData, ensure_demo_data
from standins.hsc_objects import SMC_BOX, SMC_QUERY_ROWS, ecdfs_objects
from standins.hsc_schema import OBJECT_COLUMN_COUNT, TABLES, summary_table

OBJECT_COLUMNS = [
    "MatchID", "MatchRA", "MatchDec", "DSigma", "AbsCorr", "NumFilters", "NumVisits",
    "NumImages", "StartTime", "StopTime", "StartMJD", "StopMJD", "TargetName", "CI",
    "CI_Sigma", "KronRadius", "KronRadius_Sigma", "Extinction", "SpectrumFlag",
]  # fmt: skip


def _sql(path: Path, query: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect()
    return con.execute(query.replace("TBL", f"read_parquet('{path}')")).fetchall()


def test_summary_starts_with_the_19_object_columns() -> None:
    names = [c.name for c in summary_table("v3", "magaper2").columns]
    assert OBJECT_COLUMN_COUNT == 19
    assert names[:19] == OBJECT_COLUMNS
    filters = names[19::3]
    assert {"A_F555W", "A_F814W", "W3_F160W", "W2_F300W"} <= set(filters)
    assert 12 <= len(filters) <= 15
    for f in filters:
        assert names[names.index(f) + 1 : names.index(f) + 3] == [f"{f}_MAD", f"{f}_N"]
    assert [c.name for c in summary_table("v2", "magauto").columns][20] == "A_F435W_Sigma"


def test_files_have_the_schema_the_service_advertises(demo_data: DemoData) -> None:
    for name, path in demo_data.tables().items():
        if name in TABLES:
            assert pq.read_schema(path) == TABLES[name].schema(), name


def test_smc_notebook_box_count_is_exact(demo_data: DemoData) -> None:
    ra0, ra1, dec0, dec1 = SMC_BOX
    (count,) = _sql(
        demo_data.hscv3_summary,
        f"SELECT count(*) FROM TBL WHERE MatchDec > {dec0} AND MatchDec < {dec1}"
        f" AND MatchRA > {ra0} AND MatchRA < {ra1} AND A_F555W_N >= 1 AND A_F814W_N >= 1"
        " AND CI > 0.9 AND CI < 1.6",
    )[0]
    assert count == SMC_QUERY_ROWS == 764_000


def test_distributions_look_like_hst_photometry(demo_data: DemoData) -> None:
    rows = _sql(
        demo_data.hscv3_summary,
        "SELECT count(*), count(A_F814W), avg(CI), median(A_F814W), min(A_F814W),"
        " max(NumFilters), count(*) FILTER (WHERE A_F814W_N = 0 AND A_F814W IS NOT NULL),"
        " count(*) FILTER (WHERE NumImages <> A_F555W_N + A_F814W_N + A_F435W_N + A_F475W_N"
        " + A_F606W_N + A_F775W_N + A_F850LP_N + W3_F110W_N + W3_F160W_N + W3_F275W_N"
        " + W3_F336W_N + W3_F438W_N + W2_F300W_N + W2_F555W_N + W2_F814W_N)"
        " FROM TBL",
    )
    total, f814, mean_ci, median_mag, brightest, max_filters, bad_nulls, bad_images = rows[0]
    assert 1_000_000 < total < 1_300_000
    assert 0.8 < f814 / total < 1.0
    assert 1.0 < mean_ci < 1.4
    assert 23.0 < median_mag < 26.5
    assert 12.0 < brightest < 18.0
    assert max_filters >= 4
    assert bad_nulls == 0
    assert bad_images == 0


def test_detailed_rows_agree_with_summary_counts(demo_data: DemoData) -> None:
    con = duckdb.connect()
    mismatches = con.execute(
        f"""
        WITH d AS (SELECT MatchID, count(*) AS n FROM read_parquet('{demo_data.hscv3_detailed}')
                   WHERE Filter = 'F814W' AND Detector = 'ACS/WFC' GROUP BY MatchID),
             s AS (SELECT MatchID, A_F814W_N AS n FROM read_parquet('{demo_data.hscv3_summary}')
                   WHERE MatchID IN (SELECT MatchID FROM read_parquet('{demo_data.hscv3_detailed}')))
        SELECT count(*) FROM s LEFT JOIN d USING (MatchID) WHERE coalesce(d.n, 0) <> s.n
        """
    ).fetchone()
    assert mismatches == (0,)


def test_every_ecdfs_anchor_has_one_hsc_source_within_a_tenth_arcsec(demo_data: DemoData) -> None:
    anchors = sky.ecdfs_anchors()
    table = pq.read_table(
        demo_data.hscv3_summary,
        columns=["MatchRA", "MatchDec"],
        filters=[("MatchDec", ">", -28.7), ("MatchDec", "<", -27.5)],
    )
    ra = np.radians(table["MatchRA"].to_numpy())
    dec = np.radians(table["MatchDec"].to_numpy())
    a_ra, a_dec = np.radians(anchors.ra)[:, None], np.radians(anchors.dec)[:, None]
    hav = (
        np.sin((dec - a_dec) / 2) ** 2 + np.cos(dec) * np.cos(a_dec) * np.sin((ra - a_ra) / 2) ** 2
    )
    sep_arcsec = np.degrees(2 * np.arcsin(np.sqrt(hav))) * 3600
    assert (np.sort(sep_arcsec, axis=1)[:, 0] < 0.1).all()
    # ... and exactly one: unrelated sources keep clear of the anchors.
    assert ((sep_arcsec < 2.0).sum(axis=1) == 1).all()
    assert len(table) > 10 * len(anchors.ra)


def test_generation_is_deterministic() -> None:
    a, b = ecdfs_objects(0, unrelated=500), ecdfs_objects(0, unrelated=500)
    assert np.array_equal(a.ra, b.ra)
    assert np.array_equal(a.mag, b.mag, equal_nan=True)


def _fake_generators(monkeypatch: pytest.MonkeyPatch, version: str) -> list[Path]:
    calls: list[Path] = []

    def fake(out_dir: Path) -> dict[str, Path]:
        calls.append(out_dir)
        path = out_dir / "hscv3.summary.parquet"
        path.write_bytes(b"PAR1")
        return {"hscv3.summary": path}

    monkeypatch.setattr(data_module, "_generators", lambda: {"hsc": (fake, version)})
    return calls


def test_ensure_demo_data_generates_once_and_again_on_a_new_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _fake_generators(monkeypatch, "v1")
    target = tmp_path / "cache" / "demo"
    first = ensure_demo_data(target)
    second = ensure_demo_data(target)
    assert len(calls) == 1
    assert first == second
    assert first.hscv3_summary == target.resolve() / "hscv3.summary.parquet"
    assert first.hscv3_summary.read_bytes() == b"PAR1"
    assert "hscv3.detailed" in first.missing()
    calls = _fake_generators(monkeypatch, "v2")
    ensure_demo_data(target)
    assert len(calls) == 1
    assert "hsc=v2" in (target / "VERSION").read_text()
    assert sorted(p.name for p in target.parent.iterdir() if not p.name.endswith(".lock")) == [
        "demo"
    ]


def test_concurrent_callers_generate_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _fake_generators(monkeypatch, "v1")
    results: list[DemoData] = []
    threads = [
        threading.Thread(target=lambda: results.append(ensure_demo_data(tmp_path / "d")))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert len(results) == 4


def test_environment_variable_chooses_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADQL_GATEWAY_DATA", str(tmp_path / "env"))
    assert data_module.default_data_dir() == tmp_path / "env"
    monkeypatch.delenv("ADQL_GATEWAY_DATA")
    assert data_module.default_data_dir().parts[-2:] == ("adql-gateway", "demo-v1")
