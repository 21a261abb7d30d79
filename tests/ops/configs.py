"""A hypothesis strategy of whole transposed-convolution configurations, shared by the route tests (fft, training)."""

import torch
from hypothesis import strategies as st

#: torch's operator by the number of spatial dimensions: the reference
TORCH_FN = {1: torch.nn.functional.conv_transpose1d, 2: torch.nn.functional.conv_transpose2d,
            3: torch.nn.functional.conv_transpose3d}  # fmt: skip


@st.composite
def configs(draw, max_k: int = 5, max_d: int = 3, sizes: tuple[int, int] = (1, 6)):
    """``(nd, groups, c_in, c_out, kernel, stride, dilation, in_size, padding, output_padding)``, 1-3 dimensions,
    padding up to half the dilated kernel, output_padding below max(stride, dilation) as torch allows."""
    nd = draw(st.integers(1, 3))
    g = draw(st.sampled_from([1, 1, 2]))
    cin, cout = g * draw(st.integers(1, 3)), g * draw(st.integers(1, 3))
    k = [draw(st.integers(1, max_k)) for _ in range(nd)]
    s = [draw(st.integers(1, 3)) for _ in range(nd)]
    d = [draw(st.integers(1, max_d)) for _ in range(nd)]
    n = [draw(st.integers(*sizes)) for _ in range(nd)]
    p = [draw(st.integers(0, d[i] * (k[i] - 1) // 2)) for i in range(nd)]
    op = [draw(st.integers(0, max(s[i], d[i]) - 1)) for i in range(nd)]
    return nd, g, cin, cout, k, s, d, n, p, op
