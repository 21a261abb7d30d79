/* tconv explorer, part 3: what every view shares. DOM helpers, the tap colours, SVG cells, the page's state and the
 * windows: past a few dozen cells per side, every view draws a window around the selected output (the heat map
 * shows where it sits in the whole output).
 */
(function (T) {
  "use strict";
  const { prod, range } = T;
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  const field = (id) => document.getElementById(id);

  // flat tap index, so a tap has the same colour here as in the animations, graph diagrams and matrix figures.
  const RAMP = ["#0d0887", "#48039f", "#7701a8", "#a11b9b", "#c33d80", "#de5f65", "#f2844b", "#fdae32"];
  const hexToRgb = (c) => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16));
  const pyRound = (v) => (Math.abs(v % 1) === 0.5 ? 2 * Math.round(v / 2) : Math.round(v)); // Python's round()
  const rgbToHex = (rgb) => "#" + rgb.map((v) => clamp(pyRound(v), 0, 255).toString(16).padStart(2, "0")).join("");

  function tapColorFlat(tap, nTaps) {
    if (nTaps <= 1) return RAMP[0];
    const pos = (tap / (nTaps - 1)) * (RAMP.length - 1);
    const lo = Math.trunc(pos);
    const hi = Math.min(lo + 1, RAMP.length - 1);
    const a = hexToRgb(RAMP[lo]), b = hexToRgb(RAMP[hi]);
    const f = pos - lo;
    return rgbToHex([0, 1, 2].map((i) => a[i] + (b[i] - a[i]) * f));
  }

  /** Mix f of colour c2 into c1 (tconv.viz.style.blend). */
  function blend(c1, c2, f) {
    const a = hexToRgb(c1), b = hexToRgb(c2);
    return rgbToHex([0, 1, 2].map((i) => a[i] * (1 - f) + b[i] * f));
  }

  /** Black or white text, whichever reads better on fill (tconv.viz.style.text_color_on). */
  function textOn(fill) {
    const [r, g, b] = hexToRgb(fill);
    return 0.299 * r + 0.587 * g + 0.114 * b < 140 ? "#ffffff" : "#222222";
  }

  /** The style of a cell filled with a tap's colour (mixed with white by 1 - f) and its text colour. */
  function tapFill(color, f) {
    const c = f === undefined || f >= 1 ? color : blend("#ffffff", color, f);
    return { style: `fill:${c}`, text: textOn(c) };
  }
  const clamp = (v, lo, hi) => Math.max(lo, Math.min(hi, v));
  const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  const key = (idx) => idx.join(",");
  const fmtIdx = (idx) => "[" + idx.join(", ") + "]";
  const flatTap = (plan, t) => (plan.nd === 1 ? t[0] : t[0] * plan.kernel[1] + t[1]);
  const tapColor = (plan, t) => tapColorFlat(flatTap(plan, t), prod(plan.kernel));
  const unflat = (n, shape) => (shape.length === 1 ? [n] : [Math.floor(n / shape[1]), n % shape[1]]);

  function widthOf(el, fallback) {
    const w = el && el.clientWidth;
    return w && w > 50 ? w - 4 : fallback;
  }

  function svgOpen(w, h, extra) {
    return `<svg xmlns="http://www.w3.org/2000/svg" width="${Math.ceil(w)}" height="${Math.ceil(h)}" viewBox="0 0 ${Math.ceil(w)} ${Math.ceil(h)}" ${extra || ""}>`;
  }

  /**
   * One cell: a <rect class="cell ..."> carrying the data attributes (what hover and the tests read), and its label
   * as a sibling <text class="ct"> when there is one. style: a CSS string, or {style, text} from tapFill.
   */
  function cellSVG(x, y, w, h, cls, attrs, label, style) {
    const st = typeof style === "object" && style ? style : { style: style || "", text: "" };
    const text = label === undefined ? "" : String(label);
    // the font shrinks to fit the cell (monospace: about 0.6 em a character); a label that cannot fit is left out
    const fs = Math.min(clamp(Math.min(w, h) * 0.42, 7, 13), (w - 3) / (0.6 * Math.max(1, text.length)));
    const t =
      text !== "" && w >= 12 && fs >= 6.5
        ? `<text class="ct" x="${x + w / 2}" y="${y + h / 2}" style="font-size:${+fs.toFixed(1)}px${st.text ? `;fill:${st.text}` : ""}">${esc(text)}</text>`
        : "";
    return `<rect class="cell ${cls}" ${attrs || ""} x="${x}" y="${y}" width="${w}" height="${h}" rx="2"${st.style ? ` style="${st.style}"` : ""}/>${t}`;
  }

  /** Symbols for the two sides of the plan: a ConvTranspose maps x -> y; a Conv maps x -> y the other way. */
  function symbols(mode) {
    return mode === "transposed" ? { pin: "x", pout: "y" } : { pin: "y", pout: "x" };
  }

  // ==============================================================================================================

  /** The page's state outside the controls. */
  const S = {
    current: null, // the last computation
    lastGood: null, // the last computation without an error (what the views show)
    step: 0,
    playing: null,
    focusSel: null, // {side: 'in'|'out'|'tap', idx}: what the pointer or the keyboard points at
    cursors: { in: null, out: null, tap: null },
    center: null, // the selected output the windows centre on (null: the middle of the output)
    idx: {}, // per view: lookup tables from data attributes to elements (the hover touches only its cells)
    avail: 0, // the width a view may use (read at the start and on resize: reading it costs a layout)
    win: {}, // what each view drew: {map: {out: [[lo, hi], ...], in: ...}, matrix: ..., graph: ..., step: ...}
  };

  /** [lo, hi): a window of at most w indices out of n, around c. */
  function around(n, c, w) {
    const len = Math.max(1, Math.min(n, w));
    const lo = clamp(c - Math.floor(len / 2), 0, n - len);
    return [lo, lo + len];
  }

  /** The selected output (the centre of every window): the one the user chose, else the middle. */
  function centerOf(plan) {
    const c = S.center;
    if (c && c.length === plan.nd && c.every((v, d) => v >= 0 && v < plan.outSize[d])) return c;
    return plan.outSize.map((n) => Math.floor(n / 2));
  }

  const spanLen = (w) => w[1] - w[0];
  const cropped = (wins, shape) => wins.some((w, d) => w[0] > 0 || w[1] < shape[d]);
  /** "rows 10–33 of 263" style note for a window; empty when the window is the whole grid. */
  function windowNote(wins, shape, what) {
    if (!cropped(wins, shape)) return "";
    const parts = wins.map((w, d) => `${w[0]}–${w[1] - 1} of ${shape[d]}`);
    return `${what}: ${shape.length === 1 ? "positions " + parts[0] : "rows " + parts[0] + ", columns " + parts[1]}`;
  }

  /** Every index of a window (row-major), as arrays. */
  function* windowIndices(wins) {
    if (wins.length === 1) {
      for (let a = wins[0][0]; a < wins[0][1]; a++) yield [a];
      return;
    }
    for (let a = wins[0][0]; a < wins[0][1]; a++) for (let b = wins[1][0]; b < wins[1][1]; b++) yield [a, b];
  }

  /** Lookup tables from data attributes to elements, rebuilt when a view is drawn, so a hover touches only its cells. */
  function indexBy(rootEl, attr) {
    const m = new Map();
    for (const el of rootEl.querySelectorAll(`[data-${attr}]`)) {
      const k = el.getAttribute(`data-${attr}`);
      const list = m.get(k);
      if (list) list.push(el);
      else m.set(k, [el]);
    }
    return m;
  }

  /** A tap's label: w2, w21 (2-D), or 10,3 for every tap of a kernel past 10 taps a side (w103 would be ambiguous). */
  const tapName = (t, kernel) => (t.length === 1 ? "w" + t[0] : kernel.some((k) => k > 10) ? t.join(",") : "w" + t.join(""));
  /** Whether a label fits a cell of cw pixels (labels are about 6.6 px a character). */
  const fits = (label, cw) => label.length * 6.6 <= cw;

  const flatIndex = (idx, shape) => (shape.length === 1 ? idx[0] : idx[0] * shape[1] + idx[1]);

  T.ui = {
    $, $$, field, S, RAMP, tapColorFlat, blend, textOn, tapFill, clamp, esc, key, fmtIdx, flatTap, tapColor, unflat,
    widthOf, svgOpen, cellSVG, symbols, around, centerOf, spanLen, cropped, windowNote, windowIndices, indexBy,
    flatIndex, tapName, fits, prod, range,
  };
})(globalThis.tconv);
