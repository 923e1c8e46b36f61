// Results as a sortable table. Every row is kept (sorting is over all of them); only the
// first RENDERED rows become DOM rows so that a 100,000-row answer does not freeze the page.

import { el } from "./tap.js";

export const RENDERED = 2000;

function cellText(value) {
  if (value === null || value === undefined) return "";
  if (Array.isArray(value)) return value.map(cellText).join(" ");
  return String(value);
}

const NUMERIC = new Set(["number", "bigint"]);

function compare(a, b) {
  // Nulls last in both directions is handled by the caller. Numbers and 64-bit integers
  // (BigInt, see tap.readResult) compare with < and >, which mixes the two exactly.
  if (NUMERIC.has(typeof a) && NUMERIC.has(typeof b)) return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === "boolean" && typeof b === "boolean") return Number(a) - Number(b);
  return cellText(a).localeCompare(cellText(b), undefined, { numeric: true });
}

function cell(value, numeric) {
  if (value === null || value === undefined) return el("td", { class: "null" });
  const text = cellText(value);
  // URLs (access_url, DataLink, previews) open in a new tab.
  if (typeof value === "string" && /^https?:\/\//.test(value)) {
    return el("td", { title: text }, el("a", { href: text, target: "_blank", rel: "noopener" }, text));
  }
  return el("td", { class: numeric ? "num" : null, title: text.length > 40 ? text : null }, text);
}

export class ResultTable {
  constructor(container) {
    this.container = container;
    this.result = null;
    this.order = null; // {index, descending}
  }

  show(result) {
    this.result = result;
    this.rows = result.data.slice();
    this.order = null;
    this.draw();
  }

  clear() {
    this.result = null;
    this.container.replaceChildren();
  }

  sortBy(index) {
    const descending = this.order && this.order.index === index ? !this.order.descending : false;
    this.order = { index, descending };
    const sign = descending ? -1 : 1;
    this.rows.sort((r1, r2) => {
      const a = r1[index];
      const b = r2[index];
      const aNull = a === null || a === undefined;
      const bNull = b === null || b === undefined;
      if (aNull || bNull) return Number(aNull) - Number(bNull);
      return sign * compare(a, b);
    });
    this.draw();
  }

  draw() {
    const { metadata } = this.result;
    const header = el(
      "tr",
      {},
      metadata.map((column, index) => {
        const sorted = this.order && this.order.index === index;
        const arrow = sorted ? (this.order.descending ? " ▼" : " ▲") : "";
        const title = [column.ucd, column.description].filter(Boolean).join(" · ");
        return el(
          "th",
          { title, "aria-sort": sorted ? (this.order.descending ? "descending" : "ascending") : "none", "data-index": index },
          el("button", { type: "button", onclick: () => this.sortBy(index) }, column.name, arrow),
          column.unit ? el("span", { class: "unit" }, column.unit) : null,
        );
      }),
    );
    const numeric = metadata.map((c) => /^(short|int|long|float|double|unsignedByte)$/.test(c.datatype) && !c.arraysize);
    const body = el(
      "tbody",
      {},
      this.rows.slice(0, RENDERED).map((row) => el("tr", {}, row.map((value, i) => cell(value, numeric[i])))),
    );
    const note = this.rows.length > RENDERED ? el("p", { class: "muted" }, `Showing the first ${RENDERED} of ${this.rows.length} rows (sorting uses all of them).`) : null;
    const scroll = el("div", { class: "scroll" }, el("table", { class: "result" }, el("thead", {}, header), body));
    this.container.replaceChildren(...[scroll, note].filter(Boolean));
  }
}
