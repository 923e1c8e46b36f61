// The EXPLAIN plan drawn: one box per backend fragment (the requests it is sent, what stays
// for the gateway to evaluate), an arrow into the gateway's own engine (the query DuckDB runs
// over the fetched rows), and the text tree of /explain underneath.

import { el } from "./tap.js";

const VALUE_LIMIT = 160;

function shorten(value) {
  const text = String(value);
  return text.length > VALUE_LIMIT ? `${text.slice(0, VALUE_LIMIT)}…` : text;
}

function requestNode(request) {
  const params = (request.params || []).map(([key, value]) =>
    el("tr", {}, el("th", {}, key), el("td", { title: String(value) }, shorten(value))),
  );
  const uploads = (request.uploads || []).length ? el("p", { class: "uploads" }, `uploads: ${request.uploads.join(", ")}`) : null;
  return el(
    "div",
    { class: "request" },
    el("div", { class: "url" }, el("span", { class: "method" }, request.method), ` ${request.url}`),
    params.length ? el("table", { class: "params" }, el("tbody", {}, params)) : null,
    uploads,
  );
}

/**
 * The details the EXPLAIN text gives per fetch ("- Fetch h: hscv3.summary [hsc (hsc)]" or
 * "Fetch [hsc (hsc)]", then indented lines): the table, what was pushed, and notes such as
 * the cross-match dependency and join strategy. Returned in text order; the boxes take them
 * in the same order per backend. Unknown lines are left out (requests and residuals come
 * from the JSON).
 */
export function fetchSections(text) {
  const sections = [];
  let current = null;
  for (const line of (text || "").split("\n")) {
    const head = /^(?:- )?Fetch(?: (\S+): (\S+))? \[(\S+) \((\w+)\)\]$/.exec(line);
    if (head) {
      current = { label: head[1] || "", table: head[2] || "", backend: head[3], pushed: [], notes: [] };
      sections.push(current);
    } else if (current && line.startsWith("    ")) {
      const item = line.trim();
      if (item.startsWith("pushed: ")) current.pushed.push(item.slice(8));
      else if (!item.startsWith("request: ") && !item.startsWith("residual ")) current.notes.push(item);
    } else {
      current = null;
    }
  }
  return sections;
}

function backendBox(fragment, section) {
  return el(
    "div",
    { class: "box backend", "data-backend": fragment.backend },
    el(
      "h3",
      {},
      fragment.backend,
      el("span", { class: "kind" }, fragment.kind),
      section && section.table ? el("code", { class: "table" }, section.label ? `${section.table} AS ${section.label}` : section.table) : null,
    ),
    section && section.pushed.length ? el("ul", { class: "pushed" }, section.pushed.map((p) => el("li", {}, p))) : null,
    (fragment.requests || []).map(requestNode),
    section && section.notes.length ? el("ul", { class: "notes" }, section.notes.map((n) => el("li", {}, n))) : null,
    fragment.residual
      ? el("p", { class: "residual" }, el("span", { class: "label" }, "residual at the gateway: "), el("code", {}, fragment.residual))
      : el("p", { class: "residual none" }, "no residual: the service evaluates every condition"),
  );
}

/** Draw /explain's JSON ({plan, fragments, local_sql}) into ``container``. */
export function drawPlan(container, explained) {
  const fragments = explained.fragments || [];
  const sections = fetchSections(explained.plan);
  const boxes = fragments.map((fragment, i) => {
    // The i-th fragment of a backend goes with the i-th fetch of that backend in the text.
    const rank = fragments.slice(0, i).filter((f) => f.backend === fragment.backend).length;
    return backendBox(fragment, sections.filter((s) => s.backend === fragment.backend)[rank]);
  });
  const mode = (explained.plan || "").split("\n")[0].replace(/^Plan: /, "");
  const gateway = el(
    "div",
    { class: "box gateway" },
    el("h3", {}, fragments.length ? "gateway (DuckDB)" : "gateway engine (local tables)"),
    explained.local_sql
      ? el("pre", { class: "sql" }, explained.local_sql)
      : el("p", { class: "muted" }, "nothing left for the gateway: rows pass through"),
  );
  const diagram = fragments.length
    ? el("div", { class: "diagram" }, el("div", { class: "backends" }, boxes), el("div", { class: "arrow", "aria-hidden": "true" }, "→"), gateway)
    : el("div", { class: "diagram" }, gateway);
  container.replaceChildren(
    el("h2", {}, "Plan", el("span", { class: "mode" }, mode), el("button", { type: "button", class: "close", title: "Close", onclick: () => { container.hidden = true; } }, "×")),
    diagram,
    el("details", { class: "plan-text" }, el("summary", {}, "EXPLAIN text"), el("pre", {}, explained.plan || "")),
  );
  container.hidden = false;
}
