"""DALI examples (``/examples``): an XHTML document with RDFa-lite markup of runnable queries.

Each example is ``<div id=".." resource="#.." typeof="example">`` holding a ``name`` and a
``query`` property (DALI §2.3; TAP adds ``query`` and ``table``), inside one element that sets
``vocab="http://www.ivoa.net/rdf/examples#"``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

EXAMPLES_VOCAB = "http://www.ivoa.net/rdf/examples#"


@dataclass(frozen=True, slots=True)
class Example:
    """One example query with a short name, a sentence of explanation and its tables."""

    name: str
    description: str
    query: str
    tables: tuple[str, ...] = ()

    @property
    def slug(self) -> str:
        """A fragment identifier derived from the name."""
        return re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-") or "example"


def examples_xhtml(title: str, examples: Sequence[Example]) -> bytes:
    """Render the examples document."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en">\n',
        f"<head><title>{escape(title)}: query examples</title></head>\n",
        f'<body vocab="{EXAMPLES_VOCAB}">\n',
        f"<h1>{escape(title)}: query examples</h1>\n",
    ]
    used: set[str] = set()
    for example in examples:
        slug = example.slug
        n = 2
        while slug in used:
            slug = f"{example.slug}-{n}"
            n += 1
        used.add(slug)
        parts.append(f'<div id="{slug}" resource="#{slug}" typeof="example">\n')
        parts.append(f'  <h2 property="name">{escape(example.name)}</h2>\n')
        parts.append(f"  <p>{escape(example.description)}</p>\n")
        parts.append(f'  <pre property="query">{escape(example.query)}</pre>\n')
        if example.tables:
            parts.append("  <p>Tables: ")
            parts.append(
                ", ".join(f'<span property="table">{escape(t)}</span>' for t in example.tables)
            )
            parts.append("</p>\n")
        parts.append("</div>\n")
    parts.append("</body>\n</html>\n")
    return "".join(parts).encode()
