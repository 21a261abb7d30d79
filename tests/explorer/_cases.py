"""Random explorer configurations and what tconv's Python says about them (shared by the explorer's tests).

A configuration is a dict of the page's controls as ints: ``m`` (mode), ``nd``, ``i``, ``k``, ``s``, ``d``, ``pm``
(padding mode), ``p`` or ``pb``/``pa``, ``op``, ``os`` (output_size or None), ``ci``, ``co``, ``g``. About a third
are broken on purpose, one rule at a time, so that every error message gets compared too.
"""

from __future__ import annotations

import math
import random
import warnings
from typing import Any

from tconv.errors import ConfigError
from tconv.geometry import conv_plan, make_plan

try:
    from tconv import arith as _arith
except ImportError:  # the arithmetic module may not exist yet
    _arith = None

MODE_CODES = {"transposed": "t", "conv": "c", "inverse": "i"}


def random_config(rng: random.Random) -> dict[str, Any]:
    nd = rng.choice((1, 2))
    mode = rng.choices(("transposed", "conv", "inverse"), weights=(6, 3, 2))[0]

    def dims(lo: int, hi: int) -> list[int]:
        return [rng.randint(lo, hi) for _ in range(nd)]

    cfg: dict[str, Any] = {"m": mode, "nd": nd, "i": dims(1, 6), "k": dims(1, 4), "s": dims(1, 3)}
    cfg["d"] = dims(1, 3) if rng.random() < 0.35 else [1] * nd
    pm = rng.choices(("sym", "pair", "same", "valid"), weights=(5, 3, 1, 1))[0]
    cfg["pm"] = pm
    if pm == "sym":
        cfg["p"] = dims(0, 2)
    elif pm == "pair":
        cfg["pb"], cfg["pa"] = dims(0, 2), dims(0, 2)
    cfg["op"] = [0] * nd
    cfg["os"] = None
    if mode == "transposed":
        if pm in ("sym", "pair") and rng.random() < 0.6:
            cfg["op"] = [rng.randint(0, max(s, d) - 1) for s, d in zip(cfg["s"], cfg["d"], strict=True)]
        if rng.random() < 0.2:
            try:
                base = make_plan((1, *cfg["i"]), (1, 1, *cfg["k"]), cfg["s"], padding_arg(cfg), 0, 1, cfg["d"])
                cfg["os"] = [o + rng.randint(0, s - 1) for o, s in zip(base.out_size, cfg["s"], strict=True)]
            except ConfigError:
                cfg["os"] = dims(1, 9)
    g = rng.choice((1, 1, 1, 2, 3))
    cfg["g"], cfg["ci"], cfg["co"] = g, g * rng.randint(1, 2), g * rng.randint(1, 2)

    if rng.random() < 0.33:  # break one rule
        dim = rng.randrange(nd)
        what = rng.choice(
            ("k0", "s0", "d0", "in0", "negpad", "bigpad", "op", "g", "co", "g0", "os", "sameop", "ci0", "kneg")
        )
        if what == "k0":
            cfg["k"][dim] = 0
        elif what == "kneg":
            cfg["k"][dim] = -rng.randint(1, 3)
        elif what == "s0":
            cfg["s"][dim] = rng.choice((0, -1))
        elif what == "d0":
            cfg["d"][dim] = 0
        elif what == "in0":
            cfg["i"][dim] = rng.choice((0, -2))
        elif what == "negpad":
            if cfg["pm"] == "sym":
                cfg["p"][dim] = -1
            elif cfg["pm"] == "pair":
                cfg["pa"][dim] = -1
        elif what == "bigpad":
            if cfg["pm"] == "sym":
                cfg["p"][dim] = rng.randint(4, 12)
            elif cfg["pm"] == "pair":
                cfg["pb"][dim] = rng.randint(4, 12)
        elif what == "op" and mode == "transposed":
            cfg["op"][dim] = max(cfg["s"][dim], cfg["d"][dim]) + rng.randint(0, 1)
        elif what == "sameop" and mode == "transposed":
            cfg["op"][dim] = 1
        elif what == "g":
            cfg["g"] = rng.choice((2, 3, 4))
            cfg["ci"] = cfg["g"] + 1
        elif what == "co":
            cfg["g"] = 2
            cfg["ci"] = 2
            cfg["co"] = rng.choice((1, 3, 5))
        elif what == "g0":
            cfg["g"] = rng.choice((0, -1))
        elif what == "os" and mode == "transposed":
            cfg["os"] = [rng.choice((0, 1, 30, 50)) for _ in range(nd)]
        elif what == "ci0":
            cfg["ci"] = 0
    return cfg


def torch_channel_error(kind: str, ci: int, co: int, g: int) -> str | None:
    """The ValueError torch.nn's own layer raises for these channel counts, if any."""
    import torch  # noqa: PLC0415

    cls = getattr(torch.nn, f"{kind}1d")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zero-element weights
        try:
            cls(ci, co, 1, groups=g)
        except ValueError as exc:
            return str(exc)
        except RuntimeError:  # a negative channel count: torch fails allocating, after its checks passed
            return None
    return None


def conv_tf_pads(cfg: dict[str, Any]) -> tuple[tuple[int, int], ...]:
    """A convolution's TensorFlow 'same'/'valid' padding as pairs (tconv.arith.conv_output_size's rule)."""
    pads = []
    for n, k, s, d in zip(cfg["i"], cfg["k"], cfg["s"], cfg["d"], strict=True):
        if cfg["pm"] == "valid" or s < 1:
            pads.append((0, 0))
            continue
        total = max((math.ceil(n / s) - 1) * s + d * (k - 1) + 1 - n, 0)
        pads.append((total // 2, total - total // 2))
    return tuple(pads)


def padding_arg(cfg: dict[str, Any]) -> Any:
    """The ``padding`` argument of the page's Python call."""
    if cfg["pm"] in ("same", "valid"):
        return cfg["pm"] if cfg["m"] == "transposed" else conv_tf_pads(cfg)
    if cfg["pm"] == "pair":
        return tuple((b, a) for b, a in zip(cfg["pb"], cfg["pa"], strict=True))
    return tuple(cfg["p"])


def call_text(cfg: dict[str, Any]) -> str:
    """The Python call the page must show for ``cfg`` (evaluated with ``tconv`` in scope)."""
    if cfg["m"] == "transposed":
        g = cfg["g"]
        per = cfg["co"] // g if g >= 1 else cfg["co"]
        s = (
            f"tconv.make_plan({(1, cfg['ci'], *cfg['i'])!r}, {(cfg['ci'], per, *cfg['k'])!r}, "
            f"stride={tuple(cfg['s'])!r}, padding={padding_arg(cfg)!r}, output_padding={tuple(cfg['op'])!r}, "
            f"groups={g}, dilation={tuple(cfg['d'])!r}"
        )
        if cfg["os"] is not None:
            s += f", output_size={tuple(cfg['os'])!r}"
        return s + ")"
    return (
        f"tconv.conv_plan({tuple(cfg['i'])!r}, {tuple(cfg['k'])!r}, stride={tuple(cfg['s'])!r}, "
        f"padding={padding_arg(cfg)!r}, dilation={tuple(cfg['d'])!r})"
    )


OUTSIDE_RULE = (
    "puts zeros outside the full output or leaves none: tconv.conv_transpose computes it, the explorer draws only "
    "outputs inside the full output"
)


def python_result(cfg: dict[str, Any]) -> tuple[Any, str | None]:
    """(plan, None) or (None, message): tconv's own answer, then the page's two channel rules from PyTorch."""
    g, ci, co = cfg["g"], cfg["ci"], cfg["co"]
    try:
        if cfg["m"] == "transposed":
            per = co // g if g >= 1 else co
            plan = make_plan(
                (1, ci, *cfg["i"]),
                (ci, per, *cfg["k"]),
                stride=tuple(cfg["s"]),
                padding=padding_arg(cfg),
                output_padding=tuple(cfg["op"]),
                groups=g,
                dilation=tuple(cfg["d"]),
                output_size=None if cfg["os"] is None else tuple(cfg["os"]),
            )
        else:
            plan = conv_plan(tuple(cfg["i"]), tuple(cfg["k"]), tuple(cfg["s"]), padding_arg(cfg), tuple(cfg["d"]))
    except ConfigError as exc:
        return None, str(exc)
    if cfg["m"] != "transposed" and cfg["pm"] in ("same", "valid") and _arith is not None:
        # the padding rule is tconv.arith's: its conv_output_size gives the same size
        args = (tuple(cfg["i"]), tuple(cfg["k"]), tuple(cfg["s"]), cfg["pm"], tuple(cfg["d"]))
        assert _arith.conv_output_size(*args) == plan.in_size, cfg
    # channel rules the page adds: torch.nn's layers take channel counts (its own ValueError messages), and a
    # convolution needs at least one channel on each side
    err = torch_channel_error("ConvTranspose" if cfg["m"] == "transposed" else "Conv", ci, co, g)
    if err:
        return None, err
    if cfg["m"] == "transposed" and (min(min(p) for p in plan.padding) < 0 or 0 in plan.out_size):
        return None, f"padding={padding_arg(cfg)!r} {OUTSIDE_RULE}"  # the page's rule: it draws inside the full output
    if cfg["m"] != "transposed":
        if ci < 1:
            return None, f"in_channels={ci} must be positive"
        if co < 1:
            return None, f"out_channels={co} must be positive"
    return plan, None


def to_hash(cfg: dict[str, Any], view: str = "eq") -> str:
    """The URL hash that sets ``cfg``."""

    def j(v: list[int]) -> str:
        return ",".join(str(x) for x in v)

    parts = [
        ("m", MODE_CODES[cfg["m"]]),
        ("nd", str(cfg["nd"])),
        ("i", j(cfg["i"])),
        ("k", j(cfg["k"])),
        ("s", j(cfg["s"])),
        ("d", j(cfg["d"])),
        ("pm", cfg["pm"]),
    ]
    if cfg["pm"] == "sym":
        parts.append(("p", j(cfg["p"])))
    if cfg["pm"] == "pair":
        parts += [("pb", j(cfg["pb"])), ("pa", j(cfg["pa"]))]
    if cfg["m"] == "transposed":
        parts.append(("op", j(cfg["op"])))
        if cfg["os"] is not None:
            parts.append(("os", j(cfg["os"])))
    parts += [("ci", str(cfg["ci"])), ("co", str(cfg["co"])), ("g", str(cfg["g"])), ("v", view), ("st", "0")]
    return "#" + "&".join(f"{k}={v}" for k, v in parts)


def to_ui(cfg: dict[str, Any]) -> dict[str, Any]:
    """The page's raw control values (strings) for ``cfg``, as the JavaScript's ``compute(ui)`` takes them."""

    def two(v: list[int] | None, default: str) -> list[str]:
        if v is None:
            return [default, default]
        return [str(x) for x in v] + [default] * (2 - len(v))

    return {
        "m": cfg["m"],
        "nd": str(cfg["nd"]),
        "in": two(cfg["i"], "4"),
        "k": two(cfg["k"], "3"),
        "s": two(cfg["s"], "1"),
        "d": two(cfg["d"], "1"),
        "p": two(cfg.get("p"), "0"),
        "pb": two(cfg.get("pb"), "0"),
        "pa": two(cfg.get("pa"), "0"),
        "op": two(cfg["op"], "0"),
        "os": two(cfg["os"], "1"),
        "osOn": cfg["os"] is not None,
        "pm": cfg["pm"],
        "ci": str(cfg["ci"]),
        "co": str(cfg["co"]),
        "g": str(cfg["g"]),
        "v": "equivalent",
        "gd": "0",
    }


def plan_summary(plan: Any) -> dict[str, Any]:
    """The plan's numbers in the shape of the page's ``tconvState().plan`` (lists, camelCase)."""
    eq = plan.equivalent_conv
    return {
        "inSize": list(plan.in_size),
        "outSize": list(plan.out_size),
        "kernel": list(plan.kernel_size),
        "stride": list(plan.stride),
        "dilation": list(plan.dilation),
        "padding": [list(p) for p in plan.padding],
        "outputPadding": list(plan.output_padding),
        "full": list(plan.full_size),
        "groups": plan.groups,
        "inChannels": plan.in_channels,
        "outChannels": plan.out_channels,
        "paddingMode": plan.padding_rule,
        "equivalent": {
            "zerosBetween": list(eq.zeros_between),
            "upsampledSize": list(eq.upsampled_size),
            "pad": [list(p) for p in eq.pad],
            "kernelDilation": list(eq.kernel_dilation),
        },
        "phases": [
            [
                {"residue": ph.residue, "count": ph.count, "taps": list(ph.taps), "offsets": list(ph.offsets)}
                for ph in plan.phases(d)
            ]
            for d in range(plan.nd)
        ],
    }
