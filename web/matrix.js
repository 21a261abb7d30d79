/* tconv explorer, part 7: the matrix Cᵀ (or C for a convolution), readable: every non-zero entry names its kernel tap,
 * the zoom buttons change the cell size, and large matrices show the rows of the selected output and every column
 * those rows touch.
 */
(function (T) {
  "use strict";
  const U = T.ui;
  const { $, field, S, clamp, esc, key, fmtIdx, tapColor, tapFill, cellSVG, svgOpen, symbols, around, centerOf, unflat, flatIndex } = U;
  const { prod, contributors, reached } = T;

  const ZOOMS = [12, 16, 22, 30];
  const MAX_ROWS = 400; // pixels of rows at most
  const MAX_COLS = 40;
  let zoom = 2;

  function renderMatrix(r) {
    const box = $("#matrix-svg");
    const { plan, cfg } = r;
    const nIn = prod(plan.inSize), nOut = prod(plan.outSize);
    const isC = cfg.mode === "conv";
    $("#matrix-h").textContent = isC ? "The matrix C" : "The matrix Cᵀ";
    const sym = symbols(cfg.mode);
    const rowsN = isC ? nIn : nOut, colsN = isC ? nOut : nIn;
    const rowShape = isC ? plan.inSize : plan.outSize, colShape = isC ? plan.outSize : plan.inSize;
    const cw = ZOOMS[zoom];
    const fsz = clamp(cw * 0.42, 7, 11);
    const labelLen = (shape) => (shape.length === 1 ? String(shape[0] - 1).length : String(shape[0] - 1).length + String(shape[1] - 1).length + 1);
    const hd = Math.ceil(labelLen(rowShape) * fsz * 0.62) + 10; // room for the row labels
    const top = Math.ceil(labelLen(colShape) * fsz * 0.62 * 0.87) + 18; // and for the column labels (rotated)
    const avail = S.avail;
    const maxCols = clamp(Math.floor((avail - hd - 8) / cw), 4, MAX_COLS);
    const maxRows = Math.max(4, Math.floor(MAX_ROWS / cw));
    // the row window: consecutive rows around the selected output (Cᵀ) or the input that first reaches it (C)
    const c = centerOf(plan);
    let focusRow;
    if (isC) {
      const con = contributors(plan, c);
      focusRow = con.length ? flatIndex(con[0][0], plan.inSize) : 0;
    } else focusRow = flatIndex(c, plan.outSize);
    const rowCache = new Map(); // the row loop below may shrink the window a few times: each row is computed once
    const rowEntries = (rr) => {
      let e = rowCache.get(rr);
      if (!e) {
        const idx = unflat(rr, rowShape);
        e = isC ? reached(plan, idx).map(([o, t]) => [flatIndex(o, colShape), t]) : contributors(plan, idx).map(([j, t]) => [flatIndex(j, colShape), t]);
        rowCache.set(rr, e);
      }
      return e;
    };
    let rw = around(rowsN, focusRow, maxRows);
    // fewer rows while the columns they touch do not fit (down to the selected row alone)
    let cols, entries;
    for (;;) {
      entries = new Map();
      const touched = new Set();
      for (let rr = rw[0]; rr < rw[1]; rr++) {
        for (const [col, t] of rowEntries(rr)) {
          entries.set(rr + "|" + col, t);
          touched.add(col);
        }
      }
      const sorted = [...touched].sort((a, b) => a - b);
      const span = sorted.length ? sorted[sorted.length - 1] - sorted[0] + 1 : 0;
      if (colsN <= maxCols) cols = Array.from({ length: colsN }, (_, i) => i); // all columns fit
      else if (span && span <= maxCols) {
        const [lo, hi] = around(colsN, Math.floor((sorted[0] + sorted[sorted.length - 1]) / 2), maxCols);
        cols = Array.from({ length: hi - lo }, (_, i) => lo + i);
      } else cols = sorted;
      if (cols.length <= maxCols || rw[1] - rw[0] <= 1) break;
      const n = Math.max(1, Math.floor((rw[1] - rw[0]) / 2));
      rw = around(rowsN, focusRow, n);
    }
    let colsCut = 0;
    if (cols.length > maxCols) {
      colsCut = cols.length - maxCols;
      cols = cols.slice(0, maxCols);
    }
    const rows = rw[1] - rw[0];
    const whole = rows === rowsN && cols.length === colsN;
    S.win.matrix = { rows: rw, cols };
    const what = isC
      ? `C is ${rowsN}×${colsN}: row = a conv output ${sym.pin} (flattened row-major), column = a conv input ${sym.pout}; each entry names its kernel tap. The transposed convolution multiplies by Cᵀ (as in Dumoulin & Visin's convolution arithmetic guide).`
      : `Cᵀ is ${rowsN}×${colsN}: ${sym.pout} = Cᵀ·${sym.pin} with inputs and outputs flattened row-major; each entry names its kernel tap. C itself is the convolution whose backward pass this is (as in Dumoulin & Visin's convolution arithmetic guide).`;
    const shown = whole
      ? ""
      : ` Shown: rows ${rw[0]}–${rw[1] - 1} (around ${isC ? sym.pin : sym.pout}${fmtIdx(isC ? unflat(focusRow, rowShape) : c)}) and ${cols.length} of the ${colsN} columns${colsCut ? ` (${colsCut} more touched columns cut: zoom out)` : ", every column these rows touch"}; a gap in the column numbers is a thicker line.`;
    $("#matrix-note").textContent = what + shown;
    const rowAttr = isC ? "data-mxin" : "data-mxout";
    const colAttr = isC ? "data-mxout" : "data-mxin";
    const parts = [];
    const tapTxt = (t) => (U.fits(U.tapName(t, plan.kernel), cw) ? U.tapName(t, plan.kernel) : U.fits(t.join(","), cw) ? t.join(",") : "");
    cols.forEach((col, ci) => {
      const idx = unflat(col, colShape);
      const every = cw >= 16 ? 1 : 2;
      if (ci % every === 0 || (ci > 0 && cols[ci - 1] !== col - 1)) {
        const lbl = plan.nd === 1 ? String(col) : `${idx[0]},${idx[1]}`;
        parts.push(`<text class="hd" ${colAttr}="${key(idx)}" transform="translate(${hd + ci * cw + cw / 2},${top - 4}) rotate(-60)" style="font-size:${fsz}px;text-anchor:start">${lbl}</text>`);
      }
      if (ci > 0 && cols[ci - 1] !== col - 1) {
        parts.push(`<line class="gap" x1="${hd + ci * cw}" y1="${top}" x2="${hd + ci * cw}" y2="${top + rows * cw}"/>`);
      }
    });
    for (let rr = rw[0]; rr < rw[1]; rr++) {
      const y = top + (rr - rw[0]) * cw;
      const ridx = unflat(rr, rowShape);
      const lbl = plan.nd === 1 ? String(rr) : `${ridx[0]},${ridx[1]}`;
      parts.push(`<text class="hd" ${rowAttr}="${key(ridx)}" x="${hd - 4}" y="${y + cw / 2}" style="font-size:${fsz}px;text-anchor:end">${lbl}</text>`);
      cols.forEach((col, ci) => {
        const t = entries.get(rr + "|" + col);
        const cidx = unflat(col, colShape);
        const ok = key(isC ? cidx : ridx), ik = key(isC ? ridx : cidx);
        const attrs = `data-mx="${ok}|${ik}" data-mxrow="${rr}" data-mxcol="${col}" data-row="${key(ridx)}" data-col="${key(cidx)}"` + (t ? ` data-tapidx="${key(t)}"` : "");
        const style = t ? tapFill(tapColor(plan, t)) : "fill:#fafbfc";
        parts.push(cellSVG(hd + ci * cw, y, cw, cw, t ? "nz" : "z", attrs, t && cw >= 16 ? tapTxt(t) : "", style));
      });
    }
    const axis = `<text class="lbl" x="2" y="12" style="font-size:10px">${isC ? `row: ${sym.pin} index, column: ${sym.pout} index` : `row: ${sym.pout} index, column: ${sym.pin} index`}</text>`;
    box.innerHTML =
      svgOpen(hd + cols.length * cw + 8, top + rows * cw + 4, `class="mx" role="img" aria-label="${esc(what)}"`) + axis + parts.join("") + "</svg>";
    box.dataset.drawn = "true";
    box.dataset.whole = whole ? "true" : "false";
    field("mx-zoom-out").disabled = zoom === 0;
    field("mx-zoom-in").disabled = zoom === ZOOMS.length - 1;
    field("mx-zoom").textContent = `${cw} px`;
    S.idx.matrix = {
      mx: U.indexBy(box, "mx"),
      row: U.indexBy(box, "row"),
      col: U.indexBy(box, "col"),
      mxout: U.indexBy(box, "mxout"),
      mxin: U.indexBy(box, "mxin"),
    };
  }

  function initMatrix() {
    const again = () => {
      if (S.lastGood && S.lastGood.plan) {
        renderMatrix(S.lastGood);
        U.applyHighlight();
      }
    };
    field("mx-zoom-in").addEventListener("click", () => {
      zoom = Math.min(ZOOMS.length - 1, zoom + 1);
      again();
    });
    field("mx-zoom-out").addEventListener("click", () => {
      zoom = Math.max(0, zoom - 1);
      again();
    });
  }

  Object.assign(U, { renderMatrix, initMatrix });
})(globalThis.tconv);
