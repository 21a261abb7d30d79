"""One experiment end to end: train (batched, checkpointed), analyse, and write figures, ``metrics.json`` and a page.

>>> cfg = preset("fast")
>>> cfg.epochs, cfg.seeds
(300, (11, 22, 33, 44, 55))
"""

from __future__ import annotations

import html
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace  # noqa: F401  (replace: used in the doctest)
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..files import atomic_path, save_figure, write_json, write_text
from ..stats import mean_ci
from . import analysis as A
from .claims import claims, verdict_stability
from .data import crop_starts, make_dataset, make_patches
from .seedeval import seed_eval_loop
from .seedfigs import output_vs_label_figure, same_point_examples, same_point_figure, seed_eval_figure
from .train import NOISE_SETTINGS, TrainConfig, TrainResult, train, variants_for

SEED_EVAL = 22  #: the model seed the seed's §5 evaluates (``eval_model(22)``)

__all__ = [
    "PRESETS",
    "preset",
    "fast_config",
    "RunOutput",
    "run",
    "analyse",
    "claims",
    "render_html",
    "save_figures",
    "training_text",
    "claims_markdown",
]

#: ``seed``: the seed's protocol (5 seeds × 5000 epochs, batch 128, Adam 1e-4); ``fast``: the same cut to 300 epochs
#: (the 7-point loss passes 1e-4 near epoch 150), for the tour and quick looks.
PRESETS: dict[str, dict] = {
    "seed": {"epochs": 5000, "checkpoint_every": 500, "frames": 24},
    "fast": {"epochs": 300, "checkpoint_every": 100, "frames": 16},
}


def preset(
    name: str = "seed", seeds: Sequence[int] | None = None, noise: Sequence[str] | str | None = None
) -> TrainConfig:
    """The training configuration of a preset; ``noise`` defaults to the seed's code ("seed-code").

    >>> [v.name for v in preset("seed", noise=["none"]).variants]
    ['plain', 'full']
    """
    if name not in PRESETS:
        raise ConfigError("preset", name, f"must be one of {sorted(PRESETS)}")
    noise = ["seed-code"] if noise is None else ([noise] if isinstance(noise, str) else list(noise))
    for nz in noise:
        if nz not in NOISE_SETTINGS:
            raise ConfigError("noise", nz, f"must be one of {sorted(NOISE_SETTINGS)}")
    p = PRESETS[name]
    kw = {} if seeds is None else {"seeds": tuple(seeds)}
    return TrainConfig(variants=variants_for(noise), epochs=p["epochs"], checkpoint_every=p["checkpoint_every"], **kw)


@dataclass
class RunOutput:
    """What :func:`run` produced: the metrics, the training result and the figure files."""

    metrics: dict
    result: TrainResult
    files: dict[str, Path]
    out_dir: Path


# ----------------------------------------------------------------------------------------------------------------
# analysis -> metrics + figures
# ----------------------------------------------------------------------------------------------------------------
def _ms(a: np.ndarray) -> dict:
    """Mean, std, the 95% t-interval of the mean and the per-seed values."""
    a = np.asarray(a, dtype=np.float64)
    ci = mean_ci(a)
    return {"mean": float(a.mean()), "std": float(a.std()), "ci95": [ci.lo, ci.hi], "n": int(a.size),
            "per_seed": a.tolist()}  # fmt: skip


def analyse(result: TrainResult, frames: int = 24, light: bool = False) -> tuple[dict, dict[str, object]]:
    """Every analysis of the run: ``(metrics, figures)``; figures are Figures or lists of GIF frames.

    ``light`` keeps every number but draws only the main figures (the tour's page): the aligned decoder filters
    of every variant, the encoder filters of the plain and input-noise models, one animation.
    """
    cfg = result.config
    curves = make_dataset(cfg.n_samples, 15, cfg.data_seed)
    patches = make_patches(curves, cfg.win, cfg.data_seed)
    seeds = list(cfg.seeds)
    patch_variants = [v for v in cfg.variants if v.kind != "full"]
    full_v = next((v for v in cfg.variants if v.kind == "full"), None)
    m: dict = {"variants": {}, "seeds": seeds}
    figs: dict[str, object] = {}

    losses = {v.name: result.losses[result.index(v)] for v in cfg.variants}
    figs["loss"] = A.loss_figure(losses)
    figs["data"] = A.data_figure(curves, patches, crop_starts(cfg.n_samples, 15, cfg.win, cfg.data_seed))

    ablations: dict[str, np.ndarray] = {}
    for v in patch_variants:
        p = result.of(v)
        mse = A.patch_mse(p, patches)
        abl = A.ablation(p, patches)
        ablations[v.name] = abl
        dec_stats = A.alignment_stats(p.dec_w)
        enc_stats = A.alignment_stats(p.enc_w)
        m["variants"][v.name] = {
            "kind": v.kind,
            "noise": v.noise,
            "code_sigma": v.code_sigma,
            "input_sigma": v.input_sigma,
            "final_train_loss": _ms(result.losses[result.index(v), result.epochs_done - 1]),
            "patch_mse": _ms(mse),
            "ablation": {
                "columns": ["whole"] + [f"zero component {c + 1}" for c in range(p.channels)],
                "mean": abl.mean(axis=0).tolist(),
                "std": abl.std(axis=0).tolist(),
                "per_seed": abl.tolist(),
            },
            "decoder_alignment": dec_stats,
            "encoder_alignment": enc_stats,
            "decoder_filter_norm": _ms_axis(np.linalg.norm(p.dec_w, axis=2)),
            "encoder_filter_norm": _ms_axis(np.linalg.norm(p.enc_w, axis=2)),
            "encoder_roughness": float(A.roughness(p.enc_w).mean()),
            "encoder_roughness_per_seed": A.roughness(p.enc_w).tolist(),
            "decoder_roughness": float(A.roughness(p.dec_w).mean()),
            "input_noise_mse": _ms(A.input_noise_mse(p, patches, 0.01)),
            "input_noise_increase": _ms(A.input_noise_mse(p, patches, 0.01) - mse),
        }
        tag = v.name.replace("/", "_").replace("+", "_")
        if not light or v.kind == "plain":
            figs[f"dec_filters_{tag}"] = A.filters_figure(p, seeds, f"{v.name}: decoder filters per seed", "dec")
        figs[f"dec_aligned_{tag}"] = A.aligned_figure(
            p, seeds, f"{v.name}: decoder filters after sign/permutation alignment (Hungarian on |cos|)", "dec"
        )
        if not light or v.kind in ("plain", "code+input"):
            figs[f"enc_filters_{tag}"] = A.filters_figure(p, seeds, f"{v.name}: encoder filters per seed", "enc")
    figs["ablation"] = A.ablation_figure(ablations)

    plain = result.of("plain")
    figs["weighted_sum"] = A.weighted_sum_figure(plain, 0)
    figs["encoder"] = A.encoder_figure(plain, 0, patches[0])
    if not light:
        examples = {v.name: (result.of(v), 0) for v in patch_variants}
        figs["ablation_examples"] = A.ablation_examples_figure(examples, patches[1])

    # ---- the 15-point model; figures use the seed's own evaluation seed (22) when it was trained
    ev = seeds.index(SEED_EVAL) if SEED_EVAL in seeds else 0
    full = result.of(full_v) if full_v is not None else None
    asm = A.assembly_mse(plain, full, curves)
    m["assembly"] = {
        k: (_ms(v) if not k.endswith(("_by_point", "_per_model")) else np.asarray(v).tolist())
        for k, v in asm.items()
        if not k.endswith("_per_model")
    }
    counts = A.overlap_counts(3, cfg.win)
    edge = np.zeros(len(counts), bool)
    edge[:3] = edge[-3:] = True
    s_pm, h_pm = asm["sum_by_point_per_model"], asm["halve_by_point_per_model"]
    m["assembly"]["sum_overlap_ratio_per_seed"] = (s_pm[:, counts > 1].mean(1) / s_pm[:, counts == 1].mean(1)).tolist()
    m["assembly"]["halve_edge_ratio_per_seed"] = (h_pm[:, edge].mean(1) / h_pm[:, ~edge].mean(1)).tolist()
    m["assembly"]["overlap_counts"] = counts.tolist()
    m["assembly"]["halving_scale"] = A.halving_scale(cfg.win).tolist()
    m["assembly"]["figure_seed"] = seeds[ev]
    if full_v is not None:
        m["full_model"] = {
            "final_train_loss": _ms(result.losses[result.index(full_v), result.epochs_done - 1]),
        }
    figs["assembly"] = A.assembly_figure(plain, ev, full, ev if full is not None else None, curves[3], asm)

    # ---- the seed's own §5 evaluation loop (eval_model(22)), its §4.2 and §5.2 figures
    runs = {"as is": seed_eval_loop(plain, ev, curves), "halved taps": seed_eval_loop(plain, ev, curves, halve=True)}
    m["seed_eval"] = {
        "seed": seeds[ev],
        "as_is": {k: v for k, v in runs["as is"].items() if k != "examples"},
        "halved": {k: v for k, v in runs["halved taps"].items() if k != "examples"},
    }
    figs["seed_eval"] = seed_eval_figure(runs, seeds[ev])
    figs["output_vs_label"] = output_vs_label_figure(plain, ev, patches, seeds[ev])
    same = same_point_examples(patches)
    m["same_point_examples"] = same
    figs["same_point"] = same_point_figure(patches, same)

    # ---- animations: the plain model of the first seed, each component, then all at once
    if frames:
        for comp in (None,) if light else (0, 1, 2, None):
            figs[f"anim_{'all' if comp is None else comp + 1}"] = A.animation_frames(plain, 0, comp, n_frames=frames)
    m["patch_mse"] = {v.name: m["variants"][v.name]["patch_mse"]["per_seed"] for v in patch_variants}
    m["claims"] = claims(m)
    m["verdict_stability"] = verdict_stability(m)
    m["notes"] = [
        "The blog post's section 4.2 says its loss plot shows '10 experiments with different seeds'; its code trains 5 "
        f"seeds (11, 22, 33, 44, 55). This run trains {len(seeds)} seeds: {', '.join(map(str, seeds))}."
    ]
    return m, figs


def _ms_axis(a: np.ndarray) -> dict:
    return {"mean": a.mean(axis=0).tolist(), "std": a.std(axis=0).tolist(), "per_seed": a.tolist()}


# ----------------------------------------------------------------------------------------------------------------
# writing
# ----------------------------------------------------------------------------------------------------------------
def _save_gif(frames: list[np.ndarray], path: Path, fps: float = 8) -> Path:
    import imageio.v2 as imageio  # noqa: PLC0415

    with atomic_path(path) as tmp:
        imageio.mimsave(tmp, frames, format="GIF", duration=1 / fps, loop=0)
    return path


def save_figures(figs: dict[str, object], out: Path) -> dict[str, Path]:
    """Write every figure (PNG) and animation (GIF) into ``out/figures``."""
    files = {}
    d = out / "figures"
    for name, f in figs.items():
        if isinstance(f, list):
            files[name] = _save_gif(f, d / f"{name}.gif")
        else:
            files[name] = save_figure(f, d / f"{name}.png")
    return files


def _fmt_ms(d: dict) -> str:
    if "ci95" in d:
        return f"{d['mean']:.2e} [{d['ci95'][0]:.2e}, {d['ci95'][1]:.2e}]"
    return f"{d['mean']:.2e} ± {d['std']:.1e}"


def training_text(m: dict) -> str:
    """How the models were trained in this process, saying where a resumed run started."""
    cfg, t = m["config"], m["timing"]
    n_models = len(cfg["seeds"]) * len(cfg["variants"])
    r, e = t.get("resumed_from_epoch", 0), cfg["epochs"]
    if r >= e:
        return (f"resumed from epoch {r} of {e}: the checkpoint was complete, nothing was trained in this run "
                f"(analysis only)")  # fmt: skip
    did = f"trained {n_models} models × {e} epochs in {t['train_seconds']:.1f} s"
    if r:
        did = (f"resumed from epoch {r}: trained epochs {r + 1}-{e} of {n_models} models in "
               f"{t['train_seconds']:.1f} s (the first {r} epochs ran in an earlier process)")  # fmt: skip
    return f"{did} (load average {t['load_before']})"


def render_html(m: dict, files: dict[str, Path], base: Path, embed: bool = False) -> str:
    """The page body: claims, tables and figures (linked relative to ``base``, or embedded)."""
    from ..tour import img_tag, table_html  # noqa: PLC0415

    def img(name: str, alt: str, width: int | None = None) -> str:
        if name not in files:
            return ""
        if embed:
            return img_tag(files[name], alt, width)
        w = f' width="{width}"' if width else ""
        return f'<img alt="{html.escape(alt)}"{w} src="{html.escape(str(files[name].relative_to(base)))}">'

    cfg = m["config"]
    parts = [
        "<style>.bz td{text-align:left} .bz td:first-child{white-space:nowrap}</style><div class='bz'>",
        f"<p>The Bezier-curve autoencoder of the blog experiment (Visualizing the Deconvolution Operation): {len(cfg['seeds'])} seeds × {len(cfg['variants'])} settings "
        f"({', '.join(cfg['variants'])}), {cfg['epochs']} epochs, batch {cfg['batch']}, Adam lr {cfg['lr']}, "
        f"{cfg['n_samples']} curves (data seed {cfg['data_seed']}), all models trained together: "
        f"{html.escape(training_text(m))}.</p>",
        "<h3>The seed's claims</h3>",
        "<p class='muted'>Numbers are mean [95% interval] over seeds. A verdict is <i>confirmed</i> when the "
        "interval lies wholly on the claimed side of the stated threshold, <i>refuted</i> when wholly on the other "
        "side, and <i>not shown</i> when it straddles the threshold.</p>",
        table_html(
            ["§", "claim", "verdict", "numbers", "test and threshold"],
            [
                [
                    c["section"],
                    c["claim"],
                    c["verdict"],
                    c["numbers"],
                    f"{c['test']}; {c['threshold']} (n = {c['n_seeds']} seeds)",
                ]
                for c in m["claims"]
            ],
        ),  # fmt: skip
        "".join(f"<p class='muted'>{html.escape(t)}</p>" for t in m.get("notes", [])),
        _stability_html(m, table_html),
        "<h3>Data and training</h3>",
        img("data", "data"),
        img("loss", "loss curves"),
        img("output_vs_label", "output against label"),
    ]
    rows = []
    for name, v in m["variants"].items():
        rows.append(
            [
                name,
                _fmt_ms(v["final_train_loss"]),
                _fmt_ms(v["patch_mse"]),
                *[f"{a:.2e}" for a in v["ablation"]["mean"][1:]],
                f"{v['decoder_alignment']['pairwise_cos']:.3f}",
                ", ".join(f"{s:.2f}" for s in v["decoder_alignment"]["spread"]),
                f"{v['encoder_roughness']:.2f}",
                _fmt_ms(v["input_noise_mse"]),
            ]
        )
    parts.append(
        table_html(
            [
                "variant",
                "final train loss",
                "patch MSE",
                "zero c1",
                "zero c2",
                "zero c3",
                "matched |cos|",
                "spread after alignment (per channel)",
                "encoder roughness",
                "MSE, noisy input",
            ],
            rows,
        )  # fmt: skip
    )
    parts.append("<h3>Decoding is a weighted sum of the filters</h3>")
    parts += [img("weighted_sum", "weighted sum"), img("encoder", "encoder at work")]
    anims = [k for k in ("anim_1", "anim_2", "anim_3", "anim_all") if k in files]
    if anims:
        parts.append(
            "<p>One code component varying (then all three): outputs, scaled filters, the code, the filters.</p>"
        )
        parts += [img(k, k, 420) for k in anims]
    parts.append("<h3>Filters per seed, before and after sign/permutation alignment</h3>")
    for name in m["variants"]:
        tag = name.replace("/", "_").replace("+", "_")
        parts += [img(f"dec_filters_{tag}", name), img(f"dec_aligned_{tag}", name), img(f"enc_filters_{tag}", name)]
    parts += ["<h3>Ablation</h3>", img("ablation", "ablation"), img("ablation_examples", "ablation examples")]
    parts += [
        "<h3>Section 5.2 of the blog post: the data is too perfect</h3>",
        "<p>Patches that share one point's value to within 0.001 and differ everywhere else: on noise-free "
        "data such tiny exact differences carry information, which input noise takes away.</p>",
        img("same_point", "same point"),
    ]
    asm = m["assembly"]
    parts.append("<h3>The full 15-point model</h3>")
    rows = [[k, _fmt_ms(asm[k])] for k in ("sum", "halve", "exact", "end-to-end") if k in asm]
    parts.append(table_html(["assembly", "15-point MSE, mean [95% interval]"], rows))
    parts.append(f"<p>One curve through model seed {asm.get('figure_seed', cfg['seeds'][0])}'s assembly:</p>")
    parts.append(img("assembly", "assembly"))
    se = m.get("seed_eval")
    if se:
        a, h = se["as_is"], se["halved"]
        parts.append(
            f"<p>The blog post's own evaluation loop (its section 5), <code>eval_model({se['seed']})</code>, ported as written: it prints "
            f"{a['printed']:.3g} where the MSE over every curve is {a['true_mse']:.3g} ({h['printed']:.3g} vs "
            f"{h['true_mse']:.3g} after halving), because it adds the losses of the first {a['batches_summed']} "
            f"batches only (the ones it plots) and divides by all {a['divided_by']}.</p>"
        )
        parts.append(img("seed_eval", "seed eval"))
    parts.append("</div>")
    return "\n".join(p for p in parts if p)


def _stability_html(m: dict, table_html) -> str:
    """Each verdict with the first 5, 10, ... seeds: a verdict that changes with the number of seeds is not stable."""
    st = m.get("verdict_stability")
    if not st or len(st[0]["verdicts"]) < 2:
        return ""
    sizes = sorted(st[0]["verdicts"], key=int)
    rows = [[s["section"], s["claim"], *[s["verdicts"][n] for n in sizes]] for s in st]
    return "<p>Verdicts with the first n seeds (is the verdict stable?):</p>" + table_html(
        ["§", "claim", *[f"n = {n}" for n in sizes]], rows
    )


def claims_markdown(m: dict) -> str:
    """The claims table (and the verdict-stability table) as Markdown, for docs/bezier.md.

    >>> claims_markdown({"claims": [], "seeds": [11]}).splitlines()[0]
    '| § | claim | verdict | numbers: mean [95% interval] | test; threshold |'
    """
    lines = [
        "| § | claim | verdict | numbers: mean [95% interval] | test; threshold |",
        "| --- | --- | --- | --- | --- |",
    ]
    for c in m["claims"]:
        cells = [c["section"], c["claim"], f"**{c['verdict']}**", c["numbers"], f"{c['test']}; {c['threshold']}"]
        lines.append("| " + " | ".join(x.replace("|", "\\|") for x in cells) + " |")
    st = m.get("verdict_stability")
    if st and len(st[0]["verdicts"]) > 1:
        sizes = sorted(st[0]["verdicts"], key=int)
        lines += ["", "| § | claim | " + " | ".join(f"n = {n}" for n in sizes) + " |",
                  "| --- | --- | " + " | ".join("---" for _ in sizes) + " |"]  # fmt: skip
        for s_ in st:
            lines.append(f"| {s_['section']} | {s_['claim']} | " + " | ".join(s_["verdicts"][n] for n in sizes) + " |")
    return "\n".join(lines)


def _page(title: str, body: str) -> str:
    from ..tour import _CSS  # noqa: PLC0415

    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{body}</body></html>"
    )


def _load() -> str:
    try:
        import os  # noqa: PLC0415

        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover
        return "n/a"


def run(
    cfg: TrainConfig,
    out_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
    frames: int = 24,
    light: bool = False,
) -> RunOutput:
    """Train ``cfg`` (checkpoints in ``out_dir``), analyse, and write ``figures/``, ``metrics.json``,
    ``models.npz`` and ``index.html`` into ``out_dir`` (``light``: fewer figures, see :func:`analyse`).

    >>> import tempfile
    >>> cfg = replace(preset("fast", seeds=[11, 22], noise=["seed-text"]), epochs=2, n_samples=256)
    >>> out = run(cfg, tempfile.mkdtemp(), progress=False, frames=0)
    >>> sorted(out.metrics["patch_mse"])
    ['code+input/seed-text', 'code/seed-text', 'plain']
    """
    out = Path(out_dir)
    load_before = _load()
    result = train(cfg, out, resume=resume, progress=progress)
    t0 = time.perf_counter()
    metrics, figs = analyse(result, frames=frames, light=light)
    files = save_figures(figs, out)
    metrics["config"] = cfg.to_dict()
    metrics["timing"] = {
        "train_seconds": result.seconds,
        "resumed_from_epoch": result.resumed_from,
        "analysis_seconds": time.perf_counter() - t0,
        "load_before": load_before,
        "load_after": _load(),
        "machine": f"{platform.machine()} {platform.processor() or ''} cores={__import__('os').cpu_count()}".strip(),
    }
    pf = result.params.flat()
    with atomic_path(out / "models.npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, params=pf, losses=result.losses, models=np.array([f"{v.name}:{s}" for v, s in cfg.models]))
    write_json(out / "metrics.json", metrics)
    write_text(out / "index.html", _page("tconv · Bezier-curve autoencoder", render_html(metrics, files, out)))
    return RunOutput(metrics=metrics, result=result, files=files, out_dir=out)


def fast_config(seeds: Sequence[int] | None = None, noise: Sequence[str] | None = None) -> TrainConfig:
    """The fast preset with both noise settings (the tour's run)."""
    return preset("fast", seeds, noise or ["seed-code", "seed-text"])
