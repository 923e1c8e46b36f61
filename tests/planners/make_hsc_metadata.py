"""Write the HSC column metadata the planner ships (``planners/data/hsc_*.json``).

Run ``python -m tests.planners.make_hsc_metadata`` after changing ``standins/hsc_schema.py``;
``test_hsc.py`` fails while the shipped files differ from what the stand-in serves.
"""

from __future__ import annotations

import json
from pathlib import Path

from standins.hsc_schema import TABLES, metadata_record

DATA_DIR = Path(__file__).resolve().parents[2] / "planners" / "data"

FILE_STEMS = {
    "hscv3.summary": "hsc_v3_summary_magaper2",
    "hscv3.summary_magauto": "hsc_v3_summary_magauto",
    "hscv3.detailed": "hsc_v3_detailed",
    "hscv3.propermotions": "hsc_v3_propermotions",
    "hscv3.sourcepositions": "hsc_v3_sourcepositions",
    "hscv2.summary": "hsc_v2_summary_magaper2",
    "hscv2.summary_magauto": "hsc_v2_summary_magauto",
    "hscv2.detailed": "hsc_v2_detailed",
}
"""Federated table name -> file stem (``hsc_<release>_<table>[_<magtype>]``)."""


def metadata(name: str) -> list[dict[str, object]]:
    """The ``/metadata`` answer of the stand-in for the federated table ``name``."""
    return [metadata_record(c, i) for i, c in enumerate(TABLES[name].columns)]


def render(name: str) -> str:
    """The file text for one table (stable formatting, so diffs stay readable)."""
    return json.dumps(metadata(name), indent=1) + "\n"


def main() -> None:
    """Regenerate every file."""
    for name, stem in FILE_STEMS.items():
        (DATA_DIR / f"{stem}.json").write_text(render(name), encoding="utf-8")


if __name__ == "__main__":
    main()
