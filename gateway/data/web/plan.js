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

function backendBox(fragment) {
  return el(
    "div",
    { class: "box backend", "data-backend": fragment.backend },
    el("h3", {}, fragment.backend, el("span", { class: "kind" }, fragment.kind)),
    (fragment.requests || []).map(requestNode),
    fragment.residual
      ? el("p", { class: "residual" }, el("span", { class: "label" }, "residual at the gateway: "), el("code", {}, fragment.residual))
      : el("p", { class: "residual none" }, "no residual: the service evaluates every condition"),
  );
}

/** Draw /explain's JSON ({plan, fragments, local_sql}) into ``container``. */
export function drawPlan(container, explained) {
  const fragments = explained.fragments || [];
  const gateway = el(
    "div",
    { class: "box gateway" },
    el("h3", {}, fragments.length ? "gateway (DuckDB)" : "gateway engine (local tables)"),
    explained.local_sql
      ? el("pre", { class: "sql" }, explained.local_sql)
      : el("p", { class: "muted" }, "nothing left for the gateway: rows pass through"),
  );
  const diagram = fragments.length
    ? el("div", { class: "diagram" }, el("div", { class: "backends" }, fragments.map(backendBox)), el("div", { class: "arrow", "aria-hidden": "true" }, "→"), gateway)
    : el("div", { class: "diagram" }, gateway);
  container.replaceChildren(
    el("h2", {}, "Plan", el("button", { type: "button", class: "close", title: "Close", onclick: () => { container.hidden = true; } }, "×")),
    diagram,
    el("details", { class: "plan-text" }, el("summary", {}, "EXPLAIN text"), el("pre", {}, explained.plan || "")),
  );
  container.hidden = false;
}
