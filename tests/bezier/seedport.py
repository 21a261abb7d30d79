"""A direct port of seed 002's loops, kept line for line: the reference for the tests and the benchmark.

Only three things differ from the seed's scripts: the device is the CPU, the global NumPy seed is replaced by an
equivalent ``RandomState`` of the same seed (same stream), and the global torch RNG is restored afterwards
(``torch.random.fork_rng``) so that calling the port does not disturb the caller. Everything else — the ``DataLoader``
with ``shuffle=True`` created after ``torch.manual_seed(seed)``, the modules, Adam, the noise lines (including the
overlapping slices of the code noise) — is the seed's code.

>>> curves = seed_make_dataset(3)
>>> curves.shape
(3, 15)
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from tconv.bezier.models import Decoder, Encoder

__all__ = ["get_curve_points", "generate_input", "seed_make_dataset", "seed_cut", "seed_train_model"]

WINSIZE = 15


# ---- the data script -----------------------------------------------------------------------------------------
def get_curve_points(param1, param2, n):
    # The four characteristic points depend on two parameters
    p1 = {"x": 0, "y": 0}
    p2 = {"x": 0.5, "y": param1}
    p4 = {"x": 1, "y": 0}
    p3 = {"x": 0.5, "y": param2}

    xs = np.zeros(n)
    ys = np.zeros(n)
    for i, t in enumerate(np.linspace(0, 1, n)):
        xs[i] = (1 - t) ** 3 * p1["x"] + 3 * (1 - t) ** 2 * t * p2["x"] + 3 * (1 - t) * t**2 * p3["x"] + t**3 * p4["x"]
        ys[i] = (1 - t) ** 3 * p1["y"] + 3 * (1 - t) ** 2 * t * p2["y"] + 3 * (1 - t) * t**2 * p3["y"] + t**3 * p4["y"]
    xs = np.array(xs)
    ys = np.array(ys)
    return xs, ys


def generate_input(p1, p2, winsize=WINSIZE):
    xs, ys = get_curve_points(p1, p2, winsize * 10)
    result = []
    for x in np.linspace(0, 1, winsize):
        result.append(ys[np.argmin((xs - x) ** 2)])
    return np.array(result)


def seed_make_dataset(datasize: int, seed: int = 22, winsize: int = WINSIZE) -> np.ndarray:
    """The seed's data loop (``np.random.seed(22)`` replaced by the same-stream ``RandomState(22)``)."""
    rng = np.random.RandomState(seed)
    data = []
    for _ in range(datasize):
        p1 = rng.uniform() * 2 - 1
        p2 = rng.uniform() * 2 - 1
        ys = generate_input(p1, p2, winsize)
        data.append(ys)
    return np.array(data)


# ---- the training script ----------------------------------------------------------------------------------------
def seed_cut(inputs: np.ndarray, winsize: int = 7, seed: int = 22) -> np.ndarray:
    """The seed's crop loop: one random ``winsize``-point piece of each curve."""
    inputs_cut = []
    rng = np.random.RandomState(seed)
    start_idxs = rng.randint(0, inputs.shape[1] - winsize, inputs.shape[0])
    for i in range(len(start_idxs)):
        item_upd = inputs[i, start_idxs[i] : start_idxs[i] + winsize]
        inputs_cut.append(item_upd)
    return np.array(inputs_cut)


def seed_train_model(
    inputs_cut: np.ndarray,
    seed: int,
    n_epochs: int,
    code_noise: Sequence[float] | None = None,
    sliced: bool = True,
    input_noise: float | None = None,
    n_channels: int = 3,
    winsize: int = 7,
    max_steps: int | None = None,
    batch_size: int = 128,
    lr: float = 1e-4,
) -> dict:
    """Train one model exactly as the seed's ``train_model(seed)`` (§4.2, §5.1, §5.2), on the CPU.

    ``code_noise`` are the three factors of the seed's noise lines; with ``sliced=True`` they are applied as the seed's
    code writes them (``coderand[:, 0 :] *= a; coderand[:, 1 :] *= b; coderand[:, 2 :] *= c``), otherwise one per
    channel, as its text says. ``max_steps`` stops after that many optimizer steps (for tests).

    Returns the final ``enc``/``dec`` modules, the per-epoch mean training loss ``losses`` (what the seed prints), the
    number of ``steps`` taken and the wall ``seconds``.
    """
    inputs = torch.tensor(np.asarray(inputs_cut)).float()
    if inputs.ndim == 2:
        inputs = inputs.unsqueeze(1)
    dataset = TensorDataset(inputs)
    losses: list[float] = []
    steps = 0
    t0 = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        # Create the dataloader after the random seed was set, because its 'shuffle' depends on the seed
        dataloader = DataLoader(dataset, batch_size=batch_size, shuffle=True)

        enc = Encoder(n_channels, winsize)
        dec = Decoder(n_channels, winsize)
        opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=lr)
        mse = torch.nn.MSELoss()
        done = False
        for _epoch in range(n_epochs):
            train_loss = 0
            for (item,) in dataloader:
                opt.zero_grad()
                if input_noise is not None:
                    itemrand = torch.randn(item.shape)
                    itemrand *= input_noise
                    code = enc(item + itemrand)
                else:
                    code = enc(item)
                if code_noise is not None:
                    coderand = torch.randn(code.shape)
                    if sliced:
                        coderand[:, 0:] *= code_noise[0]
                        coderand[:, 1:] *= code_noise[1]
                        coderand[:, 2:] *= code_noise[2]
                    else:
                        for ch, f in enumerate(code_noise):
                            coderand[:, ch] *= f
                    out = dec(code + coderand)
                else:
                    out = dec(code)
                loss = mse(out, item)
                loss.backward()
                opt.step()

                train_loss += loss.item()
                steps += 1
                if max_steps is not None and steps >= max_steps:
                    done = True
                    break
            losses.append(train_loss / len(dataloader))
            if done:
                break
    return {"enc": enc, "dec": dec, "losses": losses, "steps": steps, "seconds": time.perf_counter() - t0}
