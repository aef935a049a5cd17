// The assay web app: plain DOM calls against the REST API, no framework, nothing fetched from elsewhere.
// The token lives in this tab's sessionStorage only and is sent as "Authorization: Bearer ..." on every call.
"use strict";

const state = { token: sessionStorage.getItem("assay-token") || "", model: null, detail: null, download: null };
const $ = (id) => document.getElementById(id);
const PREVIEW_ROWS = 100;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child ?? "")));
  return node;
}

function say(text, kind = "error") {
  const box = $("message");
  box.textContent = text;
  box.className = kind === "error" ? "message" : "message info";
  box.hidden = !text;
}

function detailText(body) {
  if (!body) return "";
  if (typeof body.detail === "string") return body.detail;
  if (Array.isArray(body.detail)) return body.detail.map((e) => e.msg).join("; ");
  return JSON.stringify(body);
}

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {}, { Authorization: `Bearer ${state.token}` });
  const response = await fetch(path, Object.assign({}, options, { headers }));
  if (response.status === 401) {
    $("token-state").textContent = "token refused";
    throw new Error("The server refused the token: enter a valid one (assay tokens create LABEL).");
  }
  return response;
}

async function json(path, options) {
  const response = await api(path, options);
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const error = new Error(detailText(body) || `${response.status} ${response.statusText}`);
    error.body = body;
    error.status = response.status;
    throw error;
  }
  return body;
}

// --- models -----------------------------------------------------------------------------------
async function loadModels() {
  const list = $("models");
  if (!state.token) return;
  try {
    const body = await json("/v1/models");
    $("token-state").textContent = "token accepted";
    checkReady();
    list.replaceChildren();
    if (!body.models.length) list.append(el("li", { class: "muted" }, "no models registered"));
    let loading = false;
    for (const m of body.models) {
      const waiting = !m.loaded && !m.problem && m.versions.some((v) => v.stage === "production");
      loading ||= waiting;
      const label = m.loaded ? (m.serving === null ? "folder" : `v${m.serving}`) : waiting ? "loading…" : "not served";
      const button = el("button", { type: "button", "data-model": m.name, onclick: () => pick(m.name) }, m.name, el("small", {}, label));
      if (!m.loaded) button.disabled = true;
      if (m.problem) button.title = m.problem;
      list.append(el("li", {}, button));
    }
    say("");
    if (loading) setTimeout(loadModels, 1000); // the server is still loading some models
    const first = body.models.find((m) => m.loaded);
    if (!state.model && first) pick(first.name);
  } catch (error) {
    say(error.message);
  }
}

async function pick(name) {
  state.model = name;
  for (const b of document.querySelectorAll("#models button")) b.setAttribute("aria-current", String(b.dataset.model === name));
  try {
    const [detail, versions] = await Promise.all([
      json(`/v1/models/${encodeURIComponent(name)}`),
      json(`/v1/models/${encodeURIComponent(name)}/versions`),
    ]);
    state.detail = detail;
    showModel(detail, versions);
    $("model").hidden = false;
    $("file-result").hidden = true;
    $("row-result").hidden = true;
  } catch (error) {
    say(error.message);
  }
}

function showModel(detail, versions) {
  $("model-name").textContent = detail.model_version === null ? detail.name : `${detail.name} v${detail.model_version}`;
  const score = Object.entries(detail.metrics).map(([k, v]) => `${k.replace(/^val_/, "")} ${fmt(v)}`).join(", ");
  const classes = detail.classes.length ? ` · classes ${detail.classes.join(", ")}` : "";
  $("model-summary").textContent = `${detail.task} on “${detail.target}”${classes} · validation ${score || "n/a"} · ${detail.columns.length} input columns`;
  $("open-report").disabled = !detail.has_report;
  const body = $("versions").tBodies[0];
  body.replaceChildren();
  for (const v of versions) {
    const metrics = Object.entries(v.metrics || {}).map(([k, x]) => `${k.replace(/^val_/, "")} ${fmt(x)}`).join(", ");
    body.append(
      el("tr", {},
        el("td", {}, v.version ?? "folder"),
        el("td", { class: `stage-${v.stage}` }, v.stage),
        el("td", {}, metrics || "–"),
        el("td", {}, v.created ? v.created.replace("T", " ").slice(0, 16) : "–"),
        el("td", {}, v.serving ? "✓" : ""))
    );
  }
  buildForm(detail.columns);
}

function fmt(value) {
  if (typeof value !== "number") return String(value ?? "");
  return Math.abs(value) >= 1000 || Number.isInteger(value) ? String(value) : value.toPrecision(4);
}

async function openReport() {
  // The report needs the token, so it cannot be a plain link: fetch it, then open it from memory.
  try {
    const response = await api(`/v1/models/${encodeURIComponent(state.model)}/report`);
    if (!response.ok) throw new Error(detailText(await response.json().catch(() => null)) || "no report");
    const url = URL.createObjectURL(new Blob([await response.text()], { type: "text/html" }));
    window.open(url, "_blank");
  } catch (error) {
    say(error.message);
  }
}

// --- a file -------------------------------------------------------------------------------------
async function predictFile(event) {
  event.preventDefault();
  const file = $("file").files[0];
  if (!file) return say("Choose a file first.");
  const button = $("predict-file");
  button.disabled = true;
  say("");
  try {
    const form = new FormData();
    form.append("file", file);
    const response = await api(`/v1/models/${encodeURIComponent(state.model)}/predict/stream?proba=true`, { method: "POST", body: form });
    if (!response.ok) throw new Error(detailText(await response.json().catch(() => null)) || `${response.status}`);
    const text = await response.text();
    if (state.download) URL.revokeObjectURL(state.download);
    state.download = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
    const link = $("download");
    link.href = state.download;
    link.download = `${state.model}-predictions-${file.name.replace(/\.[^.]*$/, "")}.csv`;
    const rows = parseCsv(text);
    const n = Number(response.headers.get("X-Assay-Rows") || rows.length - 1);
    $("file-summary").textContent = `${n.toLocaleString()} predictions` + (n > PREVIEW_ROWS ? ` (first ${PREVIEW_ROWS} shown)` : "");
    showWarnings(JSON.parse(response.headers.get("X-Assay-Warnings") || "[]"));
    showTable(rows);
    $("file-result").hidden = false;
  } catch (error) {
    say(error.message);
  } finally {
    button.disabled = false;
  }
}

function showWarnings(list) {
  const ul = $("file-warnings");
  ul.replaceChildren(...list.map((w) => el("li", {}, w)));
}

function showTable(rows) {
  const [header, ...data] = rows;
  const table = $("results");
  table.tHead.replaceChildren(el("tr", {}, el("th", {}, "row"), ...header.map((h) => el("th", {}, h))));
  table.tBodies[0].replaceChildren(
    ...data.slice(0, PREVIEW_ROWS).map((r, i) =>
      el("tr", {}, el("td", { class: "num" }, i), ...r.map((v) => el("td", { class: isNaN(Number(v)) ? "" : "num" }, shorten(v)))))
  );
}

function shorten(value) {
  const x = Number(value);
  return value !== "" && !isNaN(x) && !Number.isInteger(x) ? x.toFixed(4) : value;
}

function parseCsv(text) {
  // RFC 4180: quoted fields may hold commas, quotes ("") and line breaks.
  const rows = [];
  let row = [], field = "", quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") { row.push(field); field = ""; }
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field); rows.push(row); row = []; field = "";
    } else field += c;
  }
  if (field !== "" || row.length) { row.push(field); rows.push(row); }
  return rows;
}

// --- one row ------------------------------------------------------------------------------------
function buildForm(columns) {
  const box = $("fields");
  box.replaceChildren();
  for (const col of columns.filter((c) => c.required)) {
    const id = `field-${col.name}`;
    let input;
    if (col.categories.length) {
      input = el("select", { id, name: col.name }, el("option", { value: "" }, "(missing)"), ...col.categories.map((c) => el("option", { value: c }, c)));
    } else if (col.kind === "boolean") {
      input = el("select", { id, name: col.name }, el("option", { value: "" }, "(missing)"), el("option", { value: "true" }, "true"), el("option", { value: "false" }, "false"));
    } else if (col.kind === "numeric") {
      input = el("input", { id, name: col.name, type: "number", step: "any" });
    } else {
      input = el("input", { id, name: col.name, type: "text", placeholder: col.kind === "datetime" ? "2024-01-31 12:00" : "" });
    }
    input.dataset.kind = col.kind;
    box.append(el("div", { class: "field", "data-column": col.name }, el("label", { for: id }, col.name, " ", el("small", {}, col.kind)), input));
  }
}

async function predictRow(event) {
  event.preventDefault();
  const record = {};
  for (const input of $("fields").querySelectorAll("input, select")) {
    const raw = input.value.trim();
    record[input.name] = raw === "" ? null : input.dataset.kind === "numeric" ? Number(raw) : raw;
  }
  for (const f of document.querySelectorAll(".field")) { f.classList.remove("invalid"); f.querySelector(".error")?.remove(); }
  const out = $("row-result");
  try {
    const body = await json(`/v1/models/${encodeURIComponent(state.model)}/predict`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ records: [record] }),
    });
    say("");
    out.replaceChildren(el("div", { class: "prediction", id: "row-prediction" }, `${state.detail.target}: ${fmt(body.predictions[0])}`));
    if (body.probabilities) {
      const probs = Object.entries(body.probabilities[0]).sort((a, b) => b[1] - a[1]);
      out.append(el("div", { class: "bars" }, ...probs.map(([cls, p]) =>
        el("div", { class: "bar" }, el("span", {}, cls), el("span", { class: "track" }, el("span", { class: "fill", style: `width:${(100 * p).toFixed(1)}%` })), el("span", {}, `${(100 * p).toFixed(1)}%`)))));
    }
    if (body.warnings.length) out.append(el("ul", { class: "warnings" }, ...body.warnings.map((w) => el("li", {}, w.message))));
    out.append(el("p", { class: "muted small" }, `version ${body.model_version ?? "(folder)"} · request ${body.request_id}`));
    out.hidden = false;
  } catch (error) {
    out.hidden = true;
    const fields = Array.isArray(error.body?.detail) ? error.body.detail : [];
    for (const e of fields) {
      const box = document.querySelector(`.field[data-column="${CSS.escape(String(e.column))}"]`);
      if (box) { box.classList.add("invalid"); box.append(el("div", { class: "error" }, e.msg)); }
    }
    say(error.message);
  }
}

// --- start ---------------------------------------------------------------------------------------
async function checkReady() {
  try {
    const body = await (await fetch("/ready")).json();
    $("ready").textContent = body.ready ? `${Object.keys(body.models).length} model(s) loaded` : "loading models…";
  } catch {
    $("ready").textContent = "server unreachable";
  }
}

// The API docs need a token unless the server runs with --open-docs, and a browser cannot send
// one when it opens a page: say so instead of leading to a 401.
async function checkDocs() {
  try {
    if ((await fetch("/openapi.json")).status === 401) {
      $("docs-link").replaceWith(el("span", {}, "API docs: serve with --open-docs"));
    }
  } catch {
    /* the ready line already says the server is unreachable */
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("token").value = state.token;
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    state.token = $("token").value.trim();
    sessionStorage.setItem("assay-token", state.token);
    state.model = null;
    loadModels();
  });
  $("file-form").addEventListener("submit", predictFile);
  $("row-form").addEventListener("submit", predictRow);
  $("open-report").addEventListener("click", openReport);
  checkReady();
  checkDocs();
  if (state.token) loadModels();
});
