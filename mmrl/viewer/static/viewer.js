// mmrl view: the page's script. Every text that comes from a run (model output, prompts, env names, metric
// names) is inserted as text (textContent / text nodes), never parsed as HTML: a model's output is hostile input.
"use strict";

const POLL_MS = 2000;
const LIMIT = 60;
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                 "#bcbd22", "#17becf"];
const SVG_NS = "http://www.w3.org/2000/svg";
const state = { version: null, episodesRequest: 0 };

const $ = (id) => document.getElementById(id);

// An HTML element with attributes and children; strings become text nodes.
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

async function getJSON(url) {
  const response = await fetch(url, { cache: "no-store" });
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return response.json();
}

function fmt(value, digits = 3) {
  if (typeof value !== "number") return value === null || value === undefined ? "–" : String(value);
  return Number.isInteger(value) ? String(value) : value.toFixed(digits);
}

// ------------------------------------------------------------------------------------------------ curves
// A small SVG line chart: series = [{label, points: [[x, y], ...]}].
function lineChart(title, series, xLabel = "step") {
  series = series.filter((s) => s.points.length > 0);
  if (series.length === 0) return null;
  const W = 380, H = 210, L = 46, R = 10, T = 22, B = 30;
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (x0 === x1) { x0 -= 1; x1 += 1; }
  if (y0 === y1) { y0 -= 0.5; y1 += 0.5; }
  const sx = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const sy = (y) => H - B - ((y - y0) / (y1 - y0)) * (H - T - B);
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img" });
  root.append(svg("text", { x: L, y: 14, class: "title" }, title));
  root.append(svg("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#999" }));
  root.append(svg("line", { x1: L, y1: T, x2: L, y2: H - B, stroke: "#999" }));
  for (const y of [y0, (y0 + y1) / 2, y1]) {
    root.append(svg("line", { x1: L, y1: sy(y), x2: W - R, y2: sy(y), stroke: "#eee" }));
    root.append(svg("text", { x: L - 4, y: sy(y) + 3, "text-anchor": "end" }, fmt(y, 2)));
  }
  for (const x of [x0, x1]) {
    root.append(svg("text", { x: sx(x), y: H - B + 12, "text-anchor": "middle" }, fmt(x, 0)));
  }
  root.append(svg("text", { x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle" }, xLabel));
  const legend = el("div", { class: "legend" });
  series.forEach((s, i) => {
    const colour = PALETTE[i % PALETTE.length];
    const points = s.points.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(" ");
    if (s.points.length > 1) {
      root.append(svg("polyline", { points, fill: "none", stroke: colour, "stroke-width": 1.5 }));
    }
    if (s.points.length <= 30) {
      for (const p of s.points) root.append(svg("circle", { cx: sx(p[0]), cy: sy(p[1]), r: 2.2, fill: colour }));
    }
    const swatch = el("span", { class: "swatch" });
    swatch.style.background = colour;
    legend.append(el("span", {}, swatch, s.label));
  });
  return el("figure", { class: "chart", "data-title": title }, root, legend);
}

function seriesOf(rows, key, label) {
  return { label: label || key, points: rows.filter((r) => typeof r[key] === "number").map((r) => [r.step, r[key]]) };
}

function drawCharts(rows) {
  const keys = new Set(rows.flatMap((r) => Object.keys(r)));
  const has = (k) => keys.has(k);
  const charts = [];
  charts.push(lineChart("Reward (episode return, mean)",
    ["train/return_mean", "eval/return_mean"].filter(has).map((k) => seriesOf(rows, k))));
  charts.push(lineChart("Success rate",
    ["train/success_rate", "eval/success_rate", "sft/success_rate"].filter(has).map((k) => seriesOf(rows, k))));
  const perEnv = [...keys].filter((k) => /^(train|eval)\/.+\/success_rate$/.test(k)).sort();
  charts.push(lineChart("Success rate per env", perEnv.map((k) => seriesOf(rows, k))));
  const losses = [...keys].filter((k) => k.startsWith("losses/")).sort();
  charts.push(lineChart("Losses", losses.map((k) => seriesOf(rows, k, k.slice("losses/".length)))));
  const withPass = rows.filter((r) => Object.keys(r).some((k) => k.startsWith("eval/pass@")));
  if (withPass.length) {
    const last = withPass[withPass.length - 1];
    const curve = Object.keys(last).filter((k) => k.startsWith("eval/pass@"))
      .map((k) => [Number(k.split("@")[1]), last[k]]).filter((p) => Number.isFinite(p[0])).sort((a, b) => a[0] - b[0]);
    if (curve.length > 1) charts.push(lineChart(`pass@k (eval at step ${last.step})`, [{ label: "pass@k", points: curve }], "k"));
  }
  $("charts").replaceChildren(...charts.filter((c) => c !== null));
}

// ------------------------------------------------------------------------------------------------ filters
function fillSelect(select, values, anyLabel, labelOf = (v) => String(v)) {
  const current = select.value;
  const options = [el("option", { value: "" }, anyLabel)];
  for (const v of values) options.push(el("option", { value: String(v) }, labelOf(v)));
  select.replaceChildren(...options);
  if ([...select.options].some((o) => o.value === current)) select.value = current;
}

function query(step) {
  const params = new URLSearchParams();
  const set = (name, value) => { if (value !== "") params.set(name, value); };
  set("kind", $("f-kind").value);
  set("step", step);
  set("env", $("f-env").value);
  set("success", $("f-success").value);
  set("min_return", $("f-min").value);
  set("max_return", $("f-max").value);
  params.set("limit", String(LIMIT));
  return params.toString();
}

// ------------------------------------------------------------------------------------------------ episodes
function textBlock(title, text, cls) {
  const body = text === "" ? el("pre", { class: "empty" }, "(empty)") : el("pre", {}, text);
  return el("div", { class: cls }, el("h4", {}, title), body);
}

function turnView(turn, t) {
  const head = el("div", { class: "turn-head" }, `turn ${t} · reward ${fmt(turn.reward)}`);
  const picture = turn.image
    ? el("img", { src: turn.image, alt: `observation, turn ${t}`, loading: "lazy" })
    : el("div", { class: "noimg" }, turn.image_omitted ? `image not kept (${turn.image_omitted})` : "no image");
  const texts = el("div", { class: "texts" });
  texts.append(el("details", {}, el("summary", {}, "prompt"), el("pre", { class: "prompt" }, turn.prompt)));
  const split = el("div", { class: "split" });
  if (turn.thought !== null) split.append(textBlock("thought", turn.thought, "thought"));
  if (turn.action !== null) split.append(textBlock("action", turn.action, "action"));
  else split.append(el("div", { class: "action missing" }, el("h4", {}, "action"), "none: format error"));
  texts.append(split);
  texts.append(el("details", {}, el("summary", {}, "full response"), el("pre", { class: "response" }, turn.response)));
  const components = Object.entries(turn.rewards || {});
  if (components.length) {
    texts.append(el("table", { class: "rewards" }, ...components.map(([name, value]) =>
      el("tr", {}, el("td", {}, name), el("td", {}, fmt(value))))));
  }
  if (turn.gtr) {
    const verdict = turn.gtr.verdict ? ` (verdict ${turn.gtr.verdict})` : "";
    texts.append(el("div", { class: "gtr" },
      textBlock("GTR: original thought", turn.gtr.thought ?? "", "original"),
      textBlock(`GTR: corrected thought${verdict}`, turn.gtr.corrected_thought ?? "(not corrected)", "corrected")));
  }
  return el("section", { class: "turn" }, head, el("div", { class: "turn-body" }, picture, texts));
}

function episodeView(ep) {
  const tags = [`${ep.kind}`, `step ${ep.step}`, `${ep.env}`, `seed ${ep.seed}`, `return ${fmt(ep.return)}`,
                ep.success ? "succeeded" : "failed", `format ${ep.format}`];
  if (ep.error) tags.push(`error: ${ep.error}`);
  const head = el("div", { class: "head" }, `#${ep.id}`, ...tags.map((t) => el("span", { class: "tag" }, t)));
  return el("article", { class: `episode ${ep.success ? "success" : "failure"}`, "data-id": String(ep.id) },
            head, ...ep.turns.map(turnView));
}

async function fillColumn(column, step, label) {
  const data = await getJSON(`api/episodes?${query(step)}`);
  const shown = data.episodes.length;
  const count = el("p", { class: "count" },
    `${label}${data.total} episode${data.total === 1 ? "" : "s"}` + (shown < data.total ? ` (newest ${shown} shown)` : ""));
  return [count, ...data.episodes.map(episodeView)];
}

async function drawEpisodes() {
  const request = ++state.episodesRequest;
  const compare = $("f-compare").value;
  const step = $("f-step").value;
  const [a, b] = await Promise.all([
    fillColumn($("col-a"), step, compare !== "" ? `step ${step === "" ? "all" : step}: ` : ""),
    compare !== "" ? fillColumn($("col-b"), compare, `step ${compare}: `) : Promise.resolve(null),
  ]);
  if (request !== state.episodesRequest) return; // a newer request is drawing
  $("col-a").replaceChildren(...a);
  $("col-b").hidden = b === null;
  $("col-b").replaceChildren(...(b || []));
}

// ------------------------------------------------------------------------------------------------ follow the run
async function refresh() {
  const run = await getJSON("api/run");
  if (run.version === state.version) return false;
  state.version = run.version;
  $("run-name").textContent = run.name;
  document.title = `mmrl view: ${run.name}`;
  fillSelect($("f-kind"), run.kinds, "all kinds");
  fillSelect($("f-step"), run.steps, "all steps");
  fillSelect($("f-env"), run.envs, "all envs");
  fillSelect($("f-compare"), run.steps, "no comparison");
  $("plots").replaceChildren(...run.plots.map((name) => el("figure", { class: "plot" },
    el("img", { src: `files/plots/${encodeURIComponent(name)}?v=${encodeURIComponent(run.version)}`, alt: name }),
    el("figcaption", {}, name))));
  const metrics = await getJSON("api/metrics");
  drawCharts(metrics.rows);
  await drawEpisodes();
  return true;
}

async function poll() {
  if (!$("follow").checked && state.version !== null) {  // paused: the page stays as it is while being read
    setTimeout(poll, POLL_MS);
    return;
  }
  try {
    const changed = await refresh();
    $("status").textContent = `${changed ? "updated" : "checked"} ${new Date().toLocaleTimeString()}`;
  } catch (err) {
    $("status").textContent = `cannot reach the server (${err.message})`;
  }
  setTimeout(poll, POLL_MS);
}

for (const id of ["f-kind", "f-step", "f-env", "f-success", "f-compare"]) $(id).addEventListener("change", drawEpisodes);
for (const id of ["f-min", "f-max"]) $(id).addEventListener("input", drawEpisodes);
poll();
