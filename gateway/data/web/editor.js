// The ADQL editor: a textarea over a highlighted copy of its text. The textarea keeps all
// native editing (undo, selection, IME); the <pre> behind it draws the colours and the
// parser's error mark, and scrolls with it.

import { el } from "./tap.js";

const TOKEN = new RegExp(
  [
    "(?<com>--[^\\n]*)",
    "(?<str>'(?:[^']|'')*'?)",
    '(?<qid>"(?:[^"]|"")*"?)',
    "(?<num>0[xX][0-9a-fA-F]+|(?:\\d+\\.?\\d*|\\.\\d+)(?:[eE][+-]?\\d+)?)",
    "(?<word>[A-Za-z_][A-Za-z0-9_]*)",
    "(?<ws>\\s+)",
    "(?<op>[\\s\\S])",
  ].join("|"),
  "gy",
);

// Keywords that are often followed by "(" without being a function call.
const NOT_CALLS = new Set(
  "AND AS ALL ANY EXCEPT EXISTS FROM IN INTERSECT JOIN NOT ON OR SELECT SOME UNION USING VALUES WHERE WITH".split(" "),
);

export class Editor {
  /**
   * @param {HTMLTextAreaElement} textarea
   * @param {HTMLElement} highlight the <pre> behind the textarea
   * @param {HTMLElement} message where the syntax error is explained
   */
  constructor(textarea, highlight, message) {
    this.textarea = textarea;
    this.highlight = highlight;
    this.message = message;
    this.keywords = new Set();
    this.error = null; // {line, column, message, expected}
    textarea.addEventListener("input", () => this.render());
    textarea.addEventListener("scroll", () => this.syncScroll());
    textarea.addEventListener("keydown", (event) => this.indent(event));
  }

  get value() {
    return this.textarea.value;
  }

  set value(text) {
    this.textarea.value = text;
    this.error = null;
    this.render();
    this.textarea.dispatchEvent(new Event("input"));
  }

  setWords(words) {
    this.keywords = new Set(words);
    this.render();
  }

  /** Insert text at the cursor (schema browser clicks). */
  insert(text) {
    const { selectionStart: start, selectionEnd: end, value } = this.textarea;
    this.textarea.value = value.slice(0, start) + text + value.slice(end);
    this.textarea.selectionStart = this.textarea.selectionEnd = start + text.length;
    this.textarea.focus();
    this.textarea.dispatchEvent(new Event("input"));
  }

  indent(event) {
    if (event.key !== "Tab" || event.ctrlKey || event.altKey || event.metaKey) return;
    event.preventDefault();
    this.insert("  ");
  }

  syncScroll() {
    this.highlight.scrollTop = this.textarea.scrollTop;
    this.highlight.scrollLeft = this.textarea.scrollLeft;
  }

  /** 0-based offset of a 1-based line and column, clamped to the text. */
  offsetOf(line, column) {
    const lines = this.value.split("\n");
    let offset = 0;
    for (let i = 0; i < Math.min(line - 1, lines.length - 1); i += 1) offset += lines[i].length + 1;
    const current = lines[Math.min(line, lines.length) - 1] || "";
    return offset + Math.min(Math.max(column - 1, 0), current.length);
  }

  /** Show (or clear, with null) an error at the parser's line and column. */
  setError(error) {
    this.error = error;
    this.render();
    this.message.replaceChildren();
    this.message.className = error ? "error" : "";
    delete this.message.dataset.line;
    delete this.message.dataset.column;
    if (!error) return;
    const where = error.line ? `Line ${error.line}, column ${error.column}: ` : "";
    this.message.append(el("div", { class: "message" }, where + error.message));
    // The parser's message usually lists what it expected already.
    if (error.expected && error.expected.length && !/expected/i.test(error.message)) {
      const shown = error.expected.slice(0, 12).join(", ");
      const more = error.expected.length > 12 ? ` and ${error.expected.length - 12} more` : "";
      this.message.append(el("div", { class: "expected" }, `Expected: ${shown}${more}`));
    }
    if (error.line) {
      this.message.dataset.line = error.line;
      this.message.dataset.column = error.column;
      const source = this.value.split("\n")[error.line - 1] ?? "";
      const pad = source.slice(0, error.column - 1).replace(/[^\t]/g, " ");
      this.message.append(el("pre", { class: "caret" }, `${source}\n${pad}^`));
    }
  }

  render() {
    const text = this.value;
    const mark = this.error && this.error.line ? this.offsetOf(this.error.line, this.error.column) : -1;
    const out = document.createDocumentFragment();
    TOKEN.lastIndex = 0;
    let match;
    let marked = false;
    while (TOKEN.lastIndex < text.length && (match = TOKEN.exec(text))) {
      const start = match.index;
      const token = match[0];
      const kind = this.kind(match.groups, text, start + token.length);
      if (!marked && mark >= start && mark < start + token.length) {
        // Mark from the character the parser points at to the end of its token.
        const before = token.slice(0, mark - start);
        const at = token.slice(mark - start);
        if (before) out.append(this.span(kind, before));
        // Never across a line end (whitespace tokens span lines): mark up to it, or a space.
        const cut = at.indexOf("\n");
        if (cut === 0) out.append(this.errorMark(" ", null), at);
        else if (cut > 0) out.append(this.errorMark(at.slice(0, cut), kind), at.slice(cut));
        else out.append(this.errorMark(at, kind));
        marked = true;
      } else {
        out.append(this.span(kind, token));
      }
    }
    if (mark >= 0 && !marked) out.append(this.errorMark(" ", null));
    // A trailing newline keeps the <pre> as tall as the textarea's last empty line.
    out.append("\n");
    this.highlight.replaceChildren(out);
    this.syncScroll();
  }

  kind(groups, text, end) {
    if (groups.word) {
      // A word followed by "(" is a call (ADQL functions and user-defined ones alike).
      const upper = groups.word.toUpperCase();
      if (!NOT_CALLS.has(upper) && /^\s*\(/.test(text.slice(end, end + 40))) return "fn";
      return this.keywords.has(upper) ? "kw" : "id";
    }
    for (const name of ["com", "str", "qid", "num", "op"]) if (groups[name]) return name;
    return null;
  }

  span(kind, text) {
    return kind && kind !== "id" && kind !== "op" ? el("span", { class: `t-${kind}` }, text) : document.createTextNode(text);
  }

  errorMark(text, kind) {
    return el(
      "span",
      {
        id: "error-mark",
        class: `err${kind ? ` t-${kind}` : ""}`,
        "data-line": this.error.line,
        "data-column": this.error.column,
        title: this.error.message,
      },
      text,
    );
  }
}
