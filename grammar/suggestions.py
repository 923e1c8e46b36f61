"""'did you mean ...?' hints for misspelled keywords, tables and columns.

One home for the wording and the matching, so every unknown-name error reads the same whether the
grammar, a planner or the federation raises it. Lives in ``grammar`` because planners and gateway
both depend on it and the core install is grammar + planners.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def close_matches(
    word: str,
    candidates: Iterable[str],
    *,
    limit: int = 3,
    cutoff: float = 0.6,
    ignore_case: bool = False,
) -> list[str]:
    """The candidates closest to ``word``, best first, as they are written in ``candidates``.

    With ``ignore_case`` the comparison folds case (regular identifiers and keywords), but the
    candidates are returned in their own spelling so the hint shows the name as declared.
    """
    if not ignore_case:
        return difflib.get_close_matches(word, list(candidates), n=limit, cutoff=cutoff)
    spelled: dict[str, str] = {}
    for candidate in candidates:
        spelled.setdefault(candidate.lower(), candidate)
    folded = difflib.get_close_matches(word.lower(), list(spelled), n=limit, cutoff=cutoff)
    return [spelled[f] for f in folded]


def suggestion(
    word: str,
    candidates: Iterable[str],
    *,
    limit: int = 3,
    cutoff: float = 0.6,
    ignore_case: bool = False,
    quote: bool = False,
    list_known: bool = False,
    lead: str = "; ",
) -> str:
    """The hint to append to an unknown-name message: ``'; did you mean a, b?'``.

    Parameters
    ----------
    word
        The name as the user wrote it.
    candidates
        The names that exist.
    limit, cutoff, ignore_case
        As for :func:`close_matches`.
    quote
        Write each suggestion in single quotes (names that may contain dots or spaces).
    list_known
        When nothing is close, list every candidate (``'; known: a, b, c'``) instead of nothing;
        for short, fixed lists such as a backend's few tables.
    lead
        What joins the hint to the message before it.

    Returns
    -------
    str
        The hint, or ``""`` when there is nothing useful to say.
    """
    names = list(candidates)
    close = close_matches(word, names, limit=limit, cutoff=cutoff, ignore_case=ignore_case)
    if close:
        return f"{lead}did you mean {_listed(close, quote=quote)}?"
    if list_known and names:
        return f"{lead}known: {_listed(names, quote=quote)}"
    return ""


def _listed(names: Iterable[str], *, quote: bool) -> str:
    return ", ".join(f"'{name}'" if quote else name for name in names)
