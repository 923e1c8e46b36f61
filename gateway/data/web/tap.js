// Talking to the TAP service this page is served by. Every URL is relative to the page,
// which lives at the TAP base path with a trailing slash ("/tap/"), so "sync" is "/tap/sync".

/** Children of an XML element with the given local name (VOSI children carry no namespace). */
export function kids(element, name) {
  return Array.from(element.children).filter((c) => c.localName === name);
}

/** Text of the first child with that local name, or "". */
export function kidText(element, name) {
  const found = kids(element, name)[0];
  return found ? found.textContent.trim() : "";
}

export function parseXml(text) {
  const doc = new DOMParser().parseFromString(text, "application/xml");
  if (doc.getElementsByTagName("parsererror").length) {
    throw new Error("the service answered with a document that is not XML");
  }
  return doc;
}

/** The message of a DALI error document (QUERY_STATUS=ERROR), or null. */
export function daliError(text) {
  let doc;
  try {
    doc = parseXml(text);
  } catch {
    return null;
  }
  for (const info of doc.getElementsByTagNameNS("*", "INFO")) {
    if (info.getAttribute("name") === "QUERY_STATUS" && info.getAttribute("value") === "ERROR") {
      return info.textContent.trim() || "the service reported an error without a message";
    }
  }
  return null;
}

/** An Error carrying what the service said: the DALI message if there is one. */
async function failure(response) {
  const text = await response.text();
  const message = daliError(text) || text.trim().slice(0, 2000) || response.statusText;
  const error = new Error(message);
  error.status = response.status;
  return error;
}

function form(params) {
  const body = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") body.append(key, String(value));
  }
  return body;
}

/** POST form parameters; resolves to the Response, rejects with the service's message. */
export async function post(path, params, init = {}) {
  const response = await fetch(path, { method: "POST", body: form(params), ...init });
  if (!response.ok) throw await failure(response);
  return response;
}

export async function getText(path, init = {}) {
  const response = await fetch(path, init);
  if (!response.ok) throw await failure(response);
  return response.text();
}

export async function getJson(path, init = {}) {
  const response = await fetch(path, init);
  if (!response.ok) throw await failure(response);
  return response.json();
}

/** A TAP result in the service's JSON format: {metadata: [...], data: [[...]], overflow}. */
export async function readResult(response) {
  const type = response.headers.get("content-type") || "";
  const text = await response.text();
  if (!type.includes("json")) {
    throw new Error(daliError(text) || `unexpected ${type || "untyped"} answer`);
  }
  return JSON.parse(text, exactIntegers);
}

/**
 * JSON.parse reviver keeping integers beyond 2^53 exact (64-bit ids such as objectId) as
 * BigInt, from the number's source text where the browser passes it (JSON.parse source text
 * access); elsewhere they stay the nearest double.
 */
function exactIntegers(key, value, context) {
  if (typeof value === "number" && !Number.isSafeInteger(value) && context && /^-?\d+$/.test(context.source)) {
    return BigInt(context.source);
  }
  return value;
}

/** The "line L, column C" an error message names, if any (semantic errors carry it in text). */
export function positionIn(message) {
  const match = /line (\d+), column (\d+)/.exec(message || "");
  return match ? { line: Number(match[1]), column: Number(match[2]) } : null;
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key.startsWith("data-")) node.setAttribute(key, String(value));
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}
