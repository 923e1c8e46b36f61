// The schema browser: VOSI /tables (the same metadata as TAP_SCHEMA), one collapsible group
// per schema labelled with the backend that serves it, each table with its columns, units
// and UCDs. Clicking a table writes a query for it; clicking a column inserts its name at the
// cursor.

import { el, getText, kids, kidText, parseXml, post } from "./tap.js";

/** [{name, description, tables: [{name, description, columns: [{name, unit, ucd, datatype, description}]}]}] */
export function readTableset(xml) {
  const doc = parseXml(xml);
  const schemas = [];
  for (const schema of doc.documentElement.children) {
    if (schema.localName !== "schema") continue;
    schemas.push({
      name: kidText(schema, "name"),
      description: kidText(schema, "description"),
      tables: kids(schema, "table").map((table) => ({
        name: kidText(table, "name"),
        description: kidText(table, "description"),
        columns: kids(table, "column").map((column) => ({
          name: kidText(column, "name"),
          unit: kidText(column, "unit"),
          ucd: kidText(column, "ucd"),
          datatype: kidText(column, "dataType"),
          description: kidText(column, "description"),
        })),
      })),
    });
  }
  return schemas;
}

export class SchemaBrowser {
  constructor(container, filter, editor) {
    this.container = container;
    this.editor = editor;
    this.schemas = [];
    filter.addEventListener("input", () => this.filter(filter.value.trim().toLowerCase()));
  }

  async load() {
    try {
      this.schemas = readTableset(await getText("tables"));
    } catch (error) {
      this.container.replaceChildren(el("p", { class: "error" }, `Tables: ${error.message}`));
      return;
    }
    this.draw();
    await Promise.all(this.schemas.map((schema) => this.labelBackend(schema)));
  }

  /**
   * Name the service that holds a schema: /translate of a query on its first table (nothing
   * is fetched). A local-tables service, or TAP_SCHEMA, has no backend fragment: no label.
   */
  async labelBackend(schema) {
    const first = schema.tables[0];
    if (!first) return;
    let plan;
    try {
      plan = await (await post("translate", { QUERY: `SELECT TOP 1 * FROM ${first.name}` })).json();
    } catch {
      return; // a name the parser rejects (odd characters): the list is still usable
    }
    const fragment = (plan.fragments || [])[0];
    const summary = this.container.querySelector(`details.schema[data-schema="${CSS.escape(schema.name)}"] > summary`);
    if (!fragment || !summary) return;
    summary.append(el("span", { class: "backend", "data-backend": fragment.backend, title: `served by backend ${fragment.backend} (${fragment.kind})` }, `${fragment.backend} · ${fragment.kind}`));
  }

  draw() {
    const groups = this.schemas.map((schema) => {
      const count = schema.tables.length;
      return el(
        "details",
        { class: "schema", "data-schema": schema.name, open: schema.name.toLowerCase() !== "tap_schema" },
        el("summary", { title: schema.description }, el("span", { class: "schema-name" }, schema.name), el("span", { class: "count" }, `${count}`)),
        schema.tables.map((table) => this.tableNode(table)),
      );
    });
    this.container.replaceChildren(...groups);
  }

  tableNode(table) {
    const columns = el(
      "table",
      { class: "columns" },
      el("tbody", {}, table.columns.map((column) => this.columnRow(column))),
    );
    const query = el("button", {
      type: "button",
      class: "link",
      title: `Write a query over ${table.name}`,
      text: "query",
      onclick: (event) => {
        event.preventDefault();
        this.editor.value = `SELECT TOP 100 *\nFROM ${table.name}`;
      },
    });
    return el(
      "details",
      { class: "table", "data-table": table.name },
      el("summary", { title: table.description }, el("code", {}, table.name), query),
      table.description ? el("p", { class: "desc" }, table.description) : null,
      columns,
    );
  }

  columnRow(column) {
    const title = [column.datatype, column.description].filter(Boolean).join(": ");
    return el(
      "tr",
      { "data-column": column.name, title },
      el("td", {}, el("button", { type: "button", class: "link col", text: column.name, onclick: () => this.editor.insert(column.name) })),
      el("td", { class: "unit" }, column.unit),
      el("td", { class: "ucd" }, column.ucd),
    );
  }

  filter(needle) {
    for (const group of this.container.querySelectorAll("details.schema")) {
      let any = false;
      for (const table of group.querySelectorAll("details.table")) {
        const tableHit = !needle || table.dataset.table.toLowerCase().includes(needle);
        let columnHit = false;
        for (const row of table.querySelectorAll("tr")) {
          const hit = !needle || tableHit || row.dataset.column.toLowerCase().includes(needle) || row.textContent.toLowerCase().includes(needle);
          row.hidden = !hit;
          columnHit ||= hit;
        }
        table.hidden = !(tableHit || columnHit);
        if (needle && columnHit && !tableHit) table.open = true;
        any ||= !table.hidden;
      }
      group.hidden = !any;
      if (needle && any) group.open = true;
    }
  }
}
