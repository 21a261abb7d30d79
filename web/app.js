/* tconv explorer, part 9: the wiring. Controls to state and back, one coalesced render per change, the URL hash,
 * the animation's buttons, copy buttons, and the test hook tconvState().
 */
(function (T) {
  "use strict";
  const U = T.ui;
  const { $, $$, field, S, clamp, widthOf } = U;
  const { DIM_FIELDS, SCALAR_FIELDS, DEFAULTS, PRESETS, defaultView, encodeHash, decodeHash, compute, prod } = T;

  /** Everything the controls hold, as raw strings (so a half-typed value survives in the link). */
  function readUI() {
    const ui = {
      m: ($('input[name="mode"]:checked') || {}).value || DEFAULTS.m,
      nd: ($('input[name="nd"]:checked') || {}).value || DEFAULTS.nd,
      pm: field("padmode").value,
      osOn: field("os-on").checked,
      v: ($('input[name="view"]:checked') || {}).value || DEFAULTS.v,
      gd: field("graph-dim").value,
      nb: field("numbers").checked,
      c: S.center,
    };
    for (const f of DIM_FIELDS) ui[f] = [field(f + "-0").value, field(f + "-1").value];
    for (const f of SCALAR_FIELDS) ui[f] = field(f).value;
    return ui;
  }

  function writeUI(ui) {
    const setRadio = (name, value) => {
      const el = $(`input[name="${name}"][value="${value}"]`);
      if (el) el.checked = true;
    };
    setRadio("mode", ui.m);
    setRadio("nd", ui.nd);
    setRadio("view", ui.v);
    if ([...field("padmode").options].some((o) => o.value === ui.pm)) field("padmode").value = ui.pm;
    field("os-on").checked = !!ui.osOn;
    field("graph-dim").value = ui.gd === "1" ? "1" : "0";
    field("numbers").checked = !!ui.nb;
    S.center = ui.c ? ui.c.slice() : null;
    for (const f of DIM_FIELDS) for (const i of [0, 1]) field(`${f}-${i}`).value = ui[f][i];
    for (const f of SCALAR_FIELDS) field(f).value = ui[f];
  }

  function syncChrome(ui) {
    const b = document.body.classList;
    b.toggle("nd1", ui.nd === "1");
    b.toggle("mode-t", ui.m === "transposed");
    b.toggle("mode-conv", ui.m === "conv");
    const pm = ui.pm;
    b.toggle("pad-sym", pm === "sym");
    b.toggle("pad-pair", pm === "pair");
    b.toggle("os-on", ui.m === "transposed" && ui.osOn);
    field("lbl-in").textContent = ui.m === "transposed" ? "input size" : "conv input size";
    $$(".dimhead").forEach((th) => (th.textContent = ui.nd === "1" ? "size" : th.dataset.dim === "0" ? "dim 0 (H)" : "dim 1 (W)"));
    const viewConv = $('input[name="view"][value="conv"]');
    if (viewConv) viewConv.parentElement.lastChild.textContent = ui.m === "transposed" ? " the convolution C" : " forward conv";
  }

  // Every control event asks for an update; they are coalesced to one render at the end of the current task
  // (typing a digit re-renders once, setting ten fields from a script re-renders once).
  let pending = null;

  function update(opts) {
    const fromHash = !!(opts && opts.fromHash);
    if (pending) {
      pending.fromHash = pending.fromHash && fromHash;
      return;
    }
    pending = { fromHash };
    queueMicrotask(flush);
  }

  function flush() {
    if (!pending) return;
    const o = pending;
    pending = null;
    render(o);
  }

  const VIEW_IDS = ["map-grids", "anim-svg", "matrix-svg", "graph-svg", "kernel-svg"];

  // Views off screen are drawn when they scroll into view (an IntersectionObserver), so an update costs what is seen.
  const LAZY = { map: () => U.renderMap, anim: () => U.renderAnim, matrix: () => U.renderMatrix, graph: () => U.renderGraph };
  const onScreen = new Map(); // card id -> visible (unknown: treated as visible)
  const dirty = new Set();

  function drawLazy(id, r) {
    if (onScreen.get(id) === false) {
      dirty.add(id);
      return;
    }
    dirty.delete(id);
    LAZY[id]()(r);
  }

  /** Draw the views that were skipped while off screen (on scrolling, and before the test hook reads the page). */
  function drawDirty(ids) {
    const r = S.lastGood;
    if (!r || !r.plan || r.plan.kernel.some((k) => k > 1000) || prod(r.plan.kernel) > U.DRAW_KERNEL) return dirty.clear();
    let any = false;
    for (const id of ids || [...dirty]) {
      if (!dirty.has(id)) continue;
      dirty.delete(id);
      LAZY[id]()(r);
      any = true;
    }
    if (any) U.applyHighlight();
  }

  function watchCards() {
    if (typeof IntersectionObserver === "undefined") return;
    const io = new IntersectionObserver(
      (entries) => {
        const now = [];
        for (const e of entries) {
          onScreen.set(e.target.id, e.isIntersecting);
          if (e.isIntersecting) now.push(e.target.id);
        }
        drawDirty(now);
      },
      { rootMargin: "100px 0px" }
    );
    for (const id of Object.keys(LAZY)) io.observe(field(id));
  }

  /** The views that follow the selected output: the map (with its heat map), the step view, the matrix, the graph. */
  function renderWindows(r) {
    drawLazy("map", r);
    drawLazy("anim", r);
    drawLazy("matrix", r);
    drawLazy("graph", r);
    if (S.focusSel) {
      const shape = S.focusSel.side === "in" ? r.plan.inSize : S.focusSel.side === "out" ? r.plan.outSize : r.plan.kernel;
      if (S.focusSel.idx.length !== shape.length || S.focusSel.idx.some((v, d) => v >= shape[d])) S.focusSel = null;
    }
    U.applyHighlight();
  }

  function render(o) {
    const ui = readUI();
    syncChrome(ui);
    if (!S.avail || o.resized) S.avail = widthOf($("#map-grids"), 800); // a layout: only at start and on resize
    const r = compute(ui);
    S.current = r;
    U.renderResult(r);
    if (!r.error && (prod(r.plan.kernel) > U.DRAW_KERNEL || r.plan.kernel.some((k) => k > 1000))) {
      // a giant kernel: the numbers above are exact, but drawing would take forever
      S.lastGood = r;
      const note = `<p class="note">The kernel (${r.plan.kernel.join("×")}) is too large to draw.</p>`;
      for (const id of VIEW_IDS) {
        $("#" + id).innerHTML = note;
        $("#" + id).dataset.drawn = "false";
      }
      field("heat").dataset.drawn = "false";
      $("#anim-caption").textContent = "";
      S.idx = {};
      S.focusSel = null;
      U.applyHighlight();
    } else if (!r.error) {
      S.lastGood = r;
      if (S.step === null) S.step = prod(r.plan.outSize) > 256 ? U.stepFor(r.plan, ui.v, U.centerOf(r.plan)) : 0;
      renderWindows(r);
      U.syncSolve(r);
    }
    if (r.error && !S.lastGood) {
      const note = '<p class="note">Fix the configuration to see this view.</p>';
      for (const id of VIEW_IDS) $("#" + id).innerHTML = note;
      $("#equiv").innerHTML = note;
    }
    U.renderCode(r);
    U.renderSolve();
    $$(".card:not(#result):not(#solve)").forEach((c) => c.classList.toggle("stale", !!r.error));
    if (!o.fromHash) writeHash();
  }

  // The address follows the page a moment later: history.replaceState is slow enough to matter in an update.
  let hashTimer = null;

  function writeHash() {
    clearTimeout(hashTimer);
    hashTimer = setTimeout(writeHashNow, 120);
  }

  function writeHashNow() {
    clearTimeout(hashTimer);
    hashTimer = null;
    const h = encodeHash(readUI(), S.step || 0);
    if (location.hash !== h) history.replaceState(null, "", h);
  }

  function loadHash() {
    const dec = decodeHash(location.hash);
    if (!dec) return false;
    writeUI(dec.ui);
    S.step = /[#&]st=/.test(location.hash) ? dec.step : null; // no step in the link: start at the selected output
    // an old link (commas escaped as %2C) loads as it is, and the address then shows the readable form
    if (/%2C/i.test(location.hash)) history.replaceState(null, "", location.hash.replace(/%2C/gi, ","));
    return true;
  }

  function setStep(n, keepPlaying) {
    if (!S.lastGood || !S.lastGood.plan) return;
    const total = U.stepCount(S.lastGood, readUI().v);
    S.step = ((n % total) + total) % total;
    if (!keepPlaying) stopPlay();
    U.renderAnim(S.lastGood);
    writeHash();
  }

  function stopPlay() {
    if (S.playing) clearInterval(S.playing);
    S.playing = null;
    const b = field("play");
    b.textContent = "▶ play";
    b.setAttribute("aria-label", "Play");
    b.setAttribute("aria-pressed", "false");
  }

  function togglePlay() {
    if (S.playing) return stopPlay();
    const b = field("play");
    b.textContent = "⏸ pause";
    b.setAttribute("aria-label", "Pause");
    b.setAttribute("aria-pressed", "true");
    S.playing = setInterval(() => setStep(S.step + 1, true), 750);
  }

  function copyText(text, status) {
    const done = (ok) => {
      status.textContent = ok ? "Copied." : "Select the text and copy it.";
      setTimeout(() => (status.textContent = ""), 2500);
    };
    const fallback = () => {
      const ta = document.createElement("textarea");
      ta.value = text;
      ta.setAttribute("readonly", "");
      ta.style.position = "fixed";
      ta.style.opacity = "0";
      document.body.appendChild(ta);
      ta.select();
      let ok = false;
      try {
        ok = document.execCommand("copy");
      } catch (e) {
        ok = false;
      }
      ta.remove();
      done(ok);
    };
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(() => done(true), fallback);
    else fallback();
  }

  function selectTab(tab) {
    for (const t of $$('.tabs [role="tab"]')) {
      const on = t === tab;
      t.setAttribute("aria-selected", on ? "true" : "false");
      t.tabIndex = on ? 0 : -1;
      document.getElementById(t.getAttribute("aria-controls")).hidden = !on;
    }
  }

  /** The test hook: what the page computed and shows, as plain JSON. */
  function tconvState() {
    flush();
    drawDirty();
    if (hashTimer !== null) writeHashNow();
    const r = S.current;
    const out = {
      mode: r.ui.m,
      nd: r.ui.nd === "1" ? 1 : 2,
      call: r.call,
      error: r.error ? r.error.message : null,
      errorKind: r.error ? r.error.name : null,
      shownError: $("#error").hidden ? null : ($("#error-text") || {}).textContent || null,
      plan: null,
    };
    if (r.plan) {
      out.plan = T.planSummary(r.plan, U.PHASE_LIMIT);
      out.plan.formula = $$("#formula [data-value]").map((el) => Number(el.dataset.value));
    }
    const drawn = (id) => $(id).dataset.drawn === "true";
    out.drawn = {
      heat: drawn("#heat"),
      map: drawn("#map-grids"),
      step: drawn("#anim-svg"),
      matrix: drawn("#matrix-svg"),
      graph: drawn("#graph-svg"),
    };
    out.windows = JSON.parse(JSON.stringify(S.win));
    out.center = S.lastGood && S.lastGood.plan ? U.centerOf(S.lastGood.plan) : null;
    out.step = S.step;
    out.steps = Number($("#anim-svg").dataset.steps || 1);
    out.view = readUI().v;
    out.hash = location.hash;
    return out;
  }

  function init() {
    if (/[?&]embed\b/.test(location.search)) document.body.classList.add("embed");
    const sel = field("preset");
    PRESETS.forEach((p, i) => {
      const o = document.createElement("option");
      o.value = String(i);
      o.textContent = p.name;
      sel.appendChild(o);
    });
    if (!loadHash()) writeUI(DEFAULTS);
    const controls = field("controls");
    controls.addEventListener("input", (ev) => {
      if (ev.target.id === "preset") return;
      update();
    });
    controls.addEventListener("change", (ev) => {
      if (ev.target.id === "preset") {
        const p = PRESETS[Number(ev.target.value)];
        if (p) {
          writeUI(Object.assign(JSON.parse(JSON.stringify(DEFAULTS)), p.ui, { v: defaultView(p.ui.m), nb: readUI().nb }));
          S.step = 0;
          update();
        }
        ev.target.value = "";
        return;
      }
      if (ev.target.name === "mode") {
        // each operation starts on its own animation: a Conv on its forward convolution
        const v = $(`input[name="view"][value="${defaultView(ev.target.value)}"]`);
        if (v) v.checked = true;
        S.step = 0;
      }
      if (ev.target.type === "radio" || ev.target.type === "checkbox" || ev.target.tagName === "SELECT") update();
    });
    field("reset").addEventListener("click", () => {
      writeUI(DEFAULTS);
      S.step = 0;
      update();
    });
    field("copy-link").addEventListener("click", () => copyText(location.href, field("copy-status")));
    // in-page links scroll without touching the hash, which holds the configuration
    document.addEventListener("click", (ev) => {
      const a = ev.target.closest && ev.target.closest('a[href^="#"]');
      const target = a && document.getElementById(a.getAttribute("href").slice(1));
      if (!target) return;
      ev.preventDefault();
      if (!target.hasAttribute("tabindex")) target.setAttribute("tabindex", "-1");
      target.scrollIntoView({ block: "start" });
      target.focus({ preventScroll: true });
    });
    window.addEventListener("hashchange", () => {
      if (loadHash()) update({ fromHash: true });
      else writeHashNow(); // an anchor: put the configuration back in the address
    });
    $$('input[name="view"]').forEach((el) =>
      el.addEventListener("change", () => {
        S.step = 0;
        if (S.lastGood && S.lastGood.plan) U.renderAnim(S.lastGood);
        writeHash();
      })
    );
    field("numbers").addEventListener("change", () => {
      if (S.lastGood && S.lastGood.plan) U.renderAnim(S.lastGood);
      writeHash();
    });
    field("graph-dim").addEventListener("change", () => {
      if (S.lastGood && S.lastGood.plan) U.renderGraph(S.lastGood);
      U.applyHighlight();
      writeHash();
    });
    const solveBox = field("solve");
    solveBox.addEventListener("input", (ev) => {
      if (ev.target.tagName === "INPUT") U.renderSolve();
    });
    solveBox.addEventListener("click", (ev) => {
      const b = ev.target.closest && ev.target.closest("button[data-sol]");
      if (b) U.applySolution(b);
    });
    field("step-back").addEventListener("click", () => setStep(S.step - 1));
    field("step-fwd").addEventListener("click", () => setStep(S.step + 1));
    field("play").addEventListener("click", togglePlay);
    field("step").addEventListener("input", (ev) => setStep(Number(ev.target.value)));
    const views = field("views");
    views.addEventListener("mouseover", (ev) => {
      const c = U.cellFromEvent(ev);
      if (c) U.setFocus(c);
    });
    views.addEventListener("mouseleave", () => U.setFocus(null));
    views.addEventListener("keydown", (ev) => {
      if (ev.target.classList && ev.target.classList.contains("grid-svg")) U.onGridKey(ev);
    });
    views.addEventListener("focusin", (ev) => {
      const svg = ev.target.closest && ev.target.closest(".grid-svg");
      if (svg && S.lastGood && S.lastGood.plan) {
        const role = svg.dataset.grid;
        const plan = S.lastGood.plan;
        const shape = role === "in" ? plan.inSize : role === "out" ? plan.outSize : plan.kernel;
        const win = role === "tap" ? null : S.win.map && S.win.map[role];
        let cur = S.cursors[role];
        if (!cur || cur.length !== shape.length) cur = win ? win.map((w) => w[0]) : shape.map(() => 0);
        S.cursors[role] = cur.map((v, d) => clamp(v, 0, shape[d] - 1));
        U.setFocus({ side: role, idx: S.cursors[role] });
      }
    });
    for (const t of $$('.tabs [role="tab"]')) {
      t.addEventListener("click", () => selectTab(t));
      t.addEventListener("keydown", (ev) => {
        const tabs = $$('.tabs [role="tab"]');
        const i = tabs.indexOf(t);
        const n = ev.key === "ArrowRight" ? i + 1 : ev.key === "ArrowLeft" ? i - 1 : null;
        if (n === null) return;
        ev.preventDefault();
        const next = tabs[(n + tabs.length) % tabs.length];
        selectTab(next);
        next.focus();
      });
    }
    field("copy-code").addEventListener("click", () => {
      const pane = $$('[role="tabpanel"]').find((p) => !p.hidden);
      copyText(pane ? pane.textContent : "", field("copy-status"));
    });
    U.initMap();
    U.initMatrix();
    watchCards();
    let resizeTimer = null;
    window.addEventListener("resize", () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => {
        S.avail = 0;
        update({ fromHash: true });
      }, 150);
    });
    update();
  }

  /** Centre every view on output o; the step view jumps to it too. */
  function selectOutput(o) {
    const r = S.lastGood;
    if (!r || !r.plan) return;
    S.center = o.slice();
    S.step = U.stepFor(r.plan, readUI().v, o);
    renderWindows(r);
    writeHash();
  }

  Object.assign(U, { readUI, writeUI, update, flush, writeHash, renderWindows, selectOutput });
  const root = typeof window !== "undefined" ? window : globalThis;
  root.tconvState = tconvState;
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})(globalThis.tconv);
