"""Seed 002's §5 evaluation loop, ported as written, and what it really measures.

The seed evaluates the patch model on whole 15-point curves with::

    dataloader = DataLoader(dataset, batch_size=128, shuffle=False)
    for item, in dataloader:
        cnt += 1
        if cnt <= 4:                      # "Plot first two examples in a 2x2 grid"
            ...; eval_loss += loss.item()
    print(eval_loss / len(dataloader))

Only the first 4 batches are added up, but the sum is divided by the number of batches (128 for 16,384 curves): the
printed number is the mean MSE of those 4 batches times 4/128, about 1/32 of the true MSE. :func:`seed_eval_loop`
runs that loop on the seed's torch modules (``eval_model(22)``), with the seed's optional halving fix, and returns
what it prints next to the true MSE over every curve.

>>> from tconv.bezier.train import init_params
>>> from tconv.bezier.data import make_dataset
>>> p, _ = init_params(22)
>>> r = seed_eval_loop(p, 0, make_dataset(1024))
>>> r["batches_summed"], r["divided_by"], abs(r["printed"] - r["mean_of_summed_batches"] * 4 / 8) < 1e-9
(4, 8, True)
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from ..errors import ConfigError
from .models import Params

__all__ = ["seed_eval_loop", "HALVED_TAPS"]

#: the taps the seed's halving fix multiplies by 0.5, in its order: 0, -1, 1, -2, 2, -3 (tap 3, "index 4", is kept)
HALVED_TAPS = (0, -1, 1, -2, 2, -3)


def seed_eval_loop(p: Params, i: int, curves: np.ndarray, halve: bool = False, batch_size: int = 128) -> dict:
    """Run the seed's ``eval_model`` on model ``i`` of ``p`` over ``curves`` ``(n, 15)`` (its ``data.npy``).

    Returns ``printed`` (what the seed prints), ``true_mse`` (the MSE over every curve), ``batches_summed`` and
    ``divided_by`` (the loop's 4 and ``len(dataloader)``), ``mean_of_summed_batches`` and ``examples``: the
    (output, target) pairs the seed plots in its 2x2 grid (the first curve of each of the first 4 batches).
    """
    if not 0 <= i < p.n_models:
        raise ConfigError("i", i, f"must be a model index in [0, {p.n_models})")
    x = np.asarray(curves)
    if x.ndim != 2:
        raise ConfigError("curves", x.shape, "must be a 2-d array (n, points)")
    enc, dec = p.to_modules(i)
    if halve:
        for t in HALVED_TAPS:
            dec.deconv.weight.data[:, :, t] *= 0.5

    with torch.random.fork_rng(devices=[]):
        inputs = torch.tensor(x).float().unsqueeze(1)
        dataset = TensorDataset(inputs)
        dataloader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
        # ---- the seed's loop (plotting replaced by keeping the plotted pairs)
        mse = torch.nn.MSELoss()
        eval_loss = 0
        cnt = 0
        examples = []
        for (item,) in dataloader:
            cnt += 1
            if cnt <= 4:
                code = enc(item)
                out = dec(code)
                loss = mse(out, item)
                eval_loss += loss.item()
                examples.append((out[0, 0].cpu().detach().numpy(), item[0, 0].cpu().detach().numpy()))
        printed = eval_loss / len(dataloader)
        # ---- what it should have printed
        with torch.no_grad():
            true_mse = float(((dec(enc(inputs)) - inputs) ** 2).mean())
    summed = min(4, len(dataloader))
    return {
        "printed": float(printed),
        "true_mse": true_mse,
        "batches_summed": summed,
        "divided_by": len(dataloader),
        "mean_of_summed_batches": float(eval_loss / summed),
        "examples": examples,
    }
