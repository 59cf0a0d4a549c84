// stepbridge dev: the console page. Plain JavaScript, no build step, no external assets.
// Every POST carries the page's token (X-Stepbridge-Token); the server refuses POSTs without it.
"use strict";

const TOKEN = document.querySelector('meta[name="stepbridge-token"]').content;
const $ = (sel) => document.querySelector(sel);
const state = { version: -1, overview: null, selected: null, view: "executions" };

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child.nodeType ? child : String(child));
  }
  return node;
}

async function api(method, path, body) {
  const init = { method, headers: {} };
  if (method !== "GET") {
    init.headers["X-Stepbridge-Token"] = TOKEN;
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body || {});
  }
  const response = await fetch(path, init);
  const data = await response.json().catch(() => ({ message: response.statusText }));
  if (!response.ok) throw new Error(data.message || `${response.status}`);
  return data;
}

// The newest GET of each part of the page (latest): requests run concurrently on the server and their answers
// can arrive out of order (a live-stream refresh and a click, a slow answer): an older answer must not redraw
// over a newer one (it showed the inbox of the identity before, or the status filter before).
const newest = {};

async function latest(part, path) {
  const ticket = (newest[part] = (newest[part] || 0) + 1);
  const data = await api("GET", path);
  return ticket === newest[part] ? data : null;
}

function say(text, kind) {
  const box = $("#message");
  box.textContent = text;
  box.className = kind || "info";
  box.hidden = !text;
}

async function attempt(fn) {
  try {
    await fn();
  } catch (err) {
    say(err.message, "error");
  }
}

function short(iso) {
  if (!iso) return "-";
  return iso.replace("T", " ").replace(/(\.\d+)?(\+00:00|Z)$/, "");
}

// ---- clock and live updates ----------------------------------------------------------------------

function showClock(clock) {
  $("#clock-now").textContent = short(clock.now) + " UTC";
  const day = new Date(clock.now).toLocaleDateString("en-GB", { weekday: "short", timeZone: "UTC" });
  $("#clock-now").title = day;
  $("#clock-now").dataset.now = clock.now;
  $("#clock-next").textContent = clock.next_timer ? `next timer ${short(clock.next_timer)}` : "no timer set";
  $("#speed").value = String(clock.speed || 0);
}

function live() {
  const source = new EventSource("/api/stream");
  source.addEventListener("state", (event) => {
    const clock = JSON.parse(event.data);
    $("#live").classList.add("on");
    showClock(clock);
    if (clock.version !== state.version) {
      state.version = clock.version;
      refresh();
    }
  });
  source.onerror = () => $("#live").classList.remove("on");
}

async function refresh() {
  if (state.view === "inbox") await attempt(loadTasks);
  else await attempt(loadExecutions);
  if (state.view === "executions" && state.selected) await attempt(() => loadExecution(state.selected));
  if (state.overview && state.overview.tasks) await attempt(countInbox);
}

// ---- executions ----------------------------------------------------------------------------------

function fillSelect(select, values, keep) {
  const current = select.value;
  const first = select.querySelector("option");
  select.replaceChildren(...(keep && first ? [first] : []), ...values.map((v) => el("option", { value: v, text: v })));
  if ([...select.options].some((o) => o.value === current)) select.value = current;
}

async function loadOverview() {
  const o = await api("GET", "/api/overview");
  state.overview = o;
  $("#backend").textContent = o.backend;
  fillSelect($("#filter-workflow"), o.workflows.map((w) => w.name), true);
  fillSelect($("#filter-status"), o.statuses, true);
  fillSelect($("#start-workflow"), o.workflows.map((w) => w.name), false);
  $("#event-types").replaceChildren(...o.event_types.map((t) => el("option", { value: t })));
  $("#nav-inbox").hidden = !o.tasks;
  showClock(o);
  prefillInput();
}

function prefillInput() {
  const wf = (state.overview.workflows || []).find((w) => w.name === $("#start-workflow").value);
  if (wf) $("#start-input").value = wf.takes_input ? JSON.stringify(wf.example, null, 2) : "null";
}

async function loadExecutions() {
  const params = new URLSearchParams();
  for (const [key, sel] of [["workflow", "#filter-workflow"], ["status", "#filter-status"], ["tag", "#filter-tag"]]) {
    if ($(sel).value) params.set(key, $(sel).value);
  }
  const data = await latest("executions", `/api/executions?${params}`);
  if (!data) return;
  fillSelect($("#filter-tag"), data.tags, true);
  const rows = data.executions.map((e) =>
    el("tr", {
      "data-id": e.execution_id, "data-status": e.status,
      class: e.execution_id === state.selected ? "selected" : "",
      onclick: () => { location.hash = `#/executions/${encodeURIComponent(e.execution_id)}`; },
    },
    el("td", {}, el("b", { text: e.workflow }), el("div", { class: "mono small", text: e.execution_id }),
      el("div", {}, e.tags.map((t) => el("span", { class: "tag", text: t })))),
    el("td", {}, el("span", { class: `badge ${e.status}`, text: e.status })),
    el("td", { class: "small", text: short(e.created_at) })));
  $("#executions tbody").replaceChildren(...rows);
  $("#executions-empty").hidden = rows.length > 0;
}

async function loadExecution(id) {
  const data = await latest("execution", `/api/executions/${encodeURIComponent(id)}`);
  if (!data) return;
  const e = data.execution;
  const outcome = e.status === "SUCCEEDED" ? e.result : e.error;
  const terminal = ["SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT"].includes(e.status);
  const timeline = el("div", { class: "timeline" });
  timeline.innerHTML = data.timeline_html; // rendered and escaped by the report (stepbridge.operator.report)
  $("#detail").replaceChildren(
    el("header", { class: "detail-head" },
      el("h1", { text: e.workflow }),
      el("span", { class: `badge ${e.status}`, id: "detail-status", text: e.status }),
      el("span", { class: "mono", text: e.execution_id }),
      terminal ? null : el("button", { type: "button", class: "danger", onclick: () => cancel(e.execution_id), text: "Cancel" })),
    el("div", {}, data.tags.map((t) => el("span", { class: "tag", text: t }))),
    e.custom_status === null || e.custom_status === undefined ? null
      : el("p", { class: "note", id: "custom-status" }, "custom status: ", el("code", { text: JSON.stringify(e.custom_status) })),
    el("div", { class: "cols" },
      el("section", {}, el("h2", { text: "Input" }), el("pre", { text: JSON.stringify(e.input, null, 2) })),
      el("section", {}, el("h2", { text: e.status === "SUCCEEDED" ? "Result" : "Error" }),
        el("pre", { text: outcome === null || outcome === undefined ? "-" : JSON.stringify(outcome, null, 2) }))),
    timeline,
    el("h2", { text: "History" }),
    el("pre", { class: "history", text: data.history.join("\n") }));
}

async function cancel(id) {
  await attempt(async () => {
    const r = await api("POST", `/api/executions/${encodeURIComponent(id)}/cancel`, {});
    say(`cancel requested: ${r.status}`, "info");
  });
}

async function startWorkflow(event) {
  event.preventDefault();
  await attempt(async () => {
    let input;
    try { input = JSON.parse($("#start-input").value || "null"); } catch (err) { throw new Error(`input is not JSON: ${err.message}`); }
    const r = await api("POST", "/api/executions", {
      workflow: $("#start-workflow").value, input, execution_id: $("#start-id").value,
    });
    say(`started ${r.execution_id}: ${r.status}`, "info");
    location.hash = `#/executions/${encodeURIComponent(r.execution_id)}`;
  });
}

async function sendEvent(event) {
  event.preventDefault();
  await attempt(async () => {
    let detail;
    try { detail = JSON.parse($("#event-detail").value || "{}"); } catch (err) { throw new Error(`detail is not JSON: ${err.message}`); }
    const r = await api("POST", "/api/events", { type: $("#event-type").value, detail });
    say(`sent ${$("#event-type").value} (${r.event_id})`, "info");
  });
}

// ---- clock controls ----------------------------------------------------------------------------------

async function advance() {
  await attempt(async () => {
    const r = await api("POST", "/api/clock/advance", { duration: $("#advance-input").value });
    say(`clock moved from ${short(r.from)} to ${short(r.now)} (${r.deliveries} deliveries)`, "info");
  });
}

async function nextTimer() {
  await attempt(async () => {
    const r = await api("POST", "/api/clock/next", {});
    say(`clock jumped to ${short(r.now)} (${r.deliveries} deliveries)`, "info");
  });
}

// ---- the task inbox --------------------------------------------------------------------------------

async function countInbox() {
  const who = $("#identity").value.trim();
  const params = new URLSearchParams({ status: "active" });
  if (who) params.set("assignee", who);
  const data = await latest("inbox-count", `/api/tasks?${params}`);
  if (!data) return;
  $("#inbox-count").textContent = data.tasks.length ? `(${data.tasks.length})` : "";
}

async function loadTasks() {
  const params = new URLSearchParams();
  const who = $("#identity").value.trim();
  if (who) params.set("assignee", who);
  if ($("#task-status").value) params.set("status", $("#task-status").value);
  const data = await latest("tasks", `/api/tasks?${params}`);
  if (!data) return;
  const box = $("#tasks");
  if (!data.tasks.length) {
    box.replaceChildren(el("p", { class: "note", text: who ? `No ${$("#task-status").selectedOptions[0].text} tasks for ${who}.` : "No tasks." }));
    return;
  }
  const openForms = new Set([...box.querySelectorAll(".task[data-dirty]")].map((n) => n.dataset.taskId));
  const kept = new Map([...box.querySelectorAll(".task")].map((n) => [n.dataset.taskId, n]));
  box.replaceChildren(...data.tasks.map((t) => (openForms.has(taskId(t)) ? kept.get(taskId(t)) : taskCard(t))));
}

function taskId(t) { return t.task_id || t.id; }

function fieldInput(f) {
  const name = `field-${f.name}`;
  const common = { name, id: name, "data-field": f.name, "data-kind": f.kind, required: f.required };
  if (f.kind === "checkbox") return el("input", { ...common, type: "checkbox", checked: f.default === true });
  if (f.kind === "select") {
    return el("select", common, f.required ? null : el("option", { value: "", text: "-" }),
      f.options.map((o) => el("option", { value: JSON.stringify(o), text: String(o), selected: o === f.default })));
  }
  if (f.kind === "textarea" || f.kind === "json") {
    const text = f.default === undefined ? "" : f.kind === "json" ? JSON.stringify(f.default) : String(f.default);
    return el("textarea", { ...common, rows: 3 }, text);
  }
  const type = { number: "number", integer: "number", date: "date", datetime: "datetime-local" }[f.kind] || "text";
  return el("input", {
    ...common, type, value: f.default ?? "", min: f.min, max: f.max,
    step: f.kind === "integer" ? f.step || 1 : f.kind === "number" ? f.step || "any" : null,
    minlength: f.min_length, maxlength: f.max_length, pattern: f.pattern,
  });
}

function readField(input) {
  const kind = input.dataset.kind;
  if (kind === "checkbox") return input.checked;
  const raw = input.value;
  if (raw === "") return undefined;
  if (kind === "select") return JSON.parse(raw);
  if (kind === "number") return Number(raw);
  if (kind === "integer") return parseInt(raw, 10);
  if (kind === "json") return JSON.parse(raw);
  return raw;
}

function taskCard(t) {
  const id = taskId(t);
  const status = String(t.status || "open");
  const done = ["completed", "cancelled"].includes(status);
  const fields = t.fields || [];
  const form = el("form", { class: "task-form", onsubmit: (e) => e.preventDefault(), oninput: () => card.setAttribute("data-dirty", "1") },
    fields.map((f) => el("label", { class: f.kind === "checkbox" ? "check" : "" },
      el("span", { text: f.label + (f.required ? " *" : "") }), fieldInput(f),
      f.description ? el("small", { text: f.description }) : null)),
    el("label", {}, el("span", { text: "Comment" }), el("textarea", { name: "comment", rows: 2 })),
    el("div", { class: "buttons" },
      status === "open" ? el("button", { type: "button", class: "secondary", "data-action": "claim", onclick: () => claim(id, "claim"), text: "Claim" }) : null,
      status === "claimed" ? el("button", { type: "button", class: "secondary", "data-action": "release", onclick: () => claim(id, "release"), text: "Release" }) : null,
      (t.decisions || ["approve", "reject"]).map((d) =>
        el("button", { type: "button", "data-decision": d, class: d === "reject" ? "danger" : "", onclick: () => complete(card, id, d), text: d }))));
  const card = el("article", { class: `task ${status}`, "data-task-id": id, "data-status": status },
    el("header", {},
      el("h3", { class: "task-title", text: t.title || t.name || id }),
      el("span", { class: `st ${status}`, text: status })),
    el("dl", { class: "facts" },
      [["task", t.name], ["assignees", (t.current_assignees || t.assignees || []).join(", ")],
        ["claimed by", t.claimed_by], ["due", short(t.due_at)], ["escalated", t.escalated ? "yes" : null]]
        .filter(([, v]) => v && v !== "-").map(([k, v]) => el("div", {}, el("dt", { text: k }), el("dd", { text: v }))),
      el("div", {}, el("dt", { text: "execution" }), el("dd", {},
        el("a", { href: `#/executions/${encodeURIComponent(t.execution_id || "")}`, text: t.execution_id || "-" })))),
    t.data && Object.keys(t.data).length ? el("pre", { class: "task-data", text: JSON.stringify(t.data, null, 2) }) : null,
    done ? el("p", { class: "note outcome", text: outcomeText(t) }) : form,
    (t.audit || []).length ? el("details", { class: "audit" }, el("summary", { text: `audit trail (${t.audit.length})` }),
      el("ul", {}, t.audit.map((a) => el("li", { text: `${short(a.at)}  ${a.action} by ${a.by}${a.decision ? `: ${a.decision}` : ""}` })))) : null);
  return card;
}

function outcomeText(t) {
  const o = t.outcome || {};
  return `${t.status}${o.decision ? `: ${o.decision}` : ""}${o.by ? ` by ${o.by}` : ""}${o.comment ? ` ("${o.comment}")` : ""}`;
}

function identity() {
  const who = $("#identity").value.trim();
  if (!who) throw new Error("say who you are: fill in 'acting as' with an assignee's identity");
  return who;
}

async function claim(id, action) {
  await attempt(async () => {
    await api("POST", `/api/tasks/${encodeURIComponent(id)}/${action}`, { by: identity() });
    say(`${action === "claim" ? "claimed" : "released"} ${id}`, "info");
    await loadTasks();
  });
}

async function complete(card, id, decision) {
  await attempt(async () => {
    const data = {};
    for (const input of card.querySelectorAll("[data-field]")) {
      let value;
      try { value = readField(input); } catch (err) { throw new Error(`${input.dataset.field}: not JSON (${err.message})`); }
      if (value !== undefined) data[input.dataset.field] = value;
    }
    const comment = card.querySelector('textarea[name="comment"]').value;
    await api("POST", `/api/tasks/${encodeURIComponent(id)}/complete`, { by: identity(), decision, data, comment });
    card.removeAttribute("data-dirty");
    say(`${decision}: ${id}`, "info");
    await loadTasks();
  });
}

// ---- navigation ----------------------------------------------------------------------------------

function route() {
  const hash = location.hash || "#/executions";
  const inbox = hash.startsWith("#/inbox");
  state.view = inbox ? "inbox" : "executions";
  $("#view-inbox").hidden = !inbox;
  $("#view-executions").hidden = inbox;
  $("#nav-inbox").classList.toggle("active", inbox);
  $("#nav-executions").classList.toggle("active", !inbox);
  const match = hash.match(/^#\/executions\/(.+)$/);
  state.selected = match ? decodeURIComponent(match[1]) : null;
  refresh();
}

document.addEventListener("DOMContentLoaded", async () => {
  $("#start-form").addEventListener("submit", startWorkflow);
  $("#event-form").addEventListener("submit", sendEvent);
  $("#start-workflow").addEventListener("change", prefillInput);
  $("#advance-btn").addEventListener("click", advance);
  $("#advance-input").addEventListener("keydown", (e) => { if (e.key === "Enter") advance(); });
  $("#next-timer-btn").addEventListener("click", nextTimer);
  $("#speed").addEventListener("change", () => attempt(() => api("POST", "/api/clock/speed", { speed: Number($("#speed").value) })));
  for (const sel of ["#filter-workflow", "#filter-status", "#filter-tag"]) $(sel).addEventListener("change", () => attempt(loadExecutions));
  $("#identity").value = localStorage.getItem("stepbridge-identity") || "";
  $("#identity").addEventListener("change", () => { localStorage.setItem("stepbridge-identity", $("#identity").value.trim()); refresh(); });
  $("#task-status").addEventListener("change", () => attempt(loadTasks));
  window.addEventListener("hashchange", route);
  await attempt(loadOverview);
  route();
  live();
});
