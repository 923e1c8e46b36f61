"""EXPLAIN: a federated plan as a readable tree, and as the JSON of ``/explain``.

The tree shows the plan mode, the query the local engine runs, and one node per fragment:
the backend, the table, what was pushed (filters, projection, order, limit), the residual the
gateway still evaluates, each backend request, and for a cross-match side fetched after the
other, the join operator with the rule (and, after execution, the estimates) that chose it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from urllib.parse import urlencode

from gateway.federation.planner import Plan, ScanPlan
from gateway.federation.xmatch import FederationOptions, JoinChoice
from grammar.printer import to_adql
from planners.base import BackendRequest
from planners.negotiate import Fragment

__all__ = ["explain_json", "explain_plan"]

_MODES = {
    "engine": "Local: every table is served by the gateway's engine",
    "pushdown": "Pushdown: the whole query runs on one TAP backend",
    "single": "Single backend: negotiated pushdown into one table",
    "federated": "Federated: one fetch per table reference, the rest in DuckDB (LocalJoin)",
}


def _request(request: BackendRequest) -> str:
    query = urlencode(list(request.params))
    uploads = f" uploads={','.join(request.uploads)}" if request.uploads else ""
    return f"{request.method} {request.url}?{query}{uploads}"


def _fragment_lines(fragment: Fragment, indent: str) -> list[str]:
    lines = [f"{indent}pushed: {p}" for p in fragment.pushed]
    if fragment.residual is not None:
        lines.append(f"{indent}residual (gateway): {to_adql(fragment.residual)}")
    lines += [f"{indent}request: {_request(r)}" for r in fragment.requests]
    return lines


def _depends(
    scan: ScanPlan, plan: Plan, choice: JoinChoice | None, opts: FederationOptions
) -> list[str]:
    edge = scan.depends
    assert edge is not None
    outer = next(s for s in plan.scans if s.ref.index == edge.other(scan.ref.index))
    lines = [
        (
            f"    cross-match with {outer.ref.label} (r = {edge.radius} deg): fetched after it, "
            "restricted by its positions"
        )
    ]
    if choice is None:
        lines.append(
            "    strategy: chosen at run time: UploadJoin for TAP backends with uploads when a "
            f"COUNT probe finds > {opts.upload_ratio} rows per outer row or the derived cone "
            f"is wider than {opts.cone_max_deg} deg; for cone-only backends BindJoin (one cone "
            f"per cluster, up to {opts.bind_max_clusters} clusters) when the derived cone is "
            "wider than that, or when the estimated rows (density hint, or the first cluster's "
            "cone extrapolated) make it cheaper than fetching the derived cone; "
            "else LocalJoin with the derived cone"
        )
    else:
        lines.append(f"    strategy: {choice.strategy} ({choice.reason})")
        lines.append(f"    estimates: {json.dumps(choice.estimates, default=str)}")
    return lines


def explain_plan(
    plan: Plan,
    choices: Mapping[int, JoinChoice] | None = None,
    options: FederationOptions | None = None,
) -> str:
    """The plan tree as text (``choices``: the strategies an execution picked)."""
    opts = options or FederationOptions()
    lines = [f"Plan: {_MODES[plan.mode]}"]
    if plan.mode == "pushdown" and plan.uploads_pushed:
        names = ", ".join(f"TAP_UPLOAD.{u}" for u in plan.uploads_pushed)
        lines.append(f"UploadJoin: {names} uploaded with the query to the TAP backend")
    if plan.fragment is not None:
        f = plan.fragment
        lines.append(f"Fetch [{f.backend} ({f.kind})]")
        lines += _fragment_lines(f, "    ")
        lines += [f"    fetched whole: {w.describe(opts)}" for w in plan.whole]
        if f.local_query is not None:
            lines.append(f"Local (DuckDB over fragment.fetched): {to_adql(f.local_query)}")
        return "\n".join(lines)
    if plan.mode == "engine":
        lines.append(f"Local (DuckDB): {to_adql(plan.query)}")
        return "\n".join(lines)
    lines.append(f"LocalJoin (DuckDB): {to_adql(plan.local_query)}")
    for scan in plan.scans:
        where = ".".join(scan.register_as)
        if scan.ref.source == "upload":
            lines.append(f"- Upload {scan.ref.label}: the client's table")
            continue
        if scan.ref.source == "engine":
            lines.append(f"- Local {scan.ref.label}: {where} (in-process engine)")
            continue
        lines.append(f"- Fetch {scan.ref.label}: {where} [{scan.backend} ({scan.kind})]")
        if scan.fragment is not None:
            lines += _fragment_lines(scan.fragment, "    ")
        whole = [w for w in plan.whole if w.label == scan.ref.label]
        if scan.depends is not None:
            choice = None if choices is None else choices.get(scan.ref.index)
            lines += _depends(scan, plan, choice, opts)
        elif whole:
            lines += [f"    fetched whole: {w.describe(opts)}" for w in whole]
        elif scan.restricted:
            lines.append("    restricted by its own spatial condition")
    lines += [f"note: {note}" for note in plan.notes]
    return "\n".join(lines)


def explain_json(
    plan: Plan,
    choices: Mapping[int, JoinChoice] | None = None,
    options: FederationOptions | None = None,
) -> dict[str, object]:
    """``{"plan": text, "fragments": [...], "local_adql": ...}`` (``/explain`` adds local_sql)."""
    body = plan.to_json()
    return {"plan": explain_plan(plan, choices, options), **body}
