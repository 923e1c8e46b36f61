"""Parsing benchmark: our ADQL parser against sqlglot and queryparser-python3.

Every valid case of the grammar corpus (tests/grammar/corpus/*.valid.adql) is parsed by each
library in the same run. Each query is parsed REPEAT times after one warm-up parse and its
median is kept; the report gives the median and p95 of those per-query times, and queries/s
over one pass of the corpus (sum of per-query medians). Queries a library rejects are counted
and left out of its figures. Also measured, in fresh interpreters: `import grammar` time and the
first parse (which builds the LALR tables).

Run: /work/venv/bin/python bench/parse.py [--repeat N]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlglot  # noqa: E402
from queryparser.adql import ADQLQueryTranslator  # noqa: E402

import grammar  # noqa: E402
from tests.grammar.corpus import load_corpus  # noqa: E402


@dataclass
class Result:
    name: str
    times: list[float]
    failures: int

    def row(self) -> str:
        if not self.times:
            return f"| {self.name} | - | - | - | {self.failures} |"
        ordered = sorted(self.times)
        median = statistics.median(ordered)
        p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
        rate = len(ordered) / sum(ordered)
        return (
            f"| {self.name} | {median * 1e6:,.0f} | {p95 * 1e6:,.0f} | {rate:,.0f} |"
            f" {self.failures} |"
        )


def _queryparser(text: str) -> object:
    with contextlib.redirect_stderr(io.StringIO()):  # antlr prints lexer errors itself
        translator = ADQLQueryTranslator(text)  # the constructor parses (set_query)
    return translator.tree


PARSERS: dict[str, Callable[[str], object]] = {
    "grammar.parse (ours)": grammar.parse,
    'sqlglot.parse_one(read="tsql")': lambda text: sqlglot.parse_one(text, read="tsql"),
    "queryparser ADQLQueryTranslator(q)": _queryparser,
}


def measure(name: str, parse: Callable[[Any], object], texts: list[Any], repeat: int) -> Result:
    times: list[float] = []
    failures = 0
    for text in texts:
        try:
            parse(text)
        except Exception:  # noqa: BLE001 - any rejection counts as a failure
            failures += 1
            continue
        samples = []
        for _ in range(repeat):
            start = time.perf_counter()
            parse(text)
            samples.append(time.perf_counter() - start)
        times.append(statistics.median(samples))
    return Result(name, times, failures)


def _fresh(code: str, runs: int = 5) -> float:
    """Best wall time of ``code`` in a fresh interpreter, minus an empty interpreter's."""

    def best(source: str) -> float:
        walls = []
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", source], check=True, cwd=ROOT)
            walls.append(time.perf_counter() - start)
        return min(walls)

    return best(code) - best("pass")


def first_parse() -> tuple[float, float]:
    """(import time, first parse time) measured inside one fresh interpreter, best of 5."""
    code = (
        "import time; t0 = time.perf_counter(); import grammar; t1 = time.perf_counter();"
        " grammar.parse('SELECT a FROM t WHERE b > 1'); t2 = time.perf_counter();"
        " print(t1 - t0, t2 - t1)"
    )
    pairs = []
    for _ in range(5):
        out = subprocess.run(
            [sys.executable, "-c", code], check=True, cwd=ROOT, capture_output=True, text=True
        ).stdout.split()
        pairs.append((float(out[0]), float(out[1])))
    return min(p[0] for p in pairs), min(p[1] for p in pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="timed parses per query")
    args = parser.parse_args()
    texts = [case.text for case in load_corpus("valid")]
    print(f"Python {sys.version.split()[0]}, sqlglot {version('sqlglot')},")
    print(f"{len(texts)} valid corpus queries, {args.repeat} timed parses each (median kept)\n")
    print("| parser | median µs/query | p95 µs/query | queries/s | rejected |")
    print("|---|---:|---:|---:|---:|")
    results = {}
    for name, parse in PARSERS.items():
        results[name] = measure(name, parse, texts, args.repeat)
        print(results[name].row())
    ours, glot, qp = (
        statistics.median(r.times) if r.times else float("nan") for r in results.values()
    )
    print(f"\nours / sqlglot median: {ours / glot:.2f}x; queryparser / ours: {qp / ours:.1f}x")
    trees = [grammar.parse(text) for text in texts]
    printed = measure("grammar.to_adql (printer)", grammar.to_adql, trees, args.repeat)
    print(f"printer: {printed.row()}")
    import_wall = _fresh("import grammar")
    import_in, first = first_parse()
    print(f"`python -c 'import grammar'`: {import_wall * 1e3:.0f} ms over an empty interpreter")
    print(f"in-process: import grammar {import_in * 1e3:.0f} ms, first parse {first * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
