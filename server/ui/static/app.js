// etcdlite's browser view: reads /ui/api/*, refreshes on the server's change events.
"use strict";

const state = { token: sessionStorage.getItem("etcdlite-token"), prefix: "", after: null,
                selected: null, leases: [], leasesAt: 0, feed: [] };
const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined) node.setAttribute(k, v);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const b64 = (text) => btoa(String.fromCharCode(...new TextEncoder().encode(text)));
const bytesOf = (data) => Uint8Array.from(atob(data), (c) => c.charCodeAt(0));

function showValue(data) {
  const bytes = bytesOf(data);
  let text = null;
  try { text = new TextDecoder("utf-8", { fatal: true }).decode(bytes); } catch (e) { text = null; }
  if (text !== null) {
    try { return { kind: "json", text: JSON.stringify(JSON.parse(text), null, 2) }; } catch (e) {}
    if (!/[\x00-\x08\x0e-\x1f]/.test(text)) return { kind: "text", text };
  }
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0"));
  const lines = [];
  for (let i = 0; i < hex.length; i += 16) lines.push(hex.slice(i, i + 16).join(" "));
  return { kind: "hex", text: lines.join("\n") };
}

function ago(seconds) {
  if (seconds === null || seconds === undefined) return "since before the view started";
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

async function api(path) {
  const headers = state.token ? { Authorization: state.token } : {};
  const response = await fetch(`/ui/api/${path}`, { headers });
  if (response.status === 401) { showLogin((await response.json()).error); throw new Error("login"); }
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

function showLogin(message) {
  $("app").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message === "login required" ? "" : message;
}

$("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const response = await fetch("/ui/api/login", {
    method: "POST", body: JSON.stringify({ name: $("login-name").value, password: $("login-password").value }) });
  const body = await response.json();
  if (!response.ok) { $("login-error").textContent = body.error; return; }
  state.token = body.token;
  sessionStorage.setItem("etcdlite-token", body.token);
  start();
});

function renderStatus(s) {
  $("status-line").textContent = `etcd ${s.version} · revision ${s.revision} · ${s.keys} keys`;
  const rows = [["member", `${s.member.name} (${s.member.id})`], ["cluster", s.cluster_id],
    ["version", s.version], ["revision", s.revision], ["compact revision", s.compact_revision],
    ["db size", `${s.db_size} B (in use ${s.db_size_in_use} B)`], ["keys", s.keys],
    ["leases", s.leases], ["watchers", `${s.watchers} on ${s.watch_streams} streams`],
    ["alarms", s.alarms.length ? s.alarms.map((a) => a.alarm).join(", ") : "none"],
    ["auth", s.auth_enabled ? "enabled" : "disabled"], ["data", s.data_dir || "in memory"],
    ["client URLs", s.member.client_urls.join(", ")]];
  $("status").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

function contender(c, role) {
  return el("li", { class: role, "data-key": c.text },
    el("span", { class: "mono" }, c.text), " · lease ", el("code", {}, c.lease_hex),
    " · rev ", c.create_revision, " · waiting ", el("span", { class: "waited" }, ago(c.waited)));
}

function renderLocks(locks) {
  $("locks").replaceChildren(...(locks.length ? locks.map((lock) => el("div",
    { class: "card lock", "data-name": lock.name },
    el("div", { class: "title" }, lock.name, lock.recipe !== "etcd" ? ` (${lock.recipe})` : ""),
    el("div", {}, "held by ", el("span", { class: "holder mono", "data-key": lock.holder.text },
      lock.holder.text), " (lease ", el("code", {}, lock.holder.lease_hex), ", for ",
      ago(lock.holder.waited), ")"),
    lock.waiters.length
      ? el("ol", { class: "queue waiters" }, lock.waiters.map((w) => w.watcher !== undefined
          ? el("li", { class: "waiter" }, `watcher ${w.watcher} on ${w.text}`)
          : contender(w, "waiter")))
      : el("div", { class: "muted" }, "no one waiting")))
    : [el("div", { class: "muted" }, "no locks")]));
}

function renderElections(elections) {
  $("elections").replaceChildren(...(elections.length ? elections.map((e) => el("div",
    { class: "card election", "data-name": e.name },
    el("div", { class: "title" }, e.name),
    el("div", {}, "leader ", el("span", { class: "leader mono", "data-key": e.leader.text }, e.leader.text),
      " proclaims ", el("code", { class: "value" }, showValue(e.leader.value).text)),
    e.candidates.length
      ? el("ol", { class: "queue candidates" }, e.candidates.map((c) => contender(c, "candidate")))
      : el("div", { class: "muted" }, "no other candidates"),
    el("details", {}, el("summary", {}, `${e.proclamations.length} proclamations`),
      el("ul", {}, e.proclamations.map((p) => el("li", {}, `rev ${p.revision}: `,
        el("code", {}, showValue(p.value).text)))))))
    : [el("div", { class: "muted" }, "no elections")]));
}

function renderLeases() {
  const elapsed = (Date.now() - state.leasesAt) / 1000;
  $("leases").replaceChildren(...(state.leases.length ? [el("table", {},
    el("tr", {}, el("th", {}, "lease"), el("th", {}, "TTL left"), el("th", {}, "granted"), el("th", {}, "keys")),
    state.leases.map((l) => el("tr", { class: "lease", "data-id": l.hex },
      el("td", { class: "mono" }, l.hex), el("td", { class: "ttl" }, `${Math.max(0, l.remaining - elapsed).toFixed(1)} s`),
      el("td", {}, `${l.ttl} s`), el("td", { class: "mono" }, l.keys.map((k) => k.text).join(", ") || "—"))))]
    : [el("div", { class: "muted" }, "no leases")]));
}

function renderWatchers(w) {
  $("watchers").replaceChildren(el("div", { class: "muted" }, `${w.streams} streams`),
    ...(w.ranges.length ? [el("table", {},
      el("tr", {}, el("th", {}, "range"), el("th", {}, "watchers"), el("th", {}, "behind")),
      w.ranges.map((r) => el("tr", { class: "watch-range" },
        el("td", { class: "mono" }, r.text + (r.range_end_text ? ` … ${r.range_end_text}` : "")),
        el("td", {}, r.watchers),
        el("td", {}, r.laggards.length ? r.laggards.map((l) => `#${l.id}: ${l.lag} revisions`).join(", ") : "—"))))]
      : [el("div", { class: "muted" }, "no watchers")]));
}

function renderCrumbs() {
  const parts = [el("a", { onclick: () => openFolder("") }, "(root)")];
  let acc = "";
  for (const piece of state.prefix.split(/(?<=\/)/).filter(Boolean)) {
    acc += piece;
    const target = acc;
    parts.push(el("a", { onclick: () => openFolder(target) }, piece));
  }
  $("crumbs").replaceChildren(...parts);
}

async function loadKeys(append) {
  const query = new URLSearchParams({ prefix: b64(state.prefix), limit: "200" });
  if (append && state.after) query.set("after", state.after);
  const page = await api(`keys?${query}`);
  const items = page.entries.map((e) => e.folder
    ? el("li", { class: "folder", onclick: () => openFolder(state.prefix + e.text) }, e.text)
    : el("li", { class: `leaf${state.selected === e.key ? " selected" : ""}`, "data-key": e.text,
                 onclick: () => openKey(e.key) }, e.name));
  if (append) $("keys").append(...items); else $("keys").replaceChildren(...items);
  if (!append && !items.length) $("keys").append(el("li", { class: "muted" }, "no keys"));
  state.after = page.next;
  $("more").hidden = page.entries.length < 200;
  renderCrumbs();
}

function openFolder(prefix) { state.prefix = prefix; state.after = null; loadKeys(false); }

async function openKey(key) {
  state.selected = key;
  const k = await api(`key?key=${encodeURIComponent(key)}`);
  const view = k.current ? showValue(k.current.value) : null;
  $("key-detail").className = "";
  $("key-detail").replaceChildren(
    el("div", { class: "title mono" }, k.text),
    k.current ? el("div", {}, `version ${k.current.version} · created rev ${k.current.create_revision} · ` +
      `modified rev ${k.current.mod_revision} · lease ${k.current.lease_hex} · shown as ${view.kind}`)
      : el("div", { class: "muted" }, "deleted"),
    view ? el("pre", { class: "value" }, view.text) : null,
    el("h3", {}, `history since compaction (rev ${k.compact_revision})`),
    el("table", {}, k.history.map((h) => el("tr", {}, el("td", {}, `rev ${h.revision}`),
      el("td", {}, h.deleted ? "deleted" : `v${h.version}`),
      el("td", { class: "mono" }, h.deleted ? "" : showValue(h.value).text.slice(0, 200))))));
}

async function refresh() {
  try {
    const [status, locks, elections, leases, watchers] = await Promise.all(
      ["status", "locks", "elections", "leases", "watchers"].map(api));
    renderStatus(status); renderLocks(locks); renderElections(elections); renderWatchers(watchers);
    state.leases = leases; state.leasesAt = Date.now(); renderLeases();
    document.body.dataset.revision = status.revision;
  } catch (e) { if (e.message !== "login") console.error(e); }
}

let pending = null;
function soon() {
  if (pending) return;
  pending = setTimeout(async () => { pending = null; await refresh(); loadKeys(false);
    if (state.selected) openKey(state.selected); }, 100);
}

function listen() {
  const url = "/ui/api/events" + (state.token ? `?token=${encodeURIComponent(state.token)}` : "");
  const events = new EventSource(url);
  events.onopen = () => $("live").classList.add("on");
  events.onerror = () => $("live").classList.remove("on");
  events.addEventListener("change", (message) => {
    const change = JSON.parse(message.data);
    $("feed").prepend(el("li", {}, `rev ${change.revision}: ${change.keys.join(", ")}` +
      (change.more ? ` and ${change.more} more` : "")));
    while ($("feed").children.length > 100) $("feed").lastChild.remove();
    soon();
  });
}

$("more").addEventListener("click", () => loadKeys(true));
$("search").addEventListener("submit", (event) => { event.preventDefault(); openFolder($("search-prefix").value); });

async function start() {
  $("login").hidden = true;
  try { await api("status"); } catch (e) { return; }
  $("app").hidden = false;
  await refresh();
  await loadKeys(false);
  listen();
  setInterval(renderLeases, 250);
  setInterval(refresh, 3000);
}

start();
