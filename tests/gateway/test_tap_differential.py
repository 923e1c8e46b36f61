"""Differential tests: generated ADQL over demo.stars through /sync vs the same question in numpy.

A seeded generator builds a few hundred queries from random atoms (comparisons with random
thresholds, BETWEEN, IN, IS [NOT] NULL, LIKE, arithmetic, cones with RA-wrap and polar centres)
combined with AND/OR/NOT. Each atom carries its numpy twin in SQL three-valued logic: a pair of
masks (definitely true, definitely false); a comparison with NULL is neither, and WHERE keeps
only the definitely-true rows.
"""

from __future__ import annotations

import csv
import io
import math
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import numpy as np
import pytest

from tests.gateway.conftest import Stars, TapService, angular_distance

pytestmark = pytest.mark.integration

QUERIES_PER_SHAPE = 80
SEED = 20261121
BOUNDARY = 1e-9
"""Rows this close (degrees) to a cone's edge may fall either way; they are not compared."""


@dataclass(frozen=True)
class Cond:
    """An ADQL condition and its numpy evaluation in three-valued logic."""

    adql: str
    true: np.ndarray
    false: np.ndarray
    ambiguous: np.ndarray


def _tv(stars: Stars, adql: str, value: np.ndarray, null: np.ndarray | None = None) -> Cond:
    null = np.zeros(len(stars.id), dtype=bool) if null is None else null
    return Cond(adql, value & ~null, ~value & ~null, np.zeros(len(stars.id), dtype=bool))


def _and(a: Cond, b: Cond) -> Cond:
    return Cond(
        f"({a.adql} AND {b.adql})",
        a.true & b.true,
        a.false | b.false,
        a.ambiguous | b.ambiguous,
    )


def _or(a: Cond, b: Cond) -> Cond:
    return Cond(
        f"({a.adql} OR {b.adql})", a.true | b.true, a.false & b.false, a.ambiguous | b.ambiguous
    )


def _not(a: Cond) -> Cond:
    return Cond(f"NOT ({a.adql})", a.false, a.true, a.ambiguous)


OPS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
    "=": np.equal,
    "<>": np.not_equal,
}


class Generator:
    """Random conditions over the test table, each with its numpy answer."""

    def __init__(self, stars: Stars, seed: int) -> None:
        self.stars = stars
        self.rng = random.Random(seed)
        self.columns = {
            "ra": stars.ra,
            "dec": stars.dec,
            "gmag": stars.gmag,
            "flags": stars.flags.astype(float),
            "id": stars.id.astype(float),
        }

    def literal(self, column: str) -> str:
        r = self.rng
        if column == "ra":
            return f"{r.uniform(-5, 365):.4f}"
        if column == "dec":
            return f"{r.uniform(-95, 95):.4f}"
        if column == "gmag":
            return f"{r.gauss(20, 2):.3f}"
        if column == "flags":
            return str(r.randint(-1, 16))
        return str(r.randint(-10, 5010))

    def comparison(self) -> Cond:
        column = self.rng.choice(list(self.columns))
        op = self.rng.choice(list(OPS))
        text = self.literal(column)
        values = self.columns[column]
        null = np.isnan(values)
        with np.errstate(invalid="ignore"):
            result = OPS[op](values, float(text))
        if self.rng.random() < 0.3:  # literal on the left
            flipped = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}.get(op, op)
            return _tv(self.stars, f"{text} {flipped} {column}", result, null)
        return _tv(self.stars, f"{column} {op} {text}", result, null)

    def between(self) -> Cond:
        column = self.rng.choice(list(self.columns))
        a, b = sorted([self.literal(column), self.literal(column)], key=float)
        values = self.columns[column]
        null = np.isnan(values)
        with np.errstate(invalid="ignore"):
            inside = (values >= float(a)) & (values <= float(b))
        if self.rng.random() < 0.3:
            return _tv(self.stars, f"{column} NOT BETWEEN {a} AND {b}", ~inside, null)
        return _tv(self.stars, f"{column} BETWEEN {a} AND {b}", inside, null)

    def in_list(self) -> Cond:
        column = self.rng.choice(["flags", "id"])
        items = sorted({int(self.literal(column)) for _ in range(self.rng.randint(1, 6))})
        values = self.columns[column]
        inside = np.isin(values, items)
        text = ", ".join(map(str, items))
        if self.rng.random() < 0.3:
            return _tv(self.stars, f"{column} NOT IN ({text})", ~inside)
        return _tv(self.stars, f"{column} IN ({text})", inside)

    def null_test(self) -> Cond:
        null = np.isnan(self.stars.gmag)
        if self.rng.random() < 0.5:
            return _tv(self.stars, "gmag IS NULL", null)
        return _tv(self.stars, "gmag IS NOT NULL", ~null)

    def like(self) -> Cond:
        r = self.rng
        digits = str(r.randint(0, 4999))
        pattern = r.choice(
            [
                f"star {digits[:2]}%",
                f"%{digits[-1]}",
                f"star _{digits[-1]}",
                f"%{digits[-2:]}%",
                f"star {digits}",
                "STAR%",
                "star __",
            ]
        )
        regex = re.compile(
            "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
            + r"\Z",
            re.DOTALL,
        )
        matched = np.array([regex.match(str(n)) is not None for n in self.stars.name])
        if r.random() < 0.3:
            return _tv(self.stars, f"name NOT LIKE '{pattern}'", ~matched)
        return _tv(self.stars, f"name LIKE '{pattern}'", matched)

    def arithmetic(self) -> Cond:
        r = self.rng
        threshold = round(r.uniform(10, 40), 3)
        factor = r.choice([0.5, 1, 2])
        value = self.stars.gmag + factor * self.stars.flags
        null = np.isnan(value)
        with np.errstate(invalid="ignore"):
            result = value < threshold
        return _tv(self.stars, f"gmag + {factor} * flags < {threshold:.3f}", result, null)

    def cone(self) -> Cond:
        r = self.rng
        ra, dec = r.choice(
            [
                (10.0, 10.0),
                (150.1, 2.2),
                (0.05, 0.0),
                (359.9, 0.1),
                (0.0, -0.2),
                (0.0, 89.8),
                (123.0, 89.6),
                (r.uniform(0, 360), r.uniform(-80, 80)),
            ]
        )
        ra += r.uniform(-0.1, 0.1)
        dec = max(-90.0, min(90.0, dec + r.uniform(-0.1, 0.1)))
        ra %= 360
        radius = r.choice([0.05, 0.1, 0.3, 0.5, 1.0, 2.5])
        distance = angular_distance(self.stars.ra, self.stars.dec, ra, dec)
        inside = distance <= radius
        ambiguous = np.abs(distance - radius) < BOUNDARY
        form = r.randrange(3)
        point = "POINT('ICRS', ra, dec)"
        circle = f"CIRCLE('ICRS', {ra:.6f}, {dec:.6f}, {radius})"
        if form == 0:
            text = f"1 = CONTAINS({point}, {circle})"
        elif form == 1:
            text = f"CONTAINS({point}, {circle}) = 1"
        else:
            text = f"DISTANCE({point}, POINT('ICRS', {ra:.6f}, {dec:.6f})) <= {radius}"
        # the literals in the text are rounded: recompute with exactly those numbers
        distance = angular_distance(
            self.stars.ra, self.stars.dec, float(f"{ra:.6f}"), float(f"{dec:.6f}")
        )
        inside = distance <= radius
        ambiguous = np.abs(distance - radius) < BOUNDARY
        return Cond(text, inside, ~inside, ambiguous)

    def atom(self) -> Cond:
        kinds = [
            self.comparison,
            self.comparison,
            self.between,
            self.in_list,
            self.null_test,
            self.like,
            self.arithmetic,
            self.cone,
            self.cone,
        ]
        return self.rng.choice(kinds)()

    def condition(self, depth: int = 0) -> Cond:
        r = self.rng.random()
        if depth >= 2 or r < 0.35:
            cond = self.atom()
        elif r < 0.65:
            cond = _and(self.condition(depth + 1), self.condition(depth + 1))
        else:
            cond = _or(self.condition(depth + 1), self.condition(depth + 1))
        if self.rng.random() < 0.15:
            cond = _not(cond)
        return cond


@pytest.fixture(scope="module")
def client(tap_service: TapService) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=tap_service.url, timeout=60) as c:
        yield c


def _run(client: httpx.Client, query: str) -> list[dict[str, str]]:
    response = client.post("/sync", data={"LANG": "ADQL", "QUERY": query, "FORMAT": "csv"})
    assert response.status_code == 200, f"{query}\n{response.text}"
    return list(csv.DictReader(io.StringIO(response.text)))


def _check_all(cases: Iterator[tuple[str, Callable[[list[dict[str, str]]], str | None]]], client):
    failures = []
    count = 0
    for query, check in cases:
        count += 1
        problem = check(_run(client, query))
        if problem:
            failures.append(f"{query}\n    -> {problem}")
    assert count >= QUERIES_PER_SHAPE
    assert not failures, f"{len(failures)} of {count} queries disagree:\n" + "\n".join(failures[:8])


def test_where_id_sets(tap_service: TapService, client: httpx.Client) -> None:
    gen = Generator(tap_service.stars, SEED)
    ids = tap_service.stars.id

    def cases():
        nonempty = 0
        for _ in range(QUERIES_PER_SHAPE):
            cond = gen.condition()
            expected = set(ids[cond.true & ~cond.ambiguous].tolist())
            nonempty += bool(expected)
            ambiguous = set(ids[cond.ambiguous].tolist())

            def check(rows, expected=expected, ambiguous=ambiguous):
                got = [int(r["id"]) for r in rows]
                if len(got) != len(set(got)):
                    return "duplicate ids"
                diff = (set(got) - ambiguous) ^ expected
                return f"{len(diff)} ids differ, e.g. {sorted(diff)[:5]}" if diff else None

            yield f"SELECT id FROM demo.stars WHERE {cond.adql}", check
        assert nonempty > QUERIES_PER_SHAPE // 4, "the generator makes too many empty answers"

    _check_all(cases(), client)


def test_counts(tap_service: TapService, client: httpx.Client) -> None:
    gen = Generator(tap_service.stars, SEED + 1)

    def cases():
        for _ in range(QUERIES_PER_SHAPE):
            cond = gen.condition()
            low = int(np.count_nonzero(cond.true & ~cond.ambiguous))
            high = int(np.count_nonzero(cond.true | cond.ambiguous))

            def check(rows, low=low, high=high):
                n = int(rows[0]["n"])
                return None if low <= n <= high else f"count {n}, expected {low}"

            yield f"SELECT COUNT(*) AS n FROM demo.stars WHERE {cond.adql}", check

    _check_all(cases(), client)


def _first_difference(got: list[int], expected: list[int]) -> str:
    at = next((i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b), None)
    if at is None:
        return f"{len(got)} rows, expected {len(expected)}"
    return f"row {at}: got {got[at : at + 4]}, expected {expected[at : at + 4]}"


def test_top_order_by(tap_service: TapService, client: httpx.Client) -> None:
    gen = Generator(tap_service.stars, SEED + 2)
    stars = tap_service.stars

    def cases():
        for _ in range(QUERIES_PER_SHAPE // 2):
            cond = gen.condition()
            column = gen.rng.choice(["ra", "dec", "gmag", "id"])
            descending = gen.rng.random() < 0.5
            top = gen.rng.choice([1, 5, 20, 100])
            where = cond.adql
            keep = cond.true & ~cond.ambiguous
            if column == "gmag":  # ADQL leaves the place of NULLs in the order open
                where = f"({where}) AND gmag IS NOT NULL"
                keep &= ~np.isnan(stars.gmag)
            values = {"ra": stars.ra, "dec": stars.dec, "gmag": stars.gmag, "id": stars.id}[column]
            chosen = np.flatnonzero(keep)
            key = -values[chosen] if descending else values[chosen]
            order = chosen[np.lexsort((stars.id[chosen], key))]
            expected = [int(i) for i in stars.id[order[:top]]]
            direction = "DESC" if descending else "ASC"
            query = (
                f"SELECT TOP {top} id, {column} AS v FROM demo.stars WHERE {where} "
                f"ORDER BY {column} {direction}, id"
            )

            def check(rows, expected=expected):
                got = [int(r["id"]) for r in rows]
                return None if got == expected else _first_difference(got, expected)

            if not cond.ambiguous.any():
                yield query, check
        for _ in range(QUERIES_PER_SHAPE // 2):
            # TOP over a plain ordering without WHERE randomness, incl. OFFSET-free paging
            top = gen.rng.randint(1, 50)
            low = gen.rng.uniform(0, 350)
            expected_ids = stars.id[stars.ra > float(f"{low:.3f}")]
            expected_ids = expected_ids[np.argsort(stars.ra[stars.ra > float(f"{low:.3f}")])]
            expected = [int(i) for i in expected_ids[:top]]

            def check_plain(rows, expected=expected):
                got = [int(r["id"]) for r in rows]
                return None if got == expected else _first_difference(got, expected)

            yield (
                f"SELECT TOP {top} id FROM demo.stars WHERE ra > {low:.3f} ORDER BY ra",
                check_plain,
            )

    _check_all(cases(), client)


def test_group_by_flags_aggregates(tap_service: TapService, client: httpx.Client) -> None:
    gen = Generator(tap_service.stars, SEED + 3)
    stars = tap_service.stars

    def cases():
        for _ in range(QUERIES_PER_SHAPE):
            cond = gen.condition()
            if cond.ambiguous.any():
                continue
            keep = cond.true
            expected: dict[int, tuple[int, float | None, float | None]] = {}
            for flag in np.unique(stars.flags[keep]):
                rows = keep & (stars.flags == flag)
                g = stars.gmag[rows]
                g = g[~np.isnan(g)]
                mean = float(g.mean()) if len(g) else None
                biggest = float(np.max(stars.ra[rows]))
                expected[int(flag)] = (int(np.count_nonzero(rows)), mean, biggest)
            query = (
                "SELECT flags, COUNT(*) AS n, AVG(gmag) AS g, MAX(ra) AS r "
                f"FROM demo.stars WHERE {cond.adql} GROUP BY flags"
            )

            def check(rows, expected=expected):
                got = {}
                for row in rows:
                    mean = None if row["g"] in {"", "NaN"} else float(row["g"])
                    got[int(row["flags"])] = (int(row["n"]), mean, float(row["r"]))
                if set(got) != set(expected):
                    return f"groups {sorted(got)} != {sorted(expected)}"
                for flag, (n, mean, biggest) in expected.items():
                    gn, gmean, gbig = got[flag]
                    if gn != n or gbig != biggest:
                        return f"flags={flag}: got {got[flag]}, expected {expected[flag]}"
                    if (gmean is None) != (mean is None) or (
                        mean is not None
                        and gmean is not None
                        and not math.isclose(gmean, mean, rel_tol=1e-9)
                    ):
                        return f"flags={flag}: AVG {gmean} != {mean}"
                return None

            yield query, check

    _check_all(cases(), client)
