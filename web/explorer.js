/* tconv explorer.
 *
 * Part 1 is the only second copy of tconv's arithmetic (a port of tconv.geometry's make_plan / conv_plan and
 * tconv.arith's size functions). It raises the same errors with the same messages, and the browser tests compare
 * every size, padding, message and contributor set with the Python. Parts 2-6 read the plan and draw it.
 *
 * Along each spatial dimension, input element j reaches output element o through kernel tap t exactly when
 *     o = j * stride + t * dilation - pad_before      and   0 <= o < out_size          (seed 000 §2)
 */
(function () {
  "use strict";

  // ==============================================================================================================
  // Part 1. The arithmetic (port of tconv.geometry and tconv.arith)
  // ==============================================================================================================
  const MAX_DIM = 2147483648; // geometry.MAX_DIM = 1 << 31
  const MAX_ELEMENTS = 1n << 40n; // geometry.MAX_ELEMENTS: N * C_out * prod(out_size)
  // Fields stay within 2**26 so that every size the plan computes, (i - 1) * s + d * (k - 1) + 1, stays below 2**53
  // and JavaScript's doubles compute it exactly, as Python's ints do (larger outputs are still refused as absurd).
  const FIELD_LIMIT = 1 << 26;
  // Beyond these the pictures are skipped (the numbers are still computed and shown).
  const DRAW_KERNEL = 4096;
  const PHASE_LIMIT = 256;

  /** Python's repr() for the values the explorer passes: ints, strings, None and (nested) tuples. */
  function pyRepr(v) {
    if (v === null || v === undefined) return "None";
    if (typeof v === "boolean") return v ? "True" : "False";
    if (typeof v === "number") return String(v);
    if (typeof v === "string") {
      if (v.includes("'") && !v.includes('"')) return '"' + v + '"';
      return "'" + v.replace(/\\/g, "\\\\").replace(/'/g, "\\'") + "'";
    }
    if (Array.isArray(v)) return v.length === 1 ? "(" + pyRepr(v[0]) + ",)" : "(" + v.map(pyRepr).join(", ") + ")";
    return String(v);
  }

  /** tconv.errors.ConfigError: message "{param}={value!r} {rule}". */
  class ConfigError extends Error {
    constructor(param, value, rule) {
      super(param + "=" + pyRepr(value) + " " + rule);
      this.name = "ConfigError";
      this.param = param;
      this.value = value;
      this.rule = rule;
    }
  }

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

  const pmod = (a, b) => ((a % b) + b) % b; // Python's a % b
  const fdiv = (a, b) => Math.floor(a / b); // Python's a // b (exact for the sizes used here)
  const range = (n) => Array.from({ length: Math.max(0, n) }, (_, i) => i);
  const prod = (a) => a.reduce((x, y) => x * y, 1);

  function product(lists) {
    // itertools.product
    let out = [[]];
    for (const l of lists) {
      const next = [];
      for (const head of out) for (const v of l) next.push(head.concat([v]));
      out = next;
    }
    return out;
  }

  function cmpTuple(a, b) {
    // Python's ordering of (nested) tuples of ints
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      const c = Array.isArray(a[i]) ? cmpTuple(a[i], b[i]) : a[i] - b[i];
      if (c !== 0) return c;
    }
    return a.length - b.length;
  }

  function normalizePadding(padding, nd) {
    // geometry._normalize_padding for what the page passes: one int or one (before, after) pair per dimension
    let p = padding;
    if (typeof p === "number") return range(nd).map(() => [p, p]);
    if (p.length === 1 && nd !== 1) p = range(nd).map(() => p[0]);
    if (p.length !== nd) {
      throw new ConfigError("padding", padding, `must have ${nd} entries, one per spatial dimension (got ${p.length})`);
    }
    return p.map((e) => (typeof e === "number" ? [e, e] : [e[0], e[1]]));
  }

  function outputPaddingForSize(sizeT, full, pads, strideT, outputSize) {
    // geometry._output_padding_for_size (torch's _ConvTransposeNd._output_padding)
    return sizeT.map((n, dim) => {
      const lo = full[dim] - pads[dim][0] - pads[dim][1];
      const hi = lo + strideT[dim] - 1;
      if (!(lo <= n && n <= hi)) {
        throw new ConfigError(
          "output_size",
          outputSize,
          `is not reachable: dimension ${dim} must be between ${lo} and ${hi} ` +
            `(the sizes output_padding 0..stride-1 can give), got ${n}`
        );
      }
      return n - lo;
    });
  }

  function tfPadding(mode, inSize, kernel, strideT, dilT, full, sizeT, opT) {
    // geometry._tf_padding: TensorFlow conv2d_transpose's 'same' / 'valid'
    if (opT.some((v) => v !== 0)) {
      throw new ConfigError("output_padding", opT, `must be 0 with padding=${pyRepr(mode)}: give output_size instead`);
    }
    const pads = [];
    const ops = [];
    inSize.forEach((i, dim) => {
      const k = kernel[dim], s = strideT[dim], d = dilT[dim], f = full[dim];
      const dk = d * (k - 1) + 1;
      let lo, hi, def;
      if (mode === "same") [lo, hi, def] = [(i - 1) * s + 1, i * s, i * s];
      else [lo, hi, def] = [(i - 1) * s + dk, i * s + dk - 1, i * s + Math.max(dk - s, 0)];
      const n = sizeT === null ? def : sizeT[dim];
      if (!(lo <= n && n <= hi)) {
        const rule = mode === "same" ? "ceil(output / stride)" : "ceil((output - dilated_kernel + 1) / stride)";
        throw new ConfigError(
          "output_size",
          sizeT,
          `is not reachable with padding=${pyRepr(mode)}: ${rule} must equal the input size ${i} in dimension ${dim}, ` +
            `so the output must be between ${lo} and ${hi}, got ${n}`
        );
      }
      const pb = mode === "same" ? fdiv(Math.max((i - 1) * s + dk - n, 0), 2) : 0;
      const cropAfter = f - pb - n;
      if (cropAfter >= 0) {
        pads.push([pb, cropAfter]);
        ops.push(0);
      } else {
        pads.push([pb, 0]);
        ops.push(-cropAfter);
      }
    });
    return [pads, ops];
  }

  /**
   * tconv.geometry.make_plan for int tuples: input (N, C_in, *spatial), weight (C_in, C_out/groups, *kernel).
   * Checks run in the Python's order, so the first broken rule gives the same message.
   */
  function makePlan(inputShape, weightShape, stride, padding, outputPadding, groups, dilation, outputSize) {
    const nd = weightShape.length - 2;
    const batch = inputShape.length === nd + 2 ? inputShape[0] : null;
    const cIn = inputShape[inputShape.length - nd - 1];
    const inSize = inputShape.slice(-nd);
    const kernel = weightShape.slice(2);
    if (batch !== null && batch < 0) throw new ConfigError("input", inputShape, "must have a non-negative batch size");
    if (inSize.some((v) => v < 1)) throw new ConfigError("input", inputShape, "must have every spatial size >= 1");
    if (kernel.some((v) => v < 1)) throw new ConfigError("kernel_size", kernel, "must be positive in every dimension");
    if (weightShape[1] < 1) {
      throw new ConfigError(
        "weight",
        weightShape,
        "must have at least one output channel per group (shape[1] >= 1)"
      );
    }
    if (weightShape[0] < 1) {
      throw new ConfigError("weight", weightShape, "must have at least one input channel (shape[0] >= 1)");
    }
    if (groups < 1) throw new ConfigError("groups", groups, "must be positive");
    if (pmod(weightShape[0], groups) !== 0) {
      throw new ConfigError("groups", groups, `must divide in_channels=weight.shape[0]=${weightShape[0]}`);
    }
    if (cIn !== weightShape[0]) {
      throw new ConfigError(
        "input",
        inputShape,
        `has ${cIn} channels but weight.shape[0]=${weightShape[0]} (in_channels) must equal it`
      );
    }
    const strideT = stride.slice();
    const dilT = dilation.slice();
    if (strideT.some((v) => v < 1)) throw new ConfigError("stride", strideT, "must be positive in every dimension");
    if (dilT.some((v) => v < 1)) throw new ConfigError("dilation", dilT, "must be positive in every dimension");
    let opT = outputPadding.slice();
    if (opT.some((v) => v < 0)) {
      throw new ConfigError("output_padding", opT, "must be non-negative in every dimension");
    }
    const full = inSize.map((i, d) => (i - 1) * strideT[d] + dilT[d] * (kernel[d] - 1) + 1);

    let sizeT = null;
    if (outputSize !== null && outputSize !== undefined) {
      let osz = outputSize;
      if ((osz.length === nd + 1 || osz.length === nd + 2) && osz.length !== nd) osz = osz.slice(-nd);
      if (osz.length !== nd) {
        throw new ConfigError("output_size", outputSize, `must have ${nd} spatial entries (or ${nd + 2} with N, C)`);
      }
      if (osz.some((v) => v < 1 || v > MAX_DIM)) {
        throw new ConfigError("output_size", outputSize, `must be between 1 and ${MAX_DIM} in every dimension`);
      }
      sizeT = osz.slice();
    }

    let mode = "explicit";
    let pads;
    if (typeof padding === "string") {
      mode = padding.toLowerCase();
      if (mode !== "same" && mode !== "valid") {
        throw new ConfigError("padding", padding, "must be an int, per-dimension ints or pairs, 'same' or 'valid'");
      }
      [pads, opT] = tfPadding(mode, inSize, kernel, strideT, dilT, full, sizeT, opT);
    } else {
      pads = normalizePadding(padding, nd);
      if (sizeT !== null) opT = outputPaddingForSize(sizeT, full, pads, strideT, outputSize);
    }
    if (pads.some((pair) => pair[0] < 0 || pair[1] < 0)) {
      throw new ConfigError("padding", padding, "must be non-negative in every dimension");
    }
    const limit = strideT.map((s, d) => Math.max(s, dilT[d]));
    if (opT.some((o, d) => o >= limit[d])) {
      throw new ConfigError(
        "output_padding",
        opT,
        `must be smaller than max(stride, dilation)=${pyRepr(limit)} in every dimension`
      );
    }
    const out = full.map((f, d) => f - pads[d][0] - pads[d][1] + opT[d]);
    if (out.some((o) => o < 1)) {
      throw new ConfigError(
        "padding",
        padding,
        `leaves an output of size ${pyRepr(out)}: every dimension must be >= 1 ` +
          "(output = (in - 1) * stride - pad_before - pad_after + dilation * (kernel - 1) + output_padding + 1)"
      );
    }
    if (out.some((o) => o > MAX_DIM)) {
      throw new ConfigError("input", inputShape, `gives an absurd output size ${pyRepr(out)} (limit ${MAX_DIM} per dimension)`);
    }
    // BigInt: the element count may pass 2**53
    const elements = [batch === null ? 1 : batch || 1, weightShape[1], groups, ...out].reduce((a, b) => a * BigInt(b), 1n);
    if (elements > MAX_ELEMENTS) {
      throw new ConfigError(
        sizeT !== null ? "output_size" : "input",
        sizeT !== null ? outputSize : inputShape,
        `gives an absurd output of ${elements} elements (shape ${pyRepr(out)}; limit ${MAX_ELEMENTS}), refused before allocating`
      );
    }
    return Object.freeze({
      nd,
      batch,
      inChannels: cIn,
      outChannels: weightShape[1] * groups,
      groups,
      inSize,
      kernel,
      stride: strideT,
      dilation: dilT,
      padding: pads,
      outputPadding: opT,
      outSize: out,
      full,
      paddingMode: mode,
    });
  }

  /** tconv.geometry.conv_plan: a forward convolution of an input of in_size, seen as its transpose. */
  function convPlan(inSize, kernel, stride, padding, dilation) {
    const nd = inSize.length;
    if (stride.some((v) => v < 1)) throw new ConfigError("stride", stride, "must be positive in every dimension");
    if (dilation.some((v) => v < 1)) throw new ConfigError("dilation", dilation, "must be positive in every dimension");
    if (kernel.some((v) => v < 1)) throw new ConfigError("kernel_size", kernel, "must be positive in every dimension");
    const pads = normalizePadding(padding, nd);
    if (pads.some((pair) => pair[0] < 0 || pair[1] < 0)) {
      throw new ConfigError("padding", padding, "must be non-negative in every dimension");
    }
    const outs = inSize.map((n, i) => {
      const span = n + pads[i][0] + pads[i][1] - dilation[i] * (kernel[i] - 1) - 1;
      if (span < 0) {
        throw new ConfigError(
          "kernel_size",
          kernel,
          `with dilation ${pyRepr(dilation)} spans more than the padded input ${n + pads[i][0] + pads[i][1]}: ` +
            "the convolution has no output"
        );
      }
      return fdiv(span, stride[i]) + 1;
    });
    return makePlan([1, ...outs], [1, 1, ...kernel], stride, pads, range(nd).map(() => 0), 1, dilation, inSize);
  }

  // ---- what a plan knows (Plan.index_map, contributors, reached, equivalent_conv, phases) ----------------------
  function indexMap(plan, dim) {
    const s = plan.stride[dim], d = plan.dilation[dim], pb = plan.padding[dim][0], out = plan.outSize[dim];
    return range(plan.inSize[dim]).map((j) =>
      range(plan.kernel[dim]).map((t) => {
        const o = j * s + t * d - pb;
        return o >= 0 && o < out ? o : -1;
      })
    );
  }

  function contributors(plan, outIndex) {
    // Plan.contributors: every (input index, tap) pair that reaches output position outIndex, sorted
    const perDim = outIndex.map((o, dim) => {
      const s = plan.stride[dim], d = plan.dilation[dim], pb = plan.padding[dim][0];
      const pairs = [];
      for (let t = 0; t < plan.kernel[dim]; t++) {
        const num = o + pb - t * d;
        if (pmod(num, s) === 0 && fdiv(num, s) >= 0 && fdiv(num, s) < plan.inSize[dim]) pairs.push([fdiv(num, s), t]);
      }
      return pairs;
    });
    return product(perDim)
      .map((c) => [c.map((p) => p[0]), c.map((p) => p[1])])
      .sort(cmpTuple);
  }

  function reached(plan, inIndex) {
    // Plan.reached: every (output index, tap) pair input position inIndex reaches (cropped ones omitted)
    const perDim = inIndex.map((j, dim) => {
      const s = plan.stride[dim], d = plan.dilation[dim], pb = plan.padding[dim][0];
      const pairs = [];
      for (let t = 0; t < plan.kernel[dim]; t++) {
        const o = j * s + t * d - pb;
        if (o >= 0 && o < plan.outSize[dim]) pairs.push([o, t]);
      }
      return pairs;
    });
    return product(perDim)
      .map((c) => [c.map((p) => p[0]), c.map((p) => p[1])])
      .sort(cmpTuple);
  }

  function equivalentConv(plan) {
    // Plan.equivalent_conv: insert s-1 zeros, pad (d(k-1) - pb, d(k-1) - pa + op), flip, dilate, stride 1
    return {
      zerosBetween: plan.stride.map((s) => s - 1),
      upsampledSize: plan.inSize.map((i, d) => (i - 1) * plan.stride[d] + 1),
      pad: plan.kernel.map((k, d) => {
        const dk = plan.dilation[d] * (k - 1);
        return [dk - plan.padding[d][0], dk - plan.padding[d][1] + plan.outputPadding[d]];
      }),
      kernelDilation: plan.dilation.slice(),
      flip: true,
    };
  }

  function phases(plan, dim) {
    // Plan.phases: one entry per output residue modulo the stride
    const s = plan.stride[dim], d = plan.dilation[dim], k = plan.kernel[dim];
    const pb = plan.padding[dim][0], out = plan.outSize[dim];
    return range(Math.min(s, out)).map((r) => {
      const taps = range(k).filter((t) => pmod(r + pb - t * d, s) === 0);
      return { residue: r, count: fdiv(out - r + s - 1, s), taps, offsets: taps.map((t) => fdiv(r + pb - t * d, s)) };
    });
  }

  // ---- tconv.arith's user-facing sizes ---------------------------------------------------------------------------
  /** floor((n + pb + pa - d(k-1) - 1) / s) + 1: the forward convolution's output size along one dimension. */
  const convOutputSize = (n, k, s, pb, pa, d) => fdiv(n + pb + pa - d * (k - 1) - 1, s) + 1;
  /** (i - 1)s - pb - pa + d(k-1) + op + 1: the transposed convolution's output size along one dimension. */
  const convTransposeOutputSize = (i, k, s, pb, pa, d, op) => (i - 1) * s - pb - pa + d * (k - 1) + op + 1;

  /**
   * tconv.arith.solve: every (kernel, stride, padding, output_padding, dilation) within the bounds that maps
   * inputSize to outputSize along one dimension, ranked: exact first (no output_padding / no unread input), then
   * even overlap (k % s == 0), no dilation, padding nearest "same", then smaller kernel, stride and padding.
   */
  function solve(inputSize, outputSize, transposed, maxKernel = 7, maxStride = 4, maxDilation = 1, maxPadding = null, allowOutputPadding = true) {
    const bound = (name, v, lo) => {
      if (v < lo) throw new ConfigError(name, v, `must be >= ${lo}`);
      return v;
    };
    const i = bound("input_size", inputSize, 1);
    const o = bound("output_size", outputSize, 1);
    const kmax = bound("max_kernel", maxKernel, 1);
    const smax = bound("max_stride", maxStride, 1);
    const dmax = bound("max_dilation", maxDilation, 1);
    const pmax = maxPadding === null ? null : bound("max_padding", maxPadding, 0);
    const found = [];
    for (let k = 1; k <= kmax; k++) {
      for (let d = 1; d <= (k > 1 ? dmax : 1); d++) {
        const span = d * (k - 1);
        for (let s = 1; s <= smax; s++) {
          for (let p = 0; p <= (pmax === null ? span : pmax); p++) {
            let op, exact;
            if (transposed) {
              op = o - ((i - 1) * s - 2 * p + span + 1);
              if (!(op >= 0 && op < Math.max(s, d)) || (op && !allowOutputPadding)) continue;
              exact = op === 0;
            } else {
              const rest = i + 2 * p - span - 1;
              if (rest < 0 || fdiv(rest, s) + 1 !== o) continue;
              op = 0;
              exact = rest % s === 0;
            }
            const even = k % s === 0;
            const sortKey = [exact ? 0 : 1, even ? 0 : 1, d > 1 ? 1 : 0, Math.abs(2 * p - span), k, s, p];
            found.push({ sortKey, kind: transposed ? "conv_transpose" : "conv", input_size: i, output_size: o, kernel: k,
              stride: s, padding: p, output_padding: op, dilation: d, exact, even_overlap: even });
          }
        }
      }
    }
    found.sort((a, b) => cmpTuple(a.sortKey, b.sortKey));
    return found.map(({ sortKey, ...sol }, rank) => Object.assign(sol, { rank }));
  }

  // ==============================================================================================================
  // Part 2. The controls, their state and the URL hash
  // ==============================================================================================================
  const $ = (sel, root) => (root || document).querySelector(sel);
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
    { name: "seed 001: conv i=4 k=3 s=1 p=0 (o=2)", ui: { m: "conv", nd: "2", in: ["4", "4"], k: ["3", "3"], s: ["1", "1"], p: ["0", "0"], pm: "sym", d: ["1", "1"] } },
    { name: "seed 001: conv i=5 k=4 s=1 p=2 (o=6)", ui: { m: "conv", nd: "2", in: ["5", "5"], k: ["4", "4"], s: ["1", "1"], p: ["2", "2"], pm: "sym", d: ["1", "1"] } },
    { name: "seed 001: conv i=5 k=3 s=2 p=0 (o=2)", ui: { m: "conv", nd: "2", in: ["5", "5"], k: ["3", "3"], s: ["2", "2"], p: ["0", "0"], pm: "sym", d: ["1", "1"] } },
    { name: "seed 001: conv i=5 k=3 s=2 p=1 (o=3)", ui: { m: "conv", nd: "2", in: ["5", "5"], k: ["3", "3"], s: ["2", "2"], p: ["1", "1"], pm: "sym", d: ["1", "1"] } },
    { name: "seed 001: inverse of i=6 k=3 s=2 (needs output_padding 1)", ui: { m: "inverse", nd: "2", in: ["6", "6"], k: ["3", "3"], s: ["2", "2"], p: ["0", "0"], pm: "sym", d: ["1", "1"] } },
    { name: "seed 000: 1-D, 3 inputs, kernel 3 (full padding)", ui: { m: "transposed", nd: "1", in: ["3"], k: ["3"], s: ["1"], p: ["0"], pm: "sym", d: ["1"], op: ["0"] } },
    { name: "seed 000: 1-D stride 2, output_padding 1", ui: { m: "transposed", nd: "1", in: ["3"], k: ["3"], s: ["2"], p: ["0"], pm: "sym", d: ["1"], op: ["1"] } },
    { name: "seed 000: 1-D dilation 2", ui: { m: "transposed", nd: "1", in: ["3"], k: ["3"], s: ["1"], p: ["0"], pm: "sym", d: ["2"], op: ["0"] } },
    { name: "seed 002: decoder, window 7 stride 4", ui: { m: "transposed", nd: "1", in: ["3"], k: ["7"], s: ["4"], p: ["0"], pm: "sym", d: ["1"], op: ["0"] } },
    { name: "DCGAN: k=4 s=2 p=1 doubles the size", ui: { m: "transposed", nd: "2", in: ["4", "4"], k: ["4", "4"], s: ["2", "2"], p: ["1", "1"], pm: "sym", d: ["1", "1"], op: ["0", "0"] } },
    { name: "TensorFlow 'same': output = input × stride", ui: { m: "transposed", nd: "2", in: ["3", "3"], k: ["3", "3"], s: ["2", "2"], pm: "same", d: ["1", "1"], op: ["0", "0"] } },
    { name: "checkerboard: k=3 s=2 overlaps unevenly", ui: { m: "transposed", nd: "2", in: ["3", "3"], k: ["3", "3"], s: ["2", "2"], p: ["0", "0"], pm: "sym", d: ["1", "1"], op: ["0", "0"] } },
    { name: "dilation 2 with stride 2, output_padding 1", ui: { m: "transposed", nd: "1", in: ["4"], k: ["3"], s: ["2"], p: ["1"], pm: "sym", d: ["2"], op: ["1"] } },
    { name: "asymmetric padding (before 0, after 1)", ui: { m: "transposed", nd: "1", in: ["4"], k: ["3"], s: ["2"], pb: ["0"], pa: ["1"], pm: "pair", d: ["1"], op: ["0"] } },
  ];

  function field(id) {
    return document.getElementById(id);
  }

  /** Everything the controls hold, as raw strings (so a half-typed value survives in the link). */
  function readUI() {
    const ui = {
      m: ($('input[name="mode"]:checked') || {}).value || DEFAULTS.m,
      nd: ($('input[name="nd"]:checked') || {}).value || DEFAULTS.nd,
      pm: field("padmode").value,
      osOn: field("os-on").checked,
      v: ($('input[name="view"]:checked') || {}).value || DEFAULTS.v,
      gd: field("graph-dim").value,
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
    for (const f of DIM_FIELDS) for (const i of [0, 1]) field(`${f}-${i}`).value = ui[f][i];
    for (const f of SCALAR_FIELDS) field(f).value = ui[f];
  }

  const MODE_CODES = { transposed: "t", conv: "c", inverse: "i" };
  const CODE_MODES = { t: "transposed", c: "conv", i: "inverse" };
  const VIEW_CODES = { equivalent: "eq", scatter: "sc", conv: "cv" };
  const CODE_VIEWS = { eq: "equivalent", sc: "scatter", cv: "conv" };

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
    return "#" + parts.map(([k, v]) => k + "=" + encodeURIComponent(v)).join("&");
  }

  function decodeHash(hash) {
    const ui = JSON.parse(JSON.stringify(DEFAULTS));
    let step = 0;
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
      else if (key === "v") ui.v = CODE_VIEWS[val] || DEFAULTS.v;
      else if (key === "st") step = parseInt(val, 10) || 0;
      else if (key === "gd") ui.gd = val === "1" ? "1" : "0";
    }
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

  // ==============================================================================================================
  // Part 3. Small drawing helpers
  // ==============================================================================================================
  // Kernel tap colours: tconv.viz.style.tap_color's ramp (matplotlib's plasma between 0 and 0.82), sampled at the
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

  function cellSVG(x, y, w, h, cls, attrs, label, style) {
    // style: a CSS string, or {style, text} from tapFill
    const st = typeof style === "object" && style ? style : { style: style || "", text: "" };
    const fs = clamp(Math.min(w, h) * 0.42, 7, 13);
    const t =
      label !== "" && label !== undefined && w >= 14
        ? `<text x="${x + w / 2}" y="${y + h / 2}" style="font-size:${fs}px${st.text ? `;fill:${st.text}` : ""}">${esc(label)}</text>`
        : "";
    return `<g class="cell ${cls}" ${attrs || ""}><rect x="${x}" y="${y}" width="${w}" height="${h}" rx="2"${st.style ? ` style="${st.style}"` : ""}/>${t}</g>`;
  }

  /** Symbols for the two sides of the plan: a ConvTranspose maps x -> y; a Conv maps x -> y the other way. */
  function symbols(mode) {
    return mode === "transposed" ? { pin: "x", pout: "y" } : { pin: "y", pout: "x" };
  }

  // ==============================================================================================================
  // Part 4. The views
  // ==============================================================================================================
  let current = null; // the last computation
  let lastGood = null; // the last computation without an error (what the views show)
  let step = 0;
  let playing = null;
  let focusSel = null; // {side: 'in'|'out', idx}
  const cursors = { in: null, out: null, tap: null };

  // ---- Result: headline, formula, equivalent convolution ------------------------------------------------------
  function renderResult(r) {
    const box = $("#result");
    const err = $("#error");
    $$("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
    if (r.error) {
      err.hidden = false;
      const kind = r.error instanceof ConfigError ? "tconv.ConfigError" : r.error.label;
      const hint = r.error.hint ? ` <span class="err-hint">(${esc(r.error.hint)})</span>` : "";
      err.innerHTML = `<b>${esc(kind)}:</b> <span id="error-text">${esc(r.error.message)}</span>${hint}`;
      err.dataset.kind = r.error.name;
      // conv_plan passes the conv's input size to make_plan as output_size: blame the input field
      const conv = r.cfg && r.cfg.mode !== "transposed";
      markInvalid(conv && r.error.param === "output_size" ? "input" : r.error.param);
    } else {
      err.hidden = true;
      err.innerHTML = "";
    }
    $("#pycall").textContent = r.call ? "import tconv\n\n" + r.call : "(fix the fields first)";
    box.classList.toggle("stale", !!r.error);
    document.body.classList.toggle("has-error", !!r.error);
    if (r.error && lastGood) return; // keep the last valid picture, dimmed
    const g = r.error ? null : r;
    if (!g) {
      $("#headline").textContent = "";
      $("#formula").innerHTML = "";
      $("#equiv").innerHTML = "";
      return;
    }
    const { plan, cfg } = g;
    const nm = `${plan.nd}d`;
    const outShape = [1, plan.outChannels, ...plan.outSize];
    const inShape = [1, plan.inChannels, ...plan.inSize];
    let head;
    if (cfg.mode === "transposed") {
      head = `ConvTranspose${nm}: <span class="shape">${pyRepr(inShape)}</span> → <span class="shape" id="out-shape">${pyRepr(outShape)}</span>`;
    } else if (cfg.mode === "conv") {
      head = `Conv${nm}: <span class="shape">${pyRepr([1, cfg.inChannels, ...cfg.inSize])}</span> → <span class="shape" id="out-shape">${pyRepr([1, cfg.outChannels, ...plan.inSize])}</span>`;
    } else {
      head =
        `Conv${nm} <span class="shape">${pyRepr([1, cfg.inChannels, ...cfg.inSize])}</span> → ` +
        `<span class="shape">${pyRepr([1, cfg.outChannels, ...plan.inSize])}</span>; ConvTranspose${nm} with ` +
        `output_padding=<span class="shape">${pyRepr(plan.outputPadding)}</span> maps it back to ` +
        `<span class="shape" id="out-shape">${pyRepr([1, cfg.inChannels, ...plan.outSize])}</span>`;
    }
    $("#headline").innerHTML = head;

    const lines = [];
    const T_GENERAL = "out = (in − 1)·stride − pad<sub>before</sub> − pad<sub>after</sub> + dilation·(kernel − 1) + output_padding + 1";
    const C_GENERAL = "conv out = ⌊(in + pad<sub>before</sub> + pad<sub>after</sub> − dilation·(kernel − 1) − 1) / stride⌋ + 1";
    lines.push(`<div class="general">${cfg.mode === "transposed" ? T_GENERAL : C_GENERAL}</div>`);
    for (let d = 0; d < plan.nd; d++) {
      const i = plan.inSize[d], k = plan.kernel[d], s = plan.stride[d], dl = plan.dilation[d];
      const [pb, pa] = plan.padding[d];
      const op = plan.outputPadding[d];
      const tag = plan.nd === 2 ? `<span class="dimtag">dim ${d}: </span>` : "";
      const tOut = convTransposeOutputSize(i, k, s, pb, pa, dl, op);
      if (cfg.mode === "transposed") {
        lines.push(
          `<div data-dim="${d}" data-value="${tOut}">${tag}out = (${i} − 1)·${s} − ${pb} − ${pa} + ${dl}·(${k} − 1) + ${op} + 1 = <span class="val">${tOut}</span></div>`
        );
        if (plan.paddingMode !== "explicit") {
          lines.push(`<div class="dimtag">${tag}padding=${pyRepr(plan.paddingMode)} (TensorFlow's rule) means pads (${pb}, ${pa}) and output_padding ${op}</div>`);
        } else if (cfg.outputSize) {
          lines.push(`<div class="dimtag">${tag}output_size ${cfg.outputSize[d]} picks output_padding ${op} (it must stay below the stride)</div>`);
        }
      } else {
        const n = cfg.inSize[d];
        const cOut = convOutputSize(n, k, s, pb, pa, dl);
        lines.push(
          `<div data-dim="${d}" data-value="${cOut}">${tag}conv out = ⌊(${n} + ${pb} + ${pa} − ${dl}·(${k} − 1) − 1) / ${s}⌋ + 1 = <span class="val">${cOut}</span></div>`
        );
        if (cfg.padMode === "same" || cfg.padMode === "valid") {
          const rule = cfg.padMode === "same" ? `out = ⌈in / stride⌉ = ⌈${n} / ${s}⌉` : "no padding";
          lines.push(`<div class="dimtag">${tag}padding=${pyRepr(cfg.padMode)} (TensorFlow: ${rule}) means pads (${pb}, ${pa})</div>`);
        }
        const rem = n + pb + pa - dl * (k - 1) - 1 - (cOut - 1) * s;
        if (cfg.mode === "inverse" || rem) {
          lines.push(
            `<div class="dimtag">${tag}back: ConvTranspose gives (${cOut} − 1)·${s} − ${pb} − ${pa} + ${dl}·(${k} − 1) + 1 = ${tOut - op}, ` +
              `so output_padding = ${n} − ${tOut - op} = <span class="val">${op}</span> restores ${n}` +
              (rem ? ` (the convolution dropped ${rem} trailing position${rem > 1 ? "s" : ""})` : "") +
              "</div>"
          );
        }
      }
    }
    $("#formula").innerHTML = lines.join("");

    const eq = equivalentConv(plan);
    const items = [];
    for (let d = 0; d < plan.nd; d++) {
      const tag = plan.nd === 2 ? `dim ${d}: ` : "";
      const [a, b] = eq.pad[d];
      const padTxt = (v, side) => (v >= 0 ? `pad ${v} zero${v === 1 ? "" : "s"} ${side}` : `crop ${-v} ${side}`);
      const dk = plan.dilation[d] * (plan.kernel[d] - 1) + 1;
      const ph =
        Math.min(plan.stride[d], plan.outSize[d]) > PHASE_LIMIT || plan.kernel[d] > DRAW_KERNEL
          ? ""
          : phases(plan, d)
              .map((p) => `o ≡ ${p.residue}: tap${p.taps.length === 1 ? "" : "s"} {${p.taps.join(", ")}}`)
              .join("; ");
      items.push(
        `<li data-dim="${d}">${tag}insert <b>${eq.zerosBetween[d]}</b> zero${eq.zerosBetween[d] === 1 ? "" : "s"} between inputs ` +
          `(${plan.inSize[d]} → ${eq.upsampledSize[d]}), ${padTxt(a, "before")} and ${padTxt(b, "after")}, ` +
          `flip the kernel and dilate it by ${plan.dilation[d]} (it spans ${dk}), slide with stride 1 → ${plan.outSize[d]} outputs.` +
          ` <span class="dimtag">Polyphase (mod ${plan.stride[d]}): ${ph || "–"}.</span></li>`
      );
    }
    const what = cfg.mode === "conv" ? "The transposed convolution of this Conv (its backward pass, Cᵀ) is" : "This transposed convolution is";
    $("#equiv").innerHTML = `<p class="note" style="margin:0">${what} a stride-1 convolution (seeds 000 §2, 001):</p><ul>${items.join("")}</ul>`;
  }

  const PARAM_FIELDS = {
    input: ["in"],
    kernel_size: ["k"],
    stride: ["s"],
    dilation: ["d"],
    padding: ["p", "pb", "pa", "padmode"],
    output_padding: ["op"],
    output_size: ["os"],
    groups: ["g"],
    weight: ["co", "g"],
    in: ["in"],
    k: ["k"],
    s: ["s"],
    d: ["d"],
    p: ["p"],
    pb: ["pb"],
    pa: ["pa"],
    op: ["op"],
    os: ["os"],
    ci: ["ci"],
    co: ["co"],
    g: ["g"],
  };

  function markInvalid(param) {
    for (const f of PARAM_FIELDS[param] || []) {
      if (f === "padmode") continue;
      for (const id of [f, f + "-0", f + "-1"]) {
        const el = field(id);
        if (el) el.setAttribute("aria-invalid", "true");
      }
    }
  }

  // ---- Who reaches whom: the input, kernel and output grids ---------------------------------------------------
  const MAP_LIMIT = 2500; // cells per grid

  function gridBlock(plan, shape, role, cell, caption, sym) {
    const rows = shape.length === 1 ? 1 : shape[0];
    const cols = shape.length === 1 ? shape[0] : shape[1];
    const M = 1;
    const w = cols * cell + 2 * M, h = rows * cell + 2 * M;
    const parts = [];
    const one = shape.length === 1;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const idx = one ? [c] : [r, c];
        const k = key(idx);
        let attrs, cls, label, style = "";
        if (role === "in") {
          const reach = reached(plan, idx).map((p) => key(p[0]) + ":" + key(p[1])).join(";");
          attrs = `data-in="${k}" data-reach="${reach}"`;
          cls = "in";
          label = one ? String(c) : cell >= 30 ? k : "";
        } else if (role === "out") {
          const con = contributors(plan, idx).map((p) => key(p[0]) + ":" + key(p[1])).join(";");
          attrs = `data-out="${k}" data-contrib="${con}"`;
          cls = "out";
          label = one ? String(c) : cell >= 30 ? k : "";
        } else {
          attrs = `data-tap="${k}"`;
          cls = "tap";
          label = "w" + (one ? c : k.replace(",", ""));
          style = tapFill(tapColor(plan, idx));
        }
        parts.push(cellSVG(M + c * cell, M + r * cell, cell, cell, cls, attrs, label, style));
      }
    }
    const aria =
      role === "tap"
        ? "kernel taps"
        : `${role === "in" ? "input" : "output"} cells ${sym}; use the arrow keys to move, the highlight follows`;
    return (
      `<figure><figcaption>${caption}</figcaption>` +
      svgOpen(w, h, `class="grid-svg" data-grid="${role}" tabindex="0" role="group" aria-label="${esc(aria)}"`) +
      `<rect class="frame" x="0.5" y="0.5" width="${w - 1}" height="${h - 1}"/>` +
      parts.join("") +
      "</svg></figure>"
    );
  }

  function renderMap(r) {
    const box = $("#map-grids");
    box.dataset.drawn = "false";
    const { plan, cfg } = r;
    const sym = symbols(cfg.mode);
    const cellsIn = prod(plan.inSize), cellsOut = prod(plan.outSize);
    if (cellsIn > MAP_LIMIT || cellsOut > MAP_LIMIT) {
      box.innerHTML = `<p class="note">Too many cells to draw (${cellsIn} inputs, ${cellsOut} outputs; the limit is ${MAP_LIMIT} each). Make the sizes smaller to see the grids.</p>`;
      return;
    }
    const avail = widthOf(box, 800);
    let cell;
    if (plan.nd === 1) {
      cell = clamp(Math.floor(avail / Math.max(plan.outSize[0], plan.inSize[0], plan.kernel[0])), 12, 34);
    } else {
      const totalCols = plan.inSize[1] + plan.kernel[1] + plan.outSize[1];
      const sideBySide = Math.floor((avail - 60) / totalCols);
      cell = sideBySide >= 14 ? clamp(sideBySide, 14, 34) : clamp(Math.floor(avail / Math.max(plan.outSize[1], plan.inSize[1])), 8, 34);
    }
    const inName = cfg.mode === "transposed" ? "input x" : cfg.mode === "conv" ? "conv output y" : "ConvTranspose input y (the conv's output)";
    const outName = cfg.mode === "transposed" ? "output y" : cfg.mode === "conv" ? "conv input x" : "ConvTranspose output (size of the conv's input x)";
    const blocks = {
      in: gridBlock(plan, plan.inSize, "in", cell, `${inName} ${plan.inSize.join("×")}`, sym.pin),
      tap: gridBlock(plan, plan.kernel, "tap", cell, `kernel w ${plan.kernel.join("×")}`, "w"),
      out: gridBlock(plan, plan.outSize, "out", cell, `${outName} ${plan.outSize.join("×")}`, sym.pout),
    };
    const order = cfg.mode === "conv" ? ["out", "tap", "in"] : ["in", "tap", "out"];
    box.innerHTML = order.map((k) => blocks[k]).join("");
    box.dataset.drawn = "true";
  }

  // ---- Step by step: equivalent convolution, scatter, forward convolution -------------------------------------
  function stepCount(r, view) {
    if (!r || !r.plan) return 1;
    const p = r.plan;
    return view === "scatter" ? prod(p.inSize) : view === "conv" ? prod(p.inSize) : prod(p.outSize);
  }

  /** Per-dimension layout of a sliding-window view (the equivalent convolution or the forward convolution). */
  function windowDims(plan, view) {
    const eq = equivalentConv(plan);
    return range(plan.nd).map((d) => {
      const s = plan.stride[d], dl = plan.dilation[d], k = plan.kernel[d];
      const [pb, pa] = plan.padding[d];
      if (view === "equivalent") {
        const [b, a] = eq.pad[d];
        const U = eq.upsampledSize[d];
        const len = U + b + a;
        return {
          len,
          kind(q) {
            const u = q - b;
            if (u < 0 || u >= U) return { kind: "pad", idx: null };
            if (u % s === 0) return { kind: "in", idx: u / s };
            return { kind: "zero", idx: null };
          },
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
        taps: (j) => range(k).map((t) => ({ q: j * s + t * dl, t })),
        outLen: plan.inSize[d],
        anchor: (j) => j * s + (dl * (k - 1)) / 2,
      };
    });
  }

  function renderAnim(r) {
    const box = $("#anim-svg");
    const view = readUI().v;
    const plan = r.plan;
    const n = stepCount(r, view);
    step = clamp(step, 0, n - 1);
    const slider = field("step");
    slider.max = String(n - 1);
    slider.value = String(step);
    slider.setAttribute("aria-valuetext", `step ${step + 1} of ${n}`);
    box.dataset.step = String(step);
    box.dataset.steps = String(n);
    box.dataset.view = view;
    const sym = symbols(r.cfg.mode);
    const cells = view === "scatter" ? prod(plan.inSize) + prod(plan.full.map((f, d) => f + plan.outputPadding[d])) : prod(windowDims(plan, view).map((w) => w.len));
    if (cells > 6000) {
      box.innerHTML = `<p class="note">Too large to animate (${cells} cells).</p>`;
      $("#anim-caption").textContent = "";
      return;
    }
    const avail = widthOf(box, 800);
    if (view === "scatter") box.innerHTML = scatterSVG(plan, step, avail, sym);
    else box.innerHTML = windowSVG(plan, view, step, avail, sym);
    $("#anim-caption").textContent = `step ${step + 1}/${n}: ` + stepCaption(plan, view, step, sym);
  }

  function stepCaption(plan, view, st, sym) {
    if (view === "scatter") {
      const j = unflat(st, plan.inSize);
      const re = reached(plan, j);
      const total = prod(plan.kernel);
      const list = re.map(([o, t]) => `${sym.pout}${fmtIdx(o)} += ${sym.pin}${fmtIdx(j)}·w${fmtIdx(t)}`).join(", ");
      return (list || `${sym.pin}${fmtIdx(j)} reaches no output`) + (total > re.length ? `  (${total - re.length} cropped)` : "");
    }
    if (view === "conv") {
      const j = unflat(st, plan.inSize);
      const re = reached(plan, j);
      const terms = re.map(([o, t]) => `w${fmtIdx(t)}·${sym.pout}${fmtIdx(o)}`).join(" + ") || "0";
      return `forward conv: ${sym.pin}${fmtIdx(j)} = ${terms}`;
    }
    const o = unflat(st, plan.outSize);
    const con = contributors(plan, o);
    const terms = con.map(([j, t]) => `${sym.pin}${fmtIdx(j)}·w${fmtIdx(t)}`).join(" + ") || "0 (only zeros under the window)";
    const zeros = prod(plan.kernel) - con.length;
    return `${sym.pout}${fmtIdx(o)} = ${terms}` + (con.length && zeros ? `  (+ ${zeros} product${zeros === 1 ? "" : "s"} with inserted or padded zeros)` : "");
  }

  function windowSVG(plan, view, st, avail, sym) {
    const dims = windowDims(plan, view);
    const parts = [];
    const srcSym = view === "conv" ? sym.pout : sym.pin;
    const dstSym = view === "conv" ? sym.pin : sym.pout;
    if (plan.nd === 1) {
      const D = dims[0];
      const cw = clamp(Math.floor((avail - 10) / D.len), 9, 34);
      const x0 = 4, yA = 18, yK = yA + cw + 8, yO = yK + cw + 22;
      const cur = st;
      const taps = D.taps(cur);
      parts.push(`<text class="lbl" x="${x0}" y="12" style="font-size:11px">${view === "equivalent" ? `${srcSym}, zeros inserted, padded` : `${srcSym}, padded`}</text>`);
      for (let q = 0; q < D.len; q++) {
        const kd = D.kind(q);
        const label = kd.kind === "in" ? String(kd.idx) : "0";
        parts.push(cellSVG(x0 + q * cw, yA, cw, cw, kd.kind === "in" ? "in" : kd.kind, "", label));
      }
      for (const { q, t } of taps) {
        parts.push(cellSVG(x0 + q * cw, yK, cw, cw, "tap", "", "w" + t, tapFill(tapColor(plan, [t]))));
      }
      const qs = taps.map((p) => p.q);
      parts.push(`<rect class="window" x="${x0 + Math.min(...qs) * cw - 1}" y="${yA - 2}" width="${(Math.max(...qs) - Math.min(...qs) + 1) * cw + 2}" height="${2 * cw + 12}" rx="3"/>`);
      for (let o = 0; o < D.outLen; o++) {
        const cls = o === cur ? "out now" : o < cur ? "out done" : "out";
        parts.push(cellSVG(x0 + D.anchor(o) * cw, yO, cw, cw, cls, "", String(o)));
      }
      const cx = x0 + (D.anchor(cur) + 0.5) * cw;
      parts.push(`<line x1="${cx}" y1="${yK + cw + 1}" x2="${cx}" y2="${yO - 1}" stroke="#7a5b00" stroke-width="1.5" marker-end=""/>`);
      parts.push(`<text class="lbl" x="${x0}" y="${yO + cw + 14}" style="font-size:11px">${dstSym}${view === "equivalent" ? ": flipped kernel · window" : ""}</text>`);
      const w = Math.max(x0 + Math.max(D.len, D.anchor(D.outLen - 1) + 1) * cw + 6, 200);
      return svgOpen(w, yO + cw + 22) + parts.join("") + "</svg>";
    }
    // 2-D: padded grid with the window, and the output grid
    const [D0, D1] = dims;
    const sideBySide = avail > 560;
    const cw = sideBySide
      ? clamp(Math.floor((avail - 40) / (D1.len + D1.outLen)), 6, 30)
      : clamp(Math.floor((avail - 10) / Math.max(D1.len, D1.outLen)), 6, 30);
    const cur = unflat(st, [D0.outLen, D1.outLen]);
    const t0 = D0.taps(cur[0]), t1 = D1.taps(cur[1]);
    const x0 = 4, y0 = 18;
    parts.push(`<text class="lbl" x="${x0}" y="12" style="font-size:11px">${view === "equivalent" ? `${srcSym}: zeros inserted, padded` : `${srcSym}, padded`}</text>`);
    const tapAt = {};
    for (const a of t0) for (const b of t1) tapAt[a.q + "," + b.q] = [a.t, b.t];
    for (let q0 = 0; q0 < D0.len; q0++) {
      for (let q1 = 0; q1 < D1.len; q1++) {
        const k0 = D0.kind(q0), k1 = D1.kind(q1);
        let cls = k0.kind === "pad" || k1.kind === "pad" ? "pad" : k0.kind === "zero" || k1.kind === "zero" ? "zero" : "in";
        let style = "";
        const tp = tapAt[q0 + "," + q1];
        if (tp) style = tapFill(tapColor(plan, tp), cls === "in" ? 1 : 0.3);
        parts.push(cellSVG(x0 + q1 * cw, y0 + q0 * cw, cw, cw, cls, "", cls === "in" && cw >= 26 ? `${k0.idx},${k1.idx}` : "", style));
      }
    }
    const q0s = t0.map((p) => p.q), q1s = t1.map((p) => p.q);
    parts.push(
      `<rect class="window" x="${x0 + Math.min(...q1s) * cw - 1}" y="${y0 + Math.min(...q0s) * cw - 1}" width="${(Math.max(...q1s) - Math.min(...q1s) + 1) * cw + 2}" height="${(Math.max(...q0s) - Math.min(...q0s) + 1) * cw + 2}" rx="3"/>`
    );
    const gx = sideBySide ? x0 + D1.len * cw + 30 : x0;
    const gy = sideBySide ? y0 : y0 + D0.len * cw + 30;
    parts.push(`<text class="lbl" x="${gx}" y="${gy - 6}" style="font-size:11px">${dstSym}</text>`);
    for (let a = 0; a < D0.outLen; a++) {
      for (let b = 0; b < D1.outLen; b++) {
        const flat = a * D1.outLen + b;
        const cls = flat === st ? "out now" : flat < st ? "out done" : "out";
        parts.push(cellSVG(gx + b * cw, gy + a * cw, cw, cw, cls, "", cw >= 26 ? `${a},${b}` : ""));
      }
    }
    const w = Math.max(x0 + D1.len * cw, gx + D1.outLen * cw) + 6;
    const h = Math.max(y0 + D0.len * cw, gy + D0.outLen * cw) + 6;
    return svgOpen(w, h) + parts.join("") + "</svg>";
  }

  function scatterSVG(plan, st, avail, sym) {
    const j = unflat(st, plan.inSize);
    const parts = [];
    // "full" positions f = j*s + t*d; the output keeps f in [pb, pb + out)
    const F = plan.full.map((f, d) => Math.max(f, plan.padding[d][0] + plan.outSize[d]));
    const kept = (f, d) => f >= plan.padding[d][0] && f < plan.padding[d][0] + plan.outSize[d];
    const kindAt = (f, d) => (kept(f, d) ? (f >= plan.full[d] ? "extra" : "out") : "crop");
    // how many products each full position has received after this step
    const counts = {};
    for (let n = 0; n <= st; n++) {
      const jj = unflat(n, plan.inSize);
      for (const t of product(plan.kernel.map((k) => range(k)))) {
        const f = jj.map((v, d) => v * plan.stride[d] + t[d] * plan.dilation[d]);
        counts[key(f)] = (counts[key(f)] || 0) + 1;
      }
    }
    const now = {};
    for (const t of product(plan.kernel.map((k) => range(k)))) {
      now[key(j.map((v, d) => v * plan.stride[d] + t[d] * plan.dilation[d]))] = t;
    }
    const maxCount = Math.max(1, ...Object.values(counts));
    const shade = (c) => `fill:rgba(45,106,42,${(0.15 + 0.6 * (c / maxCount)).toFixed(2)})`;
    if (plan.nd === 1) {
      const L = F[0];
      const cw = clamp(Math.floor((avail - 10) / L), 9, 34);
      const x0 = 4, yA = 18, yB = yA + cw + 40;
      parts.push(`<text class="lbl" x="${x0}" y="12" style="font-size:11px">${sym.pin}[${j[0]}] scatters ${sym.pin}[${j[0]}]·w</text>`);
      for (let i = 0; i < plan.inSize[0]; i++) {
        parts.push(cellSVG(x0 + i * plan.stride[0] * cw, yA, cw, cw, i === j[0] ? "in now" : "in", "", String(i)));
      }
      for (let f = 0; f < L; f++) {
        const k = kindAt(f, 0);
        const c = counts[String(f)] || 0;
        const t = now[String(f)];
        let cls = k, style = "";
        if (t) style = tapFill(tapColor(plan, t));
        else if (c && k !== "crop") style = shade(c);
        const label = k === "crop" ? "✕" : String(f - plan.padding[0][0]);
        parts.push(cellSVG(x0 + f * cw, yB, cw, cw, cls, "", label, style));
        if (t) {
          parts.push(`<line class="edge" x1="${x0 + (j[0] * plan.stride[0] + 0.5) * cw}" y1="${yA + cw}" x2="${x0 + (f + 0.5) * cw}" y2="${yB}" stroke="${tapColor(plan, t)}"/>`);
        }
      }
      parts.push(`<text class="lbl" x="${x0}" y="${yB + cw + 14}" style="font-size:11px">${sym.pout} (✕ cropped, dotted: output_padding, shade: sum so far)</text>`);
      const w = x0 + Math.max(L, (plan.inSize[0] - 1) * plan.stride[0] + 1) * cw + 6;
      return svgOpen(Math.max(w, 330), yB + cw + 22) + parts.join("") + "</svg>";
    }
    const sideBySide = avail > 560;
    const cw = sideBySide
      ? clamp(Math.floor((avail - 40) / (plan.inSize[1] + F[1])), 6, 30)
      : clamp(Math.floor((avail - 10) / Math.max(F[1], plan.inSize[1])), 6, 30);
    const x0 = 4, y0 = 18;
    parts.push(`<text class="lbl" x="${x0}" y="12" style="font-size:11px">${sym.pin}</text>`);
    for (let a = 0; a < plan.inSize[0]; a++) {
      for (let b = 0; b < plan.inSize[1]; b++) {
        const isNow = a === j[0] && b === j[1];
        parts.push(cellSVG(x0 + b * cw, y0 + a * cw, cw, cw, isNow ? "in now" : "in", "", cw >= 26 ? `${a},${b}` : ""));
      }
    }
    const gx = sideBySide ? x0 + plan.inSize[1] * cw + 30 : x0;
    const gy = sideBySide ? y0 : y0 + plan.inSize[0] * cw + 30;
    parts.push(`<text class="lbl" x="${gx}" y="${gy - 6}" style="font-size:11px">${sym.pout}: full positions (grey = cropped)</text>`);
    for (let a = 0; a < F[0]; a++) {
      for (let b = 0; b < F[1]; b++) {
        const k0 = kindAt(a, 0), k1 = kindAt(b, 1);
        const cls = k0 === "crop" || k1 === "crop" ? "crop" : k0 === "extra" || k1 === "extra" ? "extra" : "out";
        const c = counts[a + "," + b] || 0;
        const t = now[a + "," + b];
        let style = "";
        if (t) style = tapFill(tapColor(plan, t));
        else if (c && cls !== "crop") style = shade(c);
        parts.push(cellSVG(gx + b * cw, gy + a * cw, cw, cw, cls, "", c && cw >= 16 ? String(c) : "", style));
      }
    }
    const w = Math.max(x0 + plan.inSize[1] * cw, gx + F[1] * cw) + 6;
    const h = Math.max(y0 + plan.inSize[0] * cw, gy + F[0] * cw) + 6;
    return svgOpen(w, h) + parts.join("") + "</svg>";
  }

  // ---- The matrix Cᵀ (or C for a convolution) -----------------------------------------------------------------
  const MATRIX_SIDE = 100;
  const MATRIX_CELLS = 6400;

  function renderMatrix(r) {
    const box = $("#matrix-svg");
    const { plan, cfg } = r;
    const nIn = prod(plan.inSize), nOut = prod(plan.outSize);
    const isC = cfg.mode === "conv";
    $("#matrix-h").textContent = isC ? "The matrix C" : "The matrix Cᵀ";
    const sym = symbols(cfg.mode);
    // rows and columns: Cᵀ is (outputs × inputs); C is (inputs × outputs) of the plan
    const rows = isC ? nIn : nOut, cols = isC ? nOut : nIn;
    $("#matrix-note").textContent = isC
      ? `C is ${rows}×${cols}: row = a conv output ${sym.pin} (flattened row-major), column = a conv input ${sym.pout}; the entry names the kernel tap. The transposed convolution multiplies by Cᵀ (seed 001).`
      : `Cᵀ is ${rows}×${cols}: ${sym.pout} = Cᵀ·${sym.pin} with inputs and outputs flattened row-major; the entry names the kernel tap. C itself is the convolution whose backward pass this is (seed 001).`;
    box.dataset.drawn = "false";
    if (rows > MATRIX_SIDE || cols > MATRIX_SIDE || rows * cols > MATRIX_CELLS) {
      box.innerHTML = `<p class="note">The matrix is ${rows}×${cols}; it is drawn up to ${MATRIX_SIDE} rows and columns (${MATRIX_CELLS} entries). Make the sizes smaller to see it.</p>`;
      return;
    }
    const avail = widthOf(box, 800);
    const hd = 26;
    const cw = clamp(Math.min(Math.floor((avail - hd - 4) / cols), Math.floor(560 / rows)), 5, 24);
    const parts = [];
    const nzAt = {};
    for (let a = 0; a < nIn; a++) {
      const j = unflat(a, plan.inSize);
      for (const [o, t] of reached(plan, j)) {
        const b = plan.nd === 1 ? o[0] : o[0] * plan.outSize[1] + o[1];
        nzAt[isC ? a + "|" + b : b + "|" + a] = { t, j, o };
      }
    }
    const rowIdx = (n) => unflat(n, isC ? plan.inSize : plan.outSize);
    const colIdx = (n) => unflat(n, isC ? plan.outSize : plan.inSize);
    const rowAttr = isC ? "data-mxin" : "data-mxout";
    const colAttr = isC ? "data-mxout" : "data-mxin";
    const fsz = clamp(cw * 0.45, 6, 10);
    for (let c = 0; c < cols; c++) {
      if (cw >= 12 || c % 5 === 0) {
        parts.push(`<text class="hd" ${colAttr}="${key(colIdx(c))}" x="${hd + c * cw + cw / 2}" y="${hd / 2}" style="font-size:${fsz}px">${c}</text>`);
      }
    }
    for (let rr = 0; rr < rows; rr++) {
      if (cw >= 12 || rr % 5 === 0) {
        parts.push(`<text class="hd" ${rowAttr}="${key(rowIdx(rr))}" x="${hd / 2}" y="${hd + rr * cw + cw / 2}" style="font-size:${fsz}px">${rr}</text>`);
      }
      for (let c = 0; c < cols; c++) {
        const nz = nzAt[rr + "|" + c];
        const ik = key(isC ? rowIdx(rr) : colIdx(c)), ok = key(isC ? colIdx(c) : rowIdx(rr));
        const attrs = `data-mx="${ok}|${ik}" data-mxrow="${rr}" data-mxcol="${c}"` + (nz ? ` data-tapidx="${key(nz.t)}"` : "");
        const style = nz ? tapFill(tapColor(plan, nz.t)) : "fill:#fafbfc";
        const label = nz && cw >= 18 ? (plan.nd === 1 ? String(nz.t[0]) : nz.t.join("")) : "";
        parts.push(cellSVG(hd + c * cw, hd + rr * cw, cw, cw, nz ? "nz" : "z", attrs, label, style));
      }
    }
    box.innerHTML =
      svgOpen(hd + cols * cw + 4, hd + rows * cw + 4, `class="mx" role="img" aria-label="${esc($("#matrix-note").textContent)}"`) +
      parts.join("") +
      "</svg>";
    box.dataset.drawn = "true";
  }

  // ---- Seed 000's graph ----------------------------------------------------------------------------------------
  function renderGraph(r) {
    const box = $("#graph-svg");
    const { plan, cfg } = r;
    $("#graph-dim-row").hidden = plan.nd === 1;
    const d = plan.nd === 1 ? 0 : Number(field("graph-dim").value) || 0;
    box.dataset.dim = String(d);
    const sym = symbols(cfg.mode);
    const nIn = plan.inSize[d], s = plan.stride[d], dl = plan.dilation[d], k = plan.kernel[d];
    const pb = plan.padding[d][0], out = plan.outSize[d];
    const F = Math.max(plan.full[d], pb + out);
    box.dataset.drawn = "false";
    if (F > 160 || nIn * k > 2000) {
      box.innerHTML = `<p class="note">Too many nodes to draw along this dimension (${nIn} inputs, ${F} output positions).</p>`;
      return;
    }
    const avail = widthOf(box, 800);
    const sp = clamp(Math.floor((avail - 60) / Math.max(F, 1)), 14, 44);
    const rad = clamp(sp * 0.36, 5, 13);
    const x0 = 50, yTop = 22, yBot = 22 + clamp(F * 7, 90, 170);
    const parts = [];
    const xin = (j) => x0 + (j * s + (dl * (k - 1)) / 2) * sp;
    const xout = (f) => x0 + f * sp;
    for (let j = 0; j < nIn; j++) {
      for (let t = 0; t < k; t++) {
        const f = j * s + t * dl;
        const o = f - pb;
        const keptEdge = o >= 0 && o < out;
        parts.push(
          `<line class="edge${keptEdge ? "" : " faint"}" data-ge="${j}|${t}" data-geo="${o}" x1="${xin(j)}" y1="${yTop + rad}" x2="${xout(f)}" y2="${yBot - rad}" stroke="${tapColorFlat(t, k)}"${keptEdge ? "" : ' stroke-dasharray="3 3"'}/>`
        );
      }
    }
    for (let j = 0; j < nIn; j++) {
      parts.push(`<g class="node in" data-gin="${j}"><circle cx="${xin(j)}" cy="${yTop}" r="${rad}"/>${rad >= 8 ? `<text x="${xin(j)}" y="${yTop}">${j}</text>` : ""}</g>`);
    }
    for (let f = 0; f < F; f++) {
      const o = f - pb;
      const isKept = o >= 0 && o < out;
      const cls = !isKept ? "crop" : f >= plan.full[d] ? "extra" : "out";
      parts.push(
        `<g class="node ${cls}"${isKept ? ` data-gout="${o}"` : ""}><circle cx="${xout(f)}" cy="${yBot}" r="${rad}"/>${rad >= 8 ? `<text x="${xout(f)}" y="${yBot}">${isKept ? o : ""}</text>` : ""}</g>`
      );
    }
    parts.push(`<text class="lbl" x="4" y="${yTop + 4}" style="font-size:12px">${sym.pin}</text>`);
    parts.push(`<text class="lbl" x="4" y="${yBot + 4}" style="font-size:12px">${sym.pout}</text>`);
    const legend = range(Math.min(k, 12))
      .map((t, n) => `<g><rect x="${x0 + n * 46}" y="${yBot + rad + 10}" width="12" height="4" fill="${tapColorFlat(t, k)}"/><text class="lbl" x="${x0 + n * 46 + 16}" y="${yBot + rad + 14}" style="font-size:10px">w${t}</text></g>`)
      .join("");
    const w = Math.max(xout(F - 1), xin(nIn - 1)) + rad + 10;
    box.innerHTML =
      svgOpen(Math.max(w, x0 + Math.min(k, 12) * 46 + 10), yBot + rad + 24, `role="img" aria-label="Graph: every input connects to the outputs it reaches, one edge per kernel tap"`) +
      parts.join("") +
      legend +
      "</svg>";
    box.dataset.drawn = "true";
  }

  // ---- Code for PyTorch, TensorFlow / Keras and tconv ---------------------------------------------------------
  const intOrTuple = (a) => (a.every((v) => v === a[0]) ? String(a[0]) : pyRepr(a));

  function torchCode(r) {
    const { plan, cfg } = r;
    const nd = plan.nd;
    const dimsName = nd === 1 ? "L" : "H, W";
    const L = [];
    const sym = plan.padding.every(([b, a]) => b === a);
    const slices = (lens) => plan.padding.map(([b, a], d) => `${b}:${lens[d] - a}`).join(", ");
    const fullOp = plan.full.map((f, d) => f + plan.outputPadding[d]);
    const opt = (name, v, def) => (v.every((x) => x === def) ? "" : `, ${name}=${intOrTuple(v)}`);
    if (cfg.mode === "transposed") {
      L.push("import torch", "from torch import nn", "");
      L.push(`x = torch.randn(1, ${cfg.inChannels}, ${cfg.inSize.join(", ")})  # (N, C_in, ${dimsName})`);
      if (plan.paddingMode !== "explicit") {
        L.push(`# padding=${pyRepr(plan.paddingMode)} (TensorFlow's rule) is pads ${pyRepr(plan.padding)} and output_padding ${pyRepr(plan.outputPadding)} here`);
      }
      const useSize = sym && cfg.outputSize && plan.paddingMode === "explicit";
      let args = `${cfg.inChannels}, ${cfg.outChannels}, kernel_size=${intOrTuple(plan.kernel)}, stride=${intOrTuple(plan.stride)}`;
      if (sym) args += `, padding=${intOrTuple(plan.padding.map((p) => p[0]))}`;
      if (!useSize) args += opt("output_padding", plan.outputPadding, 0);
      args += opt("dilation", plan.dilation, 1) + (cfg.groups !== 1 ? `, groups=${cfg.groups}` : "");
      L.push(`tconv = nn.ConvTranspose${nd}d(${args})`);
      if (useSize) L.push(`y = tconv(x, output_size=${pyRepr(plan.outSize)})  # picks output_padding=${intOrTuple(plan.outputPadding)}`);
      else if (sym) L.push("y = tconv(x)");
      else {
        L.push(`# PyTorch pads symmetrically; crop (before, after) = ${pyRepr(plan.padding)} from the unpadded result`);
        L.push(`y = tconv(x)[..., ${slices(fullOp)}]`);
      }
      L.push(`print(tuple(y.shape))  # ${pyRepr([1, cfg.outChannels, ...plan.outSize])}`);
      return L.join("\n");
    }
    const cin = cfg.inChannels, cout = cfg.outChannels;
    const padLine = nd === 1 ? `(${plan.padding[0][0]}, ${plan.padding[0][1]})` : `(${plan.padding[1][0]}, ${plan.padding[1][1]}, ${plan.padding[0][0]}, ${plan.padding[0][1]})`;
    L.push("import torch", "from torch import nn");
    if (!sym) L.push("import torch.nn.functional as F");
    L.push("", `x = torch.randn(1, ${cin}, ${cfg.inSize.join(", ")})  # (N, C_in, ${dimsName})`);
    if (cfg.padMode === "same" || cfg.padMode === "valid") {
      L.push(`# padding=${pyRepr(cfg.padMode)} (TensorFlow's rule) is pads ${pyRepr(plan.padding)} here`);
    }
    let cargs = `${cin}, ${cout}, kernel_size=${intOrTuple(plan.kernel)}, stride=${intOrTuple(plan.stride)}`;
    if (sym) cargs += `, padding=${intOrTuple(plan.padding.map((p) => p[0]))}`;
    cargs += opt("dilation", plan.dilation, 1) + (cfg.groups !== 1 ? `, groups=${cfg.groups}` : "");
    L.push(`conv = nn.Conv${nd}d(${cargs})`);
    L.push(sym ? "y = conv(x)" : `y = conv(F.pad(x, ${padLine}))  # asymmetric padding, last dimension first`);
    if (cfg.mode === "conv") {
      L.push(`print(tuple(y.shape))  # ${pyRepr([1, cout, ...plan.inSize])}`);
      return L.join("\n");
    }
    let targs = `${cout}, ${cin}, kernel_size=${intOrTuple(plan.kernel)}, stride=${intOrTuple(plan.stride)}`;
    if (sym) targs += `, padding=${intOrTuple(plan.padding.map((p) => p[0]))}`;
    targs += opt("output_padding", plan.outputPadding, 0) + opt("dilation", plan.dilation, 1) + (cfg.groups !== 1 ? `, groups=${cfg.groups}` : "");
    L.push(`up = nn.ConvTranspose${nd}d(${targs})`);
    L.push(sym ? "x_back = up(y)" : `x_back = up(y)[..., ${slices(fullOp)}]  # crop the asymmetric padding`);
    L.push(`print(tuple(y.shape), tuple(x_back.shape))  # ${pyRepr([1, cout, ...plan.inSize])} ${pyRepr([1, cin, ...plan.outSize])}`);
    L.push("assert x_back.shape == x.shape");
    return L.join("\n");
  }

  function kerasCode(r) {
    const { plan, cfg } = r;
    const nd = plan.nd;
    const D = `${nd}D`;
    const L = ["import tensorflow as tf", ""];
    const v = (a) => (nd === 1 ? String(a[0]) : pyRepr(a));
    const pairs = (p) => (nd === 1 ? `(${p[0][0]}, ${p[0][1]})` : pyRepr(p));
    const chLast = cfg.mode === "transposed" ? cfg.inChannels : cfg.inChannels;
    L.push(`x = tf.random.normal((1, ${cfg.inSize.join(", ")}, ${chLast}))  # channels last: (N, ${nd === 1 ? "L" : "H, W"}, C)`);
    const g = cfg.groups;
    if (cfg.mode === "transposed") {
      const cout = cfg.outChannels;
      const filters = g > 1 ? `${cout / g}` : `${cout}`;
      let layer;
      const post = [];
      if (plan.paddingMode !== "explicit" && !cfg.outputSize) {
        layer = `tf.keras.layers.Conv${D}Transpose(${filters}, kernel_size=${v(plan.kernel)}, strides=${v(plan.stride)}, padding="${plan.paddingMode}"${plan.dilation.some((x) => x !== 1) ? `, dilation_rate=${v(plan.dilation)}` : ""})`;
      } else if (plan.paddingMode !== "explicit") {
        // a requested output size with TensorFlow padding: the low-level op takes output_shape
        L.push(`w = tf.random.normal((${plan.kernel.join(", ")}, ${cout}, ${cfg.inChannels}))  # (*kernel, C_out, C_in)`);
        L.push(
          `y = tf.nn.conv_transpose(x, w, output_shape=(1, ${plan.outSize.join(", ")}, ${cout}), strides=${v(plan.stride)}, padding="${plan.paddingMode.toUpperCase()}"${plan.dilation.some((x) => x !== 1) ? `, dilations=${v(plan.dilation)}` : ""})`
        );
        if (g > 1) L.push("# tf.nn.conv_transpose has no groups: split the channels and concatenate, as below for layers");
        L.push(`print(y.shape)  # ${pyRepr([1, ...plan.outSize, cout])}`);
        return L.join("\n");
      } else {
        // Keras pads only 'valid' or 'same': compute the uncropped result ('valid' + output_padding), then crop
        const opK = plan.outputPadding.map((o, d) => Math.min(o, plan.stride[d] - 1));
        const lens = plan.full.map((f, d) => f + opK[d]);
        const ends = plan.full.map((f, d) => f + plan.outputPadding[d] - plan.padding[d][1]);
        const cropA = lens.map((l, d) => Math.max(l - ends[d], 0));
        const zpad = lens.map((l, d) => Math.max(ends[d] - l, 0));
        const noBias = zpad.some((z) => z > 0);
        layer =
          `tf.keras.layers.Conv${D}Transpose(${filters}, kernel_size=${v(plan.kernel)}, strides=${v(plan.stride)}, padding="valid", ` +
          `output_padding=${v(opK)}${plan.dilation.some((x) => x !== 1) ? `, dilation_rate=${v(plan.dilation)}` : ""}${noBias ? ", use_bias=False" : ""})`;
        if (plan.padding.some(([b]) => b > 0) || cropA.some((c) => c > 0)) {
          post.push(`y = tf.keras.layers.Cropping${D}(${pairs(plan.padding.map(([b], d) => [b, cropA[d]]))})(y)  # padding crops (before, after)`);
        }
        if (noBias) {
          post.push("# Keras needs output_padding < strides; the remaining output_padding positions receive no input (zeros)");
          post.push(`y = tf.keras.layers.ZeroPadding${D}(${pairs(zpad.map((z) => [0, z]))})(y)`);
        }
      }
      if (g > 1) {
        L.push(`# Keras ConvTranspose layers have no groups: one layer per group on its slice of the channels`);
        L.push(`layers = [${layer} for _ in range(${g})]`);
        L.push(`y = tf.concat([layer(xg) for layer, xg in zip(layers, tf.split(x, ${g}, axis=-1))], axis=-1)`);
      } else {
        L.push(`layer = ${layer}`);
        L.push("y = layer(x)");
      }
      L.push(...post);
      L.push(`print(y.shape)  # ${pyRepr([1, ...plan.outSize, cout])}`);
      return L.join("\n");
    }
    const cin = cfg.inChannels, cout = cfg.outChannels;
    const anyPad = plan.padding.some(([b, a]) => b || a);
    const tfMode = cfg.padMode === "same" || cfg.padMode === "valid" ? cfg.padMode : null;
    const dil = plan.dilation.some((x) => x !== 1) ? `, dilation_rate=${v(plan.dilation)}` : "";
    if (dil && plan.stride.some((x) => x !== 1)) L.push("# note: Keras Conv layers refuse strides > 1 together with dilation_rate > 1");
    L.push(`conv = tf.keras.layers.Conv${D}(${cout}, kernel_size=${v(plan.kernel)}, strides=${v(plan.stride)}, padding="${tfMode || "valid"}"${dil}${g !== 1 ? `, groups=${g}` : ""})`);
    L.push(anyPad && !tfMode ? `y = conv(tf.keras.layers.ZeroPadding${D}(${pairs(plan.padding)})(x))` : "y = conv(x)");
    if (cfg.mode === "conv") {
      L.push(`print(y.shape)  # ${pyRepr([1, ...plan.inSize, cout])}`);
      return L.join("\n");
    }
    const layer = `tf.keras.layers.Conv${D}Transpose(${g > 1 ? cin / g : cin}, kernel_size=${v(plan.kernel)}, strides=${v(plan.stride)}, padding="valid", output_padding=${v(plan.outputPadding)}${dil})`;
    if (g > 1) {
      L.push("# Keras ConvTranspose layers have no groups: one layer per group on its slice of the channels");
      L.push(`ups = [${layer} for _ in range(${g})]`);
      L.push(`x_back = tf.concat([up(yg) for up, yg in zip(ups, tf.split(y, ${g}, axis=-1))], axis=-1)`);
    } else {
      L.push(`up = ${layer}`);
      L.push("x_back = up(y)");
    }
    if (anyPad) L.push(`x_back = tf.keras.layers.Cropping${D}(${pairs(plan.padding)})(x_back)`);
    L.push(`print(y.shape, x_back.shape)  # ${pyRepr([1, ...plan.inSize, cout])} ${pyRepr([1, ...plan.outSize, cin])}`);
    return L.join("\n");
  }

  function tconvCode(r) {
    const L = ["import tconv", "", `plan = ${r.call}`];
    if (r.error) {
      L.push(r.error instanceof ConfigError ? `# raises tconv.ConfigError: ${r.error.message}` : `# (the page refuses this: ${r.error.message})`);
      return L.join("\n");
    }
    const p = r.plan;
    L.push(`print(plan.out_size)         # ${pyRepr(p.outSize)}`);
    L.push(`print(plan.padding)          # ${pyRepr(p.padding)}`);
    L.push(`print(plan.output_padding)   # ${pyRepr(p.outputPadding)}`);
    const mid = p.outSize.map((o) => Math.floor(o / 2));
    if (prod(p.kernel) <= DRAW_KERNEL) L.push(`print(plan.contributors(${pyRepr(mid)}))  # ${pyRepr(contributors(p, mid))}`);
    return L.join("\n");
  }

  function renderCode(r) {
    const g = r.error ? null : r;
    $("#code-tconv").textContent = tconvCode(r);
    if (!g) {
      const msg = `# This configuration is refused:\n# ${r.error.message}`;
      $("#code-torch").textContent = msg;
      $("#code-keras").textContent = msg;
      return;
    }
    $("#code-torch").textContent = torchCode(g);
    $("#code-keras").textContent = kerasCode(g);
  }

  // ---- Which settings give a size (tconv.arith.solve) ------------------------------------------------------
  const SOLVE_LIMITS = { "sv-k": ["max_kernel", 64], "sv-s": ["max_stride", 64], "sv-d": ["max_dilation", 8] };
  const SOLVE_SHOWN = 12;

  function renderSolve() {
    const mode = readUI().m;
    const transposed = mode === "transposed";
    const box = $("#sv-list");
    const err = $("#sv-error");
    box.innerHTML = "";
    err.hidden = true;
    const read = (id, name) => {
      const t = field(id).value.trim();
      if (!/^[+-]?\d+$/.test(t)) throw new PageError(id, `${name}: enter a whole number`);
      const v = Number(t);
      const lim = SOLVE_LIMITS[id];
      if (lim && v > lim[1]) throw new PageError(id, `${lim[0]}: at most ${lim[1]} here`);
      if (Math.abs(v) > FIELD_LIMIT) throw new PageError(id, `${name}: ${t} is too large for this page`);
      return v;
    };
    let args, sols;
    try {
      args = [read("sv-in", "input_size"), read("sv-out", "output_size"), read("sv-k", "max_kernel"), read("sv-s", "max_stride"), read("sv-d", "max_dilation")];
      sols = solve(args[0], args[1], transposed, args[2], args[3], args[4]);
    } catch (e) {
      if (!(e instanceof ConfigError || e instanceof PageError)) throw e;
      err.hidden = false;
      err.innerHTML = `<span id="sv-error-text">${esc(e.message)}</span>`;
      box.dataset.count = "0";
      return;
    }
    const call = `tconv.arith.solve(${args[0]}, ${args[1]}, transposed=${transposed ? "True" : "False"}, max_kernel=${args[2]}, max_stride=${args[3]}, max_dilation=${args[4]})`;
    $("#sv-note").innerHTML =
      `${transposed ? "ConvTranspose" : "Conv"} settings mapping ${args[0]} to ${args[1]} along one dimension, best first ` +
      `(<code>${esc(call)}</code>): exact, then even overlap (kernel a multiple of the stride: no checkerboard), ` +
      "no dilation, padding nearest 'same'. Choose one to apply it to every dimension.";
    box.dataset.count = String(sols.length);
    if (!sols.length) {
      box.innerHTML = `<li class="note">No ${transposed ? "ConvTranspose" : "Conv"} within these bounds maps ${args[0]} to ${args[1]}.</li>`;
      return;
    }
    box.innerHTML = sols
      .slice(0, SOLVE_SHOWN)
      .map((x) => {
        const txt = `k=${x.kernel}, s=${x.stride}, p=${x.padding}` + (transposed ? `, op=${x.output_padding}` : "") + (x.dilation > 1 ? `, d=${x.dilation}` : "");
        const tags = [x.exact ? "exact" : transposed ? "needs output_padding" : "drops inputs", x.even_overlap ? "even overlap" : ""].filter(Boolean).join(", ");
        return `<li><button type="button" data-sol="${x.rank}" data-k="${x.kernel}" data-s="${x.stride}" data-p="${x.padding}" data-op="${x.output_padding}" data-d="${x.dilation}">${txt}</button><span class="tag">${tags}</span></li>`;
      })
      .join("") + (sols.length > SOLVE_SHOWN ? `<li class="note" style="list-style:none">… and ${sols.length - SOLVE_SHOWN} more</li>` : "");
  }

  function applySolution(btn) {
    const ui = readUI();
    const two = (v) => [String(v), String(v)];
    const n = field("sv-in").value.trim();
    Object.assign(ui, { in: two(n), k: two(btn.dataset.k), s: two(btn.dataset.s), p: two(btn.dataset.p), d: two(btn.dataset.d), pm: "sym", osOn: false });
    if (ui.m === "transposed") ui.op = two(btn.dataset.op);
    writeUI(ui);
    step = 0;
    update();
  }

  // ==============================================================================================================
  // Part 5. Hover and keyboard: who reaches whom, in every view at once
  // ==============================================================================================================
  let lit = [];

  function mark(sel, cls) {
    for (const el of $$(sel)) {
      el.classList.add(cls);
      lit.push([el, cls]);
    }
  }

  function clearMarks() {
    for (const [el, cls] of lit) el.classList.remove(cls);
    lit = [];
    $$("#graph-svg .edge.dimmed").forEach((e) => e.classList.remove("dimmed"));
  }

  function applyHighlight() {
    clearMarks();
    const info = $("#hover-info");
    const r = lastGood;
    if (!focusSel || !r) {
      info.innerHTML = "&nbsp;";
      return;
    }
    const plan = r.plan;
    const sym = symbols(r.cfg.mode);
    const { side, idx } = focusSel;
    const k = key(idx);
    const gd = plan.nd === 1 ? 0 : Number(field("graph-dim").value) || 0;
    if (side === "out") {
      const con = contributors(plan, idx);
      mark(`#map-grids [data-out="${k}"]`, "sel");
      for (const [j, t] of con) {
        mark(`#map-grids [data-in="${key(j)}"]`, "hl");
        mark(`#map-grids [data-tap="${key(t)}"]`, "hl");
        mark(`#matrix-svg [data-mx="${k}|${key(j)}"]`, "hl");
        mark(`#graph-svg [data-gin="${j[gd]}"]`, "hl");
        mark(`#graph-svg [data-ge="${j[gd]}|${t[gd]}"]`, "hl");
      }
      mark(`#matrix-svg [data-mx^="${k}|"]`, "rowsel");
      mark(`#matrix-svg [data-mxout="${k}"]`, "sel");
      mark(`#graph-svg [data-gout="${idx[gd]}"]`, "sel");
      const terms = con.map(([j, t]) => `${sym.pin}${fmtIdx(j)}·w${fmtIdx(t)}`).join(" + ");
      info.textContent =
        r.cfg.mode === "conv"
          ? `conv input ${sym.pout}${fmtIdx(idx)} is read by ${con.length ? con.map(([j, t]) => `${sym.pin}${fmtIdx(j)} (tap ${fmtIdx(t)})`).join(", ") : "no output"}`
          : `${sym.pout}${fmtIdx(idx)} = ${terms || "0 (no input reaches it: only the bias)"}`;
    } else if (side === "in") {
      const re = reached(plan, idx);
      mark(`#map-grids [data-in="${k}"]`, "sel");
      for (const [o, t] of re) {
        mark(`#map-grids [data-out="${key(o)}"]`, "hl");
        mark(`#map-grids [data-tap="${key(t)}"]`, "hl");
        mark(`#matrix-svg [data-mx="${key(o)}|${k}"]`, "hl");
        mark(`#graph-svg [data-gout="${o[gd]}"]`, "hl");
        mark(`#graph-svg [data-ge="${idx[gd]}|${t[gd]}"]`, "hl");
      }
      mark(`#matrix-svg [data-mx$="|${k}"]`, "colsel");
      mark(`#matrix-svg [data-mxin="${k}"]`, "sel");
      mark(`#graph-svg [data-gin="${idx[gd]}"]`, "sel");
      const list = re.map(([o, t]) => `${sym.pout}${fmtIdx(o)} (w${fmtIdx(t)})`).join(", ");
      info.textContent =
        r.cfg.mode === "conv"
          ? `conv output ${sym.pin}${fmtIdx(idx)} = ${re.map(([o, t]) => `w${fmtIdx(t)}·${sym.pout}${fmtIdx(o)}`).join(" + ") || "0"}`
          : `${sym.pin}${fmtIdx(idx)} reaches ${list || "no output (every tap is cropped)"}`;
    } else if (side === "tap") {
      mark(`#map-grids [data-tap="${k}"]`, "sel");
      const pairs = [];
      for (const j of product(plan.inSize.map((n) => range(n)))) {
        for (const [o, t] of reached(plan, j)) if (key(t) === k) pairs.push([j, o]);
      }
      for (const [j, o] of pairs) {
        mark(`#map-grids [data-in="${key(j)}"]`, "hl");
        mark(`#map-grids [data-out="${key(o)}"]`, "hl");
      }
      info.textContent = `tap w${fmtIdx(idx)} links ${pairs.length} (input, output) pair${pairs.length === 1 ? "" : "s"}`;
    }
    if ($$("#graph-svg .edge.hl").length) {
      $$("#graph-svg .edge:not(.hl)").forEach((e) => e.classList.add("dimmed"));
    }
  }

  function setFocus(sel) {
    focusSel = sel;
    applyHighlight();
  }

  function cellFromEvent(ev) {
    const g = ev.target.closest && ev.target.closest("[data-in],[data-out],[data-tap],[data-gin],[data-gout],[data-mx]");
    if (!g) return null;
    const parse = (s) => s.split(",").map(Number);
    if (g.dataset.in !== undefined) return { side: "in", idx: parse(g.dataset.in) };
    if (g.dataset.out !== undefined) return { side: "out", idx: parse(g.dataset.out) };
    if (g.dataset.tap !== undefined) return { side: "tap", idx: parse(g.dataset.tap) };
    if (g.dataset.mx !== undefined) {
      // a matrix entry: the output of its row (Cᵀ) or column (C)
      return { side: "out", idx: parse(g.dataset.mx.split("|")[0]) };
    }
    const plan = lastGood && lastGood.plan;
    if (!plan) return null;
    if (plan.nd === 2) return null; // the graph shows one dimension of a 2-D plan: no single cell to name
    if (g.dataset.gin !== undefined) return { side: "in", idx: [Number(g.dataset.gin)] };
    if (g.dataset.gout !== undefined) return { side: "out", idx: [Number(g.dataset.gout)] };
    return null;
  }

  function onGridKey(ev) {
    const svg = ev.target.closest(".grid-svg");
    if (!svg || !lastGood) return;
    const role = svg.dataset.grid;
    const plan = lastGood.plan;
    const shape = role === "in" ? plan.inSize : role === "out" ? plan.outSize : plan.kernel;
    const moves = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0], Home: null, End: null };
    if (!(ev.key in moves)) {
      if (ev.key === "Escape") setFocus(null);
      return;
    }
    ev.preventDefault();
    let idx = cursors[role] && cursors[role].length === shape.length ? cursors[role].slice() : shape.map(() => 0);
    if (ev.key === "Home") idx = shape.map(() => 0);
    else if (ev.key === "End") idx = shape.map((n) => n - 1);
    else if (cursors[role]) {
      const [dr, dc] = moves[ev.key];
      if (shape.length === 1) idx[0] += dr + dc;
      else {
        idx[0] += dr;
        idx[1] += dc;
      }
    }
    idx = idx.map((v, d) => clamp(v, 0, shape[d] - 1));
    cursors[role] = idx;
    setFocus({ side: role, idx });
  }

  // ==============================================================================================================
  // Part 6. Wiring: update, animation, URL hash, copy buttons, test hook
  // ==============================================================================================================
  function syncChrome(ui) {
    const b = document.body.classList;
    b.toggle("nd1", ui.nd === "1");
    b.toggle("mode-t", ui.m === "transposed");
    b.toggle("mode-conv", ui.m === "conv");
    const pm = ui.pm;
    b.toggle("pad-sym", pm === "sym");
    b.toggle("pad-pair", pm === "pair");
    b.toggle("os-on", ui.m === "transposed" && ui.osOn);
    const lbl = ui.m === "transposed" ? "input size" : "conv input size";
    field("lbl-in").textContent = lbl;
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

  function render(o) {
    const ui = readUI();
    syncChrome(ui);
    const r = compute(readUI());
    current = r;
    renderResult(r);
    if (!r.error && (prod(r.plan.kernel) > DRAW_KERNEL || r.plan.kernel.some((k) => k > 1000))) {
      // a giant kernel: the numbers above are exact, but drawing would take forever
      lastGood = r;
      const note = `<p class="note">The kernel (${r.plan.kernel.join("×")}) is too large to draw.</p>`;
      for (const id of ["map-grids", "anim-svg", "matrix-svg", "graph-svg"]) {
        $("#" + id).innerHTML = note;
        $("#" + id).dataset.drawn = "false";
      }
      $("#anim-caption").textContent = "";
      focusSel = null;
      applyHighlight();
    } else if (!r.error) {
      lastGood = r;
      renderMap(r);
      renderAnim(r);
      renderMatrix(r);
      renderGraph(r);
      if (focusSel) {
        const shape = focusSel.side === "in" ? r.plan.inSize : focusSel.side === "out" ? r.plan.outSize : r.plan.kernel;
        if (focusSel.idx.length !== shape.length || focusSel.idx.some((v, d) => v >= shape[d])) focusSel = null;
      }
      applyHighlight();
    }
    if (r.error && !lastGood) {
      const note = '<p class="note">Fix the configuration to see this view.</p>';
      for (const id of ["map-grids", "anim-svg", "matrix-svg", "graph-svg"]) $("#" + id).innerHTML = note;
      $("#equiv").innerHTML = note;
    }
    renderCode(r);
    renderSolve();
    $$(".card:not(#result):not(#solve)").forEach((c) => c.classList.toggle("stale", !!r.error));
    if (!o.fromHash) writeHash();
  }

  function writeHash() {
    const h = encodeHash(readUI(), step);
    if (location.hash !== h) history.replaceState(null, "", h);
  }

  function loadHash() {
    const dec = decodeHash(location.hash);
    if (!dec) return false;
    writeUI(dec.ui);
    step = dec.step;
    return true;
  }

  function setStep(n, keepPlaying) {
    if (!lastGood) return;
    const total = stepCount(lastGood, readUI().v);
    step = ((n % total) + total) % total;
    if (!keepPlaying) stopPlay();
    renderAnim(lastGood);
    writeHash();
  }

  function stopPlay() {
    if (playing) clearInterval(playing);
    playing = null;
    const b = field("play");
    b.textContent = "▶ play";
    b.setAttribute("aria-label", "Play");
    b.setAttribute("aria-pressed", "false");
  }

  function togglePlay() {
    if (playing) return stopPlay();
    const b = field("play");
    b.textContent = "⏸ pause";
    b.setAttribute("aria-label", "Pause");
    b.setAttribute("aria-pressed", "true");
    playing = setInterval(() => setStep(step + 1, true), 750);
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
    const r = current;
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
      const p = r.plan;
      const eq = equivalentConv(p);
      out.plan = {
        inSize: p.inSize, outSize: p.outSize, kernel: p.kernel, stride: p.stride, dilation: p.dilation,
        padding: p.padding, outputPadding: p.outputPadding, full: p.full, groups: p.groups,
        inChannels: p.inChannels, outChannels: p.outChannels, paddingMode: p.paddingMode,
        equivalent: { zerosBetween: eq.zerosBetween, upsampledSize: eq.upsampledSize, pad: eq.pad, kernelDilation: eq.kernelDilation },
        phases: range(p.nd).map((d) => (Math.min(p.stride[d], p.outSize[d]) > PHASE_LIMIT ? null : phases(p, d))),
        formula: $$("#formula [data-value]").map((el) => Number(el.dataset.value)),
      };
    }
    out.drawn = {
      map: $("#map-grids").dataset.drawn === "true",
      matrix: $("#matrix-svg").dataset.drawn === "true",
      graph: $("#graph-svg").dataset.drawn === "true",
    };
    out.step = step;
    out.steps = Number($("#anim-svg").dataset.steps || 1);
    out.hash = location.hash;
    return out;
  }

  function init() {
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
          writeUI(Object.assign(JSON.parse(JSON.stringify(DEFAULTS)), p.ui, { v: readUI().v }));
          step = 0;
          update();
        }
        ev.target.value = "";
        return;
      }
      if (ev.target.type === "radio" || ev.target.type === "checkbox" || ev.target.tagName === "SELECT") update();
    });
    field("reset").addEventListener("click", () => {
      writeUI(DEFAULTS);
      step = 0;
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
      else writeHash(); // an anchor: put the configuration back in the address
    });
    $$('input[name="view"]').forEach((el) =>
      el.addEventListener("change", () => {
        step = 0;
        if (lastGood) renderAnim(lastGood);
        writeHash();
      })
    );
    field("graph-dim").addEventListener("change", () => {
      if (lastGood) renderGraph(lastGood);
      applyHighlight();
      writeHash();
    });
    const solveBox = field("solve");
    solveBox.addEventListener("input", (ev) => {
      if (ev.target.tagName === "INPUT") renderSolve();
    });
    solveBox.addEventListener("click", (ev) => {
      const b = ev.target.closest && ev.target.closest("button[data-sol]");
      if (b) applySolution(b);
    });
    field("step-back").addEventListener("click", () => setStep(step - 1));
    field("step-fwd").addEventListener("click", () => setStep(step + 1));
    field("play").addEventListener("click", togglePlay);
    field("step").addEventListener("input", (ev) => setStep(Number(ev.target.value)));
    const views = field("views");
    views.addEventListener("mouseover", (ev) => {
      const c = cellFromEvent(ev);
      if (c) setFocus(c);
    });
    views.addEventListener("mouseleave", () => setFocus(null));
    views.addEventListener("keydown", (ev) => {
      if (ev.target.classList && ev.target.classList.contains("grid-svg")) onGridKey(ev);
    });
    views.addEventListener("focusin", (ev) => {
      const svg = ev.target.closest && ev.target.closest(".grid-svg");
      if (svg && lastGood) {
        const role = svg.dataset.grid;
        const plan = lastGood.plan;
        const shape = role === "in" ? plan.inSize : role === "out" ? plan.outSize : plan.kernel;
        if (!cursors[role] || cursors[role].length !== shape.length) cursors[role] = shape.map(() => 0);
        cursors[role] = cursors[role].map((v, d) => clamp(v, 0, shape[d] - 1));
        setFocus({ side: role, idx: cursors[role] });
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
    let resizeTimer = null;
    window.addEventListener("resize", () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => update({ fromHash: true }), 150);
    });
    update();
  }

  // The arithmetic is reachable from outside (tests, the console, Node); the page starts only in a browser.
  const root = typeof window !== "undefined" ? window : globalThis;
  root.tconv = {
    makePlan, convPlan, contributors, reached, equivalentConv, phases, indexMap,
    convOutputSize, convTransposeOutputSize, solve, pyRepr, compute, decodeHash, encodeHash, ConfigError, PageError,
  };
  if (typeof document !== "undefined") {
    root.tconvState = tconvState;
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
    else init();
  }
})();
