"""ADQL 2.1 front end: parse text into a typed AST, print it back, read HSC-style filters."""

from grammar.errors import (
    AdqlError,
    AdqlSemanticError,
    AdqlSyntaxError,
    ParamError,
    ParamRef,
    SemanticProblem,
    UnsupportedError,
)
from grammar.nodes import Query, Span
from grammar.params import parse_params
from grammar.parser import parse, parse_condition
from grammar.printer import to_adql

__all__ = [
    "AdqlError",
    "AdqlSemanticError",
    "AdqlSyntaxError",
    "ParamError",
    "ParamRef",
    "Query",
    "SemanticProblem",
    "Span",
    "UnsupportedError",
    "parse",
    "parse_condition",
    "parse_params",
    "to_adql",
]
