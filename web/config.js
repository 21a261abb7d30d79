/* tconv explorer, part 2: the page's configuration without the page.
 *
 * The controls' raw values (strings, so a half-typed field survives in the link), the URL hash, the Python call a
 * configuration stands for, and compute(): the plan through the arithmetic port (arith.js), or the error tconv's
 * Python raises. No DOM here either: the Node tests run compute() on thousands of configurations.
 */
(function (root) {
  "use strict";
  const T = root.tconv;
  const { ConfigError, makePlan, convPlan, pyRepr, pmod, fdiv, range, FIELD_LIMIT } = T;

  /**
   * A problem tconv's plan does not see: a field that is not a whole number, or a channel rule of PyTorch's layers
   * (tconv's plans take weight shapes; torch.nn's layers take channel counts). ``label`` names who says so; the
   * torch rules carry torch's own ValueError message, word for word.
   */
  class PageError extends Error {
    constructor(param, message, label, hint) {
      super(message);
      this.name = "PageError";
      this.param = param;
      this.label = label || "Invalid input";
      this.hint = hint || "";
    }
  }

  /** torch.nn's _ConvNd.__init__ channel checks, in its order and with its messages. */
  function torchChannelRules(cls, cIn, cOut, groups) {
    const hint = `in_channels=${cIn}, out_channels=${cOut}, groups=${groups}`;
    const label = `ValueError from torch.nn.${cls}`;
    if (groups <= 0) throw new PageError("g", "groups must be a positive integer", label, hint);
    if (pmod(cIn, groups) !== 0) throw new PageError("ci", "in_channels must be divisible by groups", label, hint);
    if (pmod(cOut, groups) !== 0) throw new PageError("co", "out_channels must be divisible by groups", label, hint);
  }


  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

  const DIM_FIELDS = ["in", "k", "s", "d", "p", "pb", "pa", "op", "os"];
  const SCALAR_FIELDS = ["ci", "co", "g"];
  const DEFAULTS = {
    m: "transposed",
    nd: "2",
    in: ["4", "4"],
    k: ["3", "3"],
    s: ["2", "2"],
    d: ["1", "1"],
    p: ["1", "1"],
    pb: ["1", "1"],
    pa: ["1", "1"],
    op: ["1", "1"],
    os: ["8", "8"],
    pm: "sym",
    osOn: false,
    ci: "1",
    co: "1",
    g: "1",
    v: "equivalent",
    gd: "0",
    nb: false, // numbers in the step view
    c: null, // the selected output the windows centre on (null: the middle)
  };
  const FIELD_NAMES = {
    in: "input size",
    k: "kernel_size",
    s: "stride",
    d: "dilation",
    p: "padding",
    pb: "padding (before)",
    pa: "padding (after)",
    op: "output_padding",
    os: "output_size",
    ci: "in_channels",
    co: "out_channels",
    g: "groups",
  };
  const PRESETS = [
    { name: "Dumoulin & Visin: conv i=4 k=3 s=1 p=0 (o=2)", ui: { m: "conv", nd: "2", in: ["4", "4"], k: ["3", "3"], s: ["1", "1"], p: ["0", "0"], pm: "sym", d: ["1", "1"] } },
    { name: "Dumoulin & Visin: conv i=5 k=4 s=1 p=2 (o=6)", ui: { m: "conv", nd: "2", in: ["5", "5"], k: ["4", "4"], s: ["1", "1"], p: ["2", "2"], pm: "sym", d: ["1", "1"] } },
    { name: "Dumoulin & Visin: conv i=5 k=3 s=2 p=0 (o=2)", ui: { m: "conv", nd: "2", in: ["5", "5"], k: ["3", "3"], s: ["2", "2"], p: ["0", "0"], pm: "sym", d: ["1", "1"] } },
    { name: "Dumoulin & Visin: conv i=5 k=3 s=2 p=1 (o=3)", ui: { m: "conv", nd: "2", in: ["5", "5"], k: ["3", "3"], s: ["2", "2"], p: ["1", "1"], pm: "sym", d: ["1", "1"] } },
    { name: "Dumoulin & Visin: inverse of i=6 k=3 s=2 (needs output_padding 1)", ui: { m: "inverse", nd: "2", in: ["6", "6"], k: ["3", "3"], s: ["2", "2"], p: ["0", "0"], pm: "sym", d: ["1", "1"] } },
    { name: "1-D: 3 inputs, kernel 3 (full padding)", ui: { m: "transposed", nd: "1", in: ["3"], k: ["3"], s: ["1"], p: ["0"], pm: "sym", d: ["1"], op: ["0"] } },
    { name: "1-D: stride 2, output_padding 1", ui: { m: "transposed", nd: "1", in: ["3"], k: ["3"], s: ["2"], p: ["0"], pm: "sym", d: ["1"], op: ["1"] } },
    { name: "1-D: dilation 2", ui: { m: "transposed", nd: "1", in: ["3"], k: ["3"], s: ["1"], p: ["0"], pm: "sym", d: ["2"], op: ["0"] } },
    { name: "Bezier decoder: window 7 stride 4", ui: { m: "transposed", nd: "1", in: ["3"], k: ["7"], s: ["4"], p: ["0"], pm: "sym", d: ["1"], op: ["0"] } },
    { name: "DCGAN: k=4 s=2 p=1 doubles the size", ui: { m: "transposed", nd: "2", in: ["4", "4"], k: ["4", "4"], s: ["2", "2"], p: ["1", "1"], pm: "sym", d: ["1", "1"], op: ["0", "0"] } },
    { name: "TensorFlow 'same': output = input × stride", ui: { m: "transposed", nd: "2", in: ["3", "3"], k: ["3", "3"], s: ["2", "2"], pm: "same", d: ["1", "1"], op: ["0", "0"] } },
    { name: "checkerboard: k=3 s=2 overlaps unevenly", ui: { m: "transposed", nd: "2", in: ["3", "3"], k: ["3", "3"], s: ["2", "2"], p: ["0", "0"], pm: "sym", d: ["1", "1"], op: ["0", "0"] } },
    { name: "dilation 2 with stride 2, output_padding 1", ui: { m: "transposed", nd: "1", in: ["4"], k: ["3"], s: ["2"], p: ["1"], pm: "sym", d: ["2"], op: ["1"] } },
    { name: "asymmetric padding (before 0, after 1)", ui: { m: "transposed", nd: "1", in: ["4"], k: ["3"], s: ["2"], pb: ["0"], pa: ["1"], pm: "pair", d: ["1"], op: ["0"] } },
  ];

  const MODE_CODES = { transposed: "t", conv: "c", inverse: "i" };
  const CODE_MODES = { t: "transposed", c: "conv", i: "inverse" };
  const VIEW_CODES = { equivalent: "eq", scatter: "sc", conv: "cv" };
  const CODE_VIEWS = { eq: "equivalent", sc: "scatter", cv: "conv" };

  /** The step view an operation starts with: a Conv animates its forward convolution, the others the equivalent one. */
  function defaultView(mode) {
    return mode === "conv" ? "conv" : "equivalent";
  }

  function encodeHash(ui, step) {
    const nd = ui.nd === "1" ? 1 : 2;
    const parts = [["m", MODE_CODES[ui.m] || "t"], ["nd", String(nd)]];
    const dims = (a) => a.slice(0, nd).join(",");
    parts.push(["i", dims(ui.in)], ["k", dims(ui.k)], ["s", dims(ui.s)], ["d", dims(ui.d)], ["pm", ui.pm]);
    if (ui.pm === "sym") parts.push(["p", dims(ui.p)]);
    if (ui.pm === "pair") parts.push(["pb", dims(ui.pb)], ["pa", dims(ui.pa)]);
    if (ui.m === "transposed") {
      parts.push(["op", dims(ui.op)]);
      if (ui.osOn) parts.push(["os", dims(ui.os)]);
    }
    parts.push(["ci", ui.ci], ["co", ui.co], ["g", ui.g], ["v", VIEW_CODES[ui.v] || "eq"], ["st", String(step)]);
    if (nd === 2) parts.push(["gd", ui.gd]);
    if (ui.nb) parts.push(["nb", "1"]);
    if (ui.c) parts.push(["c", ui.c.slice(0, nd).join(",")]);
    // commas stay readable (i=4,4); old links with %2C still load (decodeURIComponent)
    return "#" + parts.map(([k, v]) => k + "=" + encodeURIComponent(v).replace(/%2C/gi, ",")).join("&");
  }

  function decodeHash(hash) {
    const ui = JSON.parse(JSON.stringify(DEFAULTS));
    let step = 0;
    let view = null;
    const text = (hash || "").replace(/^#/, "");
    if (!text || !text.includes("=")) return null; // "#solve" and the like are anchors, not a configuration
    for (const part of text.split("&")) {
      const eq = part.indexOf("=");
      if (eq < 0) continue;
      const key = part.slice(0, eq);
      let val;
      try {
        val = decodeURIComponent(part.slice(eq + 1));
      } catch (e) {
        continue;
      }
      const two = () => {
        const v = val.split(",");
        return [v[0] === undefined ? "" : v[0], v.length > 1 ? v[1] : v[0]];
      };
      if (key === "m") ui.m = CODE_MODES[val] || DEFAULTS.m;
      else if (key === "nd") ui.nd = val === "1" ? "1" : "2";
      else if (key === "i") ui.in = two();
      else if (["k", "s", "d", "p", "pb", "pa", "op"].includes(key)) ui[key] = two();
      else if (key === "os") {
        ui.os = two();
        ui.osOn = true;
      } else if (key === "pm") ui.pm = ["sym", "pair", "same", "valid"].includes(val) ? val : "sym";
      else if (SCALAR_FIELDS.includes(key)) ui[key] = val;
      else if (key === "v") view = CODE_VIEWS[val] || DEFAULTS.v;
      else if (key === "st") step = parseInt(val, 10) || 0;
      else if (key === "gd") ui.gd = val === "1" ? "1" : "0";
      else if (key === "nb") ui.nb = val === "1";
      else if (key === "c") {
        const c = val.split(",").map((v) => parseInt(v, 10));
        ui.c = c.every((v) => Number.isInteger(v) && v >= 0) ? c : null;
      }
    }
    // a link without a view animates what the operation does: a Conv its forward convolution
    ui.v = view || defaultView(ui.m);
    return { ui, step };
  }

  function parseWhole(name, text) {
    const t = String(text).trim();
    if (t === "") throw new PageError(name, `${FIELD_NAMES[name]}: enter a whole number`);
    if (!/^[+-]?\d+$/.test(t)) throw new PageError(name, `${FIELD_NAMES[name]}: ${JSON.stringify(t)} is not a whole number`);
    const v = Number(t);
    if (Math.abs(v) > FIELD_LIMIT) throw new PageError(name, `${FIELD_NAMES[name]}: ${t} is too large for this page (limit ${FIELD_LIMIT})`);
    return v;
  }

  /** The page's configuration as ints, or a PageError for a field that is not a whole number. */
  function parseUI(ui) {
    const nd = ui.nd === "1" ? 1 : 2;
    const mode = ui.m;
    const pm = ui.pm;
    const dims = (f) => ui[f].slice(0, nd).map((t) => parseWhole(f, t));
    const cfg = { nd, mode, padMode: pm, inSize: dims("in"), kernel: dims("k"), stride: dims("s"), dilation: dims("d") };
    if (pm === "sym") cfg.pad = dims("p");
    if (pm === "pair") {
      const b = dims("pb"), a = dims("pa");
      cfg.pad = b.map((v, i) => [v, a[i]]);
    }
    if (mode !== "transposed" && (pm === "same" || pm === "valid")) cfg.pad = convTfPads(pm, cfg);
    cfg.outputPadding = mode === "transposed" ? dims("op") : range(nd).map(() => 0);
    cfg.outputSize = mode === "transposed" && ui.osOn ? dims("os") : null;
    cfg.inChannels = parseWhole("ci", ui.ci);
    cfg.outChannels = parseWhole("co", ui.co);
    cfg.groups = parseWhole("g", ui.g);
    return cfg;
  }

  /**
   * A convolution's TensorFlow 'same' / 'valid' padding as (before, after) pairs, as tconv.arith.conv_output_size
   * reads it: 'valid' pads nothing; 'same' gives ceil(in / stride) outputs, the odd padding element going after.
   */
  function convTfPads(mode, cfg) {
    return cfg.inSize.map((n, d) => {
      if (mode === "valid" || cfg.stride[d] < 1) return [0, 0];
      const s = cfg.stride[d];
      const total = Math.max((Math.ceil(n / s) - 1) * s + cfg.dilation[d] * (cfg.kernel[d] - 1) + 1 - n, 0);
      return [fdiv(total, 2), total - fdiv(total, 2)];
    });
  }

  /** The padding argument the Python call receives: a tuple of ints, a tuple of pairs, or 'same' / 'valid'. */
  function paddingArg(cfg) {
    if (cfg.mode === "transposed" && (cfg.padMode === "same" || cfg.padMode === "valid")) return cfg.padMode;
    return cfg.pad;
  }

  /** The weight's shape[1] (out_channels / groups) the Python call receives. */
  function perGroup(cfg) {
    return cfg.groups >= 1 ? fdiv(cfg.outChannels, cfg.groups) : cfg.outChannels;
  }

  /** The Python call this configuration stands for, as text: evaluating it raises the message the page shows. */
  function pythonCall(cfg) {
    if (cfg.mode === "transposed") {
      let s =
        `tconv.make_plan(${pyRepr([1, cfg.inChannels, ...cfg.inSize])}, ` +
        `${pyRepr([cfg.inChannels, perGroup(cfg), ...cfg.kernel])}, stride=${pyRepr(cfg.stride)}, ` +
        `padding=${pyRepr(paddingArg(cfg))}, output_padding=${pyRepr(cfg.outputPadding)}, groups=${cfg.groups}, ` +
        `dilation=${pyRepr(cfg.dilation)}`;
      if (cfg.outputSize) s += `, output_size=${pyRepr(cfg.outputSize)}`;
      return s + ")";
    }
    return (
      `tconv.conv_plan(${pyRepr(cfg.inSize)}, ${pyRepr(cfg.kernel)}, stride=${pyRepr(cfg.stride)}, ` +
      `padding=${pyRepr(paddingArg(cfg))}, dilation=${pyRepr(cfg.dilation)})`
    );
  }

  const OUTSIDE_RULE =
    "puts zeros outside the full output or leaves none: tconv.conv_transpose computes it, the explorer draws " +
    "only outputs inside the full output";

  /** Compute everything for one configuration; never throws for a bad configuration. */
  function compute(ui) {
    const r = { ui, cfg: null, call: null, plan: null, error: null };
    try {
      r.cfg = parseUI(ui);
      r.call = pythonCall(r.cfg);
      const c = r.cfg;
      if (c.mode === "transposed") {
        r.plan = makePlan(
          [1, c.inChannels, ...c.inSize],
          [c.inChannels, perGroup(c), ...c.kernel],
          c.stride,
          paddingArg(c),
          c.outputPadding,
          c.groups,
          c.dilation,
          c.outputSize
        );
        // the plan has checked groups against in_channels; torch's layer also wants it to divide out_channels
        torchChannelRules(`ConvTranspose${c.nd}d`, c.inChannels, c.outChannels, c.groups);
        // a page rule: the drawings show outputs inside the full output (tconv itself also computes the zeros that
        // negative padding adds around it, and empty outputs)
        if (r.plan.padding.some((p) => p[0] < 0 || p[1] < 0) || r.plan.outSize.some((o) => o < 1)) {
          throw new PageError("p", `padding=${pyRepr(paddingArg(c))} ${OUTSIDE_RULE}`);
        }
      } else {
        r.plan = convPlan(c.inSize, c.kernel, c.stride, paddingArg(c), c.dilation);
        torchChannelRules(`Conv${c.nd}d`, c.inChannels, c.outChannels, c.groups);
        if (c.inChannels < 1) throw new PageError("ci", `in_channels=${c.inChannels} must be positive`);
        if (c.outChannels < 1) throw new PageError("co", `out_channels=${c.outChannels} must be positive`);
      }
    } catch (e) {
      if (!(e instanceof ConfigError || e instanceof PageError)) throw e;
      r.error = e;
      r.plan = null;
    }
    return r;
  }

  /**
   * A plan's numbers as plain JSON (what the tests compare with tconv.geometry's Plan): sizes, padding, the
   * equivalent convolution and the polyphase split (null along a dimension with more than phaseLimit phases).
   */
  function planSummary(p, phaseLimit = Infinity) {
    const eq = T.equivalentConv(p);
    return {
      inSize: p.inSize, outSize: p.outSize, kernel: p.kernel, stride: p.stride, dilation: p.dilation,
      padding: p.padding, outputPadding: p.outputPadding, full: p.full, groups: p.groups,
      inChannels: p.inChannels, outChannels: p.outChannels, paddingMode: p.paddingMode,
      equivalent: { zerosBetween: eq.zerosBetween, upsampledSize: eq.upsampledSize, pad: eq.pad, kernelDilation: eq.kernelDilation },
      phases: range(p.nd).map((d) => (Math.min(p.stride[d], p.outSize[d]) > phaseLimit ? null : T.phases(p, d))),
    };
  }

  // ---- the numbers mode: small integers to follow the arithmetic by hand --------------------------------------------
  /** Input value at flat (row-major) index n: 1..3, fixed by the index (tests recompute it in Python). */
  const exampleInput = (n) => ((Math.imul(n + 1, 0x9e3779b1) >>> 0) % 3) + 1;
  /** Kernel value at flat tap index n: 1..3. */
  const exampleKernel = (n) => ((Math.imul(n + 1, 0x85ebca77) >>> 0) % 3) + 1;

  Object.assign(T, {
    PageError, DIM_FIELDS, SCALAR_FIELDS, DEFAULTS, FIELD_NAMES, PRESETS, defaultView, encodeHash, decodeHash,
    parseUI, paddingArg, perGroup, pythonCall, compute, planSummary, exampleInput, exampleKernel,
  });
})(typeof window !== "undefined" ? window : globalThis);
