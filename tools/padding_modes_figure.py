"""docs/img/padding_modes.png: how each padding_mode folds the full output back into the output (plan.fold_index).

Run: PYTHONPATH=src python tools/padding_modes_figure.py   (the picture is drawn from the plan, not by hand)
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from tconv.files import save_figure  # noqa: E402
from tconv.geometry import make_plan  # noqa: E402

N, K, PADS = 5, 3, (2, 2)  # a Conv1d(k=3, padding=2) of a 5-long input, seen from its transpose


def figure() -> plt.Figure:
    fig, axes = plt.subplots(4, 1, figsize=(7.5, 7.2))
    for ax, mode in zip(axes, ("zeros", "circular", "reflect", "replicate"), strict=True):
        plan = make_plan((1, 1, N + sum(PADS) - K + 1), (1, 1, K), padding=(PADS,), padding_mode=mode)
        full, idx = plan.full_size[0], plan.fold_index(0)
        off = (full - N) / 2
        for q in range(full):
            inside = PADS[0] <= q < PADS[0] + N
            ax.add_patch(plt.Rectangle((q, 1.6), 0.9, 0.9, color="#9ecae1" if inside else "#fdae6b"))
            ax.text(q + 0.45, 2.05, f"{q - PADS[0]}", ha="center", va="center", fontsize=9)
            o = int(idx[q])
            if o < 0:
                ax.text(q + 0.45, 1.2, "×", ha="center", va="center", color="#d62728", fontsize=12)
                continue
            ax.annotate(
                "",
                xy=(off + o + 0.45, 0.95),
                xytext=(q + 0.45, 1.6),
                arrowprops=dict(arrowstyle="->", color="#555" if inside else "#e6550d", lw=1),
            )
        for o in range(N):
            ax.add_patch(plt.Rectangle((off + o, 0.0), 0.9, 0.9, color="#c7e9c0"))
            ax.text(off + o + 0.45, 0.45, f"{o}", ha="center", va="center", fontsize=9)
        ax.set_xlim(-0.3, full + 0.2)
        ax.set_ylim(-0.2, 2.7)
        ax.axis("off")
        ax.set_title(
            f'padding_mode="{mode}": full output (top, position − pad_before) adds into the output', fontsize=9
        )
    fig.tight_layout()
    return fig


if __name__ == "__main__":
    print(save_figure(figure(), Path(__file__).resolve().parent.parent / "docs" / "img" / "padding_modes.png", dpi=110))
