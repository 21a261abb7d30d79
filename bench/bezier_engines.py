"""The two alternatives to the compiled kernel, kept for measurement (``bench/bezier.py``) and as cross-checks.

Both train ``M`` plain 7-point models stacked along a first axis, one optimizer step per batch, with the seed's Adam:

* :func:`numpy_steps` — one hand-fused NumPy step with analytic gradients (batched matrix products over the models);
* :func:`torch_vmap_steps` — the seed's modules written functionally (``conv1d`` + tanh + ``conv_transpose1d``),
  gradients by ``torch.func.grad`` vectorized over the models with ``torch.func.vmap``, Adam on the stacked tensors.

Each Python-level step costs tens of microseconds of interpreter and dispatch overhead whatever the arithmetic, and
the seed's protocol is 640,000 sequential steps per model; the compiled kernel (``tconv.bezier._kernel``) runs the whole
chunk of epochs without returning to Python, which is why it is the one :func:`tconv.bezier.train` uses.

>>> from tconv.bezier.train import init_params
>>> from tconv.bezier.data import make_dataset, make_patches
>>> p = np.concatenate([init_params(s)[0].flat() for s in (1, 2)])
>>> x = make_patches(make_dataset(256))
>>> perms = np.stack([np.arange(256), np.arange(256)[::-1]])
>>> a = numpy_steps(p, x, perms, n_steps=2)
>>> b = torch_vmap_steps(p, x, perms, n_steps=2)
>>> bool(np.allclose(a, b, atol=1e-6))
True
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["numpy_steps", "torch_vmap_steps"]

BETA1, BETA2, EPS = 0.9, 0.999, 1e-8


def numpy_steps(
    flat: np.ndarray, data: np.ndarray, perms: np.ndarray, n_steps: int, lr: float = 1e-4, batch: int = 128
) -> np.ndarray:
    """``n_steps`` Adam steps of ``M`` plain patch models from parameters ``flat`` ``(M, 46)``; batches are read in
    the order ``perms`` ``(M, N)``. Returns the new parameters."""
    p = np.array(flat, dtype=np.float32)
    m_, c, k = p.shape[0], 3, data.shape[1]
    m1, m2 = np.zeros_like(p), np.zeros_like(p)
    n = data.shape[0]
    for step in range(1, n_steps + 1):
        b0 = ((step - 1) * batch) % n
        x = data[perms[:, b0 : b0 + batch]]  # (M, B, L)
        we = p[:, : c * k].reshape(m_, c, k)
        be = p[:, c * k : c * k + c]
        wd = p[:, c * k + c : 2 * c * k + c].reshape(m_, c, k)
        bd = p[:, -1]
        h = np.tanh(x @ we.transpose(0, 2, 1) + be[:, None, :])  # (M, B, C)
        out = h @ wd + bd[:, None, None]  # (M, B, L)
        dout = (out - x) * np.float32(2.0 / (x.shape[1] * k))
        g_wd = h.transpose(0, 2, 1) @ dout  # (M, C, L)
        dz = (dout @ wd.transpose(0, 2, 1)) * (1 - h * h)
        g_we = dz.transpose(0, 2, 1) @ x
        grad = np.concatenate(
            [g_we.reshape(m_, -1), dz.sum(axis=1), g_wd.reshape(m_, -1), dout.sum(axis=(1, 2))[:, None]], axis=1
        )
        m1 += (1 - BETA1) * (grad - m1)
        m2 *= BETA2
        m2 += (1 - BETA2) * grad * grad
        step_size = lr / (1 - BETA1**step)
        denom = np.sqrt(m2) / np.float32(math.sqrt(1 - BETA2**step)) + np.float32(EPS)
        p -= np.float32(step_size) * (m1 / denom)
    return p


def torch_vmap_steps(
    flat: np.ndarray, data: np.ndarray, perms: np.ndarray, n_steps: int, lr: float = 1e-4, batch: int = 128
) -> np.ndarray:
    """As :func:`numpy_steps`, with ``torch.func.vmap(torch.func.grad(loss))`` over the stacked models."""
    from torch.func import grad, vmap  # noqa: PLC0415

    f = torch.from_numpy(np.array(flat, dtype=np.float32))
    m_, c, k = f.shape[0], 3, data.shape[1]
    params = [
        f[:, : c * k].reshape(m_, c, 1, k).clone(),
        f[:, c * k : c * k + c].clone(),
        f[:, c * k + c : 2 * c * k + c].reshape(m_, c, 1, k).clone(),
        f[:, -1:].clone(),
    ]
    x_all = torch.from_numpy(np.asarray(data, dtype=np.float32))
    idx = torch.from_numpy(np.asarray(perms, dtype=np.int64))

    def loss(we, be, wd, bd, x):  # one model, x (B, 1, L): the seed's forward pass
        code = torch.tanh(torch.nn.functional.conv1d(x, we, be, stride=4))
        out = torch.nn.functional.conv_transpose1d(code, wd, bd, stride=4)
        return ((out - x) ** 2).mean()

    grads_of = vmap(grad(loss, argnums=(0, 1, 2, 3)))
    m1 = [torch.zeros_like(t) for t in params]
    m2 = [torch.zeros_like(t) for t in params]
    n = x_all.shape[0]
    with torch.no_grad():
        for step in range(1, n_steps + 1):
            b0 = ((step - 1) * batch) % n
            xb = x_all[idx[:, b0 : b0 + batch]][:, :, None, :]  # (M, B, 1, L)
            gs = grads_of(*params, xb)
            step_size = lr / (1 - BETA1**step)
            bc2 = math.sqrt(1 - BETA2**step)
            for t, g, a, v in zip(params, gs, m1, m2, strict=True):
                a.lerp_(g, 1 - BETA1)
                v.mul_(BETA2).addcmul_(g, g, value=1 - BETA2)
                t.addcdiv_(a, v.sqrt() / bc2 + EPS, value=-step_size)
    return torch.cat([params[0].reshape(m_, -1), params[1], params[2].reshape(m_, -1), params[3]], dim=1).numpy()
