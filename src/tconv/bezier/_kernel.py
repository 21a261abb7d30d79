"""The compiled training step: forward, analytic backward and Adam for many models at once (numba).

One call trains every model for a chunk of epochs. Models run in parallel (``prange``: each model is one thread's
sequential loop, so the result does not depend on the thread count), and inside a model the batch axis is the inner,
vectorized loop. The arithmetic is the seed's model written out by hand:

    x_in = x + sigma_in * n_in                                   (input noise, §5.2)
    h    = tanh(We * x_in + be)           conv, stride 4         (encoder)
    c    = h + sigma_code * n_code                               (code noise, §5.1)
    out  = ConvT(c, Wd) + bd              transposed conv        (decoder)
    loss = mean((out - x)^2)

    dout = 2 (out - x) / (B * L)
    dWd[ch, k] = sum_{p, b} c[ch, p, b] dout[4p + k, b]          dbd = sum dout
    dc[ch, p, b] = sum_k Wd[ch, k] dout[4p + k, b]               (the correlation: the encoder's own operation)
    dz = dc (1 - h^2)
    dWe[ch, k] = sum_{p, b} dz[ch, p, b] x_in[4p + k, b]         dbe = sum dz

then torch's Adam (``lerp`` for the first moment, ``mul + addcmul`` for the second, bias corrections in double
precision, ``addcdiv`` for the update), all in float32 like the seed's parameters.

Layout of one model's parameter vector: ``We (C*K) | be (C) | Wd (C*K) | bd (1)``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

F32 = np.float32

# tanh in float32 by Eigen's rational approximation (generic_fast_tanh_float): within 3 ulp of the exact value,
# branch-free so that the batch loop vectorizes; the libm call costs ~5x more and is the largest single cost of a step.
_TANH_CLAMP = F32(7.90531110763549805)
_A13, _A11, _A9 = F32(-2.76076847742355e-16), F32(2.00018790482477e-13), F32(-8.60467152213735e-11)
_A7, _A5, _A3, _A1 = (
    F32(5.12229709037114e-08),
    F32(1.48572235717979e-05),
    F32(6.37261928875436e-04),
    F32(4.89352455891786e-03),
)
_B6, _B4, _B2, _B0 = (
    F32(1.19825839466702e-06),
    F32(1.18534705686654e-04),
    F32(2.26843463243900e-03),
    F32(4.89352518554385e-03),
)


@njit(inline="always", fastmath={"reassoc", "contract", "nsz", "arcp"})
def tanh32(z):
    x = min(max(z, -_TANH_CLAMP), _TANH_CLAMP)
    x2 = x * x
    p = x2 * _A13 + _A11
    p = x2 * p + _A9
    p = x2 * p + _A7
    p = x2 * p + _A5
    p = x2 * p + _A3
    p = x2 * p + _A1
    p = x * p
    q = x2 * _B6 + _B4
    q = x2 * q + _B2
    q = x2 * q + _B0
    return p / q


@njit(parallel=True, nogil=True, cache=True, fastmath={"reassoc", "contract", "nsz", "arcp"})
def train_chunk(
    data,  # (N, sum of lengths) float32: the data sets side by side (e.g. 7-point patches | 15-point curves)
    col0,  # (M,) int64: the first column of each model's data set
    lengths,  # (M,) int64: each model's input length L
    perms,  # (M, E, N) int32: each model's sample order for each epoch of the chunk
    noise,  # flat float32: each model's normal draws for the chunk, in the seed's draw order
    noise_off,  # (M,) int64: where each model's draws start in ``noise``
    in_sigma,  # (M,) float32: input-noise magnitude, 0 for none
    code_sigma,  # (M, C) float32: code-noise magnitudes per channel
    has_in,  # (M,) bool: the model draws input noise
    has_code,  # (M,) bool: the model draws code noise
    params,  # (M, n_par) float32, updated in place
    m1,  # (M, n_par) float32 Adam first moment, in place
    m2,  # (M, n_par) float32 Adam second moment, in place
    steps,  # (M,) int64 Adam step counts, in place
    lr,
    batch,
    channels,
    win,
    stride,
    losses,  # (M, E) float64 out: each epoch's mean batch loss
):
    n_models = params.shape[0]
    n_epochs = perms.shape[1]
    n = data.shape[0]
    max_len = 0
    for mi in range(n_models):
        max_len = max(max_len, lengths[mi])
    max_pos = (max_len - win) // stride + 1
    n_par = params.shape[1]
    cw = channels * win
    o_be, o_wd, o_bd = cw, cw + channels, 2 * cw + channels
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    one_m_b1 = F32(1.0 - beta1)
    b2 = F32(beta2)
    one_m_b2 = F32(1.0 - beta2)
    n_steps = (n + batch - 1) // batch
    for mi in prange(n_models):
        length = lengths[mi]
        positions = (length - win) // stride + 1
        c0 = col0[mi]
        x = np.empty((max_len, batch), dtype=F32)
        xin = np.empty((max_len, batch), dtype=F32)
        h = np.empty((channels, max_pos, batch), dtype=F32)
        c = np.empty((channels, max_pos, batch), dtype=F32)
        out = np.empty((max_len, batch), dtype=F32)
        dz = np.empty((channels, max_pos, batch), dtype=F32)
        row = np.empty(batch, dtype=F32)
        grad = np.empty(n_par, dtype=F32)
        p = params[mi]
        mom1 = m1[mi]
        mom2 = m2[mi]
        pos = noise_off[mi]
        sig_in = in_sigma[mi]
        for e in range(n_epochs):
            total = 0.0
            for k in range(n_steps):
                b0 = k * batch
                bs = min(batch, n - b0)
                # ---- gather the batch, transposed to (L, B) so that the batch axis is contiguous; add the input
                # noise (itemrand = randn(item.shape) * sigma, item shape (B, 1, L)) on the way
                if has_in[mi]:
                    for b in range(bs):
                        src = perms[mi, e, b0 + b]
                        base = pos + b * length
                        for i in range(length):
                            v = data[src, c0 + i]
                            x[i, b] = v
                            xin[i, b] = v + noise[base + i] * sig_in
                    pos += bs * length
                else:
                    for b in range(bs):
                        src = perms[mi, e, b0 + b]
                        for i in range(length):
                            v = data[src, c0 + i]
                            x[i, b] = v
                            xin[i, b] = v
                # ---- encoder: z = be + sum_k We[ch, k] x_in[4p + k]; h = tanh(z)
                for ch in range(channels):
                    for q in range(positions):
                        bias = p[o_be + ch]
                        for b in range(bs):
                            row[b] = bias
                        for t in range(win):
                            w = p[ch * win + t]
                            xi = q * stride + t
                            for b in range(bs):
                                row[b] += w * xin[xi, b]
                        for b in range(bs):
                            h[ch, q, b] = tanh32(row[b])
                # ---- code noise: coderand = randn(code.shape) * sigma: code shape (B, C, P)
                if has_code[mi]:
                    for ch in range(channels):
                        sc = code_sigma[mi, ch]
                        for q in range(positions):
                            base = pos + ch * positions + q
                            step = channels * positions
                            for b in range(bs):
                                c[ch, q, b] = h[ch, q, b] + noise[base + b * step] * sc
                    pos += bs * channels * positions
                else:
                    for ch in range(channels):
                        for q in range(positions):
                            for b in range(bs):
                                c[ch, q, b] = h[ch, q, b]
                # ---- decoder: out = bd + scatter of c[ch, q] * Wd[ch, t] to 4q + t
                bd = p[o_bd]
                for i in range(length):
                    for b in range(bs):
                        out[i, b] = bd
                for q in range(positions):
                    for ch in range(channels):
                        for t in range(win):
                            w = p[o_wd + ch * win + t]
                            oi = q * stride + t
                            for b in range(bs):
                                out[oi, b] += c[ch, q, b] * w
                # ---- loss and dout = 2 (out - x) / (B L), kept in ``out``
                scale = F32(2.0 / (bs * length))
                sq = 0.0
                for i in range(length):
                    for b in range(bs):
                        d = out[i, b] - x[i, b]
                        sq += d * d
                        out[i, b] = d * scale
                total += sq / (bs * length)
                # ---- decoder gradients
                g_bd = F32(0.0)
                for i in range(length):
                    for b in range(bs):
                        g_bd += out[i, b]
                grad[o_bd] = g_bd
                for ch in range(channels):
                    for t in range(win):
                        acc = F32(0.0)
                        for q in range(positions):
                            oi = q * stride + t
                            for b in range(bs):
                                acc += c[ch, q, b] * out[oi, b]
                        grad[o_wd + ch * win + t] = acc
                # ---- back through the decoder (a strided correlation) and tanh
                for ch in range(channels):
                    for q in range(positions):
                        for b in range(bs):
                            row[b] = 0.0
                        for t in range(win):
                            w = p[o_wd + ch * win + t]
                            oi = q * stride + t
                            for b in range(bs):
                                row[b] += w * out[oi, b]
                        for b in range(bs):
                            hv = h[ch, q, b]
                            dz[ch, q, b] = row[b] * (F32(1.0) - hv * hv)
                # ---- encoder gradients
                for ch in range(channels):
                    acc_b = F32(0.0)
                    for q in range(positions):
                        for b in range(bs):
                            acc_b += dz[ch, q, b]
                    grad[o_be + ch] = acc_b
                    for t in range(win):
                        acc = F32(0.0)
                        for q in range(positions):
                            xi = q * stride + t
                            for b in range(bs):
                                acc += dz[ch, q, b] * xin[xi, b]
                        grad[ch * win + t] = acc
                # ---- Adam, as torch.optim.Adam's single-tensor step
                steps[mi] += 1
                st = steps[mi]
                bc1 = 1.0 - beta1**st
                bc2 = 1.0 - beta2**st
                step_size = F32(lr / bc1)
                bc2_sqrt = F32(math.sqrt(bc2))
                for j in range(n_par):
                    g = grad[j]
                    mj = mom1[j] + one_m_b1 * (g - mom1[j])
                    vj = mom2[j] * b2 + one_m_b2 * g * g
                    mom1[j] = mj
                    mom2[j] = vj
                    denom = math.sqrt(vj) / bc2_sqrt + F32(eps)
                    p[j] = p[j] - step_size * (mj / denom)
            losses[mi, e] = total / n_steps
