// The query page: wires the editor, the schema browser, the plan, the results and async jobs
// to the TAP service it is served by (every URL relative to the TAP base path).

import { Editor } from "./editor.js";
import { AsyncJob } from "./jobs.js";
import { drawPlan } from "./plan.js";
import { ResultTable } from "./results.js";
import { SchemaBrowser } from "./schema.js";
import { clearSky, drawSky } from "./sky.js";
import { el, getJson, getText, parseXml, positionIn, post, readResult } from "./tap.js";

const $ = (id) => document.getElementById(id);
const CHECK_DELAY_MS = 250;
const DEFAULT_QUERY = "SELECT TOP 10 table_name, description\nFROM TAP_SCHEMA.tables";

const editor = new Editor($("query"), $("highlight"), $("syntax"));
const schema = new SchemaBrowser($("schema-tree"), $("schema-filter"), editor);
const table = new ResultTable($("results"));
const status = $("status");

function setStatus(text, kind = "") {
  status.textContent = text;
  status.className = kind;
}

/** Show an error from running a query; mark its position when the message names one. */
function showError(message) {
  // A syntax check still on its way would find the text valid and clear this error.
  clearTimeout(checkTimer);
  checkSeq += 1;
  const at = positionIn(message);
  if (!at) {
    setStatus(message, "error");
    return;
  }
  // The message (with its caret excerpt) is shown under the editor, at the marked position.
  editor.setError({ ...at, message: message.split("\n")[0].replace(/ at line \d+, column \d+$/, ""), expected: [] });
  setStatus(`The query failed: error at line ${at.line}, column ${at.column} (marked above).`, "error");
}

// ------------------------------------------------------------------ syntax check as you type

let checkTimer = 0;
let checkSeq = 0;

async function check() {
  const seq = (checkSeq += 1);
  const text = editor.value;
  if (!text.trim()) {
    editor.setError(null);
    return;
  }
  try {
    const answer = await (await post("parse", { QUERY: text })).json();
    if (seq !== checkSeq) return; // a newer check is on its way
    editor.setError(answer.ok ? null : answer.error);
  } catch (error) {
    if (seq === checkSeq) setStatus(`Syntax check: ${error.message}`, "error");
  }
}

$("query").addEventListener("input", () => {
  clearTimeout(checkTimer);
  checkTimer = setTimeout(check, CHECK_DELAY_MS);
});

// ------------------------------------------------------------------ running queries

function queryParams() {
  const params = { REQUEST: "doQuery", LANG: "ADQL", QUERY: editor.value, RESPONSEFORMAT: "json" };
  const maxrec = $("maxrec").value.trim();
  if (maxrec !== "") params.MAXREC = maxrec;
  return params;
}

function busy(on) {
  for (const id of ["run", "run-async", "plan-btn"]) $(id).disabled = on;
  document.body.classList.toggle("busy", on);
}

let downloadBase = {};

async function showResult(response, started) {
  const result = await readResult(response);
  const seconds = ((performance.now() - started) / 1000).toFixed(2);
  table.show(result);
  drawSky($("sky"), $("sky-caption"), result);
  const rows = result.data.length;
  const overflow = result.overflow ? ` · cut at MAXREC=${$("maxrec").value || "default"} (overflow)` : "";
  setStatus(`${rows} row${rows === 1 ? "" : "s"} · ${result.metadata.length} columns · ${seconds} s${overflow}`, result.overflow ? "warn" : "ok");
  status.append(downloads(downloadBase));
}

// The same query as a GET /sync URL in other formats (the browser downloads it).
function downloads(params) {
  const links = [["VOTable", "votable"], ["CSV", "csv"], ["Parquet", "parquet"]].map(([label, format]) => {
    const query = new URLSearchParams({ ...params, RESPONSEFORMAT: format });
    return el("a", { href: `sync?${query}`, download: "" }, label);
  });
  return el("span", { class: "downloads" }, " · download: ", links.flatMap((a, i) => (i ? [" ", a] : [a])));
}

async function runSync() {
  busy(true);
  setStatus("Running…");
  const started = performance.now();
  try {
    downloadBase = queryParams();
    await showResult(await post("sync", downloadBase), started);
  } catch (error) {
    table.clear();
    clearSky($("sky"));
    showError(error.message);
  } finally {
    busy(false);
  }
}

const job = new AsyncJob(
  $("job"),
  async (response) => {
    try {
      await showResult(response, job.started);
    } catch (error) {
      showError(error.message);
    }
  },
  (message) => {
    table.clear();
    clearSky($("sky"));
    showError(message);
  },
);

async function runAsync() {
  busy(true);
  setStatus("Async job submitted…");
  try {
    downloadBase = queryParams();
    await job.submit(downloadBase);
  } catch (error) {
    showError(error.message);
  } finally {
    busy(false);
  }
}

async function showPlan() {
  busy(true);
  try {
    const explained = await (await post("explain", { QUERY: editor.value })).json();
    drawPlan($("plan"), explained);
    setStatus("Plan: nothing was fetched; Run executes it.");
  } catch (error) {
    showError(`Plan: ${error.message}`);
  } finally {
    busy(false);
  }
}

$("run").addEventListener("click", runSync);
$("run-async").addEventListener("click", runAsync);
$("plan-btn").addEventListener("click", showPlan);
$("query").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    runSync();
  }
});

// ------------------------------------------------------------------ examples and start-up

async function loadExamples() {
  const select = $("examples");
  let doc;
  try {
    doc = parseXml(await getText("examples"));
  } catch {
    select.hidden = true;
    return;
  }
  const title = doc.getElementsByTagNameNS("*", "title")[0];
  if (title) {
    const name = title.textContent.replace(/: query examples$/, "");
    $("title").textContent = name;
    document.title = `${name}: ADQL query`;
  }
  const queries = [];
  for (const node of doc.querySelectorAll("[typeof='example']")) {
    const query = node.querySelector("[property='query']");
    const name = node.querySelector("[property='name']");
    if (!query) continue;
    queries.push(query.textContent);
    select.append(new Option(name ? name.textContent : query.textContent.slice(0, 60), String(queries.length - 1)));
  }
  select.addEventListener("change", () => {
    if (select.value !== "") editor.value = queries[Number(select.value)];
    select.value = "";
  });
}

async function start() {
  editor.value = DEFAULT_QUERY;
  try {
    const words = await getJson("web/keywords.json");
    editor.setWords([...words.sql, ...words.adql]);
  } catch {
    // Highlighting without keyword colours is still an editor.
  }
  setStatus("Ctrl+Enter runs the query. In the table list, “query” starts a query on a table; a column name is inserted at the cursor.");
  await Promise.all([schema.load(), loadExamples()]);
  document.body.dataset.ready = "true";
}

start();
