/* tconv explorer, part 4: the result card (sizes, formula, the equivalent convolution, channels and groups), the
 * code for PyTorch / Keras / tconv, and "which settings give a size?".
 */
(function (T) {
  "use strict";
  const U = T.ui;
  const { $, $$, field, S, esc } = U;
  const {
    ConfigError, PageError, pyRepr, prod, range, fdiv, makePlan, convPlan, contributors, equivalentConv, phases, solve,
    unreachedCount, convOutputSize, convTransposeOutputSize, FIELD_LIMIT,
  } = T;
  const PHASE_LIMIT = 256;
  const DRAW_KERNEL = 4096;

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
    if (r.error && S.lastGood) return; // keep the last valid picture, dimmed
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
    $("#equiv").innerHTML = `<p class="note" style="margin:0">${what} a stride-1 convolution (Dumoulin &amp; Visin's convolution arithmetic guide):</p><ul>${items.join("")}</ul>`;
    renderGroups(g);
  }

  // ---- Channels and groups ------------------------------------------------------------------------------------
  const CHANNELS_DRAWN = 24;

  /** Which input channels each output channel reads: groups split both sides into matching blocks. */
  function renderGroups(r) {
    const box = $("#groups-svg");
    const { cfg } = r;
    const g = cfg.groups;
    // a Conv reads in_channels and writes out_channels; its inverse maps them back (the picture is the Conv's)
    const cin = cfg.inChannels, cout = cfg.outChannels;
    const nIn = Math.min(cin, CHANNELS_DRAWN), nOut = Math.min(cout, CHANNELS_DRAWN);
    const perIn = cin / g, perOut = cout / g;
    const left = cfg.mode === "transposed" ? "in" : "in", right = "out";
    const note = $("#groups-note");
    const weight = cfg.mode === "transposed" ? `(${cin}, ${perOut}, ${cfg.kernel.join(", ")})` : `(${cout}, ${perIn}, ${cfg.kernel.join(", ")})`;
    note.textContent =
      g === 1
        ? `groups=1: every one of the ${cout} output channel${cout === 1 ? "" : "s"} sums over all ${cin} input channel${cin === 1 ? "" : "s"}; the weight is ${weight}.`
        : `groups=${g}: the ${cin} input channels split into ${g} blocks of ${perIn}, the ${cout} output channels into ${g} blocks of ${perOut}; ` +
          `an output channel reads only its block's inputs (weight ${weight}: ${g}× fewer weights than groups=1).`;
    const rowH = 18, x0 = 70, x1 = 250, y0 = 22;
    const h = y0 + Math.max(nIn, nOut) * rowH + 8;
    const yIn = (c) => y0 + c * rowH * (Math.max(nIn, nOut) / Math.max(nIn, 1)) + rowH / 2;
    const yOut = (c) => y0 + c * rowH * (Math.max(nIn, nOut) / Math.max(nOut, 1)) + rowH / 2;
    const col = (grp) => U.tapColorFlat(grp, Math.max(g, 2));
    const parts = [`<text class="lbl" x="4" y="14" style="font-size:11px">${left} channels</text>`, `<text class="lbl" x="${x1 - 10}" y="14" style="font-size:11px">${right} channels</text>`];
    for (let a = 0; a < nIn; a++) {
      const ga = Math.floor(a / perIn);
      for (let b = 0; b < nOut; b++) {
        if (Math.floor(b / perOut) !== ga) continue;
        parts.push(`<line class="edge" x1="${x0 + 14}" y1="${yIn(a)}" x2="${x1}" y2="${yOut(b)}" stroke="${col(ga)}"/>`);
      }
    }
    for (let a = 0; a < nIn; a++) {
      const ga = Math.floor(a / perIn);
      parts.push(`<g class="chan" data-chin="${a}" data-group="${ga}"><rect x="${x0}" y="${yIn(a) - 7}" width="14" height="14" rx="2" style="fill:${col(ga)}"/><text class="lbl" x="${x0 - 6}" y="${yIn(a) + 4}" text-anchor="end" style="font-size:10px">${a}</text></g>`);
    }
    for (let b = 0; b < nOut; b++) {
      const gb = Math.floor(b / perOut);
      parts.push(`<g class="chan" data-chout="${b}" data-group="${gb}"><rect x="${x1}" y="${yOut(b) - 7}" width="14" height="14" rx="2" style="fill:${col(gb)}"/><text class="lbl" x="${x1 + 20}" y="${yOut(b) + 4}" style="font-size:10px">${b}</text></g>`);
    }
    if (cin > nIn || cout > nOut) parts.push(`<text class="lbl" x="4" y="${h - 2}" style="font-size:10px">(first ${CHANNELS_DRAWN} of each drawn)</text>`);
    box.innerHTML = U.svgOpen(320, h + 6, `role="img" aria-label="${esc(note.textContent)}"`) + parts.join("") + "</svg>";
    box.dataset.groups = String(g);
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

  let solveKey = null; // what the list shows: it is rebuilt only when its inputs change

  function renderSolve() {
    const mode = U.readUI().m;
    const transposed = mode === "transposed";
    const cur = S.lastGood && S.lastGood.plan && S.lastGood.cfg.mode === mode ? S.lastGood : null;
    const current = cur ? [cur.plan.kernel[0], cur.plan.stride[0], cur.plan.padding[0][0], cur.plan.outputPadding[0], cur.plan.dilation[0]] : null;
    const skey = [mode, ...["sv-in", "sv-out", "sv-k", "sv-s", "sv-d"].map((id) => field(id).value), String(current)].join("|");
    if (skey === solveKey) return;
    solveKey = skey;
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
      `(<code>${esc(call)}</code>), ranked by the count map (how many taps land on each position): no holes, then even ` +
      "overlap (a flat count map: no checkerboard), then the smallest max/min; then exact, no dilation, padding nearest " +
      "'same'. Choose one to apply it to every dimension.";
    box.dataset.count = String(sols.length);
    if (!sols.length) {
      box.innerHTML = `<li class="note">No ${transposed ? "ConvTranspose" : "Conv"} within these bounds maps ${args[0]} to ${args[1]}.</li>`;
      return;
    }
    const isNow = (x) =>
      current && x.kernel === current[0] && x.stride === current[1] && x.padding === current[2] && x.dilation === current[4] && (!transposed || x.output_padding === current[3]);
    const item = (x) => {
        const txt = `k=${x.kernel}, s=${x.stride}, p=${x.padding}` + (transposed ? `, op=${x.output_padding}` : "") + (x.dilation > 1 ? `, d=${x.dilation}` : "");
        const gaps = unreachedOf(x);
        const tags = [x.exact ? "exact" : transposed ? "needs output_padding" : "drops inputs", x.even_overlap ? "even overlap (flat count map)" : x.holes ? "" : `overlap ${x.min_count}..${x.max_count}`].filter(Boolean).join(", ");
        const warn = gaps
          ? `<span class="warn" data-unreached="${gaps}">⚠ ${gaps} ${transposed ? "output" : "input"}${gaps === 1 ? "" : "s"} ${transposed ? "no input reaches (bias only)" : "the kernel never reads"}</span>`
          : "";
        const now = isNow(x);
        return `<li${now ? ' class="now"' : ""}><button type="button" data-sol="${x.rank}" data-k="${x.kernel}" data-s="${x.stride}" data-p="${x.padding}" data-op="${x.output_padding}" data-d="${x.dilation}"${gaps ? ` data-unreached="${gaps}"` : ""}>${txt}</button><span class="tag">${tags}${now ? ", the current setting" : ""}</span>${warn}</li>`;
    };
    // the list starts from the current setting: it is shown (marked) even when it ranks below the first few
    const later = sols.slice(SOLVE_SHOWN).find(isNow);
    box.innerHTML =
      sols.slice(0, SOLVE_SHOWN).map(item).join("") +
      (sols.length > SOLVE_SHOWN ? `<li class="note" style="list-style:none">… and ${sols.length - SOLVE_SHOWN} more${later ? `; the current setting ranks ${later.rank + 1}:` : ""}</li>` : "") +
      (later ? item(later).replace("<li", `<li value="${later.rank + 1}"`) : "");
  }

  /** How many outputs of a solution's 1-D ConvTranspose no input reaches (for a Conv: inputs its kernel never reads). */
  const unreachedMemo = new Map();

  function unreachedOf(x) {
    const k = [x.kind, x.input_size, x.kernel, x.stride, x.padding, x.output_padding, x.dilation].join(",");
    if (!unreachedMemo.has(k)) {
      if (unreachedMemo.size > 2000) unreachedMemo.clear();
      unreachedMemo.set(k, unreachedCount1(x));
    }
    return unreachedMemo.get(k);
  }

  function unreachedCount1(x) {
    try {
      const plan =
        x.kind === "conv_transpose"
          ? makePlan([1, 1, x.input_size], [1, 1, x.kernel], [x.stride], [x.padding], [x.output_padding], 1, [x.dilation], null)
          : convPlan([x.input_size], [x.kernel], [x.stride], [x.padding], [x.dilation]);
      return unreachedCount(plan);
    } catch (e) {
      if (e instanceof ConfigError) return 0;
      throw e;
    }
  }

  /** The solver starts from the current setting: its sizes along dimension 0, bounds that include its kernel. */
  function syncSolve(r) {
    if (!r || r.error) return;
    const { plan, cfg } = r;
    const tr = cfg.mode === "transposed";
    const vals = {
      "sv-in": tr ? plan.inSize[0] : cfg.inSize[0],
      "sv-out": tr ? plan.outSize[0] : plan.inSize[0],
      "sv-k": Math.min(64, Math.max(7, plan.kernel[0])),
      "sv-s": Math.min(64, Math.max(4, plan.stride[0])),
      "sv-d": Math.min(8, Math.max(1, plan.dilation[0])),
    };
    for (const [id, v] of Object.entries(vals)) field(id).value = String(v);
  }

  function applySolution(btn) {
    const ui = U.readUI();
    const two = (v) => [String(v), String(v)];
    const n = field("sv-in").value.trim();
    Object.assign(ui, { in: two(n), k: two(btn.dataset.k), s: two(btn.dataset.s), p: two(btn.dataset.p), d: two(btn.dataset.d), pm: "sym", osOn: false });
    if (ui.m === "transposed") ui.op = two(btn.dataset.op);
    U.writeUI(ui);
    S.step = 0;
    S.center = null;
    U.update();
  }

  Object.assign(U, { renderResult, renderCode, renderSolve, syncSolve, applySolution, markInvalid, PHASE_LIMIT, DRAW_KERNEL });
})(globalThis.tconv);
