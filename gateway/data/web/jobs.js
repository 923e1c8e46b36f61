// Async queries: POST /async with PHASE=RUN, then follow the UWS job (UWS 1.1 WAIT blocks
// until the phase changes, so polling costs one request per change, not one per tick), show
// its phase and whatever the job document reports, and hand over the result or the error.

import { daliError, el, getText, kids, kidText, parseXml, post } from "./tap.js";

const ACTIVE = new Set(["PENDING", "QUEUED", "EXECUTING", "HELD", "SUSPENDED"]);
const WAIT_SECONDS = 2;

function readJob(xml) {
  const job = parseXml(xml).documentElement;
  const info = kids(job, "jobInfo")[0];
  const results = kids(job, "results")[0];
  return {
    id: kidText(job, "jobId"),
    phase: kidText(job, "phase"),
    start: kidText(job, "startTime"),
    end: kidText(job, "endTime"),
    info: info ? Array.from(info.children) : [],
    results: results ? kids(results, "result").map((r) => r.getAttribute("id")) : [],
  };
}

/** The id of the newest job with this RUNID (UWS job list, most recent first), or null. */
async function findJob(runId) {
  const list = parseXml(await getText("async?LAST=100")).documentElement;
  const ref = kids(list, "jobref").find((r) => kidText(r, "runId") === runId);
  return ref ? ref.getAttribute("id") : null;
}

export class AsyncJob {
  /**
   * @param {HTMLElement} panel where the job is shown
   * @param {(response: Response) => Promise<void>} onResult called with the result's Response
   * @param {(message: string) => void} onError called when the job fails
   */
  constructor(panel, onResult, onError) {
    this.panel = panel;
    this.onResult = onResult;
    this.onError = onError;
    this.url = null;
    this.started = 0;
  }

  async submit(params) {
    this.started = performance.now();
    this.url = null;
    this.show({ id: "", phase: "SUBMITTING", info: [] });
    const runId = `page-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
    let job;
    try {
      // The service answers 303 See Other to the job; fetch follows it, so the response is
      // the job document and its URL the job's URL.
      const response = await post("async", { ...params, PHASE: "RUN", RUNID: runId });
      this.url = response.url;
      job = readJob(await response.text());
    } catch (error) {
      // A TypeError is a network failure: the redirect names the service's configured
      // base_url, and when that is another origin than this page's (localhost vs 127.0.0.1)
      // the browser refuses to follow it. The job exists all the same: find it by RUNID.
      const id = error instanceof TypeError ? await findJob(runId) : null;
      if (!id) {
        this.onError(error.message);
        this.show({ id: "", phase: "ERROR", info: [] });
        return;
      }
      this.url = new URL(`async/${encodeURIComponent(id)}`, document.baseURI).href;
      job = readJob(await getText(this.url));
    }
    await this.follow(job);
  }

  async follow(job) {
    const url = this.url;
    while (ACTIVE.has(job.phase) && this.url === url) {
      this.show(job);
      const wait = new URLSearchParams({ WAIT: String(WAIT_SECONDS), PHASE: job.phase });
      job = readJob(await getText(`${url}?${wait}`));
    }
    if (this.url !== url) return;
    this.show(job);
    if (job.phase === "COMPLETED") {
      const id = job.results[0] || "result";
      const response = await fetch(`${url}/results/${encodeURIComponent(id)}`);
      await this.onResult(response);
    } else if (job.phase === "ERROR") {
      const text = await (await fetch(`${url}/error`)).text();
      this.onError(daliError(text) || text.trim() || "the job failed without a message");
    } else {
      this.onError(`the job ended in phase ${job.phase}`);
    }
  }

  async abort() {
    if (!this.url) return;
    await post(`${this.url}/phase`, { PHASE: "ABORT" });
  }

  show(job) {
    const seconds = ((performance.now() - this.started) / 1000).toFixed(1);
    const active = ACTIVE.has(job.phase) || job.phase === "SUBMITTING";
    const info = job.info.map((node) => {
      if (node.localName === "fetched") {
        // The gateway's progress: rows fetched so far from each backend.
        const backend = node.getAttribute("backend");
        const rows = Number(node.getAttribute("rows"));
        return el("li", { class: "fetched", "data-backend": backend }, el("b", {}, backend), `: ${rows.toLocaleString("en")} rows fetched`);
      }
      const attrs = Array.from(node.attributes).map((a) => `${a.name}=${a.value}`).join(" ");
      return el("li", {}, el("code", {}, node.localName), ` ${attrs} ${node.textContent.trim()}`);
    });
    const parts = [
      el(
        "h2",
        {},
        "Async job ",
        job.id ? el("a", { href: this.url, target: "_blank", rel: "noopener" }, job.id) : null,
        el("button", { type: "button", class: "close", title: "Close", onclick: () => { this.panel.hidden = true; } }, "×"),
      ),
      el(
        "p",
        {},
        el("span", { id: "job-phase", class: `phase phase-${job.phase.toLowerCase()}`, "data-phase": job.phase }, job.phase),
        active ? el("span", { class: "spinner", "aria-hidden": "true" }) : null,
        ` ${seconds} s`,
        job.start ? el("span", { class: "muted" }, ` · started ${job.start}`) : null,
        job.end ? el("span", { class: "muted" }, ` · ended ${job.end}`) : null,
        active && this.url ? el("button", { type: "button", class: "abort", onclick: () => this.abort() }, "Abort") : null,
      ),
      info.length ? el("ul", { class: "job-info" }, info) : null,
    ];
    this.panel.replaceChildren(...parts.filter(Boolean));
    this.panel.hidden = false;
  }
}
