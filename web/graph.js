/* tconv explorer, part 8: the 1-D graph along one dimension. Every input sends one edge per kernel tap to the
 * position it reaches (from the plan's index map); positions cropped by padding are dashed, output_padding's are
 * dotted. Long dimensions show a window around the selected output.
 */
(function (T) {
  "use strict";
  const U = T.ui;
  const { $, field, S, clamp, svgOpen, symbols, around, centerOf, tapColorFlat } = U;
  const { fullIndex, dimTable } = T;

  const GRAPH_SPAN = 48; // positions drawn at most
  const EDGES = 360; // about this many edges at most

  function renderGraph(r) {
    const box = $("#graph-svg");
    const { plan, cfg } = r;
    $("#graph-dim-row").hidden = plan.nd === 1;
    const d = plan.nd === 1 ? 0 : Number(field("graph-dim").value) || 0;
    box.dataset.dim = String(d);
    const sym = symbols(cfg.mode);
    const nIn = plan.inSize[d], k = plan.kernel[d], dl = plan.dilation[d];
    const pb = plan.padding[d][0], out = plan.outSize[d];
    const F = Math.max(plan.full[d], pb + out);
    const Tb = dimTable(plan, d);
    // the window of "full" positions (pad_before included) around the selected output, and the inputs inside it
    const avail = S.avail;
    const span = Math.min(GRAPH_SPAN, Math.max(12, Math.floor((avail - 60) / 16)), Math.max(12, Math.floor((EDGES * plan.stride[d]) / k)));
    const [fLo, fHi] = around(F, centerOf(plan)[d] + pb, span);
    const inputs = [];
    for (let j = 0; j < nIn; j++) {
      const a = fullIndex(plan, d, j, 0), b = fullIndex(plan, d, j, k - 1);
      if (b >= fLo && a < fHi) inputs.push(j);
    }
    const whole = fLo === 0 && fHi === F;
    S.win.graph = { dim: d, full: [fLo, fHi], outs: [Math.max(0, fLo - pb), Math.min(out, fHi - pb)], inputs: [inputs[0], inputs[inputs.length - 1] + 1] };
    const sp = clamp(Math.floor((avail - 60) / Math.max(fHi - fLo, 1)), 14, 44);
    const rad = clamp(sp * 0.36, 5, 13);
    const x0 = 50, yTop = 22, yBot = 22 + clamp((fHi - fLo) * 7, 90, 170);
    const parts = [];
    const xin = (j) => x0 + (fullIndex(plan, d, j, 0) - fLo + (dl * (k - 1)) / 2) * sp;
    const xout = (f) => x0 + (f - fLo) * sp;
    for (const j of inputs) {
      for (let t = 0; t < k; t++) {
        const f = fullIndex(plan, d, j, t);
        if (f < fLo || f >= fHi) continue;
        const o = Tb.fwd[j * k + t]; // the index map: -1 where padding crops the position
        const keptEdge = o >= 0;
        parts.push(
          `<line class="edge${keptEdge ? "" : " faint"}" data-ge="${j}|${t}" data-geo="${keptEdge ? o : f - pb}" x1="${xin(j)}" y1="${yTop + rad}" x2="${xout(f)}" y2="${yBot - rad}" stroke="${tapColorFlat(t, k)}"${keptEdge ? "" : ' stroke-dasharray="3 3"'}/>`
        );
      }
    }
    for (const j of inputs) {
      parts.push(`<g class="node in" data-gin="${j}"><circle cx="${xin(j)}" cy="${yTop}" r="${rad}"/>${rad >= 8 ? `<text x="${xin(j)}" y="${yTop}">${j}</text>` : ""}</g>`);
    }
    for (let f = fLo; f < fHi; f++) {
      const o = f - pb;
      const isKept = o >= 0 && o < out;
      const cls = !isKept ? "crop" : f >= plan.full[d] ? "extra" : Tb.count[o] === 0 ? "out unreached" : "out";
      parts.push(
        `<g class="node ${cls}"${isKept ? ` data-gout="${o}"` : ""}><circle cx="${xout(f)}" cy="${yBot}" r="${rad}"/>${rad >= 8 ? `<text x="${xout(f)}" y="${yBot}">${isKept ? o : ""}</text>` : ""}</g>`
      );
    }
    parts.push(`<text class="lbl" x="4" y="${yTop + 4}" style="font-size:12px">${sym.pin}</text>`);
    parts.push(`<text class="lbl" x="4" y="${yBot + 4}" style="font-size:12px">${sym.pout}</text>`);
    const nLeg = Math.min(k, 16);
    const legW = 46;
    const perRow = Math.max(1, Math.floor((avail - x0) / legW));
    const legend = Array.from({ length: nLeg }, (_, n) => {
      const lx = x0 + (n % perRow) * legW, ly = yBot + rad + 10 + Math.floor(n / perRow) * 14;
      return `<g><rect x="${lx}" y="${ly}" width="12" height="4" fill="${tapColorFlat(n, k)}"/><text class="lbl" x="${lx + 16}" y="${ly + 4}" style="font-size:10px">w${n}</text></g>`;
    }).join("");
    const legRows = Math.ceil(nLeg / perRow);
    const w = Math.max(xout(fHi - 1), inputs.length ? xin(inputs[inputs.length - 1]) : 0) + rad + 10;
    field("graph-note").textContent = whole
      ? ""
      : `Positions ${fLo - pb}–${fHi - 1 - pb} of ${out} outputs along dimension ${d} (around the selected output), with the inputs that reach them.`;
    box.innerHTML =
      svgOpen(Math.max(w, x0 + Math.min(nLeg, perRow) * legW + 10), yBot + rad + 14 + legRows * 14, `role="img" aria-label="Graph: every input connects to the outputs it reaches, one edge per kernel tap"`) +
      parts.join("") +
      legend +
      "</svg>";
    box.dataset.drawn = "true";
    S.idx.graph = { gin: U.indexBy(box, "gin"), gout: U.indexBy(box, "gout"), ge: U.indexBy(box, "ge") };
  }

  Object.assign(U, { renderGraph });
})(globalThis.tconv);
