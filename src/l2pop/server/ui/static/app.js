// l2pop fabric view: fetches paged JSON from /ui/api/fabric, keeps it live from the
// Server-Sent Events of /ui/api/events, and runs explain through /ui/api/explain.
// No framework, no build step; every text goes in through textContent.
"use strict";

const state = {
  net: 0, host: 0, hosts: 0, ports: 0, remote: 0,
  limits: { net: 20, host: 25, hosts: 25, ports: 50, remote: 50 },
  totals: { net: 0, host: 0, hosts: 0, ports: 0, remote: 0 },
  refreshTimer: null,
  lastSummary: null,
};

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null) continue;
    if (key === "class") node.className = value; else node.setAttribute(key, value);
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function query() {
  const q = new URLSearchParams();
  q.set("net_offset", state.net); q.set("net_limit", state.limits.net);
  q.set("host_offset", state.host); q.set("host_limit", state.limits.host);
  q.set("hosts_offset", state.hosts); q.set("hosts_limit", state.limits.hosts);
  q.set("ports_offset", state.ports); q.set("ports_limit", state.limits.ports);
  q.set("remote_offset", state.remote); q.set("remote_limit", state.limits.remote);
  q.set("net_q", document.getElementById("net-q").value);
  q.set("hosts_q", document.getElementById("hosts-q").value);
  q.set("ports_q", document.getElementById("ports-q").value);
  q.set("ports_status", document.getElementById("ports-status").value);
  return q;
}

async function refresh() {
  state.refreshTimer = null;
  const response = await fetch("/ui/api/fabric?" + query(), { credentials: "same-origin" });
  if (response.status === 401) { window.location.assign("/ui/"); return; }
  if (!response.ok) return;
  const data = await response.json();
  state.lastSummary = JSON.stringify(data.summary);
  renderSummary(data.summary);
  renderMatrix(data.matrix);
  renderHosts(data.hosts);
  renderPorts(data.ports);
  renderRemote(data.remote);
}

function refreshSoon() {
  if (state.refreshTimer === null) state.refreshTimer = setTimeout(refresh, 500);
}

function renderSummary(s) {
  document.getElementById("revision").textContent = "revision " + s.revision;
  const chip = (label, value, id) => el("span", { class: "chip", id }, el("b", {}, value), " " + label);
  const by = s.ports_by_status;
  document.getElementById("summary").replaceChildren(
    chip("hosts", s.hosts, "sum-hosts"),
    chip("networks", s.networks, "sum-networks"),
    chip("ports", s.ports, "sum-ports"),
    chip("ACTIVE", by.ACTIVE, "sum-active"), chip("BUILD", by.BUILD, "sum-build"),
    chip("DOWN", by.DOWN, "sum-down"),
    chip("agents alive", s.agents_alive, "sum-alive"),
    chip("agents in sync", s.agents_in_sync, "sum-sync"),
  );
}

function range(id, offset, count, total, noun) {
  const text = total === 0 ? "no " + noun : `${noun} ${offset + 1}-${offset + count} of ${total}`;
  document.getElementById(id).textContent = text;
}

function renderMatrix(m) {
  state.totals.net = m.networks_total; state.totals.host = m.hosts_total;
  const head = el("tr", {}, el("th", {}, "network"), el("th", {}, "VNI"),
    ...m.hosts.map((h) => el("th", { scope: "col" }, h)));
  const rows = m.networks.map((n) => el("tr", { "data-network-id": n.id },
    el("th", { scope: "row", title: n.id }, n.name || n.id.slice(0, 8)),
    el("td", {}, n.vni),
    ...m.hosts.map((h) => {
      const c = n.cells[h];
      if (!c) return el("td", { class: "cell" }, "");
      const cls = c.active === c.ports ? "cell full" : "cell partial";
      const title = `${h} on ${n.name}: ${c.active}/${c.ports} ports ACTIVE; floods to `
        + (c.floods_to.length ? c.floods_to.join(", ") : "no one");
      return el("td", { class: cls, title, "data-host": h }, `${c.active}/${c.ports}`);
    })));
  document.getElementById("matrix").replaceChildren(el("thead", {}, head), el("tbody", {}, ...rows));
  range("matrix-range", m.net_offset, m.networks.length, m.networks_total, "networks");
  const hostsText = m.hosts_total ? `; hosts ${m.host_offset + 1}-${m.host_offset + m.hosts.length} of ${m.hosts_total}` : "";
  document.getElementById("matrix-range").textContent += hostsText;
}

function agentCells(a) {
  const alive = a.alive ? el("span", { class: "yes" }, "up") : el("span", { class: "no" }, "down");
  const rev = a.revision === null ? "-" : a.revision;
  const sync = a.in_sync ? el("span", { class: "yes" }, "yes") : el("span", { class: "no" }, "no");
  return [el("td", { class: "alive" }, alive), el("td", { class: "applied" }, rev),
    el("td", {}, a.last_change), el("td", { class: "sync" }, sync)];
}

function renderHosts(h) {
  state.totals.hosts = h.total;
  const head = el("tr", {}, ...["host", "tunnel IP", "ports", "networks", "agent", "applied",
    "R", "in sync"].map((t) => el("th", {}, t)));
  const rows = h.hosts.map((r) => el("tr", { "data-host": r.name },
    el("td", {}, r.name), el("td", { class: "mono" }, r.tunnel_ip),
    el("td", {}, `${r.active}/${r.ports}`), el("td", {}, r.networks), ...agentCells(r)));
  document.getElementById("hosts").replaceChildren(el("thead", {}, head), el("tbody", {}, ...rows));
  range("hosts-range", h.offset, h.hosts.length, h.total, "hosts");
  document.getElementById("host-names").replaceChildren(
    ...h.hosts.map((r) => el("option", { value: r.name })));
}

function portRow(p) {
  return el("tr", { "data-port-id": p.id },
    el("td", { class: "mono", title: p.id }, p.id.slice(0, 8)), el("td", {}, p.name),
    el("td", { title: p.network_id }, p.network), el("td", { class: "mono" }, p.mac),
    el("td", { class: "mono" }, p.ips.join(" ")), el("td", {}, p.host || "-"),
    el("td", { class: "status", "data-status": p.status }, p.status));
}

function renderPorts(p) {
  state.totals.ports = p.total;
  const head = el("tr", {}, ...["id", "name", "network", "MAC", "IPs", "host", "status"]
    .map((t) => el("th", {}, t)));
  document.getElementById("ports").replaceChildren(el("thead", {}, head),
    el("tbody", {}, ...p.ports.map(portRow)));
  range("ports-range", p.offset, p.ports.length, p.total, "ports");
}

// Remote endpoints: routes EVPN gateways imported (not ports: read-only here too).
function renderRemote(r) {
  state.totals.remote = r.total;
  const head = el("tr", {}, ...["network", "type", "VTEP", "MAC", "IP", "gateways"]
    .map((t) => el("th", {}, t)));
  const rows = r.remote.map((e) => el("tr", {},
    el("td", { title: e.network_id }, e.network), el("td", {}, e.type),
    el("td", { class: "mono" }, e.vtep), el("td", { class: "mono" }, e.mac || "-"),
    el("td", { class: "mono" }, e.ip || "-"), el("td", {}, e.gateways.join(" "))));
  document.getElementById("remote").replaceChildren(el("thead", {}, head),
    el("tbody", {}, ...rows));
  range("remote-range", r.offset, r.remote.length, r.total, "remote endpoints");
}

function applyChange(data) {
  // A changed summary (a port added anywhere, a status changed) means the matrix and the
  // pages may have changed too: reload them shortly, once for a burst.
  const summary = JSON.stringify(data.summary);
  const moved = summary !== state.lastSummary;
  state.lastSummary = summary;
  if (data.summary) renderSummary(data.summary);
  if (data.resync) { refresh(); return; }
  let missing = false;
  for (const p of data.ports || []) {
    const row = document.querySelector(`#ports tr[data-port-id="${CSS.escape(p.id)}"]`);
    if (row) row.replaceWith(portRow(p)); else missing = true;
  }
  for (const a of data.agents || []) {
    const row = document.querySelector(`#hosts tr[data-host="${CSS.escape(a.host)}"]`);
    if (row) {
      const cells = row.querySelectorAll("td");
      agentCells(a).forEach((cell, i) => cells[4 + i].replaceWith(cell));
    }
  }
  // New or deleted ports, and the matrix's counts: reload the pages shortly.
  if (missing || moved || (data.deleted || []).length) refreshSoon();
}

function connect() {
  const live = document.getElementById("live");
  const source = new EventSource("/ui/api/events");
  source.addEventListener("hello", () => {
    live.dataset.state = "open"; live.textContent = "live"; refresh();
  });
  source.addEventListener("change", (event) => applyChange(JSON.parse(event.data)));
  source.onerror = () => { live.dataset.state = "closed"; live.textContent = "reconnecting"; };
}

async function explain(event) {
  event.preventDefault();
  const out = document.getElementById("explain-result");
  out.replaceChildren(el("p", { class: "muted" }, "asking..."));
  const body = {
    host: document.getElementById("explain-host").value,
    target: document.getElementById("explain-target").value,
    network: document.getElementById("explain-network").value || null,
  };
  const response = await fetch("/ui/api/explain", {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  const data = await response.json();
  if (!response.ok) {
    const message = data.error || (data.NeutronError && data.NeutronError.message) || "failed";
    out.replaceChildren(el("p", { class: "error", id: "explain-error" }, message));
    return;
  }
  const marks = { true: "\u2713", false: "\u2717", null: "\u2013" };
  const items = data.stages.map((s) => el("li", { "data-stage": s.name, "data-ok": String(s.ok) },
    el("span", { class: "mark " + (s.ok === true ? "yes" : s.ok === false ? "no" : "muted") },
      marks[String(s.ok)]),
    el("b", {}, s.name), ": ", s.detail));
  out.replaceChildren(el("ol", {}, ...items),
    el("p", { class: "verdict " + data.verdict, id: "explain-verdict" }, data.line));
}

function page(event) {
  const button = event.target.closest("button[data-page]");
  if (!button) return;
  const key = button.dataset.page;
  const next = state[key] + Number(button.dataset.step) * state.limits[key];
  if (next < 0 || next >= Math.max(state.totals[key], 1)) return;
  state[key] = next;
  refresh();
}

function filtered(key) {
  return () => { state[key] = 0; refreshSoon(); };
}

document.addEventListener("DOMContentLoaded", () => {
  document.body.addEventListener("click", page);
  document.getElementById("explain-form").addEventListener("submit", explain);
  document.getElementById("net-q").addEventListener("input", filtered("net"));
  document.getElementById("hosts-q").addEventListener("input", filtered("hosts"));
  document.getElementById("ports-q").addEventListener("input", filtered("ports"));
  document.getElementById("ports-status").addEventListener("change", filtered("ports"));
  refresh();
  connect();
});
