"""Placeholder: replaced by the lark-based parser."""

from grammar.nodes import Query, SearchCondition


def parse(text: str) -> Query:
    """Parse ADQL text into a :class:`Query`."""
    raise NotImplementedError(text)


def parse_condition(text: str) -> SearchCondition:
    """Parse an ADQL search condition (a WHERE clause without the keyword)."""
    raise NotImplementedError(text)
