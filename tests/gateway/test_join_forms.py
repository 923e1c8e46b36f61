"""Joins without ON/USING and parenthesised joins, in the local engine and through a federation.

ADQL 2.1 makes ``<join_specification>`` optional: ``a JOIN b`` joins every row with every row
(``ON TRUE``), so an outer join keeps its preserved rows when the other side is empty, and a
parenthesised join may stand on the right (``a INNER JOIN (b JOIN c)``). The expected rows are
built with numpy from the same arrays, outside the gateway's code path. The federated case
runs a real second gateway on 127.0.0.1 as a TAP backend holding ``r.b``, ``r.c`` and the empty
``r.e``, while ``loc.a`` is the federating gateway's own local table, so each join crosses
backends.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from astropy.io.votable import parse_single_table

import grammar
from gateway.engine.local import LocalEngine
from gateway.settings import BackendConfig, GatewaySettings, LocalTable
from gateway.tap.serve import build_app
from tests.live_server import reserve_port, serve_app

A_ID = np.arange(5, dtype=np.int64)
A_MAG = np.array([18.0, 19.5, 21.0, 17.25, 20.0])
B_K = np.array([10, 20, 30], dtype=np.int64)
C_W = np.array([7, 8], dtype=np.int64)

Row = tuple[Any, ...]


def _write(directory: Path) -> dict[str, Path]:
    tables = {
        "a": pa.table({"id": A_ID, "mag": A_MAG}),
        "b": pa.table({"k": B_K}),
        "c": pa.table({"w": C_W}),
        "e": pa.table({"v": pa.array([], pa.int64())}),
    }
    paths = {}
    for name, table in tables.items():
        paths[name] = directory / f"{name}.parquet"
        pq.write_table(table, paths[name])
    return paths


def _product(*columns: np.ndarray) -> list[Row]:
    """Every combination of the columns' values (the oracle of an ON TRUE inner join)."""
    grids = np.meshgrid(*columns, indexing="ij")
    return sorted(zip(*(g.ravel().tolist() for g in grids), strict=True))


# ADQL (with {a}, {b}, {c}, {e} for the table names) and its expected rows from numpy.
CASES: list[tuple[str, list[Row]]] = [
    ("SELECT a.id, b.k FROM {a} AS a JOIN {b} AS b", _product(A_ID, B_K)),
    ("SELECT a.id, b.k FROM {a} AS a INNER JOIN {b} AS b", _product(A_ID, B_K)),
    (
        "SELECT a.id, b.k FROM {a} AS a JOIN {b} AS b WHERE a.mag > 19 AND b.k <> 20",
        _product(A_ID[A_MAG > 19], B_K[B_K != 20]),
    ),
    # ON TRUE, not a cross join: the preserved side survives an empty other side.
    ("SELECT a.id, e.v FROM {a} AS a LEFT OUTER JOIN {e} AS e", [(i, None) for i in A_ID.tolist()]),
    ("SELECT a.id, e.v FROM {e} AS e RIGHT JOIN {a} AS a", [(i, None) for i in A_ID.tolist()]),
    ("SELECT a.id, e.v FROM {a} AS a FULL JOIN {e} AS e", [(i, None) for i in A_ID.tolist()]),
    (
        "SELECT a.id, b.k, c.w FROM {a} AS a INNER JOIN ({b} AS b JOIN {c} AS c)",
        _product(A_ID, B_K, C_W),
    ),
    (
        (
            "SELECT a.id, b.k, c.w FROM {a} AS a JOIN ({b} AS b JOIN {c} AS c ON c.w = 8) "
            "ON a.id = b.k / 10"
        ),
        sorted((k // 10, k, 8) for k in B_K.tolist() if k // 10 in A_ID),
    ),
    (
        "SELECT a.id, b.k, c.w FROM {a} AS a LEFT JOIN ({b} AS b JOIN {c} AS c) ON a.id < 1",
        sorted([(0, k, w) for k, w in itertools.product(B_K.tolist(), C_W.tolist())])
        + [(i, None, None) for i in A_ID.tolist()[1:]],
    ),
    (
        (
            "SELECT a.id, e.v, b.k, c.w FROM ({a} AS a JOIN {e} AS e) "
            "FULL OUTER JOIN ({b} AS b JOIN {c} AS c)"
        ),
        sorted((None, None, k, w) for k, w in itertools.product(B_K.tolist(), C_W.tolist())),
    ),
    ("SELECT COUNT(*) AS n FROM {a} AS a JOIN {b} AS b JOIN {c} AS c", [(30,)]),
    # One backend's tables only: federated, the join goes over to that TAP service whole.
    ("SELECT b.k, c.w FROM {b} AS b JOIN {c} AS c", _product(B_K, C_W)),
    ("SELECT b.k, c.w FROM {b} AS b CROSS JOIN {c} AS c WHERE c.w = 7", _product(B_K, C_W[:1])),
    ("SELECT b.k, e.v FROM {b} AS b LEFT JOIN {e} AS e", [(k, None) for k in B_K.tolist()]),
    ("SELECT *, b.k * 2 AS twice FROM {b} AS b", [(k, 2 * k) for k in B_K.tolist()]),
    (
        "SELECT b.k, c.w, e.v FROM {b} AS b LEFT JOIN ({c} AS c JOIN {e} AS e)",
        [(k, None, None) for k in B_K.tolist()],
    ),
    (
        "SELECT b.k, c.w FROM {b} AS b JOIN ({c} AS c LEFT JOIN {e} AS e) ON c.w = 8 WHERE b.k > 10",
        [(20, 8), (30, 8)],
    ),
    # Extension: a bare * beside other select items.
    (
        "SELECT *, a.mag * 2 AS twice FROM {a} AS a",
        list(zip(A_ID.tolist(), A_MAG.tolist(), (A_MAG * 2).tolist(), strict=True)),
    ),
    (
        "SELECT b.k, * FROM {a} AS a JOIN {b} AS b WHERE a.id = 1",
        [(k, 1, A_MAG[1].item(), k) for k in B_K.tolist()],
    ),
]


def _key(row: Row) -> tuple[Any, ...]:
    return tuple((v is None, v if v is not None else 0) for v in row)


def _sorted(rows: list[Row]) -> list[Row]:
    return sorted(rows, key=_key)


# ---------------------------------------------------------------------------- local engine


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _write(tmp_path_factory.mktemp("joins"))


@pytest.fixture(scope="module")
def engine(paths: dict[str, Path]) -> LocalEngine:
    eng = LocalEngine()
    for name, path in paths.items():
        eng.add_file(f"s.{name}", path)
    return eng


def _engine_rows(engine: LocalEngine, adql: str) -> list[Row]:
    result = engine.execute(grammar.parse(adql))
    rows: list[Row] = []
    for batch in result.batches:
        rows += [tuple(r.values()) for r in batch.to_pylist()]
    return rows


@pytest.mark.parametrize(("adql", "expected"), CASES, ids=[c[0] for c in CASES])
def test_local_engine_joins_match_numpy(
    engine: LocalEngine, adql: str, expected: list[Row]
) -> None:
    names = {t: f"s.{t}" for t in "abce"}
    assert _sorted(_engine_rows(engine, adql.format(**names))) == _sorted(expected)


def test_join_without_specification_is_not_an_error_to_the_engine(engine: LocalEngine) -> None:
    # The printer's canonical form of a specification-less join runs as well.
    query = grammar.parse("SELECT COUNT(*) FROM s.a LEFT JOIN s.e")
    again = grammar.parse(grammar.to_adql(query))
    assert _engine_rows(engine, grammar.to_adql(again)) == [(5,)]


# ---------------------------------------------------------------------------- federation


@pytest.fixture(scope="module")
def federation(paths: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    remote_sock, front_sock = reserve_port(), reserve_port()
    remote_port = remote_sock.getsockname()[1]
    front_port = front_sock.getsockname()[1]
    remote = GatewaySettings(
        base_url=f"http://127.0.0.1:{remote_port}/tap",
        data_dir=tmp_path_factory.mktemp("remote"),
        backends=[
            BackendConfig(
                name="r",
                kind="local",
                tables=[LocalTable(name=f"r.{t}", path=paths[t]) for t in "bce"],
            )
        ],
    )
    with serve_app(build_app(remote), sock=remote_sock, lifespan="on") as remote_url:
        front = GatewaySettings(
            base_url=f"http://127.0.0.1:{front_port}/tap",
            data_dir=tmp_path_factory.mktemp("front"),
            backends=[
                BackendConfig(name="rem", kind="tap", url=remote_url + "/tap"),
                BackendConfig(
                    name="loc", kind="local", tables=[LocalTable(name="loc.a", path=paths["a"])]
                ),
            ],
        )
        with serve_app(build_app(front), sock=front_sock, lifespan="on") as url:
            yield url + "/tap"


def _sync_rows(base: str, adql: str) -> list[Row]:
    reply = httpx.post(
        base + "/sync", data={"REQUEST": "doQuery", "LANG": "ADQL", "QUERY": adql}, timeout=60
    )
    assert reply.status_code == 200, reply.text
    table = parse_single_table(BytesIO(reply.content)).to_table()
    return [tuple(None if np.ma.is_masked(v) else v.item() for v in record) for record in table]


@pytest.mark.integration
@pytest.mark.parametrize(("adql", "expected"), CASES, ids=[c[0] for c in CASES])
def test_federated_joins_match_numpy(federation: str, adql: str, expected: list[Row]) -> None:
    names = {"a": "loc.a", "b": "r.b", "c": "r.c", "e": "r.e"}
    assert _sorted(_sync_rows(federation, adql.format(**names))) == _sorted(expected)


@pytest.mark.integration
def test_a_join_without_specification_goes_to_the_tap_backend_with_on_1_1(federation: str) -> None:
    query = "SELECT b.k, c.w FROM r.b AS b JOIN r.c AS c"
    answer = httpx.post(federation + "/translate", data={"QUERY": query}, timeout=30).json()
    (fragment,) = answer["fragments"]
    assert fragment["backend"] == "rem"
    (request,) = fragment["requests"]
    sent = dict(request["params"])["QUERY"]
    assert "JOIN r.c AS c ON 1 = 1" in sent


@pytest.mark.integration
def test_explain_gives_the_engine_query_as_adql_and_as_sql(federation: str) -> None:
    query = "SELECT a.id, b.k FROM loc.a AS a LEFT JOIN r.b AS b WHERE a.id > 2"
    explained = httpx.post(federation + "/explain", data={"QUERY": query}, timeout=30).json()
    translated = httpx.post(federation + "/translate", data={"QUERY": query}, timeout=30).json()
    assert explained["local_sql"] == translated["local_sql"]
    assert '"a"."id"' in translated["local_sql"]  # DuckDB SQL: quoted names
    engine_query = grammar.parse(explained["local_adql"])  # ADQL, kept under its own name
    assert grammar.to_adql(engine_query) == explained["local_adql"]
