// explorer.js — the attention explorer, drawn in the browser from q, k and v (bert/tools/explore.py writes the
// data and this file inline into one page: no library, no request of any kind).
//
//   Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V          (Vaswani et al. 2017 §3.2.1; bert/attention.py)
//
// 1. decode   the page's tensors: base64 → inflate → byte planes → Float32Array (q, k, v: layers × heads × T × D)
// 2. weights  one row of softmax(q kᵀ / √d_k), in float64 — what the model computed, to about 1e-5
// 3. views    head view (lines weighted by attention), model view (every layer × head), formula view (each step)
// 4. export   each view as SVG (the drawing itself) or PNG (the SVG drawn onto a canvas)
(function () {
"use strict";
const DATA = JSON.parse(document.getElementById("data").textContent);
const T = DATA.tokens.length, L = DATA.layers, H = DATA.heads, D = DATA.headDim;
const SCALE = 1 / Math.sqrt(D);                       // 1/√d_k
const NS = "http://www.w3.org/2000/svg";
const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                "#bcbd22", "#17becf", "#393b79", "#ad494a"];
const headColor = h => h < COLORS.length ? COLORS[h] : `hsl(${(h * 47) % 360},65%,45%)`;
const START = DATA.start || { view: "head", layer: 0, head: 0, query: 0 };   // explore(view=…, layer=…, …)
const state = { layer: START.layer, heads: new Set([...Array(H).keys()]), head: START.head, query: START.query };
let Q, K, V, KT;                                      // index ((l·H + h)·T + i)·D + d (KT: ((l·H + h)·D + d)·T + j)

// ---------------------------------------------------------------- 1. decode
async function decode(t) {
  const text = atob(t.data), packed = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) packed[i] = text.charCodeAt(i);
  const stream = new Blob([packed]).stream().pipeThrough(new DecompressionStream("deflate"));   // zlib format
  const planes = new Uint8Array(await new Response(stream).arrayBuffer());
  const n = planes.length / t.bytes, bits = new Uint32Array(n);
  for (let s = 0; s < t.bytes; s++) {                 // plane s holds byte s (most significant first) of each value
    const shift = 24 - 8 * s, plane = planes.subarray(s * n, (s + 1) * n);
    for (let i = 0; i < n; i++) bits[i] |= plane[i] << shift;
  }
  return new Float32Array(bits.buffer);               // the dropped low bytes are 0
}

// ---------------------------------------------------------------- 2. weights
const at = (l, h, i) => ((l * H + h) * T + i) * D;   // where token i's vector of head h in layer l starts
function transposeKeys() {                            // KT: each head's keys as D rows of T numbers (kᵀ), float64
  const KT = new Float64Array(K.length);
  for (let lh = 0; lh < L * H; lh++) for (let j = 0; j < T; j++) for (let d = 0; d < D; d++)
    KT[lh * T * D + d * T + j] = K[lh * T * D + j * D + d];
  return KT;
}
function scores(l, h, i) {                            // s_j = q_i · k_j / √d_k, for every key j
  const s = new Float64Array(T), qi = at(l, h, i), kt = at(l, h, 0);
  let d = 0;
  for (; d + 4 <= D; d += 4) {                        // s += q_id · (row d of kᵀ), four rows at a time: long,
    const q0 = Q[qi + d], q1 = Q[qi + d + 1], q2 = Q[qi + d + 2], q3 = Q[qi + d + 3];   // simple loops run fast
    const r0 = kt + d * T, r1 = r0 + T, r2 = r1 + T, r3 = r2 + T;
    for (let j = 0; j < T; j++) s[j] += q0 * KT[r0 + j] + q1 * KT[r1 + j] + q2 * KT[r2 + j] + q3 * KT[r3 + j];
  }
  for (; d < D; d++) {                                // the rest when d_k is not a multiple of 4
    const qd = Q[qi + d], row = kt + d * T;
    for (let j = 0; j < T; j++) s[j] += qd * KT[row + j];
  }
  for (let j = 0; j < T; j++) s[j] *= SCALE;
  return s;
}
function softmax(s) {                                 // exp(s_j − max) / Σ exp(s − max): the same numbers, no overflow
  let max = -Infinity, sum = 0;
  for (const x of s) max = Math.max(max, x);
  const e = s.map(x => Math.exp(x - max));
  for (const x of e) sum += x;
  return { max, sum, exp: e, w: e.map(x => x / sum) };
}
const cache = new Map();                              // the current layer's T×T weights per head
function weights(l, h) {
  const key = l * H + h;
  if (!cache.has(key)) {
    if (cache.size >= 2 * H) cache.delete(cache.keys().next().value);
    const W = new Float32Array(T * T);
    for (let i = 0; i < T; i++) {                     // softmax(), row by row, in place (no arrays to allocate)
      const s = scores(l, h, i);
      let max = -Infinity, sum = 0;
      for (let j = 0; j < T; j++) if (s[j] > max) max = s[j];
      for (let j = 0; j < T; j++) { s[j] = Math.exp(s[j] - max); sum += s[j]; }
      for (let j = 0; j < T; j++) W[i * T + j] = s[j] / sum;
    }
    cache.set(key, W);
  }
  return cache.get(key);
}

// ---------------------------------------------------------------- helpers
function el(tag, attrs = {}, parent = null, text = null) {
  const e = document.createElementNS(tag === "div" || tag === "button" || tag === "select" || tag === "option" ||
    tag === "span" || tag === "h1" || tag === "p" ? "http://www.w3.org/1999/xhtml" : NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== null) e.textContent = text;
  if (parent) parent.appendChild(e);
  return e;
}
const fmt = (x, n = 4) => (x >= 0 ? "\u2007" : "") + x.toFixed(n);   // a figure space keeps columns aligned
function diverging(x, maxAbs) {                       // blue (−) — white (0) — red (+)
  const t = Math.max(-1, Math.min(1, x / (maxAbs || 1)));
  const a = Math.round(255 * (1 - Math.abs(t)));
  return t >= 0 ? `rgb(255,${a},${a})` : `rgb(${a},${a},255)`;
}
function strip(svg, x, y, values, maxAbs, cell, title) { // a vector as a row of coloured cells
  const g = el("g", { class: "strip" }, svg);
  values.forEach((v, d) => el("rect", { x: x + d * cell, y, width: cell, height: 12, fill: diverging(v, maxAbs) }, g));
  el("title", {}, g, `${title}: [${Array.from(values, v => v.toFixed(3)).join(", ")}]`);
  el("rect", { x, y, width: cell * values.length, height: 12, fill: "none", stroke: "#aaa" }, g);
}
function tokenText(svg, i, x, y, anchor) {            // a token label: segment colour, special tokens bold
  const cls = `tok seg${DATA.segments[i]}` + (DATA.special[i] ? " special" : "");
  return el("text", { x, y, "text-anchor": anchor, class: cls, "data-i": i }, svg, DATA.tokens[i]);
}
function boundaries(svg, x1, x2, y0, row) {           // a dashed line after each [SEP] that ends a segment
  for (let i = 0; i < T - 1; i++) if (DATA.special[i] && DATA.tokens[i] !== DATA.tokens[0])
    el("line", { x1, x2, y1: y0 + (i + 1) * row - 4, y2: y0 + (i + 1) * row - 4, class: "boundary" }, svg);
}

// ---------------------------------------------------------------- 3a. head view
const ROW = 18, LX = 170, RX = 380, TOP = 34;
function drawHeadView() {
  const svg = document.getElementById("head-svg");
  svg.replaceChildren();
  svg.setAttribute("width", RX + 180); svg.setAttribute("height", TOP + T * ROW + 8);
  el("text", { x: 4, y: 16, class: "hd" }, svg, `Layer ${state.layer}, heads ${[...state.heads].join(" ") || "none"}`);
  el("text", { x: LX, y: 30, "text-anchor": "end", class: "note" }, svg, "query (hover: its row)");
  el("text", { x: RX, y: 30, class: "note" }, svg, "key");
  boundaries(svg, 4, RX + 170, TOP, ROW);
  const lines = el("g", { id: "lines" }, svg), row = el("g", { id: "row" }, svg);
  for (const h of state.heads) {                      // one path per head and opacity level: few DOM nodes
    const W = weights(state.layer, h), paths = Array.from({ length: 10 }, () => []);
    for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) {
      const w = W[i * T + j];
      if (w >= 0.02) paths[Math.min(9, Math.floor(w * 10))].push(`M${LX + 6} ${y(i)}L${RX - 6} ${y(j)}`);
    }
    paths.forEach((p, b) => p.length && el("path", { d: p.join(""), stroke: headColor(h), "stroke-width": 2,
      "stroke-opacity": (b + 0.5) / 10, fill: "none", class: "line", "data-head": h }, lines));
  }
  for (let i = 0; i < T; i++) {
    const left = tokenText(svg, i, LX, y(i) + 4, "end");
    left.classList.add("query");
    tokenText(svg, i, RX, y(i) + 4, "start");
    left.addEventListener("mouseenter", () => showRow(i, lines, row));
    left.addEventListener("mouseleave", () => { row.replaceChildren(); lines.style.display = ""; });
    left.addEventListener("click", () => { state.query = i; state.head = [...state.heads][0] ?? 0; show("formula"); });
  }
}
const y = i => TOP + i * ROW + 6;
function showRow(i, lines, row) {                     // only query i's lines, every weight ≥ 0.001
  lines.style.display = "none";
  row.replaceChildren();
  for (const h of state.heads) {
    const W = weights(state.layer, h);
    for (let j = 0; j < T; j++) if (W[i * T + j] >= 0.001)
      el("line", { x1: LX + 6, y1: y(i), x2: RX - 6, y2: y(j), stroke: headColor(h), "stroke-width": 2,
                   "stroke-opacity": W[i * T + j] }, row, null);
  }
}

// ---------------------------------------------------------------- 3b. model view
const CELL = 64, GAP = 14;                            // thumbnail size and spacing (pixels)
async function drawModelView() {                      // the grid first, then one layer of thumbnails per frame
  const canvas = document.createElement("canvas"), step = CELL + GAP;
  canvas.width = H * step; canvas.height = L * step;
  const svg = document.getElementById("model-svg");
  svg.replaceChildren();
  svg.setAttribute("width", 40 + H * step); svg.setAttribute("height", 24 + L * step);
  const image = el("image", { x: 40, y: 24, width: canvas.width, height: canvas.height }, svg);
  for (let h = 0; h < H; h++) el("text", { x: 40 + h * step + CELL / 2, y: 16, "text-anchor": "middle" }, svg, `H${h}`);
  for (let l = 0; l < L; l++) {
    el("text", { x: 4, y: 24 + l * step + CELL / 2 }, svg, `L${l}`);
    for (let h = 0; h < H; h++) {
      const r = el("rect", { x: 40 + h * step, y: 24 + l * step, width: CELL, height: CELL, class: "thumb",
                             "data-layer": l, "data-head": h }, svg);
      el("title", {}, r, `layer ${l}, head ${h}: click to open it in the head view`);
      r.addEventListener("click", () => { state.layer = l; state.heads = new Set([h]); state.head = h; show("head"); });
    }
  }
  const ctx = canvas.getContext("2d"), img = ctx.createImageData(CELL, CELL);
  for (let l = 0; l < L; l++) {
    await new Promise(resolve => setTimeout(resolve, 0));   // let the page answer clicks between layers
    for (let h = 0; h < H; h++) {
      thumbnail(weights(l, h), img.data);
      ctx.putImageData(img, h * step, l * step);
    }
    image.setAttribute("href", canvas.toDataURL());
  }
}
function thumbnail(W, pixels) {                       // pixel (a, b): the largest weight of the block it covers
  for (let a = 0; a < CELL; a++) for (let b = 0; b < CELL; b++) {
    let w = 0;
    const i1 = Math.floor(a * T / CELL), i2 = Math.max(i1 + 1, Math.floor((a + 1) * T / CELL));
    const j1 = Math.floor(b * T / CELL), j2 = Math.max(j1 + 1, Math.floor((b + 1) * T / CELL));
    for (let i = i1; i < i2; i++) for (let j = j1; j < j2; j++) w = Math.max(w, W[i * T + j]);
    const p = 4 * (a * CELL + b), c = Math.round(255 * (1 - Math.sqrt(w)));   // √w: small weights stay visible
    pixels[p] = c; pixels[p + 1] = c; pixels[p + 2] = 255; pixels[p + 3] = 255;
  }
}

// ---------------------------------------------------------------- 3c. formula view
function drawFormulaView() {
  const { layer: l, head: h, query: i } = state, svg = document.getElementById("formula-svg");
  const s = scores(l, h, i), sm = softmax(s), cell = Math.max(2, Math.min(8, Math.floor(256 / D)));
  const qk = at(l, h, 0), q = Q.subarray(at(l, h, i), at(l, h, i) + D);
  let maxQK = 0;                                      // q and k share one colour scale: their products matter
  for (let x = qk; x < qk + T * D; x++) maxQK = Math.max(maxQK, Math.abs(K[x]), Math.abs(Q[x]));
  const c0 = 140 + cell * D, cols = { tok: 110, k: 120, dot: c0, sc: c0 + 90, ex: c0 + 220, w: c0 + 330,
                                       v: c0 + 460 }, top = 96;
  svg.replaceChildren();
  svg.setAttribute("width", Math.max(cols.v + cell * D + 20, 900)); svg.setAttribute("height", top + (T + 5) * ROW);
  el("text", { x: 4, y: 16, class: "hd" }, svg,
     `Layer ${l}, head ${h}, query ${i} "${DATA.tokens[i]}":  softmax(q·kᵀ / √d_k) V,  d_k = ${D}, ` +
     `1/√d_k = ${SCALE.toFixed(5)}`);
  el("text", { x: 4, y: 38 }, svg, "q =");
  strip(svg, cols.k, 28, q, maxQK, cell, `q (token ${i})`);
  el("text", { x: 4, y: 58, class: "note" }, svg,
     `max s = ${sm.max.toFixed(4)},  Σ exp(s − max) = ${sm.sum.toFixed(4)},  w = exp(s − max) / Σ`);
  [["key", cols.tok, "end"], ["k_j", cols.k, "start"], ["q·k_j", cols.dot, "start"], ["s = q·k_j/√d_k", cols.sc,
    "start"], ["exp(s − max)", cols.ex, "start"], ["softmax w_j", cols.w, "start"], ["w_j·v_j", cols.v, "start"]]
    .forEach(([t, x, a]) => el("text", { x, y: top - 10, "text-anchor": a, class: "hd" }, svg, t));
  const out = new Float64Array(D), wv = [];
  let maxWV = 0;
  for (let j = 0; j < T; j++) {
    const yy = top + j * ROW, kj = K.subarray(at(l, h, j), at(l, h, j) + D), vj = V.subarray(at(l, h, j), at(l, h, j) + D);
    tokenText(svg, j, cols.tok, yy + 10, "end");
    strip(svg, cols.k, yy, kj, maxQK, cell, `k (token ${j})`);
    el("text", { x: cols.dot, y: yy + 10, class: "num" }, svg, fmt(s[j] / SCALE));
    el("text", { x: cols.sc, y: yy + 10, class: "num" }, svg, fmt(s[j]));
    el("text", { x: cols.ex, y: yy + 10, class: "num" }, svg, fmt(sm.exp[j]));
    el("rect", { x: cols.w + 62, y: yy + 1, width: 60 * sm.w[j], height: 10, fill: headColor(h) }, svg);
    el("text", { x: cols.w, y: yy + 10, class: "num softmax", "data-j": j, "data-w": sm.w[j].toPrecision(10) },
       svg, sm.w[j].toFixed(5));
    wv[j] = Array.from(vj, x => sm.w[j] * x);
    wv[j].forEach((x, d) => { out[d] += x; maxWV = Math.max(maxWV, Math.abs(x)); });
  }
  wv.forEach((row, j) => strip(svg, cols.v, top + j * ROW, row, maxWV, cell, `w_${j} · v_${j}`));  // one colour scale
  const yy = top + T * ROW + 8;
  el("text", { x: cols.w, y: yy + 10, class: "hd" }, svg, `Σ w = ${sm.w.reduce((a, b) => a + b, 0).toFixed(5)}`);
  el("text", { x: cols.v - 8, y: yy + ROW + 10, "text-anchor": "end", class: "hd" }, svg, "output = Σ_j w_j·v_j =");
  strip(svg, cols.v, yy + ROW, out, Math.max(...out.map(Math.abs)), cell,
        "this head's output for the query, before W^O (v is rounded to 3 digits)");
  el("text", { x: 4, y: yy + 2 * ROW + 12, class: "note" }, svg,
     `The page computed these weights from q and k; they differ from the model's output_attentions by at most ` +
     `${DATA.maxError.toExponential(1)}.`);
}

// ---------------------------------------------------------------- 4. export
function exportView(name, kind) {
  const svg = document.getElementById(`${name}-svg`).cloneNode(true);
  svg.setAttribute("xmlns", NS);
  svg.insertBefore(el("style", {}, null, [...document.styleSheets[0].cssRules].map(r => r.cssText).join("\n")
    .replace(/var\(--font\)/g, getComputedStyle(document.documentElement).getPropertyValue("--font"))), svg.firstChild);
  const bg = el("rect", { width: "100%", height: "100%", fill: "#fff" });
  svg.insertBefore(bg, svg.children[1]);
  const text = new XMLSerializer().serializeToString(svg);
  if (kind === "svg") return save(new Blob([text], { type: "image/svg+xml" }), `${name}-view.svg`);
  const image = new Image(), canvas = document.createElement("canvas");
  image.onload = () => {
    canvas.width = 2 * image.width; canvas.height = 2 * image.height;
    const ctx = canvas.getContext("2d");
    ctx.scale(2, 2); ctx.drawImage(image, 0, 0);
    canvas.toBlob(b => save(b, `${name}-view.png`));
  };
  image.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(text);
}
function save(blob, filename) {                       // a download made in the page: nothing is sent anywhere
  const a = document.body.appendChild(document.createElement("a"));
  const url = URL.createObjectURL(blob);
  a.setAttribute("href", url); a.setAttribute("download", filename);
  a.dispatchEvent(new MouseEvent("click"));
  setTimeout(() => { URL.revokeObjectURL(url); a.remove(); }, 0);
}

// ---------------------------------------------------------------- the page: controls, tabs, start
function show(view, redraw = true) {                  // make `view` the visible one (and draw it again)
  for (const v of ["head", "model", "formula"]) {
    document.getElementById(`${v}-view`).classList.toggle("on", v === view);
    document.getElementById(`tab-${v}`).classList.toggle("on", v === view);
  }
  syncControls();
  if (redraw && view === "head") drawHeadView();
  if (redraw && view === "formula") drawFormulaView();
}
function select(parent, id, n, label, value, onchange) {
  const s = el("select", { id }, parent);
  for (let x = 0; x < n; x++) el("option", { value: x }, s, label(x));
  s.value = value;
  s.addEventListener("change", () => onchange(Number(s.value)));
  return s;
}
function syncControls() {
  for (const id of ["head-layer", "formula-layer"]) document.getElementById(id).value = state.layer;
  document.getElementById("formula-head").value = state.head;
  document.getElementById("formula-query").value = state.query;
  document.querySelectorAll(".head-toggle").forEach(b => b.classList.toggle("on", state.heads.has(+b.dataset.head)));
}
function build() {
  const app = document.getElementById("app");
  el("h1", {}, app, DATA.title);
  el("p", { class: "note" }, app, `${DATA.model}: ${L} layers × ${H} heads, d_k = ${D}, ${T} tokens` +
     (DATA.segments.includes(1) ? " (a pair: the second segment in green, dashed lines after [SEP])" : ""));
  const tabs = el("div", { class: "tabs" }, app);
  for (const [v, t] of [["head", "Head view"], ["model", "Model view"], ["formula", "Formula view"]])
    el("button", { id: `tab-${v}` }, tabs, t).addEventListener("click", () => show(v));
  for (const v of ["head", "model", "formula"]) {
    const div = el("div", { id: `${v}-view`, class: "view" }, app), bar = el("div", { class: "bar" }, div);
    if (v === "head") {
      select(bar, "head-layer", L, x => `layer ${x}`, 0, x => { state.layer = x; show("head"); });
      for (let h = 0; h < H; h++) {
        const b = el("button", { class: "head-toggle on", "data-head": h, style: `background:${headColor(h)}`,
                                 title: `head ${h}` }, bar, String(h));
        b.addEventListener("click", () => { state.heads.has(h) ? state.heads.delete(h) : state.heads.add(h); show("head"); });
      }
    }
    if (v === "formula") {
      select(bar, "formula-layer", L, x => `layer ${x}`, 0, x => { state.layer = x; show("formula"); });
      select(bar, "formula-head", H, x => `head ${x}`, 0, x => { state.head = x; show("formula"); });
      select(bar, "formula-query", T, x => `${x}: ${DATA.tokens[x]}`, 0, x => { state.query = x; show("formula"); });
    }
    for (const kind of ["svg", "png"])
      el("button", { class: `export-${kind}` }, bar, `Save ${kind.toUpperCase()}`)
        .addEventListener("click", () => exportView(v, kind));
    el("svg", { id: `${v}-svg`, xmlns: NS }, div);
  }
}
const timings = window.explorerTimings = { start: performance.now() };   // ms since the page began (benchmark)
const mark = name => { timings[name] = performance.now(); };
async function start() {
  build();
  if (typeof DecompressionStream === "undefined") throw new Error("this browser has no DecompressionStream");
  [Q, K, V] = await Promise.all([DATA.q, DATA.k, DATA.v].map(decode));
  Q = Float64Array.from(Q);                           // float64 arithmetic reads float64 arrays fastest
  KT = transposeKeys();
  mark("decoded");
  drawHeadView();
  mark("head");
  drawFormulaView();
  mark("formula");
  show(START.view, false);
  document.body.dataset.ready = "1";                  // the head view is drawn and answers the mouse
  await drawModelView();
  mark("model");
  document.body.dataset.complete = "1";               // every thumbnail too (the tests and the benchmark wait)
}
start().catch(e => {
  el("p", { class: "error" }, document.getElementById("app"), `The explorer could not start: ${e.message}`);
  throw e;
});
})();
