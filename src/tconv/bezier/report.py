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
from . import analysis as A
from .data import crop_starts, make_dataset, make_patches
from .train import NOISE_SETTINGS, TrainConfig, TrainResult, train, variants_for

__all__ = ["PRESETS", "preset", "fast_config", "RunOutput", "run", "analyse", "claims", "render_html", "save_figures"]

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
    a = np.asarray(a, dtype=np.float64)
    return {"mean": float(a.mean()), "std": float(a.std()), "per_seed": a.tolist()}


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

    # ---- the 15-point model
    full = result.of(full_v) if full_v is not None else None
    asm = A.assembly_mse(plain, full, curves)
    m["assembly"] = {k: (_ms(v) if not k.endswith("_by_point") else np.asarray(v).tolist()) for k, v in asm.items()}
    m["assembly"]["overlap_counts"] = A.overlap_counts(3, cfg.win).tolist()
    m["assembly"]["halving_scale"] = A.halving_scale(cfg.win).tolist()
    if full_v is not None:
        m["full_model"] = {
            "final_train_loss": _ms(result.losses[result.index(full_v), result.epochs_done - 1]),
        }
    figs["assembly"] = A.assembly_figure(plain, 0, full, 0 if full is not None else None, curves[3], asm)

    # ---- animations: the plain model of the first seed, each component, then all at once
    if frames:
        for comp in (None,) if light else (0, 1, 2, None):
            figs[f"anim_{'all' if comp is None else comp + 1}"] = A.animation_frames(plain, 0, comp, n_frames=frames)
    m["patch_mse"] = {v.name: m["variants"][v.name]["patch_mse"]["per_seed"] for v in patch_variants}
    m["claims"] = claims(m)
    return m, figs


def _ms_axis(a: np.ndarray) -> dict:
    return {"mean": a.mean(axis=0).tolist(), "std": a.std(axis=0).tolist(), "per_seed": a.tolist()}


def claims(m: dict) -> list[dict]:
    """The seed's claims, each with the numbers that confirm or refute it."""
    out = []
    vs = m["variants"]
    plain = vs["plain"]

    def add(claim: str, section: str, verdict: str, numbers: str) -> None:
        out.append({"claim": claim, "section": section, "verdict": verdict, "numbers": numbers})

    pm = plain["patch_mse"]["mean"]
    add(
        "The 7-point autoencoder trains to a loss below 1e-4",
        "4.2",
        "confirmed" if pm <= 1e-4 else "refuted",
        f"patch MSE {pm:.2e} ± {plain['patch_mse']['std']:.1e}, final training loss "
        f"{plain['final_train_loss']['mean']:.2e} (mean ± std over seeds)",
    )
    sp = np.mean(plain["decoder_alignment"]["spread"])
    raw = np.mean(plain["decoder_alignment"]["raw_spread"])
    add(
        "Different seeds give very different filters, even after compensating sign and order",
        "4.5",
        "confirmed" if sp > 0.25 else "refuted",
        f"plain decoder filters: relative spread {raw:.2f} before alignment, {sp:.2f} after; matched |cos| "
        f"{plain['decoder_alignment']['pairwise_cos']:.3f}",
    )
    abl = np.asarray(plain["ablation"]["mean"][1:])
    ratio = abl.max() / abl.min()
    add(
        "In the plain model every code component matters about equally (zeroing any one costs about the same)",
        "5.1",
        "confirmed" if ratio < 3 else "refuted",
        "plain, MSE with component 1/2/3 zeroed: " + ", ".join(f"{x:.2e}" for x in abl) + f" (max/min {ratio:.1f})",
    )
    for v in vs.values():
        if v["kind"] == "code":
            sp_n = np.asarray(v["decoder_alignment"]["spread"])
            add(
                f"Code noise ({v['noise']}: sigma {tuple(round(s, 8) for s in v['code_sigma'])}) makes the filter "
                "sets consistent across seeds",
                "5.1",
                "confirmed" if sp_n.mean() < 0.5 * sp else ("partly" if sp_n.min() < 0.5 * sp else "refuted"),
                f"relative spread after alignment per channel {', '.join(f'{x:.2f}' for x in sp_n)} (plain: {sp:.2f}); "
                f"matched |cos| {v['decoder_alignment']['pairwise_cos']:.3f} (plain "
                f"{plain['decoder_alignment']['pairwise_cos']:.3f})",
            )
            a = np.asarray(v["ablation"]["mean"][1:])
            order = np.argsort(a)
            add(
                f"With code noise ({v['noise']}), zeroing the noisiest component costs the least "
                "(the components are ordered by importance, like PCA)",
                "5.1",
                "confirmed" if order[0] == 0 else "refuted",
                f"MSE with component 1/2/3 zeroed: {', '.join(f'{x:.2e}' for x in a)}; least costly first: "
                + " < ".join(str(i + 1) for i in order),
            )
            dn = np.asarray(v["decoder_filter_norm"]["mean"])
            add(
                f"With code noise ({v['noise']}) the filter of the noisiest component has the smallest magnitude",
                "5.1",
                "confirmed" if np.argmin(dn) == 0 else "refuted",
                "decoder filter norms per component " + ", ".join(f"{x:.3f}" for x in dn),
            )
        if v["kind"] == "code+input":
            base = vs.get(f"code/{v['noise']}")
            if base is not None:
                r0, r1 = base["encoder_roughness"], v["encoder_roughness"]
                add(
                    f"Input noise (0.01) makes the encoder filters smooth ({v['noise']})",
                    "5.2",
                    "confirmed" if r1 < 0.5 * r0 else "refuted",
                    f"encoder roughness (mean squared 2nd difference / mean square) {r0:.2f} without input noise, "
                    f"{r1:.2f} with; plain {plain['encoder_roughness']:.2f}",
                )
            en = np.asarray(v["encoder_filter_norm"]["mean"])
            add(
                f"With input noise the noisiest component's encoder filter becomes the largest ({v['noise']})",
                "5.2",
                "confirmed" if np.argmax(en) == 0 else "refuted",
                "encoder filter norms per component " + ", ".join(f"{x:.2f}" for x in en),
            )
            if base is not None:
                d0, d1 = base["input_noise_increase"]["mean"], v["input_noise_increase"]["mean"]
                add(
                    f"Input noise makes the encoder less sensitive to noisy inputs ({v['noise']})",
                    "5.2",
                    "confirmed" if d1 < d0 else "refuted",
                    f"MSE added by N(0, 0.01²) input noise: {d1:.2e} with input-noise training, {d0:.2e} without "
                    f"(plain {plain['input_noise_increase']['mean']:.2e})",
                )
    asm = m["assembly"]
    by = {k: np.asarray(asm[k + "_by_point"]) for k in ("sum", "halve", "exact")}
    counts = np.asarray(asm["overlap_counts"])
    interior = counts > 1
    add(
        "Running the patch model on the 15-point curve doubles the overlapping points",
        "5 (full model)",
        "confirmed" if by["sum"][interior].mean() > 10 * by["sum"][~interior].mean() else "refuted",
        f"MSE {asm['sum']['mean']:.2e}; at overlapping points {by['sum'][interior].mean():.2e}, elsewhere "
        f"{by['sum'][~interior].mean():.2e}",
    )
    edge = np.zeros_like(interior)
    edge[:3] = edge[-3:] = True
    add(
        "Halving the overlapping taps fixes the overlaps but breaks the boundary points",
        "5 (full model)",
        "confirmed" if by["halve"][edge].mean() > 10 * by["halve"][~edge].mean() else "refuted",
        f"MSE {asm['halve']['mean']:.2e}; first/last three points {by['halve'][edge].mean():.2e}, the rest "
        f"{by['halve'][~edge].mean():.2e}",
    )
    txt = f"exact fix (÷ overlap count) MSE {asm['exact']['mean']:.2e}"
    if "end-to-end" in asm:
        txt += f"; 15-point model trained end to end {asm['end-to-end']['mean']:.2e}"
    add("(tconv) Dividing by the overlap-count map removes both errors", "5 (full model)", "result", txt)
    return out


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
    return f"{d['mean']:.2e} ± {d['std']:.1e}"


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
        f"<p>Seed 002's Bezier-curve autoencoder: {len(cfg['seeds'])} seeds × {len(cfg['variants'])} settings "
        f"({', '.join(cfg['variants'])}), {cfg['epochs']} epochs, batch {cfg['batch']}, Adam lr {cfg['lr']}, "
        f"{cfg['n_samples']} curves (data seed {cfg['data_seed']}), all models trained together in "
        f"{m['timing']['train_seconds']:.1f} s (load average {m['timing']['load_before']}).</p>",
        "<h3>The seed's claims</h3>",
        table_html(
            ["§", "claim", "verdict", "numbers"],
            [[c["section"], c["claim"], c["verdict"], c["numbers"]] for c in m["claims"]],
        ),
        "<h3>Data and training</h3>",
        img("data", "data"),
        img("loss", "loss curves"),
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
    asm = m["assembly"]
    parts.append("<h3>The full 15-point model</h3>")
    rows = [[k, _fmt_ms(asm[k])] for k in ("sum", "halve", "exact", "end-to-end") if k in asm]
    parts.append(table_html(["assembly", "15-point MSE"], rows))
    parts.append(img("assembly", "assembly"))
    parts.append("</div>")
    return "\n".join(p for p in parts if p)


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
    write_text(
        out / "index.html", _page("tconv · Bezier-curve autoencoder (seed 002)", render_html(metrics, files, out))
    )
    return RunOutput(metrics=metrics, result=result, files=files, out_dir=out)


def fast_config(seeds: Sequence[int] | None = None, noise: Sequence[str] | None = None) -> TrainConfig:
    """The fast preset with both noise settings (the tour's run)."""
    return preset("fast", seeds, noise or ["seed-code", "seed-text"])
