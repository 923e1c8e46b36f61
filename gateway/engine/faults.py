"""DuckDB failures while a query runs, as the client should read them.

The binder (:mod:`gateway.query.typecheck`) rejects type mistakes before anything runs, with line
and column. What only the data can reveal is found by DuckDB while it evaluates: an integer
division or ``MOD`` by zero, a ``CAST`` of text that is not a number or a date, an integer
overflow. Those are faults of the query (HTTP 400), reported with DuckDB's own description
of the problem but without its excerpt of the generated SQL, which is not what the user wrote.
A query interrupted by the execution time limit or a cancellation is transient (503).
Anything else DuckDB raises is an internal failure (500).
"""

from __future__ import annotations

import re
from typing import Literal

import duckdb

FaultKind = Literal["fatal", "transient"]

# Prefixes DuckDB puts before its messages ("Conversion Error: ...").
_PREFIXES = (
    "Conversion Error: ",
    "Out of Range Error: ",
    "Invalid Input Error: ",
    "Binder Error: ",
)

_UDF_WRAPPING = re.compile(r"^Python exception occurred while executing the UDF: \w+: ")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    for prefix in _PREFIXES:
        text = text.removeprefix(prefix)
    # An engine function's own message, without the Python wrapping around it.
    text = _UDF_WRAPPING.sub("", text)
    # DuckDB suggests its own SQL remedies ("Use TRY(...)"): meaningless for ADQL.
    return text.split(". Use TRY(", 1)[0].split(". You might need", 1)[0].rstrip(". ")


def engine_fault(exc: BaseException) -> tuple[int, FaultKind, str] | None:
    """``(status, kind, message)`` for a DuckDB error; None for anything else."""
    if not isinstance(exc, duckdb.Error):
        return None
    detail = _first_line(exc)
    if isinstance(exc, duckdb.InterruptException):
        return 503, "transient", "the query was interrupted (execution time limit or cancelled)"
    if isinstance(exc, duckdb.InvalidInputException) and "division by zero" in detail.lower():
        return 400, "fatal", "division by zero while evaluating the query (a '/' or MOD by 0)"
    if isinstance(exc, duckdb.ConversionException):
        return 400, "fatal", f"a conversion failed while evaluating the query: {detail}"
    if isinstance(exc, duckdb.OutOfRangeException):
        return 400, "fatal", f"numeric overflow while evaluating the query: {detail}"
    if isinstance(exc, duckdb.BinderException | duckdb.InvalidInputException):
        return 400, "fatal", f"the query cannot be evaluated: {detail}"
    return 500, "fatal", f"internal error in the query engine: {detail}"
