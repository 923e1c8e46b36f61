"""Golden translations: ADQL -> backend requests, one file per planner.

Format of ``golden/<planner>.txt``: each case starts with ``# title: ...``, then the ADQL
(one or more lines), then ``# expect:`` and the JSON of ``adql-gateway translate``. Run
``pytest --update-golden`` to rewrite the files from the current output, then review the diff.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway.federation.builtin_catalog import builtin_planners
from gateway.translate import translate

GOLDEN = Path(__file__).parent / "golden"
FILES = ("hsc.txt", "spectral.txt")


@dataclass(frozen=True)
class Case:
    title: str
    adql: str
    expected: str


def read_cases(path: Path) -> list[Case]:
    cases: list[Case] = []
    adql: list[str] = []
    expected: list[str] = []
    title, section = "", ""
    for line in [*path.read_text(encoding="utf-8").splitlines(), "# title: <end>"]:
        if line.startswith("# title:"):
            if title:
                cases.append(Case(title, "\n".join(adql).strip(), "\n".join(expected).strip()))
            title, adql, expected, section = line.removeprefix("# title:").strip(), [], [], "q"
        elif line.startswith("# expect:"):
            section = "e"
        elif section == "q":
            adql.append(line)
        elif section == "e":
            expected.append(line)
    return cases


def actual(adql: str) -> str:
    return json.dumps(translate(adql, builtin_planners()).to_json(), indent=1)


def write_cases(path: Path, cases: list[Case]) -> None:
    blocks = [f"# title: {c.title}\n{c.adql}\n# expect:\n{actual(c.adql)}\n" for c in cases]
    path.write_text("\n".join(blocks), encoding="utf-8")


@pytest.mark.parametrize("name", FILES)
def test_golden(name: str, request: pytest.FixtureRequest) -> None:
    path = GOLDEN / name
    cases = read_cases(path)
    assert len(cases) >= 8, "a golden file lost its cases"
    if request.config.getoption("--update-golden"):
        write_cases(path, cases)
        return
    mismatches = [c.title for c in cases if actual(c.adql) != c.expected]
    assert not mismatches, f"{name}: outputs differ for {mismatches} (pytest --update-golden)"
