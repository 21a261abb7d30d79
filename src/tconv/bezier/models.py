"""The seed's two models, and the same arithmetic written out for stacked parameters of many models.

The encoder is ``Conv1d(1, ch, win, stride=4)`` followed by ``tanh``; the decoder is
``ConvTranspose1d(ch, 1, win, stride=4)``. On a ``win``-point patch the code has one position per channel; on a
15-point curve it has three, and the decoder's three copies of its filters overlap (seed 002 §5).

:class:`Params` holds the parameters of ``M`` models stacked along a first axis, with the same layout as the torch
modules (``enc_w`` is ``Conv1d.weight[:, 0]``, ``dec_w`` is ``ConvTranspose1d.weight[:, 0]``), and
:func:`encode` / :func:`decode` apply them with the transposed convolution read from the plan.

>>> import torch
>>> enc, dec = Encoder(3, 7), Decoder(3, 7)
>>> p = Params.from_modules([(enc, dec)])
>>> x = np.linspace(-1, 1, 15, dtype=np.float32)[None]
>>> ref = dec(enc(torch.from_numpy(x)[:, None]))[0, 0].detach().numpy()
>>> bool(np.allclose(decode(p, encode(p, x[None]))[0, 0], ref, atol=1e-6))
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..errors import ConfigError
from ..geometry import plan_from_sizes

__all__ = ["Encoder", "Decoder", "Params", "STRIDE", "encode", "decode", "code_length", "overlap_counts"]

STRIDE = 4  #: the seed's stride: the filters move 4 points at a time


class Encoder(torch.nn.Module):
    """The seed's encoder: ``tanh(Conv1d(1, ch, win, stride=4)(x))``."""

    def __init__(self, ch: int, win: int) -> None:
        super().__init__()
        self.conv = torch.nn.Conv1d(1, ch, win, STRIDE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.conv(x))


class Decoder(torch.nn.Module):
    """The seed's decoder: ``ConvTranspose1d(ch, 1, win, stride=4)``."""

    def __init__(self, ch: int, win: int) -> None:
        super().__init__()
        self.deconv = torch.nn.ConvTranspose1d(ch, 1, win, STRIDE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.deconv(x)


@dataclass
class Params:
    """Parameters of ``M`` encoder/decoder pairs, float32, stacked along axis 0.

    ``enc_w (M, ch, win)``, ``enc_b (M, ch)``, ``dec_w (M, ch, win)``, ``dec_b (M,)``.
    """

    enc_w: np.ndarray
    enc_b: np.ndarray
    dec_w: np.ndarray
    dec_b: np.ndarray

    @property
    def n_models(self) -> int:
        return self.enc_w.shape[0]

    @property
    def channels(self) -> int:
        return self.enc_w.shape[1]

    @property
    def win(self) -> int:
        return self.enc_w.shape[2]

    @property
    def size(self) -> int:
        """Parameters per model."""
        return 2 * self.channels * self.win + self.channels + 1

    def flat(self) -> np.ndarray:
        """``(M, size)`` float32 in the order enc_w, enc_b, dec_w, dec_b (the training kernel's layout)."""
        m = self.n_models
        return np.ascontiguousarray(
            np.concatenate(
                [self.enc_w.reshape(m, -1), self.enc_b, self.dec_w.reshape(m, -1), self.dec_b[:, None]], axis=1
            ),
            dtype=np.float32,
        )

    @classmethod
    def from_flat(cls, flat: np.ndarray, channels: int, win: int) -> Params:
        flat = np.asarray(flat, dtype=np.float32)
        m, n = flat.shape[0], channels * win
        return cls(
            enc_w=flat[:, :n].reshape(m, channels, win).copy(),
            enc_b=flat[:, n : n + channels].copy(),
            dec_w=flat[:, n + channels : 2 * n + channels].reshape(m, channels, win).copy(),
            dec_b=flat[:, 2 * n + channels].copy(),
        )

    @classmethod
    def from_modules(cls, pairs: list[tuple[Encoder, Decoder]]) -> Params:
        """Stack the parameters of torch (encoder, decoder) pairs."""

        def get(t: torch.Tensor) -> np.ndarray:
            return t.detach().cpu().numpy().astype(np.float32)

        return cls(
            enc_w=np.stack([get(e.conv.weight[:, 0]) for e, _ in pairs]),
            enc_b=np.stack([get(e.conv.bias) for e, _ in pairs]),
            dec_w=np.stack([get(d.deconv.weight[:, 0]) for _, d in pairs]),
            dec_b=np.concatenate([get(d.deconv.bias) for _, d in pairs]),
        )

    def to_modules(self, i: int) -> tuple[Encoder, Decoder]:
        """Model ``i`` as the seed's torch modules."""
        enc, dec = Encoder(self.channels, self.win), Decoder(self.channels, self.win)
        with torch.no_grad():
            enc.conv.weight.copy_(torch.from_numpy(self.enc_w[i][:, None]))
            enc.conv.bias.copy_(torch.from_numpy(self.enc_b[i]))
            dec.deconv.weight.copy_(torch.from_numpy(self.dec_w[i][:, None]))
            dec.deconv.bias.copy_(torch.from_numpy(self.dec_b[i : i + 1]))
        return enc, dec

    def select(self, idx: np.ndarray | list[int]) -> Params:
        """The models at ``idx``."""
        return Params(self.enc_w[idx], self.enc_b[idx], self.dec_w[idx], self.dec_b[idx])


def code_length(length: int, win: int, stride: int = STRIDE) -> int:
    """Code positions for an input of ``length`` points: ``(length - win) // stride + 1``.

    >>> code_length(7, 7), code_length(15, 7)
    (1, 3)
    """
    if length < win:
        raise ConfigError("length", length, f"must be at least the window {win}")
    return (length - win) // stride + 1


def overlap_counts(positions: int, win: int, stride: int = STRIDE) -> np.ndarray:
    """How many decoder filter copies cover each output point: the transposed convolution of ones (from the plan).

    >>> overlap_counts(3, 7).tolist()
    [1, 1, 1, 1, 2, 2, 2, 1, 2, 2, 2, 1, 1, 1, 1]
    """
    return plan_from_sizes(positions, win, stride=stride).overlap_counts()


def _index_map(positions: int, win: int) -> np.ndarray:
    """``(positions, win)``: the output point that code position ``q`` reaches through tap ``t`` (from the plan)."""
    return plan_from_sizes(positions, win, stride=STRIDE).index_map(0)


def encode(p: Params, x: np.ndarray) -> np.ndarray:
    """Codes ``(M, n, ch, P)`` of inputs ``x`` ``(n, L)`` (or ``(M, n, L)``, one set per model).

    ``P = (L - win) // 4 + 1`` positions; a strided correlation followed by tanh. The convolution reads its windows
    through the same index map as the decoder's transposed convolution writes them (seed 001: C and Cᵀ).
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 2:
        x = np.broadcast_to(x, (p.n_models, *x.shape))
    imap = _index_map(code_length(x.shape[-1], p.win), p.win)
    win = x[:, :, imap]  # (M, n, P, win)
    z = np.swapaxes(win @ np.swapaxes(p.enc_w, 1, 2)[:, None], 2, 3) + p.enc_b[:, None, :, None]
    return np.tanh(z).astype(np.float32)


def decode(p: Params, code: np.ndarray, weight_scale: np.ndarray | None = None) -> np.ndarray:
    """Outputs ``(M, n, 1, L)`` of codes ``(M, n, ch, P)``: the transposed convolution with stride 4.

    Every (code position, tap) pair adds ``sum_ch code[ch, q] * w[ch, t]`` into the output point the plan's index
    map gives it — the definition, summed with one matrix product per model (it equals
    ``tconv.conv_transpose(code, w[:, None], bias, stride=4)``). ``weight_scale`` (``(win,)``) multiplies every tap
    first (the seed's halving fix uses it).
    """
    code = np.asarray(code, dtype=np.float32)
    w = p.dec_w if weight_scale is None else p.dec_w * np.asarray(weight_scale, dtype=np.float32)
    positions = code.shape[-1]
    imap = _index_map(positions, p.win)
    length = int(imap.max()) + 1
    scatter = np.zeros((positions * p.win, length), dtype=np.float32)
    scatter[np.arange(positions * p.win), imap.ravel()] = 1.0
    contrib = (np.swapaxes(code, 2, 3) @ w[:, None]).reshape(*code.shape[:2], positions * p.win)  # (M, n, P*win)
    out = contrib @ scatter + p.dec_b[:, None, None]
    return out[:, :, None, :].astype(np.float32)
