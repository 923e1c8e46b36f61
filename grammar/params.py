"""Placeholder: replaced by the HSC-style parameter reader."""

from collections.abc import Mapping

from grammar.nodes import SearchCondition


def parse_params(params: Mapping[str, object] | str) -> SearchCondition:
    """Read HSC-style filters into a search condition."""
    raise NotImplementedError(repr(params))
