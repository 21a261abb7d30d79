/* tconv explorer, part 1 of the page: the arithmetic.
 *
 * This file is the only second copy of tconv's arithmetic: a port of tconv.geometry's make_plan / conv_plan, the
 * plan's index mapping (index_map, contributors, reached, overlap_counts, equivalent_conv, phases) and tconv.arith's
 * sizes and solve. It raises the same errors with the same messages; tests/explorer holds it to the Python, in
 * Chromium and under Node. It touches no DOM: Node loads it as it is.
 *
 * Along each spatial dimension, input element j reaches output element o through kernel tap t exactly when
 *     o = j * stride + t * dilation - pad_before      and   0 <= o < out_size
 * (fullIndex and indexMap below); every picture reads the mapping through them.
 */
(function (root) {
  "use strict";

  const MAX_DIM = 2147483648; // geometry.MAX_DIM = 1 << 31
  const MAX_ELEMENTS = 1n << 40n; // geometry.MAX_ELEMENTS: N * C_out * prod(out_size)
  // Fields stay within 2**26 so that every size the plan computes, (i - 1) * s + d * (k - 1) + 1, stays below 2**53
  // and JavaScript's doubles compute it exactly, as Python's ints do (larger outputs are still refused as absurd).
  const FIELD_LIMIT = 1 << 26;

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
    if (typeof p === "number") p = [p];
    if (p.length === 1 && nd !== 1) p = range(nd).map(() => p[0]);
    if (p.length !== nd) {
      throw new ConfigError("padding", padding, `must have ${nd} entries, one per spatial dimension (got ${p.length})`);
    }
    return p.map((e) => (typeof e === "number" ? [e, e] : [e[0], e[1]]));
  }

  function checkPlainPadding(padding) {
    // geometry._check_plain_padding: plain ints never negative (torch); pairs may be (zeros outside the full output)
    const ints = typeof padding === "number" ? [padding] : padding.filter((e) => typeof e === "number");
    if (ints.some((e) => e < 0)) {
      throw new ConfigError(
        "padding",
        padding,
        "must be non-negative in every dimension (for zeros outside the full output, JAX/ONNX style, " +
          "give (before, after) pairs: padding=((-1, -1),))"
      );
    }
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
      if (mode !== "valid") [lo, hi, def] = [(i - 1) * s + 1, i * s, i * s];
      else [lo, hi, def] = [(i - 1) * s + dk, i * s + dk - 1, i * s + Math.max(dk - s, 0)];
      const n = sizeT === null ? def : sizeT[dim];
      if (!(lo <= n && n <= hi)) {
        const rule = mode !== "valid" ? "ceil(output / stride)" : "ceil((output - dilated_kernel + 1) / stride)";
        throw new ConfigError(
          "output_size",
          sizeT,
          `is not reachable with padding=${pyRepr(mode)}: ${rule} must equal the input size ${i} in dimension ${dim}, ` +
            `so the output must be between ${lo} and ${hi}, got ${n}`
        );
      }
      if (mode === "same_lower") {
        // ONNX SAME_LOWER as its spec writes it: the odd pixel cropped at the start; a negative total pads both sides
        const total = (i - 1) * s + dk - n;
        pads.push([total - fdiv(total, 2), fdiv(total, 2)]);
        ops.push(0);
        return;
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
      const lead = batch === null ? 1 : 2; // torch: (N, C, *spatial) for a batched input, (C, *spatial) unbatched
      if (osz.length === nd + lead) osz = osz.slice(lead);
      if (osz.length !== nd) {
        const shape = batch === null ? "(C, *spatial)" : "(N, C, *spatial)";
        throw new ConfigError(
          "output_size",
          outputSize,
          `must have ${nd} spatial entries (or ${nd + lead}: ${shape} of this input)`
        );
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
      if (mode !== "same" && mode !== "same_lower" && mode !== "valid") {
        throw new ConfigError(
          "padding",
          padding,
          "must be an int, per-dimension ints or pairs, 'same', 'same_lower' or 'valid'"
        );
      }
      [pads, opT] = tfPadding(mode, inSize, kernel, strideT, dilT, full, sizeT, opT);
    } else {
      pads = normalizePadding(padding, nd);
      checkPlainPadding(padding);
      if (sizeT !== null) opT = outputPaddingForSize(sizeT, full, pads, strideT, outputSize);
    }
    const limit = strideT.map((s, d) => Math.max(s, dilT[d]));
    if (opT.some((o, d) => o >= limit[d])) {
      throw new ConfigError(
        "output_padding",
        opT,
        `must be smaller than max(stride, dilation)=${pyRepr(limit)} in every dimension (to add more zeros at the ` +
          "end, give a negative padding after: padding=((before, -extra), ...))"
      );
    }
    const out = full.map((f, d) => f - pads[d][0] - pads[d][1] + opT[d]);
    if (out.some((o) => o < 0)) {
      throw new ConfigError(
        "padding",
        padding,
        `leaves an output of size ${pyRepr(out)}: every dimension must be >= 0 ` +
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

  // ---- what a plan knows (Plan.index_map, contributors, reached, overlap_counts, equivalent_conv, phases) -------
  // Every view reads the mapping through fullIndex / indexMap below (and the tables built from it): no other line of
  // the page writes o = j * stride + t * dilation - pad_before again.

  /** The uncropped position j * stride + t * dilation of input j's tap t along dim (pad_before not yet removed). */
  function fullIndex(plan, dim, j, t) {
    return j * plan.stride[dim] + t * plan.dilation[dim];
  }

  /** Plan.index_map: (in_size[dim] x kernel[dim]) output index each (input, tap) pair reaches; -1 if cropped. */
  function indexMap(plan, dim) {
    const pb = plan.padding[dim][0], out = plan.outSize[dim], k = plan.kernel[dim];
    const rows = new Array(plan.inSize[dim]);
    for (let j = 0; j < rows.length; j++) {
      const row = (rows[j] = new Array(k));
      for (let t = 0; t < k; t++) {
        const o = fullIndex(plan, dim, j, t) - pb;
        row[t] = o >= 0 && o < out ? o : -1;
      }
    }
    return rows;
  }

  const TABLES = new WeakMap();

  /**
   * The index map of one dimension as flat tables, built once per plan from indexMap: ``fwd[j * k + t]`` is the
   * output (or -1), and the outputs' (input, tap) pairs in CSR form: output o owns ``pairs[2n], pairs[2n + 1]`` for
   * n in ``start[o] .. start[o + 1]``, inputs ascending. ``count`` is the per-dimension overlap count.
   */
  function dimTable(plan, dim) {
    let per = TABLES.get(plan);
    if (!per) TABLES.set(plan, (per = []));
    if (per[dim]) return per[dim];
    const m = indexMap(plan, dim);
    const nIn = plan.inSize[dim], k = plan.kernel[dim], out = plan.outSize[dim];
    const fwd = new Int32Array(nIn * k);
    const count = new Int32Array(out);
    for (let j = 0; j < nIn; j++) {
      for (let t = 0; t < k; t++) {
        const o = m[j][t];
        fwd[j * k + t] = o;
        if (o >= 0) count[o]++;
      }
    }
    const start = new Int32Array(out + 1);
    for (let o = 0; o < out; o++) start[o + 1] = start[o] + count[o];
    const fill = start.slice(0, out);
    const pairs = new Int32Array(2 * start[out]);
    for (let j = 0; j < nIn; j++) {
      for (let t = 0; t < k; t++) {
        const o = fwd[j * k + t];
        if (o < 0) continue;
        pairs[2 * fill[o]] = j;
        pairs[2 * fill[o] + 1] = t;
        fill[o]++;
      }
    }
    return (per[dim] = { fwd, count, start, pairs, k, nIn, out });
  }

  /** Per-dimension (index, tap) lists: the pairs of output o (inputs) or of input j (outputs) along dim. */
  function outPairs(plan, dim, o) {
    const T = dimTable(plan, dim);
    const res = [];
    for (let n = T.start[o]; n < T.start[o + 1]; n++) res.push([T.pairs[2 * n], T.pairs[2 * n + 1]]);
    return res;
  }

  function inPairs(plan, dim, j) {
    const T = dimTable(plan, dim);
    const res = [];
    for (let t = 0; t < T.k; t++) {
      const o = T.fwd[j * T.k + t];
      if (o >= 0) res.push([o, t]);
    }
    return res;
  }

  function combine(perDim) {
    return product(perDim)
      .map((c) => [c.map((p) => p[0]), c.map((p) => p[1])])
      .sort(cmpTuple);
  }

  /** Plan.contributors: every (input index, tap) pair that reaches output position outIndex, sorted. */
  function contributors(plan, outIndex) {
    return combine(outIndex.map((o, dim) => outPairs(plan, dim, o)));
  }

  /** Plan.reached: every (output index, tap) pair input position inIndex reaches (cropped ones omitted), sorted. */
  function reached(plan, inIndex) {
    return combine(inIndex.map((j, dim) => inPairs(plan, dim, j)));
  }

  /** How many (input, tap) pairs land on output o along dim; an output's count is the product over dims. */
  function overlapCount(plan, dim, o) {
    return dimTable(plan, dim).count[o];
  }

  /** Plan.overlap_counts as one flat row-major Int32Array (the transposed convolution of ones). */
  function overlapCounts(plan) {
    const c = range(plan.nd).map((d) => dimTable(plan, d).count);
    if (plan.nd === 1) return Int32Array.from(c[0]);
    const [h, w] = plan.outSize;
    const res = new Int32Array(h * w);
    for (let a = 0; a < h; a++) {
      const ca = c[0][a];
      for (let b = 0; b < w; b++) res[a * w + b] = ca * c[1][b];
    }
    return res;
  }

  /** The input range [lo, hi) along dim whose taps can land in outputs [oLo, oHi) (from the tables). */
  function inputsReaching(plan, dim, oLo, oHi) {
    const T = dimTable(plan, dim);
    let lo = Infinity, hi = -Infinity;
    for (let o = oLo; o < oHi; o++) {
      if (T.start[o] === T.start[o + 1]) continue;
      lo = Math.min(lo, T.pairs[2 * T.start[o]]);
      hi = Math.max(hi, T.pairs[2 * (T.start[o + 1] - 1)] + 1);
    }
    return lo === Infinity ? null : [lo, hi];
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

  /** How many outputs no (input, tap) pair reaches (only the bias lands there): k < s, or output_padding > pad_after. */
  function unreachedCount(plan) {
    const zeros = range(plan.nd).map((d) => dimTable(plan, d).count.reduce((n, c) => n + (c === 0 ? 1 : 0), 0));
    const total = prod(plan.outSize);
    const reachedAll = plan.outSize.map((n, d) => n - zeros[d]);
    return total - prod(reachedAll);
  }

  // ---- tconv.arith's user-facing sizes ---------------------------------------------------------------------------
  /** floor((n + pb + pa - d(k-1) - 1) / s) + 1: the forward convolution's output size along one dimension. */
  const convOutputSize = (n, k, s, pb, pa, d) => fdiv(n + pb + pa - d * (k - 1) - 1, s) + 1;
  /** (i - 1)s - pb - pa + d(k-1) + op + 1: the transposed convolution's output size along one dimension. */
  const convTransposeOutputSize = (i, k, s, pb, pa, d, op) => (i - 1) * s - pb - pa + d * (k - 1) + op + 1;

  /** tconv.arith.SOLVE_LIMIT: the most (kernel, stride, dilation) triples solve tries. */
  const SOLVE_LIMIT = 2000;

  /**
   * tconv.arith.solve: every (kernel, stride, padding, output_padding, dilation) within the bounds that maps
   * inputSize to outputSize along one dimension, ranked by the count map (how many (input, tap) pairs land on each
   * output; for a conv, how many (window, tap) pairs read each input): no holes first, then a flat map ("even
   * overlap"), then the smallest max/min; then exact, no dilation, padding nearest "same", smaller kernel, stride
   * and padding. Padding is solved, not searched.
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
    const tries = kmax * smax * dmax;
    if (tries > SOLVE_LIMIT) {
      throw new ConfigError("max_kernel", maxKernel, `with max_stride=${smax} and max_dilation=${dmax} asks for ${tries} ` +
        `(kernel, stride, dilation) triples; the limit is ${SOLVE_LIMIT}: lower the bounds (a kernel longer than the ` +
        "output only adds cropped taps)");
    }
    const found = [];
    const add = (k, s, p, op, d, exact) => {
      // the count map over the transposed output (or the conv's input): the plan's o = j*s + t*d - p
      const n = transposed ? o : i, m = transposed ? i : o;
      const counts = new Int32Array(n);
      for (let j = 0; j < m; j++) {
        for (let t = 0; t < k; t++) {
          const q = j * s + t * d - p;
          if (q >= 0 && q < n) counts[q]++;
        }
      }
      let holes = 0, lo = Infinity, hi = 0;
      for (const c of counts) {
        if (c === 0) holes++;
        lo = Math.min(lo, c);
        hi = Math.max(hi, c);
      }
      const even = holes === 0 && lo === hi;
      const ratio = lo ? hi / lo : hi;
      const span = d * (k - 1);
      const sortKey = [holes > 0 ? 1 : 0, holes, even ? 0 : 1, ratio, exact ? 0 : 1, d > 1 ? 1 : 0, Math.abs(2 * p - span), k, s, p, d, op];
      found.push({ sortKey, kind: transposed ? "conv_transpose" : "conv", input_size: i, output_size: o, kernel: k,
        stride: s, padding: p, output_padding: op, dilation: d, exact, even_overlap: even, holes, min_count: lo,
        max_count: hi });
    };
    for (let k = 1; k <= kmax; k++) {
      for (let d = 1; d <= (k > 1 ? dmax : 1); d++) {
        const span = d * (k - 1);
        const top = pmax === null ? span : pmax;
        for (let s = 1; s <= smax; s++) {
          if (transposed) {
            for (let op = 0; op < (allowOutputPadding ? Math.max(s, d) : 1); op++) {
              const twice = (i - 1) * s + span + op + 1 - o;
              if (pmod(twice, 2) === 0 && twice >= 0 && twice / 2 <= top) add(k, s, twice / 2, op, d, op === 0);
            }
          } else {
            const lo = -fdiv(-((o - 1) * s + span + 1 - i), 2);
            const hi = fdiv((o - 1) * s + s - 1 + span + 1 - i, 2);
            for (let p = Math.max(lo, 0); p <= Math.min(hi, top); p++) add(k, s, p, 0, d, pmod(i + 2 * p - span - 1, s) === 0);
          }
        }
      }
    }
    found.sort((a, b) => cmpTuple(a.sortKey, b.sortKey));
    return found.map(({ sortKey, ...sol }, rank) => Object.assign(sol, { rank }));
  }

  root.tconv = Object.assign(root.tconv || {}, {
    MAX_DIM, MAX_ELEMENTS, FIELD_LIMIT, ConfigError, pyRepr, pmod, fdiv, range, prod, product, cmpTuple,
    makePlan, convPlan, fullIndex, indexMap, dimTable, outPairs, inPairs, contributors, reached, overlapCount,
    overlapCounts, inputsReaching, equivalentConv, phases, unreachedCount, convOutputSize, convTransposeOutputSize,
    solve, SOLVE_LIMIT,
  });
})(typeof window !== "undefined" ? window : globalThis);
