"""Load the ADQL corpus in ``tests/grammar/corpus`` (format described in its README.md)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

CORPUS_DIR = Path(__file__).parent / "corpus"
TITLE = "-- title:"


@dataclass(frozen=True, slots=True)
class CorpusCase:
    """One query of the corpus: why it is (in)valid, its text, and where it is written."""

    title: str
    text: str
    path: Path
    line: int

    @property
    def id(self) -> str:
        """A short test id: ``file:line``."""
        return f"{self.path.name}:{self.line}"

    @property
    def grey(self) -> bool:
        """True for a recorded decision where the BNF is ambiguous or silent."""
        return self.title.startswith("grey:")


def _cases(path: Path) -> list[CorpusCase]:
    cases: list[CorpusCase] = []
    title: str | None = None
    start = 0
    body: list[str] = []

    def close() -> None:
        if title is not None:
            text = "\n".join(body).strip("\n")
            cases.append(CorpusCase(title, text, path, start))

    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.startswith(TITLE):
            close()
            title, start, body = line[len(TITLE) :].strip(), number, []
        else:
            body.append(line)
    close()
    return cases


def load_corpus(kind: Literal["valid", "invalid"]) -> list[CorpusCase]:
    """Every case of every ``*.<kind>.adql`` file, in file then line order."""
    cases: list[CorpusCase] = []
    for path in sorted(CORPUS_DIR.glob(f"*.{kind}.adql")):
        cases.extend(_cases(path))
    return cases
