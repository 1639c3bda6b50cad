/* sxzones serve: the pages' script. Everything shown from a result or an upload is set as
   text (textContent), never as HTML. No network beyond this server. */
"use strict";

const PAGE = document.body.dataset.page;
const $ = (id) => document.getElementById(id);
let SETUP = null;
let MAP = null;
let RESULT_LAYER = null;
let DRAWN = null;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function showError(text) {
  const m = $("message");
  m.textContent = text;
  m.hidden = !text;
}

function term(list, id) { const t = list.find((x) => x.id === id); return t ? t.label : id; }
function label(key) { return (SETUP && SETUP.labels[key]) || key; }
function colour(key) { return (SETUP && SETUP.colours[key]) || "#666"; }

function table(rows, cols, sortable) {
  const t = el("table");
  const head = el("tr");
  cols.forEach(([key, title], i) => {
    const th = el("th", {}, title);
    if (sortable) th.addEventListener("click", () => sortBy(t, i));
    head.append(th);
  });
  t.append(head);
  for (const r of rows) {
    const tr = el("tr");
    for (const [key] of cols) {
      const v = r[key];
      tr.append(el("td", {}, v === null || v === undefined ? "" : (typeof v === "object" ? JSON.stringify(v) : v)));
    }
    t.append(tr);
  }
  return t;
}

function sortBy(t, col) {
  const rows = Array.from(t.rows).slice(1);
  const dir = t.dataset.sorted === String(col) ? -1 : 1;
  t.dataset.sorted = dir === 1 ? String(col) : "";
  const val = (r) => r.cells[col].textContent;
  rows.sort((a, b) => {
    const x = val(a), y = val(b), nx = parseFloat(x), ny = parseFloat(y);
    const c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y, "zh");
    return dir * c;
  });
  for (const r of rows) t.append(r);
}

function fillSelect(sel, items, keepFirst) {
  if (!keepFirst) sel.textContent = "";
  for (const it of items) sel.append(el("option", { value: it.id }, it.label));
}

function legend(entries) {
  const box = el("div", { class: "legend" });
  for (const [text, col] of entries) box.append(el("div", {}, el("i", { style: `background:${col}` }), text));
  return box;
}

function initMap() {
  MAP = L.map("map", { preferCanvas: false }).setView([37.6, 112.3], 7);
  L.control.scale({ metric: true, imperial: false }).addTo(MAP);
  const overlays = {};
  const styles = {
    admin: () => ({ color: "#555", weight: 1, fill: false }),
    control_units: (f) => ({ color: "#666", weight: 0.4, fillColor: colour(f.properties.unit_type), fillOpacity: 0.25 }),
    redline: () => ({ color: colour("redline"), weight: 1, fillOpacity: 0.4 }),
    builtup: () => ({ color: colour("builtup"), weight: 1, fillOpacity: 0.4 }),
  };
  for (const [role, layer] of Object.entries(SETUP.layers)) {
    const g = L.geoJSON(layer.data, {
      style: styles[role],
      onEachFeature: (f, l) => l.bindTooltip(el("span", {},
        Object.values(f.properties).filter((v) => v !== null).join(" · "))),
    });
    if (role !== "control_units") g.addTo(MAP);
    overlays[layer.label] = g;
  }
  L.control.layers(null, overlays, { collapsed: true }).addTo(MAP);
  const lg = L.control({ position: "bottomright" });
  lg.onAdd = () => legend([
    [label("redline"), colour("redline")], [label("builtup"), colour("builtup")],
    [label("priority_protection"), colour("priority_protection")],
    [label("key_control"), colour("key_control")], [label("general_control"), colour("general_control")],
  ]);
  lg.addTo(MAP);
}

function setResultLayer(layers) {
  if (RESULT_LAYER) MAP.removeLayer(RESULT_LAYER);
  RESULT_LAYER = L.featureGroup(layers).addTo(MAP);
  const b = RESULT_LAYER.getBounds();
  if (b.isValid()) MAP.fitBounds(b.pad(0.05), { maxZoom: 14 });
}

function downloadLinks(res) {
  const p = el("p", { class: "downloads" }, "下载 Downloads: ");
  for (const name of res.downloads) {
    const text = name.endsWith(".html") ? `打印报告 Print report (${name})` : name;
    const a = el("a", { href: `/download/${encodeURIComponent(res.job)}/${encodeURIComponent(name)}`, "data-name": name }, text);
    if (name.endsWith(".html")) a.setAttribute("target", "_blank"); else a.setAttribute("download", name);
    p.append(a, " ");
  }
  return p;
}

function commandLine(res) {
  return el("p", { class: "hint" }, "同样结果的命令 Same result on the command line: ", el("code", {}, res.command));
}

async function post(url, form) {
  showError("");
  $("busy").hidden = false;
  $("run").disabled = true;
  try {
    const r = await fetch(url, { method: "POST", body: form, credentials: "same-origin" });
    let body;
    try { body = await r.json(); } catch (e) { body = { error: `HTTP ${r.status}` }; }
    if (!r.ok || body.error) { showError(body.error || `HTTP ${r.status}`); return null; }
    return body;
  } catch (e) {
    showError(String(e));
    return null;
  } finally {
    $("busy").hidden = true;
    $("run").disabled = false;
  }
}

/* ---- reviewer ---------------------------------------------------------------------- */

function initReviewer() {
  fillSelect($("crs"), SETUP.crs);
  fillSelect($("industry"), SETUP.industries, true);
  fillSelect($("kind"), SETUP.kinds, true);
  DRAWN = new L.FeatureGroup().addTo(MAP);
  MAP.addControl(new L.Control.Draw({
    draw: { polyline: false, circle: false, circlemarker: false, rectangle: true, marker: true, polygon: { allowIntersection: false } },
    edit: { featureGroup: DRAWN },
  }));
  const update = () => {
    const layers = DRAWN.getLayers();
    $("geojson").value = layers.length ? JSON.stringify(layers[layers.length - 1].toGeoJSON().geometry) : "";
  };
  MAP.on(L.Draw.Event.CREATED, (e) => { DRAWN.clearLayers(); DRAWN.addLayer(e.layer); update(); });
  MAP.on(L.Draw.Event.EDITED, update);
  MAP.on(L.Draw.Event.DELETED, update);
  $("form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = new FormData($("form"));
    if (!$("file").files.length) form.delete("file");
    const res = await post("/api/check", form);
    if (res) showCheck(res);
  });
}

function showCheck(res) {
  const out = $("result");
  out.textContent = "";
  for (const p of res.document.projects) {
    const sec = el("section", { class: "project" });
    sec.append(el("h2", {}, `${p.project_id} · ${term(SETUP.industries, p.industry)} · ${term(SETUP.kinds, p.kind)}`));
    sec.append(el("p", {}, "结论 Verdict: ",
      el("span", { class: "verdict", style: `background:${colour(p.verdict)}`, "data-verdict": p.verdict }, label(p.verdict)),
      ` ${p.city || ""} ${p.county || ""} · 面积 Area ${p.area_m2} m²`));
    if (p.geometry_note) sec.append(el("p", { class: "hint" }, p.geometry_note));
    sec.append(el("p", {}, `最近生态保护红线 Nearest red line: ${p.nearest_redline_m} m · 最近建成区 Nearest built-up area: ${p.builtup.nearest} ${p.builtup.distance_m} m (${label(p.builtup.zone)})`));
    sec.append(el("h3", {}, "触发规则 Rules that fired"),
      table(p.rules, [["id", "规则 Rule"], ["verdict", "结论 Verdict"], ["clause", "条款 Clause"], ["zh", "要求"], ["en", "Requirement"]]));
    sec.append(el("h3", {}, "环境管控单元 Control units"),
      table(p.control_units, [["unit_code", "编码 Code"], ["unit_name", "名称 Name"], ["unit_type", "类型 Type"], ["overlap_m2", "重叠 m²"], ["overlap_pct", "% of project"]]));
    sec.append(el("h3", {}, "生态保护红线 Red lines"),
      table(p.redline, [["redline_id", "编号 ID"], ["name", "名称 Name"], ["overlap_m2", "重叠 m²"], ["overlap_pct", "% of project"]]));
    sec.append(el("h3", {}, "准入清单 Admission lists"),
      table(p.admission_lists, [["unit_code", "单元 Unit"], ["admission_spatial", "空间布局约束"], ["admission_emission", "污染物排放管控"], ["admission_risk", "环境风险防控"], ["admission_resource", "资源开发效率"]]));
    out.append(sec);
  }
  out.append(downloadLinks(res), commandLine(res));
  const m = res.map;
  setResultLayer([
    L.geoJSON(m.control_units, { style: (f) => ({ color: "#333", weight: 1, fillColor: colour(f.properties.unit_type), fillOpacity: 0.35 }) }),
    L.geoJSON(m.redline, { style: () => ({ color: colour("redline"), weight: 2, fillOpacity: 0.5 }) }),
    L.geoJSON(m.projects, {
      style: (f) => ({ color: colour(f.properties.verdict), weight: 3, fillOpacity: 0.1 }),
      pointToLayer: (f, ll) => L.circleMarker(ll, { radius: 8, color: colour(f.properties.verdict), weight: 3 }),
    }),
  ]);
}

/* ---- inspector --------------------------------------------------------------------- */

function initInspector() {
  fillSelect($("crs"), SETUP.crs);
  $("file").addEventListener("change", async () => {
    $("mapping").textContent = "";
    if (!$("file").files.length) return;
    const form = new FormData();
    form.append("file", $("file").files[0]);
    const res = await post("/api/firms/columns", form);
    if (!res || !res.columns.length) return;
    const box = $("mapping");
    box.append(el("p", { class: "hint" }, "列对应（未识别的字段请选择）Columns: choose the column of each field not found by name"));
    for (const f of res.fields) {
      const sel = el("select", { name: `field_${f}`, id: `field_${f}` }, el("option", { value: "" }, res.found.includes(f) ? `(${f})` : "（按名称 by name）"));
      for (const c of res.columns) if (c !== f) sel.append(el("option", { value: c }, c));
      box.append(el("label", {}, `${f} ← `, sel));
    }
  });
  $("form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const res = await post("/api/firms", new FormData($("form")));
    if (res) showFirms(res);
  });
}

function showFirms(res) {
  const out = $("result");
  out.textContent = "";
  const zones = Object.keys(res.counts);
  out.append(el("h2", {}, `${res.rows} 家企业 firms screened, ${res.n_rejects} 行退回 rows rejected`));
  out.append(table(zones.map((z) => ({ zone: label(z), n: res.counts[z] })), [["zone", "分区 Zone"], ["n", "企业数 Firms"]]));
  out.append(downloadLinks(res), commandLine(res));
  const cols = res.columns.slice(0, 14).map((c) => [c, c]);
  out.append(el("h3", {}, `结果（前 ${res.table.length} 行，点击表头排序）Results (first ${res.table.length} rows; click a header to sort)`),
    el("div", { class: "scroll" }, table(res.table, cols, true)));
  if (res.rejects.length) {
    out.append(el("h3", {}, "退回行及原因 Rejected rows and why"),
      el("div", { class: "scroll" }, table(res.rejects, Object.keys(res.rejects[0]).map((c) => [c, c]), true)));
  }
  const shown = Object.entries(res.map_shown || {});
  if (shown.length) {  // a long list: the map draws the zones nearest a built-up area first
    const drawn = shown.reduce((a, [, [d]]) => a + d, 0);
    const total = shown.reduce((a, [, [, t]]) => a + t, 0);
    const parts = shown.map(([z, [d, t]]) => `${label(z)} ${d.toLocaleString()} / ${t.toLocaleString()}`);
    out.append(el("p", { class: "note", id: "map-shown" },
      `地图显示 ${drawn.toLocaleString()} / ${total.toLocaleString()} 家企业，未全部显示的分区均匀抽样 ` +
      `Map shows ${drawn.toLocaleString()} of ${total.toLocaleString()} firms (a zone not drawn whole is evenly sampled): ` +
      parts.join("; ")));
  }
  setResultLayer([L.geoJSON(res.map, {
    pointToLayer: (f, ll) => L.circleMarker(ll, { radius: 4, color: colour(f.properties.zone), weight: 1, fillOpacity: 0.8 })
      .bindTooltip(el("span", {}, `${f.properties.name} · ${label(f.properties.zone)}`)),
  })]);
}

/* ---- planner ----------------------------------------------------------------------- */

function initPlanner() {
  const s = SETUP.siting;
  fillSelect($("tech"), s.techs.map((t) => ({ id: t, label: t === "pv" ? "光伏 PV" : "风电 Wind" })));
  for (const k of s.kinds) {
    $("kinds").append(el("label", { class: "inline" }, el("input", { type: "checkbox", checked: "", value: k.id, class: "kind" }), ` ${k.label}`));
  }
  const placeholders = () => {
    const tech = $("tech").value;
    for (const r of s.reasons) { const i = $(`setback_${r.reason}`); if (i) i.placeholder = r.setback_m[tech]; }
    $("slope").placeholder = s.max_slope_deg[tech];
  };
  for (const r of s.reasons) {
    const input = el("input", { type: "number", min: "0", step: "10", name: `setback_${r.reason}`, id: `setback_${r.reason}` });
    if (!r.assessed) input.disabled = true;
    $("setbacks").append(el("label", {}, `${r.label}${r.assessed ? "" : "（无图层，未评估 no layer, not assessed）"} `, input));
  }
  $("tech").addEventListener("change", placeholders);
  placeholders();
  $("form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = new FormData($("form"));
    if (!$("file").files.length) form.delete("file");
    if (!$("dem").files.length) form.delete("dem");
    form.append("kinds", Array.from(document.querySelectorAll("input.kind:checked")).map((i) => i.value).join(","));
    const res = await post("/api/sites", form);
    if (res) showSites(res);
  });
}

function showSites(res) {
  const out = $("result");
  out.textContent = "";
  const d = res.document, t = d.totals;
  out.append(el("h2", {}, `${d.tech === "pv" ? "光伏 PV" : "风电 Wind"}: 可用 eligible ${t.eligible_km2} / ${t.candidate_km2} km² · 装机 capacity ${t.capacity_mw} MW`));
  const removed = d.reasons.map((r) => {
    const key = `removed_${r}_m2`;
    const sum = res.table.reduce((a, row) => a + (parseFloat(row[key]) || 0), 0);
    return { reason: d.labels[r] ? d.labels[r].join(" ") : label(r), km2: (sum / 1e6).toFixed(3) };
  });
  out.append(el("h3", {}, "各原因排除面积 Area removed by reason"), table(removed, [["reason", "原因 Reason"], ["km2", "km²"]]));
  if (d.not_assessed.length) out.append(el("h3", {}, "未评估 Not assessed"), table(d.not_assessed, [["reason", "原因 Reason"], ["why", "说明 Why"]]));
  out.append(table(d.summary, Object.keys(d.summary[0] || {}).map((c) => [c, c])));
  out.append(downloadLinks(res), commandLine(res));
  out.append(el("div", { class: "scroll" }, table(res.table, res.columns.slice(0, 14).map((c) => [c, c]), true)));
  setResultLayer([L.geoJSON(res.map, {
    style: (f) => ({ color: colour("eligible"), weight: 1, fillColor: colour(f.properties.kind), fillOpacity: 0.6 }),
    onEachFeature: (f, l) => l.bindTooltip(el("span", {}, `${f.properties.site_id} · ${f.properties.capacity_mw} MW`)),
  })]);
}

async function main() {
  const r = await fetch("/api/setup", { credentials: "same-origin" });
  if (!r.ok) { showError((await r.json()).error || `HTTP ${r.status}`); return; }
  SETUP = await r.json();
  initMap();
  ({ reviewer: initReviewer, inspector: initInspector, planner: initPlanner })[PAGE]();
  document.body.dataset.ready = "1";
}

main();
