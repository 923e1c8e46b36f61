"""Placeholder: replaced by the canonical ADQL printer."""

from grammar.nodes import Node


def to_adql(node: Node) -> str:
    """Print a node as canonical ADQL."""
    raise NotImplementedError(repr(node))
