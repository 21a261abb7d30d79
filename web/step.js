/* tconv explorer, part 6: step by step. The equivalent convolution (zeros inserted, padded, flipped kernel), the
 * scatter, and the forward convolution C, one step at a time, with the kernel panel that shows the flip and a
 * numbers mode (small integers in the cells, the arithmetic in the caption, like the CLI's --numbers). Large
 * configurations draw a window around the current step.
 */
(function (T) {
  "use strict";
  const U = T.ui;
  const { $, field, S, clamp, esc, key, fmtIdx, tapColor, tapFill, cellSVG, svgOpen, symbols, around, unflat, flatIndex, tapName, fits } = U;
  const { prod, range, contributors, reached, equivalentConv, fullIndex, exampleInput, exampleKernel } = T;

  function stepCount(r, view) {
    if (!r || !r.plan) return 1;
    const p = r.plan;
    return view === "equivalent" ? prod(p.outSize) : prod(p.inSize);
  }

  const num = (v) => String(v);

  /** The example values of the numbers mode, and the sums they give. */
  function values(plan) {
    const x = (j) => exampleInput(flatIndex(j, plan.inSize)); // the transposed convolution's input
    const w = (t) => exampleKernel(flatIndex(t, plan.kernel));
    const y = (o) => contributors(plan, o).reduce((acc, [j, t]) => acc + x(j) * w(t), 0);
    const xc = (o) => exampleInput(flatIndex(o, plan.outSize)); // the forward convolution's input (the plan's output side)
    const yc = (j) => reached(plan, j).reduce((acc, [o, t]) => acc + w(t) * xc(o), 0);
    return { x, w, y, xc, yc };
  }

  /** Per-dimension layout of a sliding-window view: the equivalent convolution or the forward convolution. */
  function windowDims(plan, view) {
    const eq = equivalentConv(plan);
    return range(plan.nd).map((d) => {
      const s = plan.stride[d], dl = plan.dilation[d], k = plan.kernel[d];
      const [pb, pa] = plan.padding[d];
      if (view === "equivalent") {
        const [b, a] = eq.pad[d];
        const Ul = eq.upsampledSize[d];
        return {
          len: Ul + b + a,
          kind(q) {
            const u = q - b;
            if (u < 0 || u >= Ul) return { kind: "pad", idx: null };
            if (u % s === 0) return { kind: "in", idx: u / s };
            return { kind: "zero", idx: null };
          },
          // the flipped kernel: window position m holds tap k - 1 - m
          taps: (o) => range(k).map((m) => ({ q: o + m * dl, t: k - 1 - m })),
          outLen: plan.outSize[d],
          anchor: (o) => o + (dl * (k - 1)) / 2,
        };
      }
      // the forward convolution whose transpose this is: slide over the padded plan-output-sized signal
      const n = plan.outSize[d];
      return {
        len: n + pb + pa,
        kind(q) {
          const u = q - pb;
          return u < 0 || u >= n ? { kind: "pad", idx: null } : { kind: "in", idx: u };
        },
        taps: (j) => range(k).map((t) => ({ q: fullIndex(plan, d, j, t), t })),
        outLen: plan.inSize[d],
        anchor: (j) => fullIndex(plan, d, j, 0) + (dl * (k - 1)) / 2,
      };
    });
  }

  // ---- the kernel panel: w as stored, and w as the window uses it ---------------------------------------------------
  /** A big kernel as two small canvases (tap colours only): hundreds of SVG cells would cost more than they show. */
  function kernelCanvas(plan, flip) {
    const K = plan.kernel;
    const rows = K.length === 1 ? 1 : K[0], cols = K[K.length - 1];
    const px = clamp(Math.floor(150 / Math.max(...K)), 6, 16);
    const box = field("kernel-svg");
    const old = box.querySelectorAll("canvas");
    const one = (flipped, label, n) => {
      const cv = old[n] || document.createElement("canvas"); // reused: a new canvas costs a context
      if (cv.width !== cols * px) cv.width = cols * px;
      if (cv.height !== rows * px) cv.height = rows * px;
      const ctx = cv.getContext("2d");
      for (let a = 0; a < rows; a++) {
        for (let b = 0; b < cols; b++) {
          const pos = K.length === 1 ? [b] : [a, b];
          ctx.fillStyle = tapColor(plan, flipped ? pos.map((v, d) => K[d] - 1 - v) : pos);
          ctx.fillRect(b * px, a * px, px - 1, px - 1);
        }
      }
      const fig = document.createElement("figure");
      fig.className = "kcanvas";
      fig.innerHTML = `<figcaption>${label}</figcaption>`;
      fig.appendChild(cv);
      return fig;
    };
    const figs = [one(false, "kernel w (colour = tap: w[0, 0] dark blue … last tap yellow)", 0)];
    if (flip) figs.push(one(true, K.length === 1 ? "reversed (as the window uses it)" : "flipped both ways (as the window uses it)", 1));
    box.replaceChildren(...figs);
  }

  function kernelPanel(plan, view, nb, vals) {
    const K = plan.kernel;
    const one = plan.nd === 1;
    const cw = clamp(Math.floor(150 / Math.max(...K)), 12, 30);
    const rows = one ? 1 : K[0], cols = K[plan.nd - 1];
    const gw = cols * cw, gh = rows * cw;
    const flip = view === "equivalent";
    const parts = [];
    const grid = (x0, y0, flipped, label) => {
      parts.push(`<text class="lbl" x="${x0}" y="${y0 - 5}" style="font-size:11px">${label}</text>`);
      for (let a = 0; a < rows; a++) {
        for (let b = 0; b < cols; b++) {
          const pos = one ? [b] : [a, b];
          const t = flipped ? pos.map((v, d) => K[d] - 1 - v) : pos;
          const lab = nb ? num(vals.w(t)) : fits(tapName(t, plan.kernel), cw) ? tapName(t, plan.kernel) : "";
          parts.push(cellSVG(x0 + b * cw, y0 + a * cw, cw, cw, "tap", `data-ktap="${key(t)}"${flipped ? ' data-flipped="1"' : ""}`, lab, tapFill(tapColor(plan, t))));
        }
      }
    };
    const y0 = 18;
    grid(2, y0, false, "kernel w");
    let w = gw + 4;
    if (flip) {
      const x1 = gw + 70;
      parts.push(`<text class="lbl" x="${gw + 8}" y="${y0 + gh / 2 + 4}" style="font-size:11px">flip →</text>`);
      grid(x1, y0, true, one ? "reversed (as the window uses it)" : "flipped both ways (as the window uses it)");
      w = Math.max(x1 + gw + 4, x1 + 230);
    } else {
      w = Math.max(w, gw + 200);
      parts.push(`<text class="lbl" x="${gw + 10}" y="${y0 + gh / 2 + 4}" style="font-size:11px">${view === "conv" ? "used as is (no flip)" : "each input adds x·w"}</text>`);
    }
    return svgOpen(w, y0 + gh + 6, `role="img" aria-label="The kernel${flip ? " and its flipped copy" : ""}"`) + parts.join("") + "</svg>";
  }

  // ---- the sliding-window views (equivalent convolution, forward convolution) ---------------------------------------
  function windowSVG(plan, view, st, avail, sym, nb, vals) {
    const dims = windowDims(plan, view);
    const parts = [];
    const srcSym = view === "conv" ? sym.pout : sym.pin;
    const dstSym = view === "conv" ? sym.pin : sym.pout;
    const conv = view === "conv";
    const srcVal = (idx) => (conv ? vals.xc(idx) : vals.x(idx));
    const dstVal = (idx) => (conv ? vals.yc(idx) : vals.y(idx));
    const cur = unflat(st, dims.map((D) => D.outLen));
    const taps = dims.map((D, d) => D.taps(cur[d]));
    // the source window: the kernel's footprint with some room around it
    const srcWin = dims.map((D, d) => {
      const qs = taps[d].map((p) => p.q);
      const lo = Math.min(...qs), hi = Math.max(...qs) + 1;
      const room = plan.nd === 1 ? clamp(Math.floor((avail - 10) / 24), hi - lo + 2, 64) : Math.max(hi - lo + 4, 14);
      return around(D.len, Math.floor((lo + hi - 1) / 2), Math.min(room, plan.nd === 1 ? 64 : 20));
    });
    const outWin = dims.map((D, d) => around(D.outLen, cur[d], plan.nd === 1 ? D.outLen : 12));
    S.win.step = { src: srcWin, out: outWin };
    const note = (w, n) => (w[0] > 0 || w[1] < n ? ` ${w[0]}–${w[1] - 1} of ${n}` : "");
    if (plan.nd === 1) {
      const D = dims[0];
      const [lo, hi] = srcWin[0];
      const cw = clamp(Math.floor((avail - 10) / (hi - lo)), 12, 34);
      const x0 = 4, yA = 18, yK = yA + cw + 8, yO = yK + cw + 22;
      parts.push(`<text class="lbl" x="${x0}" y="12" style="font-size:11px">${conv ? `${srcSym}, padded` : `${srcSym}, zeros inserted, padded`}${note(srcWin[0], D.len)}</text>`);
      for (let q = lo; q < hi; q++) {
        const kd = D.kind(q);
        const label = kd.kind === "in" ? (nb ? num(srcVal([kd.idx])) : String(kd.idx)) : "0";
        parts.push(cellSVG(x0 + (q - lo) * cw, yA, cw, cw, kd.kind === "in" ? "in" : kd.kind, `data-q="${q}"`, label));
      }
      for (const { q, t } of taps[0]) {
        if (q < lo || q >= hi) continue;
        parts.push(cellSVG(x0 + (q - lo) * cw, yK, cw, cw, "tap", `data-wtap="${t}"`, nb ? num(vals.w([t])) : "w" + t, tapFill(tapColor(plan, [t]))));
      }
      const qs = taps[0].map((p) => p.q);
      parts.push(`<rect class="window" x="${x0 + (Math.min(...qs) - lo) * cw - 1}" y="${yA - 2}" width="${(Math.max(...qs) - Math.min(...qs) + 1) * cw + 2}" height="${2 * cw + 12}" rx="3"/>`);
      for (let o = 0; o < D.outLen; o++) {
        const x = D.anchor(o) - lo;
        if (x < -0.01 || x > hi - lo - 1 + 0.01) continue;
        const cls = o === cur[0] ? "out now" : o < cur[0] ? "out done" : "out";
        const label = nb ? (o <= cur[0] ? num(dstVal([o])) : "") : String(o);
        parts.push(cellSVG(x0 + x * cw, yO, cw, cw, cls, `data-so="${o}"`, label));
      }
      const cx = x0 + (D.anchor(cur[0]) - lo + 0.5) * cw;
      parts.push(`<line x1="${cx}" y1="${yK + cw + 1}" x2="${cx}" y2="${yO - 1}" stroke="#7a5b00" stroke-width="1.5"/>`);
      parts.push(`<text class="lbl" x="${x0}" y="${yO + cw + 14}" style="font-size:11px">${dstSym}${view === "equivalent" ? ": flipped kernel · window" : ": kernel · window"}</text>`);
      const w = Math.max(x0 + (hi - lo) * cw + 6, 220);
      return svgOpen(w, yO + cw + 22) + parts.join("") + "</svg>";
    }
    // 2-D: the padded grid (window) with the kernel over it, and the output grid (window)
    const [D0, D1] = dims;
    const sw = srcWin[1][1] - srcWin[1][0], sh = srcWin[0][1] - srcWin[0][0];
    const ow = outWin[1][1] - outWin[1][0], oh = outWin[0][1] - outWin[0][0];
    const sideBySide = avail > 560;
    const cw = sideBySide ? clamp(Math.floor((avail - 40) / (sw + ow)), 8, 30) : clamp(Math.floor((avail - 10) / Math.max(sw, ow)), 8, 30);
    const x0 = 4, y0 = 18;
    parts.push(`<text class="lbl" x="${x0}" y="12" style="font-size:11px">${conv ? `${srcSym}, padded` : `${srcSym}: zeros inserted, padded`}${srcWin.some((w, d) => w[0] > 0 || w[1] < dims[d].len) ? ` (rows${note(srcWin[0], D0.len)}, columns${note(srcWin[1], D1.len)})` : ""}</text>`);
    const tapAt = new Map();
    for (const a of taps[0]) for (const b of taps[1]) tapAt.set(a.q + "," + b.q, [a.t, b.t]);
    for (let q0 = srcWin[0][0]; q0 < srcWin[0][1]; q0++) {
      const k0 = D0.kind(q0);
      for (let q1 = srcWin[1][0]; q1 < srcWin[1][1]; q1++) {
        const k1 = D1.kind(q1);
        const cls = k0.kind === "pad" || k1.kind === "pad" ? "pad" : k0.kind === "zero" || k1.kind === "zero" ? "zero" : "in";
        let style = "";
        const tp = tapAt.get(q0 + "," + q1);
        if (tp) style = tapFill(tapColor(plan, tp), cls === "in" ? 1 : 0.3);
        let label = "";
        if (cls === "in") label = nb ? num(srcVal([k0.idx, k1.idx])) : fits(`${k0.idx},${k1.idx}`, cw - 4) ? `${k0.idx},${k1.idx}` : "";
        else if (tp && fits(tapName(tp, plan.kernel), cw)) label = tapName(tp, plan.kernel);
        parts.push(cellSVG(x0 + (q1 - srcWin[1][0]) * cw, y0 + (q0 - srcWin[0][0]) * cw, cw, cw, cls, tp ? `data-wtap="${tp.join(",")}"` : "", label, style));
      }
    }
    const q0s = taps[0].map((p) => p.q), q1s = taps[1].map((p) => p.q);
    parts.push(
      `<rect class="window" x="${x0 + (Math.min(...q1s) - srcWin[1][0]) * cw - 1}" y="${y0 + (Math.min(...q0s) - srcWin[0][0]) * cw - 1}" width="${(Math.max(...q1s) - Math.min(...q1s) + 1) * cw + 2}" height="${(Math.max(...q0s) - Math.min(...q0s) + 1) * cw + 2}" rx="3"/>`
    );
    const gx = sideBySide ? x0 + sw * cw + 30 : x0;
    const gy = sideBySide ? y0 : y0 + sh * cw + 30;
    const outCrop = outWin.some((w, d) => w[0] > 0 || w[1] < dims[d].outLen);
    parts.push(`<text class="lbl" x="${gx}" y="${gy - 6}" style="font-size:11px">${dstSym}${outCrop ? ` (rows${note(outWin[0], D0.outLen)}, columns${note(outWin[1], D1.outLen)})` : ""}</text>`);
    for (let a = outWin[0][0]; a < outWin[0][1]; a++) {
      for (let b = outWin[1][0]; b < outWin[1][1]; b++) {
        const flat = a * D1.outLen + b;
        const cls = flat === st ? "out now" : flat < st ? "out done" : "out";
        const label = nb ? (flat <= st && cw >= 14 ? num(dstVal([a, b])) : "") : fits(`${a},${b}`, cw - 4) ? `${a},${b}` : "";
        parts.push(cellSVG(gx + (b - outWin[1][0]) * cw, gy + (a - outWin[0][0]) * cw, cw, cw, cls, `data-so="${a},${b}"`, label));
      }
    }
    const w = Math.max(x0 + sw * cw, gx + ow * cw) + 6;
    const h = Math.max(y0 + sh * cw, gy + oh * cw) + 6;
    return svgOpen(w, h) + parts.join("") + "</svg>";
  }

  // ---- the scatter view ---------------------------------------------------------------------------------------------
  function scatterSVG(plan, st, avail, sym, nb, vals) {
    const j = unflat(st, plan.inSize);
    const parts = [];
    // "full" positions f = fullIndex(j, t); the output keeps f in [pb, pb + out)
    const F = plan.full.map((f, d) => Math.max(f, plan.padding[d][0] + plan.outSize[d]));
    const kept = (f, d) => f >= plan.padding[d][0] && f < plan.padding[d][0] + plan.outSize[d];
    const kindAt = (f, d) => (kept(f, d) ? (f >= plan.full[d] ? "extra" : "out") : "crop");
    // the window of full positions around this step's footprint, and of inputs around j
    const foot = j.map((v, d) => [fullIndex(plan, d, v, 0), fullIndex(plan, d, v, plan.kernel[d] - 1) + 1]);
    const fWin = foot.map((f, d) => around(F[d], Math.floor((f[0] + f[1] - 1) / 2), Math.max(f[1] - f[0] + 4, plan.nd === 1 ? clamp(Math.floor((avail - 10) / 24), 12, 64) : 20)));
    const iWin = j.map((v, d) => around(plan.inSize[d], v, plan.nd === 1 ? plan.inSize[d] : 12));
    S.win.step = { src: iWin, out: fWin };
    // per dimension and per full position in the window: the (input, tap) pairs landing there
    const landing = fWin.map((w, d) => {
      const m = new Map();
      const s = plan.stride[d], k = plan.kernel[d];
      const jlo = Math.max(0, Math.floor((w[0] - plan.dilation[d] * (k - 1)) / s)), jhi = Math.min(plan.inSize[d], Math.floor((w[1] - 1) / s) + 1);
      for (let jj = jlo; jj < jhi; jj++) {
        for (let t = 0; t < k; t++) {
          const f = fullIndex(plan, d, jj, t);
          if (f < w[0] || f >= w[1]) continue;
          if (!m.has(f)) m.set(f, []);
          m.get(f).push([jj, t]);
        }
      }
      return m;
    });
    const flatJ = flatIndex(j, plan.inSize);
    /** How many products (and their sum, numbers mode) full position f has received after this step. */
    const soFar = (f) => {
      const lists = f.map((v, d) => landing[d].get(v) || []);
      let count = 0, sum = 0, now = null;
      for (const combo of T.product(lists)) {
        const jj = combo.map((p) => p[0]), tt = combo.map((p) => p[1]);
        const fj = flatIndex(jj, plan.inSize);
        if (fj > flatJ) continue;
        count++;
        if (nb) sum += vals.x(jj) * vals.w(tt);
        if (fj === flatJ) now = tt;
      }
      return { count, sum, now };
    };
    let maxCount = 1;
    const cells = [];
    for (const f of U.windowIndices(fWin)) {
      const sf = soFar(f);
      maxCount = Math.max(maxCount, sf.count);
      cells.push([f, sf]);
    }
    const shade = (c) => `fill:rgba(45,106,42,${(0.15 + 0.6 * (c / maxCount)).toFixed(2)})`;
    const note = (w, n) => (w[0] > 0 || w[1] < n ? ` ${w[0]}–${w[1] - 1} of ${n}` : "");
    if (plan.nd === 1) {
      const [lo, hi] = fWin[0];
      const cw = clamp(Math.floor((avail - 10) / (hi - lo)), 12, 34);
      const x0 = 4, yA = 18, yB = yA + cw + 40;
      parts.push(`<text class="lbl" x="${x0}" y="12" style="font-size:11px">${sym.pin}[${j[0]}]${nb ? ` = ${vals.x(j)}` : ""} scatters ${sym.pin}[${j[0]}]·w</text>`);
      for (let i = 0; i < plan.inSize[0]; i++) {
        const x = fullIndex(plan, 0, i, 0) - lo;
        if (x < 0 || x >= hi - lo) continue;
        parts.push(cellSVG(x0 + x * cw, yA, cw, cw, i === j[0] ? "in now" : "in", `data-si="${i}"`, nb ? num(vals.x([i])) : String(i)));
      }
      for (const [f, sf] of cells) {
        const k = kindAt(f[0], 0);
        let style = "";
        if (sf.now) style = tapFill(tapColor(plan, sf.now));
        else if (sf.count && k !== "crop") style = shade(sf.count);
        const label = k === "crop" ? "✕" : nb ? (sf.count ? num(sf.sum) : "") : String(f[0] - plan.padding[0][0]);
        parts.push(cellSVG(x0 + (f[0] - lo) * cw, yB, cw, cw, k, "", label, style));
        if (sf.now) {
          const xj = fullIndex(plan, 0, j[0], 0) - lo;
          parts.push(`<line class="edge" x1="${x0 + (xj + 0.5) * cw}" y1="${yA + cw}" x2="${x0 + (f[0] - lo + 0.5) * cw}" y2="${yB}" stroke="${tapColor(plan, sf.now)}"/>`);
        }
      }
      parts.push(`<text class="lbl" x="${x0}" y="${yB + cw + 14}" style="font-size:11px">${sym.pout}${note(fWin[0], F[0])} (✕ cropped, dotted: output_padding, shade: ${nb ? "the sum so far" : "sum so far"})</text>`);
      return svgOpen(Math.max(x0 + (hi - lo) * cw + 6, 330), yB + cw + 22) + parts.join("") + "</svg>";
    }
    const fw = fWin[1][1] - fWin[1][0], fh = fWin[0][1] - fWin[0][0];
    const iw = iWin[1][1] - iWin[1][0], ih = iWin[0][1] - iWin[0][0];
    const sideBySide = avail > 560;
    const cw = sideBySide ? clamp(Math.floor((avail - 40) / (iw + fw)), 8, 30) : clamp(Math.floor((avail - 10) / Math.max(fw, iw)), 8, 30);
    const x0 = 4, y0 = 18;
    parts.push(`<text class="lbl" x="${x0}" y="12" style="font-size:11px">${sym.pin}${iWin.some((w, d) => w[0] > 0 || w[1] < plan.inSize[d]) ? ` (rows${note(iWin[0], plan.inSize[0])}, columns${note(iWin[1], plan.inSize[1])})` : ""}</text>`);
    for (let a = iWin[0][0]; a < iWin[0][1]; a++) {
      for (let b = iWin[1][0]; b < iWin[1][1]; b++) {
        const isNow = a === j[0] && b === j[1];
        const label = nb ? (cw >= 14 ? num(vals.x([a, b])) : "") : fits(`${a},${b}`, cw - 4) ? `${a},${b}` : "";
        parts.push(cellSVG(x0 + (b - iWin[1][0]) * cw, y0 + (a - iWin[0][0]) * cw, cw, cw, isNow ? "in now" : "in", "", label));
      }
    }
    const gx = sideBySide ? x0 + iw * cw + 30 : x0;
    const gy = sideBySide ? y0 : y0 + ih * cw + 30;
    parts.push(`<text class="lbl" x="${gx}" y="${gy - 6}" style="font-size:11px">${sym.pout}: full positions (grey = cropped)${fWin.some((w, d) => w[0] > 0 || w[1] < F[d]) ? ` rows${note(fWin[0], F[0])}, columns${note(fWin[1], F[1])}` : ""}</text>`);
    for (const [f, sf] of cells) {
      const k0 = kindAt(f[0], 0), k1 = kindAt(f[1], 1);
      const cls = k0 === "crop" || k1 === "crop" ? "crop" : k0 === "extra" || k1 === "extra" ? "extra" : "out";
      let style = "";
      if (sf.now) style = tapFill(tapColor(plan, sf.now));
      else if (sf.count && cls !== "crop") style = shade(sf.count);
      const label = sf.count && cw >= 16 ? (nb ? num(sf.sum) : String(sf.count)) : sf.now && fits(tapName(sf.now, plan.kernel), cw) ? tapName(sf.now, plan.kernel) : "";
      parts.push(cellSVG(gx + (f[1] - fWin[1][0]) * cw, gy + (f[0] - fWin[0][0]) * cw, cw, cw, cls, "", label, style));
    }
    const w = Math.max(x0 + iw * cw, gx + fw * cw) + 6;
    const h = Math.max(y0 + ih * cw, gy + fh * cw) + 6;
    return svgOpen(w, h) + parts.join("") + "</svg>";
  }

  function stepCaption(plan, view, st, sym, nb, vals) {
    if (view === "scatter") {
      const j = unflat(st, plan.inSize);
      const re = reached(plan, j);
      const total = prod(plan.kernel);
      const list = re
        .map(([o, t]) => `${sym.pout}${fmtIdx(o)} += ${sym.pin}${fmtIdx(j)}·w${fmtIdx(t)}` + (nb ? ` (${vals.x(j)}·${vals.w(t)} = ${vals.x(j) * vals.w(t)})` : ""))
        .join(", ");
      return (list || `${sym.pin}${fmtIdx(j)} reaches no output`) + (total > re.length ? `  (${total - re.length} cropped)` : "");
    }
    if (view === "conv") {
      const j = unflat(st, plan.inSize);
      const re = reached(plan, j);
      const terms = re.map(([o, t]) => `w${fmtIdx(t)}·${sym.pout}${fmtIdx(o)}`).join(" + ") || "0";
      let text = `forward conv: ${sym.pin}${fmtIdx(j)} = ${terms}`;
      if (nb && re.length) text += ` = ${re.map(([o, t]) => `${vals.w(t)}·${vals.xc(o)}`).join(" + ")} = ${vals.yc(j)}`;
      return text;
    }
    const o = unflat(st, plan.outSize);
    const con = contributors(plan, o);
    const terms = con.map(([j, t]) => `${sym.pin}${fmtIdx(j)}·w${fmtIdx(t)}`).join(" + ") || "0 (only zeros under the window)";
    const zeros = prod(plan.kernel) - con.length;
    let text = `${sym.pout}${fmtIdx(o)} = ${terms}`;
    if (nb && con.length) text += ` = ${con.map(([j, t]) => `${vals.x(j)}·${vals.w(t)}`).join(" + ")} = ${vals.y(o)}`;
    return text + (con.length && zeros ? `  (+ ${zeros} product${zeros === 1 ? "" : "s"} with inserted or padded zeros)` : "");
  }

  function renderAnim(r) {
    const box = $("#anim-svg");
    const ui = U.readUI();
    const view = ui.v;
    const nb = !!ui.nb;
    const plan = r.plan;
    const n = stepCount(r, view);
    S.step = clamp(S.step, 0, n - 1);
    const slider = field("step");
    slider.max = String(n - 1);
    slider.value = String(S.step);
    slider.setAttribute("aria-valuetext", `step ${S.step + 1} of ${n}`);
    box.dataset.step = String(S.step);
    box.dataset.steps = String(n);
    box.dataset.view = view;
    const sym = symbols(r.cfg.mode);
    const vals = values(plan);
    const avail = S.avail;
    box.innerHTML = view === "scatter" ? scatterSVG(plan, S.step, avail, sym, nb, vals) : windowSVG(plan, view, S.step, avail, sym, nb, vals);
    if (prod(plan.kernel) > 64 && !nb) kernelCanvas(plan, view === "equivalent");
    else field("kernel-svg").innerHTML = kernelPanel(plan, view, nb, vals);
    box.dataset.drawn = "true";
    $("#anim-caption").textContent = `step ${S.step + 1}/${n}: ` + stepCaption(plan, view, S.step, sym, nb, vals);
  }

  /** The step that shows output o (equivalent view) or an input that reaches it (scatter, forward convolution). */
  function stepFor(plan, view, o) {
    if (view === "equivalent") return flatIndex(o, plan.outSize);
    const con = contributors(plan, o);
    return con.length ? flatIndex(con[0][0], plan.inSize) : S.step;
  }

  Object.assign(U, { renderAnim, stepCount, stepFor });
})(globalThis.tconv);
