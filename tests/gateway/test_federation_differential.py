"""Differential test of the federation: the gateway's TAP answer == one local engine's answer.

Seeded, generated ADQL over the demo federation (``hsc`` REST, ``rsp`` TAP, ``rsp_sia`` SIAv2,
``spec`` legacy spectral service) goes through the real ``/tap/sync`` of a gateway served by
uvicorn. The answer key is the same ADQL run by a single :class:`gateway.engine.local.LocalEngine`
over every demo Parquet file registered under its federated name. Results are compared as
multisets of rows (floats with a relative tolerance); 64-bit unsigned ids (``specobjid``)
travel as VOTable char text with ``xtype="uint64"`` and are compared as unsigned numbers.
"""

from __future__ import annotations

import csv
import io
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import pytest
from astropy.io.votable import parse_single_table

from gateway.engine.local import LocalEngine
from gateway.settings import GatewaySettings
from gateway.tap.serve import build_app
from grammar import parse
from standins.data import DemoData, ensure_demo_data
from tests.gateway.federation_servers import reference_engine, run_federation
from tests.live_server import reserve_port, serve_app

pytestmark = pytest.mark.integration

SEED = 20240611
N_SINGLE = 14
"""Generated single-table queries per table (five tables)."""
N_JOINS = 24
REL_TOL = 1e-6
ARCSEC = 1.0 / 3600


# ---------------------------------------------------------------------------- query generator


@dataclass(frozen=True)
class Table:
    """What the generator knows about one federated table (ranges from the demo data)."""

    name: str
    alias: str
    key: str
    """A unique column: the last ORDER BY key, so TOP is deterministic."""
    ra: str
    dec: str
    numeric: dict[str, tuple[float, float]]
    integers: dict[str, tuple[int, ...]]
    strings: dict[str, tuple[str, ...]]
    nullable: tuple[str, ...]
    shown: tuple[str, ...]
    arithmetic: tuple[tuple[str, str, str, float, float], ...]
    """(a, operator, b, low, high): ``a op b`` lies mostly in [low, high]."""
    group_by: tuple[str, ...]
    needs_cone: bool = False
    """The backend can only page through a restricted region (HSC)."""


HSC = Table(
    "hscv3.summary", "h", "MatchID", "MatchRA", "MatchDec",
    numeric={"CI": (1.0, 3.0), "KronRadius": (3.5, 12.0), "DSigma": (0.0, 20.0),
             "A_F606W": (20.0, 27.0), "W3_F160W": (19.0, 26.0)},
    integers={"NumImages": tuple(range(1, 25)), "NumFilters": (1, 2, 3, 4, 5, 6)},
    strings={"TargetName": ("CANDELS-GS", "GOODS-SOUTH"), "SpectrumFlag": ("N", "Y")},
    nullable=("A_F606W", "A_F435W", "W3_F160W", "A_F775W"),
    shown=("MatchID", "MatchRA", "MatchDec", "NumImages", "CI", "A_F606W", "TargetName"),
    arithmetic=(("CI", "*", "KronRadius", 5.0, 25.0), ("NumImages", "-", "NumFilters", 0, 10)),
    group_by=("NumFilters", "TargetName", "SpectrumFlag"),
    needs_cone=True,
)  # fmt: skip
DP1 = Table(
    "dp1.Object", "o", "objectId", "coord_ra", "coord_dec",
    numeric={"g_cModelMag": (19.0, 26.0), "r_cModelMag": (19.0, 26.0),
             "i_cModelMag": (19.0, 25.5), "u_cModelMag": (20.0, 26.0), "ebv": (0.005, 0.011),
             "refExtendedness": (0.0, 1.0)},
    integers={"patch": tuple(range(22, 78))},
    strings={"refBand": ("i", "r")},
    nullable=("u_cModelMag", "y_cModelMag", "refExtendedness", "g_cModelMag"),
    shown=("objectId", "coord_ra", "coord_dec", "g_cModelMag", "r_cModelMag", "refBand",
           "detect_isPrimary", "patch"),
    arithmetic=(("g_cModelMag", "-", "r_cModelMag", -0.5, 1.5),
                ("r_cModelMag", "+", "i_cModelMag", 40.0, 50.0)),
    group_by=("refBand", "patch", "detect_isPrimary"),
)  # fmt: skip
OBSCORE_TAP = Table(
    "ivoa.ObsCore", "c", "obs_id", "s_ra", "s_dec",
    numeric={"t_exptime": (30.0, 1170.0), "t_min": (60623.0, 60657.0), "s_fov": (0.29, 0.43),
             "em_min": (3e-7, 9.2e-7)},
    integers={"calib_level": (2, 3), "lsst_patch": tuple(range(22, 78))},
    strings={"lsst_band": ("u", "g", "r", "i", "z", "y"),
             "dataproduct_subtype": ("lsst.deep_coadd", "lsst.visit_image", "lsst.template_coadd")},
    nullable=("lsst_patch", "lsst_visit", "lsst_tract"),
    shown=("obs_id", "s_ra", "s_dec", "calib_level", "lsst_band", "lsst_patch", "t_min"),
    arithmetic=(("t_max", "-", "t_min", 0.0, 5.0), ("em_max", "-", "em_min", 5e-8, 2e-7)),
    group_by=("lsst_band", "calib_level", "dataproduct_subtype"),
)  # fmt: skip
# The same images, served by the SIA stand-in.
SIA = replace(OBSCORE_TAP, name="rsp_sia.obscore", alias="i")
SPEC = Table(
    "sdss_dr16.specobj", "s", "bestobjid", "ra", "dec",
    numeric={"z": (0.0, 1.5), "zerr": (2e-5, 1.5e-4), "sn_median_all": (2.0, 60.0),
             "veldisp": (80.0, 300.0)},
    integers={"zwarning": (0, 4), "plate": (400, 1000, 3000, 7000, 9702),
              "fiberid": tuple(range(1, 961))},
    strings={"class": ("GALAXY", "QSO", "STAR"), "survey": ("sdss", "boss", "eboss")},
    nullable=("veldisp",),
    shown=("specobjid", "bestobjid", "ra", "dec", "z", "class", "subclass", "veldisp"),
    arithmetic=(("z", "*", "3", 0.0, 3.0), ("sn_median_all", "/", "zerr", 1e4, 1e6)),
    group_by=("class", "zwarning", "survey"),
)  # fmt: skip
TABLES = (HSC, DP1, OBSCORE_TAP, SIA, SPEC)

ECDFS = (53.2, -28.1)


class Generator:
    """Seeded ADQL generator; every query is valid ADQL over the federated names."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def num(self, low: float, high: float) -> str:
        return f"{self.rng.uniform(low, high):.6g}"

    def cone(self, t: Table, radius: tuple[float, float] = (0.02, 0.08), q: str = "") -> str:
        ra = ECDFS[0] + self.rng.uniform(-0.25, 0.25)
        dec = ECDFS[1] + self.rng.uniform(-0.25, 0.25)
        r = self.rng.uniform(*radius)
        return (
            f"CONTAINS(POINT('ICRS', {q}{t.ra}, {q}{t.dec}), "
            f"CIRCLE('ICRS', {ra:.5f}, {dec:.5f}, {r:.4f})) = 1"
        )

    def box(self, t: Table, q: str = "") -> str:
        ra = ECDFS[0] + self.rng.uniform(-0.25, 0.25)
        dec = ECDFS[1] + self.rng.uniform(-0.25, 0.25)
        w = self.rng.uniform(0.02, 0.08)
        return (
            f"{q}{t.ra} BETWEEN {ra - w:.5f} AND {ra + w:.5f} AND "
            f"{q}{t.dec} BETWEEN {dec - w:.5f} AND {dec + w:.5f}"
        )

    def predicate(self, t: Table, q: str = "") -> str:
        """One condition: comparison, BETWEEN, IN, IS [NOT] NULL, OR, arithmetic, strings."""
        rng = self.rng
        kind = rng.choice(
            ["cmp", "cmp", "between", "in", "null", "or", "arith", "string", "not_between"]
        )
        if kind == "cmp":
            column, (low, high) = rng.choice(list(t.numeric.items()))
            return f"{q}{column} {rng.choice(['<', '>', '<=', '>='])} {self.num(low, high)}"
        if kind in {"between", "not_between"}:
            column, (low, high) = rng.choice(list(t.numeric.items()))
            a, b = sorted((rng.uniform(low, high), rng.uniform(low, high)))
            neg = "NOT " if kind == "not_between" else ""
            return f"{q}{column} {neg}BETWEEN {a:.6g} AND {b:.6g}"
        if kind == "in":
            column, values = rng.choice(list(t.integers.items()))
            picked = rng.sample(values, min(len(values), rng.randint(1, 4)))
            return f"{q}{column} IN ({', '.join(map(str, picked))})"
        if kind == "null":
            return f"{q}{rng.choice(t.nullable)} IS {rng.choice(['', 'NOT '])}NULL"
        if kind == "or":
            (c1, (l1, h1)), (c2, (l2, h2)) = rng.sample(list(t.numeric.items()), 2)
            return f"({q}{c1} < {self.num(l1, h1)} OR {q}{c2} > {self.num(l2, h2)})"
        if kind == "arith":
            left, op, right, lo, hi = rng.choice(t.arithmetic)
            ref = right if right[0].isdigit() else f"{q}{right}"
            return f"{q}{left} {op} {ref} {rng.choice(['<', '>'])} {self.num(lo, hi)}"
        name, texts = rng.choice(list(t.strings.items()))
        if rng.random() < 0.5:
            return f"{q}{name} = '{rng.choice(texts)}'"
        chosen = rng.sample(texts, min(len(texts), 2))
        return f"{q}{name} IN ({', '.join(repr(v) for v in chosen)})"

    def where(self, t: Table, q: str = "", *, spatial: bool | None = None) -> list[str]:
        conds = [self.predicate(t, q) for _ in range(self.rng.randint(1, 3))]
        if spatial or t.needs_cone or (spatial is None and self.rng.random() < 0.4):
            conds.insert(0, self.cone(t, q=q) if self.rng.random() < 0.6 else self.box(t, q))
        return conds

    def single(self, t: Table) -> str:
        rng = self.rng
        shape = rng.choice(["filter", "filter", "top", "group", "arith_select"])
        conds = self.where(t)
        where = " AND ".join(conds)
        if shape == "top":
            order, _ = rng.choice(list(t.numeric.items()))
            direction = rng.choice(["ASC", "DESC"])
            # NULLs sort differently per engine convention; both sides are DuckDB-compiled.
            return (
                f"SELECT TOP {rng.randint(1, 40)} {', '.join(t.shown)} FROM {t.name} "
                f"WHERE {where} AND {order} IS NOT NULL ORDER BY {order} {direction}, {t.key}"
            )
        if shape == "group":
            group = rng.choice(t.group_by)
            avg, _ = rng.choice(list(t.numeric.items()))
            return (
                f"SELECT {group}, COUNT(*) AS n, AVG({avg}) AS mean_{avg.lower()} "
                f"FROM {t.name} WHERE {where} GROUP BY {group}"
            )
        if shape == "arith_select":
            a, op, b, _, _ = rng.choice(t.arithmetic)
            return f"SELECT {t.key}, {a} {op} {b} AS derived, {t.ra} FROM {t.name} WHERE {where}"
        return f"SELECT {', '.join(t.shown)} FROM {t.name} WHERE {where}"

    def xmatch(self, a: Table, b: Table) -> str:
        """A positional join of ``a`` and ``b`` inside an ECDFS cone on one side."""
        rng = self.rng
        radius = rng.choice([1.0, 1.5, 2.0]) * ARCSEC
        qa, qb = f"{a.alias}.", f"{b.alias}."
        if rng.random() < 0.5:
            on = (
                f"CONTAINS(POINT('ICRS', {qb}{b.ra}, {qb}{b.dec}), "
                f"CIRCLE('ICRS', {qa}{a.ra}, {qa}{a.dec}, {radius:.8f})) = 1"
            )
        else:
            on = (
                f"DISTANCE(POINT('ICRS', {qa}{a.ra}, {qa}{a.dec}), "
                f"POINT('ICRS', {qb}{b.ra}, {qb}{b.dec})) < {radius:.8f}"
            )
        restricted = rng.choice([a, b])
        q = f"{restricted.alias}."
        conds = [self.cone(restricted, (0.05, 0.15), q)]
        if rng.random() < 0.6:
            side = rng.choice([a, b])
            conds.append(self.predicate(side, f"{side.alias}."))
        shown = [f"{qa}{a.key}", f"{qb}{b.key}", f"{qa}{a.shown[3]}", f"{qb}{b.shown[4]}"]
        shape = rng.choice(["join", "join", "comma", "count"])
        if shape == "count":
            return (
                f"SELECT COUNT(*) AS n, AVG({qa}{a.ra} - {qb}{b.ra}) AS dra "
                f"FROM {a.name} AS {a.alias} JOIN {b.name} AS {b.alias} ON {on} "
                f"WHERE {' AND '.join(conds)}"
            )
        if shape == "comma":
            return (
                f"SELECT {', '.join(shown)} FROM {a.name} AS {a.alias}, {b.name} AS {b.alias} "
                f"WHERE {on} AND {' AND '.join(conds)}"
            )
        return (
            f"SELECT {', '.join(shown)} FROM {a.name} AS {a.alias} JOIN {b.name} AS {b.alias} "
            f"ON {on} WHERE {' AND '.join(conds)}"
        )

    def key_join(self) -> str:
        """DP1 objects and the SIA images of their patch (``patch = lsst_patch``)."""
        band = self.rng.choice(SIA.strings["lsst_band"])
        cone = self.cone(DP1, (0.01, 0.03), "o.")
        extra = self.predicate(DP1, "o.")
        return (
            "SELECT o.objectId, o.patch, i.obs_id, i.lsst_band FROM dp1.Object AS o "
            "JOIN rsp_sia.obscore AS i ON o.patch = i.lsst_patch "
            f"WHERE {cone} AND {extra} AND i.lsst_band = '{band}' "
            "AND i.dataproduct_subtype = 'lsst.deep_coadd'"
        )


def generate(seed: int = SEED) -> list[tuple[str, str]]:
    """(id, ADQL) of every generated query."""
    gen = Generator(seed)
    out = []
    for t in TABLES:
        out += [(f"{t.name}-{i}", gen.single(t)) for i in range(N_SINGLE)]
    pairs = [(HSC, SPEC), (SPEC, HSC), (DP1, HSC), (HSC, DP1), (DP1, SPEC), (SPEC, DP1)]
    for i in range(N_JOINS):
        a, b = pairs[i % len(pairs)]
        out.append((f"xmatch-{a.alias}{b.alias}-{i}", gen.xmatch(a, b)))
    out += [(f"keyjoin-{i}", gen.key_join()) for i in range(4)]
    return out


QUERIES = generate()


# ---------------------------------------------------------------------------- comparison


Row = tuple[Any, ...]


def _cell(value: Any) -> Any:
    if value is None or value is np.ma.masked:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, float) and math.isnan(value):
        return None
    if value == "":
        # The spectral service answers CSV, where an empty string and NULL are the same cell.
        return None
    return value


def reference_rows(engine: LocalEngine, adql: str) -> tuple[list[str], list[Row]]:
    result = engine.execute(parse(adql))
    batches = list(result.batches)
    schema = pa.schema([pa.field(c.name, pa.null()) for c in result.columns])
    table = pa.Table.from_batches(batches) if batches else schema.empty_table()
    columns = [[_cell(v) for v in column.to_pylist()] for column in table.columns]
    return table.column_names, list(zip(*columns, strict=True)) if columns else []


def votable_rows(body: bytes) -> tuple[list[str], list[Row]]:
    votable = parse_single_table(io.BytesIO(body))
    unsigned = {field.name for field in votable.fields if field.xtype == "uint64"}
    table = votable.to_table(use_names_over_ids=True)
    columns = []
    for name in table.colnames:
        column = table[name]
        mask = np.ma.getmaskarray(column)
        values = np.asarray(column).tolist()
        if name in unsigned:  # unsigned 64-bit ids: decimal text, "" for NULL
            values = [int(v) if v else None for v in values]
        columns.append([None if m else _cell(v) for v, m in zip(values, mask, strict=True)])
    return list(table.colnames), list(zip(*columns, strict=True)) if columns else []


def csv_rows(body: bytes, like: list[Row]) -> tuple[list[str], list[Row]]:
    """CSV cells typed after the reference's values (CSV itself carries no types)."""
    reader = csv.reader(io.StringIO(body.decode()))
    header = next(reader)
    kinds: list[Callable[[str], Any]] = []
    for j in range(len(header)):
        sample = next((r[j] for r in like if r[j] is not None), "")
        if isinstance(sample, bool):
            kinds.append(lambda s: s.lower() in {"true", "t", "1"})
        elif isinstance(sample, int):
            kinds.append(int)
        elif isinstance(sample, float):
            kinds.append(float)
        else:
            kinds.append(str)
    rows = [
        tuple(None if cell == "" else kind(cell) for kind, cell in zip(kinds, r, strict=True))
        for r in reader
    ]
    return header, rows


def _sort_key(row: Row) -> tuple[Any, ...]:
    key: list[Any] = []
    for v in row:
        if v is None:
            key.append((0, 0))
        elif isinstance(v, float):
            key.append((1, float(f"{v:.5g}")))
        elif isinstance(v, bool | int):
            key.append((1, v))
        else:
            key.append((2, str(v)))
    return tuple(key)


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=REL_TOL, abs_tol=1e-12)
    if isinstance(a, str) or isinstance(b, str):
        return str(a) == str(b)
    return bool(a == b)


def differences(got: list[Row], expected: list[Row]) -> list[str]:
    """Human-readable differences between two row multisets (empty when equal)."""
    if len(got) != len(expected):
        extra = sorted(set(map(_sort_key, got)) - set(map(_sort_key, expected)))[:3]
        missing = sorted(set(map(_sort_key, expected)) - set(map(_sort_key, got)))[:3]
        message = (
            f"{len(got)} rows from the gateway, {len(expected)} expected; "
            f"e.g. extra {extra}, missing {missing}"
        )
        return [message]
    out = []
    for g, e in zip(sorted(got, key=_sort_key), sorted(expected, key=_sort_key), strict=True):
        if len(g) != len(e) or not all(_same(x, y) for x, y in zip(g, e, strict=True)):
            out.append(f"gateway {g} != reference {e}")
            if len(out) >= 3:
                break
    return out


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def demo() -> DemoData:
    return ensure_demo_data()


@pytest.fixture(scope="module")
def reference(demo: DemoData) -> Iterator[LocalEngine]:
    engine = reference_engine(demo)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def gateway(demo: DemoData, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """TAP base URL of a gateway over the whole demo federation (rsp_sia: Rubin profile)."""
    work: Path = tmp_path_factory.mktemp("federation-differential")
    with run_federation(demo, work / "rsp") as fed:
        sock = reserve_port()
        base = f"http://127.0.0.1:{sock.getsockname()[1]}/tap"
        settings = GatewaySettings(
            base_url=base, data_dir=work / "gateway", backends=fed.backends(sia_profile="rubin")
        )
        with serve_app(build_app(settings), sock=sock, lifespan="on") as url:
            yield url + "/tap"


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=60, trust_env=False) as c:
        yield c


# ---------------------------------------------------------------------------- tests


def test_generator_is_seeded_and_varied() -> None:
    assert generate() == QUERIES
    assert 80 <= len(QUERIES) <= 110
    text = " ".join(q for _, q in QUERIES)
    for construct in (" BETWEEN ", " IN (", " IS NULL", " IS NOT NULL", " OR ", "CONTAINS(",
                      "DISTANCE(", "TOP ", "ORDER BY", "GROUP BY", "COUNT(*)", "AVG(",
                      "o.patch = i.lsst_patch"):  # fmt: skip
        assert construct in text, construct


def test_an_empty_answer_of_the_tap_backend_is_an_empty_table(
    gateway: str, client: httpx.Client
) -> None:
    """A TAP backend's empty VOTable (char and int FIELDs, no rows) decodes to no rows."""
    adql = "SELECT obs_id, calib_level FROM ivoa.ObsCore WHERE calib_level = 7"
    answer = client.post(f"{gateway}/sync", data={"LANG": "ADQL", "QUERY": adql})
    assert answer.status_code == 200, answer.text[:2000]
    columns, rows = votable_rows(answer.content)
    assert columns == ["obs_id", "calib_level"]
    assert rows == []


@pytest.mark.parametrize(("label", "adql"), QUERIES, ids=[label for label, _ in QUERIES])
def test_gateway_answer_equals_single_engine(
    label: str, adql: str, gateway: str, reference: LocalEngine, client: httpx.Client
) -> None:
    expected_columns, expected = reference_rows(reference, adql)
    # Every fourth query comes back as CSV, the others as VOTable (BINARY2 by default).
    as_csv = sum(map(ord, label)) % 4 == 0
    params = {"LANG": "ADQL", "QUERY": adql, "MAXREC": "1000000"}
    if as_csv:
        params["RESPONSEFORMAT"] = "csv"
    answer = client.post(f"{gateway}/sync", data=params)
    assert answer.status_code == 200, f"{adql}\n{answer.text[:2000]}"
    if as_csv:
        columns, got = csv_rows(answer.content, expected)
    else:
        columns, got = votable_rows(answer.content)
    assert [c.lower() for c in columns] == [c.lower() for c in expected_columns], adql
    problems = differences(got, expected)
    assert not problems, f"{adql}\n" + "\n".join(problems)
