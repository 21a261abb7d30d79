"""Train every seed and every noise setting of seed 002 at once, with the seed's own per-model semantics.

The seed trains one model per script run: ``torch.manual_seed(seed)``, a ``DataLoader(shuffle=True)``, Adam
(lr 1e-4), batch 128, 5000 epochs. Each model here keeps exactly that: its own replica of the seed's global torch
RNG, consumed in the seed's order (module initialization; then per epoch the loader iterator's base seed, the
``RandomSampler``'s seed and its ``randperm``; then per step ``randn`` for the input noise and for the code noise), its
own Adam state, and the seed's loss. What changes is how the work is done: the data stays in memory, the random
numbers of a chunk of epochs are drawn in bulk (bit-identical: ``randn`` of sizes that are multiples of 16 fills
the same values in one call as in many) on a background thread, and one compiled kernel (:mod:`._kernel`) runs the
forward pass, the analytic backward pass and Adam for all models, one model per thread.

Checkpoints are written atomically every ``checkpoint_every`` epochs (parameters, Adam moments and step counts,
losses, and every model's RNG state), so a killed run resumes to the bit-identical result.

>>> cfg = TrainConfig(seeds=(11,), variants=variants_for(["none"], full=False), epochs=2, n_samples=256)
>>> result = train(cfg, progress=False)
>>> result.losses.shape
(1, 2)
"""

from __future__ import annotations

import dataclasses
import json
import queue
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..errors import ConfigError
from ..files import atomic_path
from .data import PATCH, POINTS, make_dataset, make_patches
from .models import STRIDE, Decoder, Encoder, Params, code_length

__all__ = [
    "NOISE_SETTINGS",
    "SEED_CODE_FACTORS",
    "INPUT_NOISE",
    "Variant",
    "variants_for",
    "TrainConfig",
    "TrainResult",
    "init_params",
    "train",
    "CHECKPOINT",
]

#: The seed's code-noise lines as written: ``coderand[:, 0 :] *= 0.1; coderand[:, 1 :] *= 0.01; coderand[:, 2 :] *= 0.001``.
SEED_CODE_FACTORS = (0.1, 0.01, 0.001)

#: Effective per-channel code-noise magnitudes. The seed's slices overlap (``1 :`` is channels 1 and 2), so its code
#: multiplies channel 1 by 0.1 * 0.01 and channel 2 by 0.1 * 0.01 * 0.001 ("seed-code"); its text means one
#: factor per channel ("seed-text").
NOISE_SETTINGS: dict[str, tuple[float, float, float] | None] = {
    "none": None,
    "seed-code": (0.1, 0.1 * 0.01, 0.1 * 0.01 * 0.001),
    "seed-text": (0.1, 0.01, 0.001),
}
INPUT_NOISE = 0.01  #: the seed's input-noise magnitude (§5.2)
CHECKPOINT = "checkpoint.npz"

# numba's default threading layer must not be entered from two threads at once: one training call at a time.
_KERNEL_LOCK = threading.Lock()


@dataclass(frozen=True)
class Variant:
    """One training setting: which data, which noise.

    ``kind`` is ``"plain"`` (§4.2), ``"code"`` (code noise, §5.1), ``"code+input"`` (code and input noise, §5.2) or
    ``"full"`` (the 15-point model trained end to end, §5 "full model").
    """

    kind: str
    noise: str = "none"

    @property
    def name(self) -> str:
        return self.kind if self.noise == "none" else f"{self.kind}/{self.noise}"

    @property
    def code_sigma(self) -> tuple[float, float, float] | None:
        return NOISE_SETTINGS[self.noise] if self.kind in ("code", "code+input") else None

    @property
    def input_sigma(self) -> float:
        return INPUT_NOISE if self.kind == "code+input" else 0.0

    @property
    def length(self) -> int:
        return POINTS if self.kind == "full" else PATCH


def variants_for(noise: Sequence[str], full: bool = True) -> tuple[Variant, ...]:
    """The variants a run trains: always ``plain``; for each noise setting other than ``none`` its ``code`` and
    ``code+input`` models; with ``full`` the end-to-end 15-point model.

    >>> [v.name for v in variants_for(["seed-code"])]
    ['plain', 'code/seed-code', 'code+input/seed-code', 'full']
    """
    if isinstance(noise, str):
        noise = [noise]
    out = [Variant("plain")]
    for nz in noise:
        if nz not in NOISE_SETTINGS:
            raise ConfigError("noise", nz, f"must be one of {sorted(NOISE_SETTINGS)}")
        if nz != "none":
            out += [Variant("code", nz), Variant("code+input", nz)]
    if full:
        out.append(Variant("full"))
    # keep the first of duplicates, in order
    return tuple(dict.fromkeys(out))


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run (recorded in every output)."""

    seeds: tuple[int, ...] = (11, 22, 33, 44, 55)
    variants: tuple[Variant, ...] = field(default_factory=lambda: variants_for(["seed-code"]))
    epochs: int = 5000
    batch: int = 128
    lr: float = 1e-4
    n_samples: int = 16384
    data_seed: int = 22
    channels: int = 3
    win: int = PATCH
    checkpoint_every: int = 500

    def __post_init__(self) -> None:
        object.__setattr__(self, "seeds", tuple(self.seeds))
        object.__setattr__(self, "variants", tuple(self.variants))
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first bad parameter."""

        def pos_int(name: str, v: object) -> None:
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ConfigError(name, v, "must be a positive int")

        if not self.seeds:
            raise ConfigError("seeds", self.seeds, "must name at least one seed")
        for s in self.seeds:
            if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or not 0 <= s < 2**63:
                raise ConfigError("seeds", self.seeds, "must be ints in [0, 2**63)")
        if len(set(self.seeds)) != len(self.seeds):
            raise ConfigError("seeds", self.seeds, "must not repeat a seed")
        if not self.variants or not all(isinstance(v, Variant) for v in self.variants):
            raise ConfigError("variants", self.variants, "must be a non-empty sequence of Variant")
        for v in self.variants:
            if v.kind not in ("plain", "code", "code+input", "full") or v.noise not in NOISE_SETTINGS:
                raise ConfigError("variants", v, "has an unknown kind or noise setting")
            if v.code_sigma is not None and self.channels != 3:
                raise ConfigError("channels", self.channels, "must be 3 for the seed's three code-noise magnitudes")
        for name in ("epochs", "batch", "n_samples", "channels", "win", "checkpoint_every"):
            pos_int(name, getattr(self, name))
        if not isinstance(self.lr, (int, float)) or not 0 < self.lr < 1:
            raise ConfigError("lr", self.lr, "must be a number in (0, 1)")
        if self.win >= POINTS:
            raise ConfigError("win", self.win, f"must be smaller than the curve length {POINTS}")
        if isinstance(self.data_seed, bool) or not isinstance(self.data_seed, int) or self.data_seed < 0:
            raise ConfigError("data_seed", self.data_seed, "must be a non-negative int")

    @property
    def models(self) -> list[tuple[Variant, int]]:
        """(variant, seed) of every model, variant-major."""
        return [(v, s) for v in self.variants for s in self.seeds]

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["variants"] = [v.name for v in self.variants]
        d["seeds"] = list(self.seeds)
        return d


@dataclass
class TrainResult:
    """Trained parameters of every model, their per-epoch losses, and how long it took."""

    config: TrainConfig
    params: Params  #: all models, in :attr:`TrainConfig.models` order
    losses: np.ndarray  #: (M, epochs): each epoch's mean batch loss, as the seed prints it
    seconds: float  #: wall time of the training loop in this process (excludes a resumed part)
    epochs_done: int
    resumed_from: int = 0

    def index(self, variant: str | Variant) -> list[int]:
        """Model indices of one variant (by name), in seed order."""
        name = variant.name if isinstance(variant, Variant) else variant
        return [i for i, (v, _) in enumerate(self.config.models) if v.name == name]

    def of(self, variant: str | Variant) -> Params:
        """The parameters of one variant's models, in seed order."""
        return self.params.select(self.index(variant))


# ----------------------------------------------------------------------------------------------------------------
# the seed's RNG, replayed per model
# ----------------------------------------------------------------------------------------------------------------
def init_params(seed: int, channels: int = 3, win: int = PATCH) -> tuple[Params, torch.Generator]:
    """The seed's initial modules after ``torch.manual_seed(seed)``, and the global RNG state that follows.

    >>> p, g = init_params(11)
    >>> p.enc_w.shape, p.dec_w.shape
    ((1, 3, 7), (1, 3, 7))
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        enc, dec = Encoder(channels, win), Decoder(channels, win)
        g = torch.Generator()
        g.set_state(torch.get_rng_state())
    return Params.from_modules([(enc, dec)]), g


def _draw_noise(g: torch.Generator, sizes: list[int]) -> torch.Tensor:
    """``cat([randn(s) for s in sizes])`` from ``g``, in one call when that gives the same numbers."""
    if all(s % 16 == 0 and s >= 16 for s in sizes):
        return torch.randn(sum(sizes), generator=g)
    return torch.cat([torch.randn(s, generator=g) for s in sizes])


@dataclass
class _Chunk:
    start: int
    n_epochs: int
    perms: np.ndarray  # (M, E, N) int32
    noise: np.ndarray  # flat float32
    noise_off: np.ndarray  # (M,) int64
    rng_states: list[np.ndarray]  # every model's generator state after this chunk


class _Streams:
    """Every model's replica of the seed's global torch RNG."""

    def __init__(self, cfg: TrainConfig, gens: list[torch.Generator]) -> None:
        self.cfg = cfg
        self.gens = gens
        n, b = cfg.n_samples, cfg.batch
        self.step_sizes = [min(b, n - k) for k in range(0, n, b)]
        self.sizes: list[list[int]] = []
        for v, _ in cfg.models:
            per_step = []
            code_len = cfg.channels * code_length(v.length, cfg.win)
            for bs in self.step_sizes:
                if v.input_sigma:
                    per_step.append(bs * v.length)
                if v.code_sigma is not None:
                    per_step.append(bs * code_len)
            self.sizes.append(per_step)

    def epoch_noise_floats(self) -> int:
        return sum(sum(s) for s in self.sizes)

    def chunk(self, start: int, n_epochs: int) -> _Chunk:
        cfg = self.cfg
        m = len(self.gens)
        perms = np.empty((m, n_epochs, cfg.n_samples), dtype=np.int32)
        per_model = [sum(s) * n_epochs for s in self.sizes]
        noise = np.empty(max(1, sum(per_model)), dtype=np.float32)
        offs = np.zeros(m, dtype=np.int64)
        offs[1:] = np.cumsum(per_model)[:-1]
        for i, g in enumerate(self.gens):
            pos = offs[i]
            for e in range(n_epochs):
                # The DataLoader iterator draws its base seed, then the RandomSampler draws the seed of its randperm.
                seeds = torch.empty(2, dtype=torch.int64).random_(generator=g)
                pg = torch.Generator()
                pg.manual_seed(int(seeds[1]))
                perms[i, e] = torch.randperm(cfg.n_samples, generator=pg).numpy()
                if self.sizes[i]:
                    drawn = _draw_noise(g, self.sizes[i]).numpy()
                    noise[pos : pos + drawn.size] = drawn
                    pos += drawn.size
        states = [g.get_state().numpy().copy() for g in self.gens]
        return _Chunk(start, n_epochs, perms, noise, offs, states)


# ----------------------------------------------------------------------------------------------------------------
# checkpoints
# ----------------------------------------------------------------------------------------------------------------
def _save_checkpoint(path: Path, cfg: TrainConfig, epoch: int, arrays: dict, states: list[np.ndarray]) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(
                fh,
                config=np.array(json.dumps(cfg.to_dict(), sort_keys=True)),
                epoch=np.array(epoch),
                rng_states=np.stack(states),
                **arrays,
            )


def _load_checkpoint(path: Path, cfg: TrainConfig) -> dict:
    with np.load(path) as z:
        saved = json.loads(str(z["config"]))
        if saved != json.loads(json.dumps(cfg.to_dict(), sort_keys=True)):
            diff = sorted(k for k in saved if saved.get(k) != cfg.to_dict().get(k))
            raise ConfigError("resume", str(path), f"was written by a different configuration (differs in {diff})")
        return {k: z[k] for k in z.files}


# ----------------------------------------------------------------------------------------------------------------
# the training loop
# ----------------------------------------------------------------------------------------------------------------
def _chunk_epochs(cfg: TrainConfig, streams: _Streams, noise_budget_bytes: int = 48 << 20) -> int:
    per_epoch = 4 * (streams.epoch_noise_floats() + len(cfg.models) * cfg.n_samples)
    by_memory = max(1, noise_budget_bytes // max(1, per_epoch))
    by_progress = max(1, cfg.epochs // 200)
    return int(min(by_memory, by_progress, cfg.checkpoint_every))


def _loss_text(cfg: TrainConfig, losses: np.ndarray, epoch: int) -> str:
    """The running loss, short enough for an 80-column terminal: plain, the noisy models' range, full."""
    if epoch == 0:
        return ""
    by_kind: dict[str, list[float]] = {}
    for i, (v, _) in enumerate(cfg.models):
        by_kind.setdefault("noisy" if v.kind in ("code", "code+input") else v.kind, []).append(losses[i, epoch - 1])
    parts = []
    for kind, vals in by_kind.items():
        vals_a = np.asarray(vals)
        if kind == "noisy":
            parts.append(f"noisy {vals_a.min():.1e}..{vals_a.max():.1e}")
        else:
            parts.append(f"{kind} {vals_a.mean():.2e}")
    return "loss " + " ".join(parts)


def _say(text: str, plain: bool, bar) -> None:
    """One progress line: on stderr when there is no terminal, above the bar otherwise."""
    if plain:
        print(text, file=sys.stderr, flush=True)
    else:
        bar.console.print(text)


def train(
    cfg: TrainConfig,
    out_dir: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
    stop_after: int | None = None,
    on_chunk: Callable[[int, np.ndarray], None] | None = None,
) -> TrainResult:
    """Train every (variant, seed) model of ``cfg`` together; see the module docstring.

    ``out_dir`` receives ``checkpoint.npz`` every ``cfg.checkpoint_every`` epochs (atomically); with ``resume`` a run
    continues from it (a checkpoint of another configuration raises :class:`ConfigError`). ``stop_after`` ends the
    run after that many epochs, as if it had been killed right after a checkpoint (for tests). ``on_chunk(epoch,
    losses)`` is called after every chunk of epochs.

    >>> cfg = TrainConfig(seeds=(1, 2), variants=variants_for(["seed-text"], full=False), epochs=1, n_samples=128)
    >>> train(cfg, progress=False).params.n_models
    6
    """
    if not isinstance(cfg, TrainConfig):
        raise ConfigError("cfg", type(cfg).__name__, "must be a TrainConfig")
    if stop_after is not None and (not isinstance(stop_after, int) or stop_after < 1):
        raise ConfigError("stop_after", stop_after, "must be a positive int or None")
    ckpt = Path(out_dir) / CHECKPOINT if out_dir is not None else None
    if resume and ckpt is None:
        raise ConfigError("resume", resume, "needs an output folder to find the checkpoint in")

    import numba  # noqa: PLC0415

    from ._kernel import train_chunk  # noqa: PLC0415  (compiled on first use, then cached on disk)

    # ---- data: the patches and the curves side by side, so one kernel call serves both model kinds
    curves = make_dataset(cfg.n_samples, POINTS, cfg.data_seed)
    patches = make_patches(curves, cfg.win, cfg.data_seed)
    data = np.ascontiguousarray(np.hstack([patches, curves.astype(np.float32)]))
    models = cfg.models
    m = len(models)
    col0 = np.array([cfg.win if v.kind == "full" else 0 for v, _ in models], dtype=np.int64)
    lengths = np.array([v.length for v, _ in models], dtype=np.int64)
    in_sigma = np.array([v.input_sigma for v, _ in models], dtype=np.float32)
    code_sigma = np.zeros((m, cfg.channels), dtype=np.float32)
    for i, (v, _) in enumerate(models):
        if v.code_sigma is not None:
            code_sigma[i] = v.code_sigma
    has_in = in_sigma > 0
    has_code = np.array([v.code_sigma is not None for v, _ in models])

    # ---- initial state (the seed's module init), or the checkpoint
    inits = [init_params(s, cfg.channels, cfg.win) for _, s in models]
    gens = [g for _, g in inits]
    flat = np.concatenate([p.flat() for p, _ in inits])
    m1, m2 = np.zeros_like(flat), np.zeros_like(flat)
    steps = np.zeros(m, dtype=np.int64)
    losses = np.full((m, cfg.epochs), np.nan)
    epoch = 0
    if resume and ckpt is not None and ckpt.exists():
        z = _load_checkpoint(ckpt, cfg)
        flat, m1, m2, steps, losses = (z[k].copy() for k in ("params", "m1", "m2", "steps", "losses"))
        epoch = int(z["epoch"])
        for g, st in zip(gens, z["rng_states"], strict=True):
            g.set_state(torch.from_numpy(st.copy()))
    resumed_from = epoch
    end = cfg.epochs if stop_after is None else min(cfg.epochs, epoch + stop_after)

    streams = _Streams(cfg, gens)
    per_chunk = _chunk_epochs(cfg, streams)

    # ---- a background thread draws the random numbers of the next chunk while the kernel trains this one
    plan: list[tuple[int, int]] = []
    e = epoch
    while e < end:
        k = min(per_chunk, end - e, cfg.checkpoint_every - e % cfg.checkpoint_every)
        plan.append((e, k))
        e += k
    chunks: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()

    def produce() -> None:
        try:
            for start, k in plan:
                if stop.is_set():
                    return
                chunks.put(streams.chunk(start, k))
        except BaseException as exc:  # pragma: no cover - surfaced in the consumer
            chunks.put(exc)

    producer = threading.Thread(target=produce, daemon=True, name="bezier-rng")
    producer.start()

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: PLC0415

    bar = Progress(
        TextColumn("[bold]bezier[/] {task.description}"),
        BarColumn(bar_width=16),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[loss]}"),
        disable=not progress,
        transient=False,
    )
    # without a terminal the bar stays silent: plain lines every tenth of the run instead
    lines = progress and not bar.console.is_terminal
    if progress and resumed_from:
        _say(f"bezier: resuming from epoch {resumed_from} of {cfg.epochs} ({ckpt})", lines, bar)
    t0 = time.perf_counter()
    next_line = epoch + max(1, cfg.epochs // 10)
    try:
        with bar:
            task = bar.add_task(f"{m} models", total=cfg.epochs, completed=epoch, loss=_loss_text(cfg, losses, epoch))
            for _ in plan:
                ch = chunks.get()
                if isinstance(ch, BaseException):
                    raise ch
                chunk_losses = np.zeros((m, ch.n_epochs))
                with _KERNEL_LOCK, numba.parallel_chunksize(1):  # models differ in cost: hand them out one by one
                    train_chunk(
                        data, col0, lengths, ch.perms, ch.noise, ch.noise_off, in_sigma, code_sigma, has_in, has_code,
                        flat, m1, m2, steps, cfg.lr, cfg.batch, cfg.channels, cfg.win, STRIDE, chunk_losses,
                    )  # fmt: skip
                losses[:, ch.start : ch.start + ch.n_epochs] = chunk_losses
                epoch = ch.start + ch.n_epochs
                if ckpt is not None and (epoch % cfg.checkpoint_every == 0 or epoch == cfg.epochs):
                    arrays = {"params": flat, "m1": m1, "m2": m2, "steps": steps, "losses": losses}
                    _save_checkpoint(ckpt, cfg, epoch, arrays, ch.rng_states)
                bar.update(task, completed=epoch, loss=_loss_text(cfg, losses, epoch))
                if lines and (epoch >= next_line or epoch == end):
                    next_line = epoch + max(1, cfg.epochs // 10)
                    _say(
                        f"bezier: epoch {epoch}/{cfg.epochs}, {time.perf_counter() - t0:.0f} s, "
                        f"{_loss_text(cfg, losses, epoch)}",
                        lines,
                        bar,
                    )
                if on_chunk is not None:
                    on_chunk(epoch, losses)
    finally:
        stop.set()
        while producer.is_alive():
            try:
                chunks.get(timeout=0.05)
            except queue.Empty:
                pass
        producer.join()
    seconds = time.perf_counter() - t0
    return TrainResult(
        config=cfg,
        params=Params.from_flat(flat, cfg.channels, cfg.win),
        losses=losses,
        seconds=seconds,
        epochs_done=epoch,
        resumed_from=resumed_from,
    )
