/* tconv explorer, part 5: "who reaches whom". The overlap heat map of the whole output (a canvas, any size), the
 * input / kernel / output grids of the window around the selected output, and the hover and keyboard highlight that
 * every view follows.
 */
(function (T) {
  "use strict";
  const U = T.ui;
  const { $, $$, field, S, clamp, esc, key, fmtIdx, tapColor, tapFill, cellSVG, svgOpen, symbols, around, centerOf } = U;
  const { prod, range, contributors, reached, dimTable, overlapCounts, inputsReaching, unreachedCount } = T;

  // ---- the heat map ----------------------------------------------------------------------------------------------
  const HEAT_PX = 360; // canvas pixels per side at most: larger outputs are drawn in blocks (the smallest count shows)
  const UNREACHED = [214, 72, 40]; // no input reaches the output: only the bias lands there
  const HEAT_LO = [236, 244, 233];
  const HEAT_HI = [27, 94, 32];

  function heatRGB(c, max) {
    if (c === 0) return UNREACHED;
    const f = max <= 1 ? 1 : 0.25 + (0.75 * (c - 1)) / (max - 1);
    return HEAT_LO.map((v, i) => Math.round(v + (HEAT_HI[i] - v) * f));
  }
  const rgbCss = (c) => `rgb(${c[0]}, ${c[1]}, ${c[2]})`;

  /** Per-dimension block minima: output index range [b * n / px, (b + 1) * n / px) of each canvas pixel b. */
  function blockMin(counts, px) {
    const n = counts.length;
    const res = new Int32Array(px);
    for (let b = 0; b < px; b++) {
      const lo = Math.floor((b * n) / px), hi = Math.max(lo + 1, Math.floor(((b + 1) * n) / px));
      let m = Infinity;
      for (let o = lo; o < hi; o++) if (counts[o] < m) m = counts[o];
      res[b] = m;
    }
    return res;
  }

  let heatOf = { plan: null, avail: 0 }; // what the heat map shows: moving the window redraws only the outline

  function renderHeat(r) {
    const plan = r.plan;
    if (heatOf.plan === plan && heatOf.avail === S.avail) return;
    const cv = field("heat-canvas");
    const per = range(plan.nd).map((d) => dimTable(plan, d).count);
    const shape = plan.nd === 1 ? [1, plan.outSize[0]] : plan.outSize;
    const px = [Math.min(shape[0], HEAT_PX), Math.min(shape[1], plan.nd === 1 ? 2 * HEAT_PX : HEAT_PX)];
    const rows = plan.nd === 1 ? Int32Array.of(1) : blockMin(per[0], px[0]);
    const cols = blockMin(per[plan.nd - 1], px[1]);
    let max = 0;
    for (const c of per) max = Math.max(max, ...c);
    if (plan.nd === 2) max = Math.max(...per[0]) * Math.max(...per[1]);
    if (cv.width !== px[1]) cv.width = px[1]; // resizing a canvas reallocates it: only when the size changes
    if (cv.height !== px[0]) cv.height = px[0];
    const ctx = cv.getContext("2d");
    const img = ctx.createImageData(px[1], px[0]);
    const data = new Uint32Array(img.data.buffer);
    const lut = new Uint32Array(max + 1); // colour of each count, packed little-endian RGBA
    for (let c = 0; c <= max; c++) {
      const [R, G, B] = heatRGB(c, max);
      lut[c] = ((255 << 24) | (B << 16) | (G << 8) | R) >>> 0;
    }
    for (let a = 0; a < px[0]; a++) {
      const ra = rows[a], base = a * px[1];
      for (let b = 0; b < px[1]; b++) data[base + b] = lut[ra * cols[b]];
    }
    ctx.putImageData(img, 0, 0);
    // display size: fit the card, square cells where possible
    const avail = Math.min(S.avail - 8, plan.nd === 1 ? 720 : 360);
    const scale = plan.nd === 1 ? Math.min(avail / shape[1], 24) : Math.min(avail / shape[1], avail / shape[0], 20);
    const w = Math.max(40, Math.round(shape[1] * scale)), h = plan.nd === 1 ? 26 : Math.max(20, Math.round(shape[0] * scale));
    cv.style.width = w + "px";
    cv.style.height = h + "px";
    const box = field("heat-box");
    box.dataset.cellW = String(w / shape[1]);
    box.dataset.cellH = String(h / shape[0]);
    const gaps = unreachedCount(plan);
    const values = [...new Set(Array.from(overlapCounts1(per, plan)))].sort((x, y) => x - y);
    const sw = (c) => `<span class="sw" style="background:${rgbCss(heatRGB(c, max))}"></span>`;
    const legend =
      values.length <= 8
        ? values.map((c) => `${sw(c)}${c === 0 ? "0 (no input reaches it)" : c}`).join(" ")
        : `${sw(values[0])}${values[0] === 0 ? "0 (no input reaches it)" : values[0]} … ${sw(max)}${max}`;
    const blocks = px[0] < shape[0] || px[1] < shape[1] ? "; each pixel a block of outputs, showing its smallest count" : "";
    field("heat-legend").innerHTML = `overlap count: ${legend}${blocks}`;
    const sym = symbols(r.cfg.mode);
    field("heat-cap").textContent =
      `Overlap count of every output ${sym.pout} (${plan.outSize.join("×")}): how many (input, tap) products land on it. ` +
      (gaps ? `${gaps} output${gaps === 1 ? "" : "s"} (red) receive no input at all.` : "Every output receives at least one product.");
    cv.dataset.unreached = String(gaps);
    cv.dataset.max = String(max);
    field("heat").dataset.drawn = "true";
    heatOf = { plan, avail: S.avail };
  }

  /** The distinct per-output counts without building the whole map (products of the per-dimension counts). */
  function overlapCounts1(per, plan) {
    if (plan.nd === 1) return new Set(per[0]);
    const a = new Set(per[0]), b = new Set(per[1]);
    const res = new Set();
    for (const x of a) for (const y of b) res.add(x * y);
    return res;
  }

  /** The window's outline on the heat map. */
  function placeHeatWindow(plan) {
    const box = field("heat-box");
    const cw = Number(box.dataset.cellW), ch = Number(box.dataset.cellH);
    const w = S.win.map && S.win.map.out;
    const el = field("heat-win");
    if (!w) {
      el.hidden = true;
      return;
    }
    el.hidden = false;
    const r0 = plan.nd === 1 ? [0, 1] : w[0], c0 = w[plan.nd - 1];
    el.style.left = c0[0] * cw - 1 + "px";
    el.style.top = r0[0] * ch - 1 + "px";
    el.style.width = Math.max(3, (c0[1] - c0[0]) * cw) + 2 + "px";
    el.style.height = Math.max(3, (r0[1] - r0[0]) * ch) + 2 + "px";
  }

  /** The output under a pointer event on the heat map. */
  function heatIndex(ev, plan) {
    const cv = field("heat-canvas");
    const rect = cv.getBoundingClientRect();
    const fx = clamp((ev.clientX - rect.left) / rect.width, 0, 0.999999);
    const fy = clamp((ev.clientY - rect.top) / rect.height, 0, 0.999999);
    return plan.nd === 1 ? [Math.floor(fx * plan.outSize[0])] : [Math.floor(fy * plan.outSize[0]), Math.floor(fx * plan.outSize[1])];
  }

  // ---- the grids of the window ---------------------------------------------------------------------------------
  const WIN_2D = 16; // outputs per side of the window in 2-D
  const PAIR_BUDGET = 12000; // (index, tap) pairs written into data attributes (the tests read them)
  const TICK = 12; // room for the index ticks

  function gridBlock(plan, role, wins, cell, caption, sym, withSets, counts, maxCount) {
    const one = plan.nd === 1;
    const rw = one ? [0, 1] : wins[0], cwin = wins[plan.nd - 1];
    const rows = rw[1] - rw[0], cols = cwin[1] - cwin[0];
    const L = one ? 2 : 6 * String(rw[1] - 1).length + 8, Tp = TICK;
    const w = L + cols * cell + 2, h = Tp + rows * cell + 2;
    const parts = [];
    const every = Math.max(1, Math.ceil((String(Math.max(rw[1], cwin[1])).length * 6 + 6) / cell)); // ticks that do not touch
    for (let c = 0; c < cols; c++) {
      const v = cwin[0] + c;
      if (c % every === 0) parts.push(`<text class="tick" x="${L + c * cell + cell / 2}" y="${Tp - 3}">${v}</text>`);
    }
    if (!one) {
      for (let rr = 0; rr < rows; rr++) {
        const v = rw[0] + rr;
        if (rr % every === 0) parts.push(`<text class="tick" x="${L - 3}" y="${Tp + rr * cell + cell / 2}" style="text-anchor:end">${v}</text>`);
      }
    }
    for (let rr = 0; rr < rows; rr++) {
      for (let c = 0; c < cols; c++) {
        const idx = one ? [cwin[0] + c] : [rw[0] + rr, cwin[0] + c];
        const k = key(idx);
        let attrs, cls, label, style = "";
        if (role === "in") {
          attrs = `data-in="${k}"`;
          if (withSets) attrs += ` data-reach="${reached(plan, idx).map((p) => key(p[0]) + ":" + key(p[1])).join(";")}"`;
          cls = "in";
          label = U.fits(k, cell - 4) ? k : "";
        } else if (role === "out") {
          attrs = `data-out="${k}"`;
          if (withSets) attrs += ` data-contrib="${contributors(plan, idx).map((p) => key(p[0]) + ":" + key(p[1])).join(";")}"`;
          const n = one ? counts[0][idx[0]] : counts[0][idx[0]] * counts[1][idx[1]];
          attrs += ` data-count="${n}"`;
          cls = n === 0 ? "out unreached" : "out";
          if (n > 0) style = `fill:${rgbCss(heatRGB(n, maxCount).map((v) => Math.round(255 - (255 - v) * 0.55)))}`;
          label = U.fits(k, cell - 4) ? k : "";
        } else {
          attrs = `data-tap="${k}"`;
          cls = "tap";
          label = U.fits(U.tapName(idx, plan.kernel), cell) ? U.tapName(idx, plan.kernel) : "";
          style = tapFill(tapColor(plan, idx));
        }
        parts.push(cellSVG(L + c * cell, Tp + rr * cell, cell, cell, cls, attrs, label, style));
      }
    }
    const aria =
      role === "tap" ? "kernel taps" : `${role === "in" ? "input" : "output"} cells ${sym}; use the arrow keys to move, the highlight follows`;
    return (
      `<figure><figcaption>${caption}</figcaption>` +
      svgOpen(w, h, `class="grid-svg" data-grid="${role}" tabindex="0" role="group" aria-label="${esc(aria)}"`) +
      `<rect class="frame" x="0.5" y="0.5" width="${w - 1}" height="${h - 1}"/>` +
      parts.join("") +
      "</svg></figure>"
    );
  }

  /** The output window of the map and the input window that can reach it. */
  function mapWindows(plan) {
    const c = centerOf(plan);
    let outW;
    if (plan.nd === 1) {
      const n = clamp(Math.floor((S.avail - 20) / 22), 8, 64);
      outW = [around(plan.outSize[0], c[0], n)];
    } else {
      // keep the pairs written into attributes bounded: many taps per output means a smaller window
      const per = prod(plan.kernel.map((k, d) => Math.max(1, Math.ceil(k / plan.stride[d]))));
      const side = clamp(Math.floor(Math.sqrt(PAIR_BUDGET / per)), 6, WIN_2D);
      outW = plan.outSize.map((n, d) => around(n, c[d], side));
    }
    const whole = outW.every((w, d) => w[0] === 0 && w[1] === plan.outSize[d]);
    const inW = outW.map((w, d) => {
      if (whole && plan.inSize[d] <= (plan.nd === 1 ? 64 : 32)) return [0, plan.inSize[d]]; // everything fits
      const r = inputsReaching(plan, d, w[0], w[1]);
      const lim = plan.nd === 1 ? 64 : 32;
      if (!r) return around(plan.inSize[d], Math.floor((c[d] * plan.inSize[d]) / plan.outSize[d]), Math.min(lim, 8));
      if (r[1] - r[0] > lim) return around(plan.inSize[d], Math.floor((r[0] + r[1]) / 2), lim);
      return r;
    });
    return { out: outW, in: inW };
  }

  function renderMap(r) {
    const box = $("#map-grids");
    box.dataset.drawn = "false";
    const { plan, cfg } = r;
    const sym = symbols(cfg.mode);
    renderHeat(r);
    const win = mapWindows(plan);
    S.win.map = win;
    const tapW = plan.kernel.map((k) => [0, k]);
    const counts = range(plan.nd).map((d) => dimTable(plan, d).count);
    let maxCount = 1;
    for (const c of counts) maxCount *= Math.max(...c);
    const nOut = prod(win.out.map((w) => w[1] - w[0]));
    const nIn = prod(win.in.map((w) => w[1] - w[0]));
    const pairs = prod(plan.kernel) * nIn;
    const withSets = pairs <= 2 * PAIR_BUDGET && nOut * prod(plan.kernel) <= 4 * PAIR_BUDGET;
    const avail = S.avail;
    let cell;
    const lenIn = win.in[plan.nd - 1][1] - win.in[plan.nd - 1][0];
    const lenOut = win.out[plan.nd - 1][1] - win.out[plan.nd - 1][0];
    const kk = plan.kernel[plan.nd - 1];
    if (plan.nd === 1) {
      cell = clamp(Math.floor((avail - 10) / Math.max(lenOut, lenIn, kk)), 12, 34);
    } else {
      const sideBySide = Math.floor((avail - 60 - 3 * (TICK + 12)) / (lenIn + kk + lenOut));
      cell = sideBySide >= 18 ? clamp(sideBySide, 18, 34) : clamp(Math.floor((avail - 40) / Math.max(lenOut, lenIn, kk)), 8, 34);
    }
    const inName = cfg.mode === "transposed" ? "input x" : cfg.mode === "conv" ? "conv output y" : "ConvTranspose input y (the conv's output)";
    const outName = cfg.mode === "transposed" ? "output y" : cfg.mode === "conv" ? "conv input x" : "ConvTranspose output (size of the conv's input x)";
    const part = (w, shape) => (w.some((x, d) => x[0] > 0 || x[1] < shape[d]) ? ` (window: ${w.map((x) => `${x[0]}–${x[1] - 1}`).join(" × ")})` : "");
    const blocks = {
      in: gridBlock(plan, "in", win.in, cell, `${inName} ${plan.inSize.join("×")}${part(win.in, plan.inSize)}`, sym.pin, withSets),
      tap: gridBlock(plan, "tap", tapW, cell, `kernel w ${plan.kernel.join("×")}`, "w", withSets),
      out: gridBlock(plan, "out", win.out, cell, `${outName} ${plan.outSize.join("×")}${part(win.out, plan.outSize)}`, sym.pout, withSets, counts, maxCount),
    };
    const order = cfg.mode === "conv" ? ["out", "tap", "in"] : ["in", "tap", "out"];
    box.innerHTML = order.map((k) => blocks[k]).join("");
    box.dataset.drawn = "true";
    box.dataset.sets = withSets ? "true" : "false";
    const isCropped = U.cropped(win.out, plan.outSize);
    field("map-window-note").textContent = isCropped
      ? `The grids show a window of ${win.out.map((w) => w[1] - w[0]).join("×")} outputs around ${sym.pout}${fmtIdx(centerOf(plan))} and the inputs that reach it; click the map or use the arrows to move it.`
      : "";
    field("pan").hidden = !isCropped;
    S.idx.map = { in: U.indexBy(box, "in"), out: U.indexBy(box, "out"), tap: U.indexBy(box, "tap") };
    placeHeatWindow(plan);
  }

  // ---- hover and keyboard: who reaches whom, in every view at once -------------------------------------------------
  let lit = [];

  function markEls(list, cls) {
    if (!list) return;
    for (const el of list) {
      el.classList.add(cls);
      lit.push([el, cls]);
    }
  }
  const markIn = (m, k, cls) => markEls(m && m.get(k), cls);

  function clearMarks() {
    for (const [el, cls] of lit) el.classList.remove(cls);
    lit = [];
    const g = $("#graph-svg svg");
    if (g) g.classList.remove("has-hl");
  }

  function applyHighlight() {
    clearMarks();
    const info = $("#hover-info");
    const r = S.lastGood;
    if (!S.focusSel || !r || !r.plan) {
      info.innerHTML = "&nbsp;";
      return;
    }
    const plan = r.plan;
    const sym = symbols(r.cfg.mode);
    const { side, idx } = S.focusSel;
    const k = key(idx);
    const gd = plan.nd === 1 ? 0 : Number(field("graph-dim").value) || 0;
    const M = S.idx.map || {}, X = S.idx.matrix || {}, G = S.idx.graph || {};
    let graphHl = false;
    if (side === "out") {
      const con = contributors(plan, idx);
      markIn(M.out, k, "sel");
      for (const [j, t] of con) {
        markIn(M.in, key(j), "hl");
        markIn(M.tap, key(t), "hl");
        markIn(X.mx, `${k}|${key(j)}`, "hl");
        markIn(G.gin, String(j[gd]), "hl");
        markIn(G.ge, `${j[gd]}|${t[gd]}`, "hl");
        graphHl = true;
      }
      markIn(r.cfg.mode === "conv" ? X.col : X.row, k, "rowsel");
      markIn(X.mxout, k, "sel");
      markIn(G.gout, String(idx[gd]), "sel");
      const terms = con.map(([j, t]) => `${sym.pin}${fmtIdx(j)}·w${fmtIdx(t)}`).join(" + ");
      info.textContent =
        r.cfg.mode === "conv"
          ? `conv input ${sym.pout}${fmtIdx(idx)} is read by ${con.length ? con.map(([j, t]) => `${sym.pin}${fmtIdx(j)} (tap ${fmtIdx(t)})`).join(", ") : "no output"}`
          : `${sym.pout}${fmtIdx(idx)} = ${terms || "0 (no input reaches it: only the bias)"}`;
    } else if (side === "in") {
      const re = reached(plan, idx);
      markIn(M.in, k, "sel");
      for (const [o, t] of re) {
        markIn(M.out, key(o), "hl");
        markIn(M.tap, key(t), "hl");
        markIn(X.mx, `${key(o)}|${k}`, "hl");
        markIn(G.gout, String(o[gd]), "hl");
        markIn(G.ge, `${idx[gd]}|${t[gd]}`, "hl");
        graphHl = true;
      }
      markIn(r.cfg.mode === "conv" ? X.row : X.col, k, "colsel");
      markIn(X.mxin, k, "sel");
      markIn(G.gin, String(idx[gd]), "sel");
      const list = re.map(([o, t]) => `${sym.pout}${fmtIdx(o)} (w${fmtIdx(t)})`).join(", ");
      info.textContent =
        r.cfg.mode === "conv"
          ? `conv output ${sym.pin}${fmtIdx(idx)} = ${re.map(([o, t]) => `w${fmtIdx(t)}·${sym.pout}${fmtIdx(o)}`).join(" + ") || "0"}`
          : `${sym.pin}${fmtIdx(idx)} reaches ${list || "no output (every tap is cropped)"}`;
    } else if (side === "tap") {
      markIn(M.tap, k, "sel");
      // the pairs this tap links, per dimension, inside the drawn input window (and over the whole input for the count)
      const win = S.win.map;
      const per = idx.map((t, d) => {
        const Tb = dimTable(plan, d);
        const list = [];
        for (let j = 0; j < plan.inSize[d]; j++) {
          const o = Tb.fwd[j * Tb.k + t];
          if (o >= 0) list.push([j, o]);
        }
        return list;
      });
      const total = per.reduce((n, l) => n * l.length, 1);
      const inside = per.map((l, d) => l.filter(([j]) => !win || (j >= win.in[d][0] && j < win.in[d][1])));
      for (const combo of T.product(inside)) {
        markIn(M.in, key(combo.map((p) => p[0])), "hl");
        markIn(M.out, key(combo.map((p) => p[1])), "hl");
      }
      info.textContent = `tap w${fmtIdx(idx)} links ${total} (input, output) pair${total === 1 ? "" : "s"}`;
    }
    if (graphHl) {
      const g = $("#graph-svg svg");
      if (g) g.classList.add("has-hl");
    }
  }

  function setFocus(sel) {
    S.focusSel = sel;
    applyHighlight();
  }

  function cellFromEvent(ev) {
    const g = ev.target.closest && ev.target.closest("[data-in],[data-out],[data-tap],[data-gin],[data-gout],[data-mx]");
    if (!g) return null;
    const parse = (s) => s.split(",").map(Number);
    if (g.dataset.in !== undefined) return { side: "in", idx: parse(g.dataset.in) };
    if (g.dataset.out !== undefined) return { side: "out", idx: parse(g.dataset.out) };
    if (g.dataset.tap !== undefined) return { side: "tap", idx: parse(g.dataset.tap) };
    if (g.dataset.mx !== undefined) return { side: "out", idx: parse(g.dataset.mx.split("|")[0]) };
    const plan = S.lastGood && S.lastGood.plan;
    if (!plan) return null;
    if (plan.nd === 2) return null; // the graph shows one dimension of a 2-D plan: no single cell to name
    if (g.dataset.gin !== undefined) return { side: "in", idx: [Number(g.dataset.gin)] };
    if (g.dataset.gout !== undefined) return { side: "out", idx: [Number(g.dataset.gout)] };
    return null;
  }

  /** Move the windows to centre on output o (clicking the heat map, the pan buttons, the keyboard leaving the window). */
  function moveWindow(o) {
    U.selectOutput(o);
  }

  function inWindow(role, idx) {
    const w = S.win.map && S.win.map[role];
    return !w || idx.every((v, d) => v >= w[d][0] && v < w[d][1]);
  }

  function onGridKey(ev) {
    const svg = ev.target.closest(".grid-svg");
    if (!svg || !S.lastGood) return;
    const role = svg.dataset.grid;
    const plan = S.lastGood.plan;
    const shape = role === "in" ? plan.inSize : role === "out" ? plan.outSize : plan.kernel;
    const moves = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0], Home: null, End: null };
    if (!(ev.key in moves)) {
      if (ev.key === "Escape") setFocus(null);
      return;
    }
    ev.preventDefault();
    const cur = S.cursors[role];
    let idx = cur && cur.length === shape.length ? cur.slice() : shape.map(() => 0);
    if (ev.key === "Home") idx = shape.map(() => 0);
    else if (ev.key === "End") idx = shape.map((n) => n - 1);
    else if (cur) {
      const [dr, dc] = moves[ev.key];
      if (shape.length === 1) idx[0] += dr + dc;
      else {
        idx[0] += dr;
        idx[1] += dc;
      }
    }
    idx = idx.map((v, d) => clamp(v, 0, shape[d] - 1));
    S.cursors[role] = idx;
    if (role !== "tap" && !inWindow(role, idx)) {
      // follow the cursor: the window moves (an input's window centres on the first output it reaches)
      const o = role === "out" ? idx : (reached(plan, idx)[0] || [idx.map((v, d) => Math.min(plan.outSize[d] - 1, v * plan.stride[d]))])[0];
      moveWindow(o);
      const el = $(`#map-grids svg[data-grid="${role}"]`);
      if (el) el.focus({ preventScroll: true });
    }
    setFocus({ side: role, idx });
  }

  function panBy(dir) {
    const r = S.lastGood;
    if (!r || !r.plan) return;
    const plan = r.plan;
    const w = S.win.map.out;
    const c = centerOf(plan).slice();
    const d = plan.nd === 1 ? 0 : dir[0] !== 0 ? 0 : 1;
    const stepN = Math.max(1, Math.floor((w[d][1] - w[d][0]) / 2));
    const sign = plan.nd === 1 ? dir[0] + dir[1] : dir[d];
    c[d] = clamp(c[d] + sign * stepN, 0, plan.outSize[d] - 1);
    moveWindow(c);
  }

  function initMap() {
    const cv = field("heat-canvas");
    const pick = (ev) => {
      const r = S.lastGood;
      if (!r || !r.plan) return;
      const o = heatIndex(ev, r.plan);
      moveWindow(o);
      setFocus({ side: "out", idx: o });
    };
    cv.addEventListener("click", pick);
    cv.addEventListener("mousemove", (ev) => {
      const r = S.lastGood;
      if (!r || !r.plan) return;
      const o = heatIndex(ev, r.plan);
      const n = o.reduce((acc, v, d) => acc * dimTable(r.plan, d).count[v], 1);
      $("#hover-info").textContent = `${symbols(r.cfg.mode).pout}${fmtIdx(o)}: ${n} product${n === 1 ? "" : "s"} land here${n ? "" : " (no input reaches it: only the bias)"}; click to move the window here`;
    });
    for (const b of $$("#pan button")) {
      b.addEventListener("click", () => panBy(b.dataset.pan.split(",").map(Number)));
    }
  }

  Object.assign(U, { renderMap, applyHighlight, setFocus, cellFromEvent, onGridKey, initMap, moveWindow, heatRGB });
})(globalThis.tconv);
