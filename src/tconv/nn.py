"""Drop-in ``ConvTranspose1d/2d/3d`` modules whose forward pass runs any tconv method.

They subclass ``torch.nn.ConvTranspose{1,2,3}d``, so the constructor arguments, the parameters (``weight`` of shape
``(C_in, C_out/groups, *k)``, ``bias``), their initialization and the ``state_dict`` keys are exactly torch's: a
state dict saved from one loads into the other. The additions:

- ``method=`` (keyword) picks the formulation, one of :data:`tconv.METHODS` (default ``"auto"``) or any other
  registered route (:data:`tconv.ops.ALL_METHODS`: torch, torch_cl, gemm, subpixel, fft, triton);
- ``padding`` also accepts per-side pairs ``((before, after), ...)`` (negative: zeros outside the full output, as
  JAX and ONNX) and ``"same"`` / ``"valid"`` with TensorFlow's ``conv2d_transpose`` semantics or ``"same_lower"``
  (ONNX); pass ``output_size`` to ``forward`` to pick among the sizes they allow;
- ``padding_mode`` may be "circular", "reflect" or "replicate" too (torch's own ConvTranspose refuses them): the
  module is then the exact adjoint of the ``nn.Conv`` with that mode (see ``docs/arithmetic.md``).

``forward(x, output_size=None)`` behaves like torch's, ``output_size`` choosing ``output_padding``. The modules work
with ``torch.jit.trace``, ``torch.export`` and ``torch.compile``, and with ``torch.jit.script`` when the padding is
explicit (ints or pairs, any ``padding_mode``): TorchScript cannot run the plan, so the scripted forward is torch's
operator on the full output, cropped or folded (``_scripted_forward``), whatever ``method`` says.

>>> import torch, tconv.nn
>>> torch.manual_seed(0) and None
>>> m = tconv.nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, method="polyphase")
>>> ref = torch.nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1)
>>> ref.load_state_dict(m.state_dict())
<All keys matched successfully>
>>> x = torch.randn(1, 4, 5, 5)
>>> m(x, output_size=(10, 10)).shape
torch.Size([1, 2, 10, 10])
>>> torch.allclose(m(x), ref(x), atol=1e-6)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, List, Optional  # noqa: UP035  (TorchScript reads List/Optional)

import torch

from .errors import ConfigError
from .geometry import PaddingSpec
from .ops import ALL_METHODS
from .ops.dispatch import conv_transpose
from .padding import PADDING_MODES, _normalize_padding
from .params import _freeze, normalize_tuple

__all__ = ["ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"]


def _check_method(method: Any) -> str:
    if not isinstance(method, str) or method not in ALL_METHODS:  # the public methods and every registered route
        raise ConfigError("method", method, f"must be one of {ALL_METHODS}")
    return method


def _is_plain_padding(padding: Any) -> bool:
    """True for what torch's constructor itself accepts: an int or a sequence of ints."""
    if isinstance(padding, int) and not isinstance(padding, bool):
        return True
    return isinstance(padding, Sequence) and not isinstance(padding, str) and all(isinstance(p, int) for p in padding)


class _TconvMixin:
    """Shared construction and forward for the three drop-ins (torch's ``_ConvTransposeNd`` does the rest)."""

    _nd: int
    _torch_cls: type

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, ...],
        stride: int | tuple[int, ...] = 1,
        padding: PaddingSpec = 0,
        output_padding: int | tuple[int, ...] = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: int | tuple[int, ...] = 1,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
        *,
        method: str = "auto",
    ) -> None:
        if not isinstance(padding_mode, str) or padding_mode not in PADDING_MODES:
            raise ConfigError("padding_mode", padding_mode, f"must be one of {PADDING_MODES}")
        method = _check_method(method)
        plain = _is_plain_padding(padding)
        # torch's constructor only knows ints; per-side pairs and "same"/"valid" are stored after it ran
        self._torch_cls.__init__(
            self,
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding if plain else 0,
            output_padding,
            groups,
            bias,
            dilation,
            "zeros",  # torch's constructor refuses the others; the mode is applied in forward
            device,
            dtype,
        )
        self.method = method
        self.padding_mode = padding_mode
        if not plain:
            self.padding = padding
        # plain lists for the TorchScript path (_scripted_forward); explicit padding only
        nd = self._nd
        self._s: List[int] = list(normalize_tuple("stride", stride, nd))  # noqa: UP006
        self._d: List[int] = list(normalize_tuple("dilation", dilation, nd))  # noqa: UP006
        self._op: List[int] = list(normalize_tuple("output_padding", output_padding, nd))  # noqa: UP006
        self._mode = padding_mode
        pairs = ((0, 0),) * nd if isinstance(padding, str) else _normalize_padding(_freeze("padding", padding), nd)
        self._pads: List[int] = [p[0] for p in pairs] + [p[1] for p in pairs]  # noqa: UP006
        self._explicit = not isinstance(padding, str)

    def forward(self, input: torch.Tensor, output_size: Optional[List[int]] = None) -> torch.Tensor:  # noqa: UP006, UP045  (TorchScript reads these)
        """The transposed convolution of ``input`` ``(N, C_in, *spatial)`` or ``(C_in, *spatial)``."""
        if torch.jit.is_scripting():
            return self._scripted_forward(input, output_size)
        return self._tconv_forward(input, output_size)

    def _scripted_forward(self, input: torch.Tensor, output_size: Optional[List[int]]) -> torch.Tensor:  # noqa: UP006, UP045
        """What ``torch.jit.script`` compiles: TorchScript cannot call the plan (Python), so this is the one other
        spelling of the crop, held to the plan's by tests/test_nn.py. torch's operator gives the full output; F.pad
        with the negated (before, after) padding crops it (or adds zeros where a pad is negative); a padding mode
        folds the border back as ``Plan.fold_index`` does. The ``method`` is a Python choice and is not used here."""
        nd = len(self._s)
        pads = self._pads
        if not self._explicit:
            raise RuntimeError("a scripted tconv module needs explicit padding; trace or export 'same'/'valid' ones")
        batched = input.dim() == nd + 2
        x = input if batched else input.unsqueeze(0)
        zeros = [0] * nd
        y = torch.convolution(x, self.weight, None, self._s, zeros, self._d, True, zeros, self.groups)
        ops = self._op
        if output_size is not None:
            size = output_size[len(output_size) - nd :]
            ops = []
            for i in range(nd):
                op = size[i] - (y.size(2 + i) - pads[i] - pads[nd + i])
                if op < 0 or op >= max(self._s[i], self._d[i]):
                    raise ValueError("output_size is not reachable with output_padding 0..max(stride, dilation)-1")
                ops.append(op)
        if self._mode == "zeros":
            crop: List[int] = []  # noqa: UP006
            for i in range(nd - 1, -1, -1):  # F.pad lists the last dimension first
                crop += [-pads[i], -pads[nd + i] + ops[i]]
            y = torch.nn.functional.pad(y, crop)
        else:
            for i in range(nd):
                full = y.size(2 + i)
                n = full - pads[i] - pads[nd + i] + ops[i]
                j = torch.arange(full, device=y.device) - pads[i]
                if self._mode == "circular":
                    j = torch.remainder(j, n)
                elif self._mode == "reflect":
                    j = torch.where(j < 0, -j, torch.where(j >= n, 2 * (n - 1) - j, j))
                else:
                    j = torch.clamp(j, 0, n - 1)
                shape = list(y.shape)
                shape[2 + i] = n
                y = torch.zeros(shape, dtype=y.dtype, device=y.device).index_add(2 + i, j, y)
        bias = self.bias
        if bias is not None:
            y = y + bias.view([1, -1] + [1] * nd)
        return y if batched else y.squeeze(0)

    @torch.jit.unused
    def _tconv_forward(self, input: torch.Tensor, output_size: Optional[List[int]] = None) -> torch.Tensor:  # noqa: UP006, UP045
        return conv_transpose(
            input,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            self.output_padding,
            self.groups,
            self.dilation,
            output_size=output_size,
            method=self.method,
            padding_mode=self.padding_mode,
        )

    def extra_repr(self) -> str:
        return self._torch_cls.extra_repr(self) + f", method={self.method!r}"


class ConvTranspose1d(_TconvMixin, torch.nn.ConvTranspose1d):
    """Drop-in for ``torch.nn.ConvTranspose1d`` with ``method=``.

    >>> import torch
    >>> m = ConvTranspose1d(1, 1, 2, stride=2, bias=False, method="zero_insert")
    >>> with torch.no_grad():
    ...     _ = m.weight.fill_(1.0)
    >>> m(torch.tensor([[[1.0, 2.0, 3.0]]])).flatten().tolist()
    [1.0, 1.0, 2.0, 2.0, 3.0, 3.0]
    """

    _nd = 1
    _torch_cls = torch.nn.ConvTranspose1d


class ConvTranspose2d(_TconvMixin, torch.nn.ConvTranspose2d):
    """Drop-in for ``torch.nn.ConvTranspose2d`` with ``method=``.

    >>> ConvTranspose2d(3, 8, 4, stride=2, padding=1, method="col2im")(torch.zeros(1, 3, 8, 8)).shape
    torch.Size([1, 8, 16, 16])
    """

    _nd = 2
    _torch_cls = torch.nn.ConvTranspose2d


class ConvTranspose3d(_TconvMixin, torch.nn.ConvTranspose3d):
    """Drop-in for ``torch.nn.ConvTranspose3d`` with ``method=``.

    >>> ConvTranspose3d(2, 2, 2, stride=2, method="polyphase")(torch.zeros(2, 4, 4, 4)).shape
    torch.Size([2, 8, 8, 8])
    """

    _nd = 3
    _torch_cls = torch.nn.ConvTranspose3d
