"""How "auto" chooses a route: measured once per layer and machine, cached, within a memory budget.

Like cuDNN's benchmark mode or FFTW's wisdom. On the first call with a new **key** — the plan, the dtype, the memory
layout of input and weight, the thread count, whether oneDNN is on, and whether gradients are needed — "auto" times
every registered route (:mod:`tconv.ops.registry`) that applies and fits the memory budget, torch always among
them, and keeps the fastest (:mod:`tconv.ops.race`). The measuring is spread over the layer's first calls, every
one of them returning a real result (:func:`call`): one round of the race per call without gradients, one stage
of a training step's (forward, input gradient, weight gradient, whole steps) per call with them. The winner is kept in memory and in a per-machine JSON file, so later calls, and
later processes on the same machine, go straight to it.

- **Budget.** A route may use at most ``memory_factor`` (default 1.5) times torch's estimated peak, or torch's peak
  plus ``memory_slack`` (default 1 MiB) where that is more: a fraction of a megabyte never decides a choice. A route
  over the budget may still run on slices of the batch when each slice fits (no-grad only); otherwise it is not
  considered. The 400² image with a 64x64 kernel: col2im's 2.6 GB of columns are far out; the FFT route, two
  orders of magnitude faster than torch there (``docs/benchmarks.md``), needs less than torch. No route that needs more than torch may
  exceed the memory available when the choice is made (:func:`tconv.memory.available_bytes`, capped by ``TCONV_MAX_BYTES``), so "auto" never fails where torch
  might succeed; a ConfigError that says the budget, what is available and what the smallest route needs is left
  for a budget that nothing fits.
  ``memory_factor=None`` lifts the limit. See :func:`budget_bytes`.
- **Ties go to torch.** Another route must be at least :data:`MARGIN` faster to be chosen.
- **Tiny problems** (under :data:`MIN_WORK`) run torch itself: measuring cannot pay for itself there, and any other
  route's Python overhead outweighs what it could win.
- **The heuristic** (:func:`tconv.ops.registry.heuristic`, from the idle measurements) decides instead under
  ``torch.compile``, off the CPU, and when measuring is off: ``TCONV_AUTOTUNE=0`` or ``configure(enabled=False)``.
- **The cache file** lives in ``TCONV_CACHE_DIR`` (default ``$XDG_CACHE_HOME/tconv``, else ``~/.cache/tconv``), one
  file per machine (CPU model, core count, torch version) and :data:`FORMAT`. It is safe to delete. A corrupt file,
  or one from another format or machine, is ignored and rewritten. Writes are atomic (temp file + rename) under a
  lock, and each writer merges what others wrote, so concurrent processes lose nothing.
- **Deterministic given the cache**: a key found in the cache always runs the same route.

>>> import tempfile, torch
>>> from tconv.geometry import make_plan
>>> with settings(enabled=True, cache_dir=tempfile.mkdtemp(), min_work=0):
...     c = choose(make_plan((2, 8, 16, 16), (8, 8, 2, 2), stride=2), torch.randn(2, 8, 16, 16), torch.randn(8, 8, 2, 2))
...     c.measured, c.route.name in ("torch", "torch_cl", "gemm", "subpixel", "col2im", "polyphase")
(True, True)
"""

from __future__ import annotations

import dataclasses
import functools
import math
import threading
from dataclasses import dataclass, field

import torch

from ..geometry import Plan
from . import autocache, race
from .autocache import (  # noqa: F401  (re-exported: the settings and the cache are part of this module's API)
    FORMAT,
    MIN_WORK,
    Settings,
    _layout,
    _lookup,
    _machine,
    _store,
    cache_path,
    configure,
    current,
    key,
    settings,
)
from .budget import _budget_error, _fit, _floor, _limit, budget_bytes, gemm_rate, measure_gemm_rate
from .race import DECISIVE, MARGIN
from .registry import Route, get_route, heuristic, routes

__all__ = [
    "FORMAT",
    "MARGIN",
    "MIN_WORK",
    "Choice",
    "configure",
    "settings",
    "current",
    "cache_path",
    "key",
    "budget_bytes",
    "choose",
    "chosen",
    "measuring",
    "call",
    "run",
    "clear_memory_cache",
    "gemm_rate",
    "measure_gemm_rate",
]


_lock = threading.Lock()


def clear_memory_cache() -> None:
    """Forget the in-memory choices (the file stays; the next call reads it again)."""
    autocache._memory.clear()
    _fast.clear()
    _pending.clear()


# (plan, dtype, device, layouts, grad, settings, threads, oneDNN) -> the choice: a call's whole lookup, one dict probe
_fast: dict[tuple, Choice] = {}


@dataclass(frozen=True)
class Choice:
    """A route, the number of batch slices it runs in (1: the whole batch at once), how it was decided, and, for a
    training step assembled from parts, how the gradients are computed."""

    route: Route
    chunks: int = 1
    measured: bool = False
    ms: dict[str, float] = field(default_factory=dict)
    #: where gradients are needed: the ways of the input and weight gradients (:mod:`tconv.ops.training`); None: the
    #: route's own backward
    gx: str | None = None
    gw: str | None = None
    #: where measured just now: the winner's first run in the race (ms), i.e. what the call costs cold, without any
    #: measuring (oneDNN's kernels for a new shape, an FFT's plans); None where not known. Not stored in the cache.
    cold_ms: float | None = field(default=None, compare=False)

    @property
    def is_plain_torch(self) -> bool:
        """torch itself on the whole batch, its own backward: a call may go straight to ``F.conv_transpose*d``."""
        return self.route.name == "torch" and self.chunks == 1 and self.gx is None


def run(choice: Choice, plan: Plan, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """Run a choice: the route on the whole batch, or slice by slice into one preallocated output; a choice with
    gradient parts runs them through :func:`tconv.ops.training.split_step` when gradients are recorded."""
    if choice.gx is not None and torch.is_grad_enabled():
        from .training import split_step  # noqa: PLC0415

        forward = functools.partial(run, dataclasses.replace(choice, gx=None, gw=None))
        return split_step(plan, x, w, b, forward, choice.gx, choice.gw or "torch")
    if choice.chunks == 1:
        return choice.route(plan, x, w, b)
    n = x.shape[0]
    step = -(-n // choice.chunks)
    y = torch.empty(plan.output_shape, dtype=x.dtype, device=x.device)
    for lo in range(0, n, step):
        hi = min(n, lo + step)
        y[lo:hi] = choice.route(dataclasses.replace(plan, batch=hi - lo), x[lo:hi], w, b)
    return y


# ---- measuring -----------------------------------------------------------------------------------------------------
def _forward_thunk(
    choice: Choice, plan: Plan, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, keep: dict | None = None
):
    """One no-grad call of ``choice``; with ``keep``, its output is kept there (``keep["out"]``: the choice and
    the output), the previous run's dropped before it runs, so that no two outputs are ever alive at once."""

    def call() -> None:
        if keep is not None:
            keep.clear()
        with torch.no_grad():
            y = run(choice, plan, x, w, b)
        if keep is not None:
            keep["out"] = (choice, y)

    return call


def _step_thunk(choice: Choice, plan: Plan, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None):
    def call() -> None:
        with torch.enable_grad():
            y = run(choice, plan, x, w, b)
            inputs = [t for t in (x, w, b) if t is not None and t.requires_grad]
            torch.autograd.grad(y, inputs, torch.ones_like(y), allow_unused=True)

    return call


class _Race:
    """The race between one layer's ``candidates`` (:mod:`tconv.ops.race`), on whatever tensors each
    :meth:`play` is given: to its end at once (:func:`choose`), or one round per call (:func:`call`: a layer's
    measuring is spread over its first calls, each of which returns the output of its round's last run). A route
    that is not direct runs first; the direct ones are skipped when even their floor (the dense sum at the GEMM
    rate) is slower. ``choice`` is set once the race is over: the fastest, torch on a near-tie."""

    def __init__(self, plan: Plan, grad: bool, candidates: list[Choice]) -> None:
        self.plan, self.grad = plan, grad
        # routes that are not direct (the FFT) run first: where one is far ahead, the direct ones need not run
        ordered = sorted(candidates, key=lambda c: c.route.direct)
        self.by_name = {c.route.name: c for c in ordered}
        self.firsts: dict[str, float] = {}  # each candidate's first (cold) run, ms
        self.choice: Choice | None = None
        if len(candidates) == 1:  # nothing to compare (a depthwise layer: torch alone is worth timing): no runs
            self.choice = candidates[0]
            return
        floor = None
        if not all(c.route.direct for c in ordered):
            seconds = _floor(plan, grad)
            floor = {c.route.name: seconds for c in ordered if c.route.direct}
        ref = "torch" if "torch" in self.by_name else None
        self._player = race.Player(race.steps(list(self.by_name), ref, floor, self.firsts))

    def play(
        self, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, one_round: bool = False
    ) -> tuple[Choice, torch.Tensor] | None:
        """Run the race on these tensors to its end, or (``one_round``) to the end of the current round; then
        the last run's choice and output (``one_round`` only, where it ran and returned)."""
        keep: dict | None = {} if one_round else None
        if self.choice is None:
            if self.grad:
                fns = {n: _step_thunk(c, self.plan, x, w, b) for n, c in self.by_name.items()}
            else:
                fns = {n: _forward_thunk(c, self.plan, x, w, b, keep) for n, c in self.by_name.items()}
            self._player.play(fns, one_round)
            if self._player.done:
                ms = self._player.result
                if not ms:
                    raise RuntimeError(f"every route failed on {self.plan.describe()}")
                name = race.winner(ms, "torch")
                self.choice = dataclasses.replace(
                    self.by_name[name], measured=True, ms=ms, cold_ms=self.firsts.get(name)
                )
        return None if keep is None else keep.get("out")

    @property
    def leader(self) -> Choice:
        """The winner once the race is over; between rounds, the candidate with the best run so far."""
        if self.choice is not None:
            return self.choice
        assert self._player.leader is not None  # a race not over has stopped at a pause, which names the leader
        return self.by_name[self._player.leader]


class _Parts:
    """A training step assembled from the fastest part of each (:mod:`tconv.ops.training`), measured in stages: the
    forward route (the no-grad winner: from the cache, or its race, one round per stage), the input-gradient ways,
    the weight-gradient ways, then (where needed) whole steps. The assembly is considered only when its parts add up
    to less than torch's parts by :data:`MARGIN`; it is kept at once when they are :data:`DECISIVE` times less, else
    when it wins a duel of whole steps (two duels, one per stage, where the first win is not DECISIVE). :meth:`play`
    runs every stage, or one (a measuring call's share)."""

    def __init__(self, plan: Plan, budget: float, avail: int | None) -> None:
        from .training import GRAD_INPUT  # noqa: PLC0415

        self.plan, self.budget, self.avail = plan, budget, avail
        self.forward: Choice | None = None
        self._forward_race: _Race | None = None
        self.gx_ms: dict[str, float] | None = None
        self.gw_ms: dict[str, float] | None = None
        self.firsts: dict[str, float] = {}  # each gradient way's first (cold) run, ms
        self.choice: Choice | None = None
        self._split: Choice | None = None  # the assembly, where whole steps are still to decide
        self._duels: list[dict[str, float]] = []  # the duels of whole steps so far (at most CONFIRM)
        # as in the forward race: the FFT ways first; where they are far ahead the direct ways (each a dense sum as
        # large as the forward's) are not run, and the floor stands in for torch's time
        self.floor = _floor(plan, False) if "fft" in GRAD_INPUT and GRAD_INPUT["fft"][1](plan) else None

    def interim(self, dtype: torch.dtype) -> Choice | None:
        """What a measuring call computes its own output with, while the parts are measured: the forward winner,
        with its own backward, where torch's forward is DECISIVE times slower or was not even run (below its floor:
        the FFT on the 400² image with a 64x64 kernel, where torch's step takes ~120 of the FFT's); else None
        (torch)."""
        f = self.forward
        if f is None or f.route.name == "torch":
            return None
        t, mine = f.ms.get("torch"), f.ms.get(f.route.name)
        if t is not None and (mine is None or t < DECISIVE * mine):
            return None
        return None if _fit(f.route, self.plan, dtype, True, self.budget) is None else Choice(f.route)

    def play(self, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, one_round: bool = False) -> None:
        """Measure on these tensors: every stage left, or (``one_round``) the next one."""
        xd, wd, bd = x.detach(), w.detach(), None if b is None else b.detach()
        while self.choice is None:
            ran = self._stage(x, w, b, xd, wd, bd, one_round)
            if one_round and ran:
                return

    def _stage(self, x, w, b, xd, wd, bd, one_round: bool) -> bool:
        """The next stage; whether it ran anything."""
        from .training import GRAD_INPUT, GRAD_WEIGHT  # noqa: PLC0415

        plan = self.plan
        if self.forward is None:
            k = key(plan, xd, wd, False)
            hit = _cached(k, plan, x.dtype, False, self.budget)
            if hit is not None:
                self.forward = hit
                return False
            fast_key = _fast_key(plan, xd, wd, False, current())
            if self._forward_race is None:  # a race that the layer's no-grad calls began goes on here
                cands = _candidates(plan, x.dtype, False, self.budget, self.avail)
                self._forward_race = _pending.pop(fast_key, None) or _Race(plan, False, cands)
            r = self._forward_race
            ran = r.choice is None
            r.play(xd, wd, bd, one_round)
            if r.choice is not None:
                self.forward = r.choice
                _settle(k, fast_key, r.choice)
            return ran
        if self.gx_ms is None:
            self.gx_ms = self._race_part(GRAD_INPUT, "gx", xd, wd)
            return True
        if self.gw_ms is None:
            self.gw_ms = self._race_part(GRAD_WEIGHT, "gw", xd, wd)
            self._decide(b)
            return True
        self._duel(x, w, b)
        return True

    def _race_part(self, ways: dict, part: str, xd: torch.Tensor, wd: torch.Tensor) -> dict[str, float]:
        plan = self.plan
        gy = torch.randn(plan.output_shape, dtype=xd.dtype, device=xd.device)
        fns = {f"{part}:{n}": (lambda f=f: f(plan, gy, xd, wd)) for n, (f, ok) in ways.items() if ok(plan)}
        fns = dict(sorted(fns.items(), key=lambda kv: not kv[0].endswith(":fft")))
        bounds = None if self.floor is None else {n: self.floor for n in fns if not n.endswith(":fft")}
        return race.race(fns, f"{part}:torch", bounds, self.firsts)

    def _decide(self, b: torch.Tensor | None) -> None:
        """From the parts' times: torch, the assembly at once, or whole steps to race (:meth:`_duel`)."""
        from .training import grad_bias  # noqa: PLC0415

        plan, forward = self.plan, self.forward
        assert forward is not None and self.gx_ms is not None and self.gw_ms is not None
        gx_ms, gw_ms, fwd_ms = self.gx_ms, self.gw_ms, forward.ms
        if forward.route.name == "torch" and "torch" not in fwd_ms:  # torch alone was worth timing: the same
            fwd_ms = {"torch": 0.0}  # forward on both sides, so the gradient parts alone decide
        ms = {**forward.ms, **gx_ms, **gw_ms}
        if self.floor is not None:  # torch's parts not run: at least their floor
            fwd_ms = {"torch": 1e3 * self.floor, **fwd_ms}
            gx_ms = {"gx:torch": 1e3 * self.floor, **gx_ms} if gx_ms else gx_ms
            gw_ms = {"gw:torch": 1e3 * self.floor, **gw_ms} if gw_ms else gw_ms
        self.choice = Choice(get_route("torch"), measured=True, ms=ms)
        if not gx_ms or not gw_ms or "torch" not in fwd_ms or "gx:torch" not in gx_ms or "gw:torch" not in gw_ms:
            return
        gx, gw = race.winner(gx_ms, "gx:torch"), race.winner(gw_ms, "gw:torch")
        t_bias = 0.0
        if b is not None:
            gy = torch.randn(plan.output_shape, dtype=b.dtype, device=b.device)
            t_bias = 1e3 * race._clock("gb", lambda: grad_bias(plan, gy))
        torch_parts = fwd_ms["torch"] + gx_ms["gx:torch"] + gw_ms["gw:torch"] + t_bias
        mine = fwd_ms[forward.route.name] + gx_ms[gx] + gw_ms[gw] + t_bias
        if mine * (1 + MARGIN) > torch_parts:  # the parts do not promise a win by the margin: torch
            return
        # cold: the forward's first run where it was measured just now (else it ran before: its warm time), and the
        # gradient ways' first runs
        fwd_cold = forward.cold_ms if forward.cold_ms is not None else fwd_ms[forward.route.name]
        cold = fwd_cold + self.firsts.get(gx, gx_ms[gx]) + self.firsts.get(gw, gw_ms[gw]) + t_bias
        split = Choice(forward.route, forward.chunks, measured=True, ms=ms, gx=gx[3:], gw=gw[3:], cold_ms=cold)
        if DECISIVE * mine < torch_parts:  # far ahead: whole steps would not reverse it
            self.choice = split
            return
        # the parts promise a win, but not a decisive one: whole steps decide (autograd's own costs are in neither
        # sum; a promise within the runs' spread, U-Net 512->256 at batch 8, lost 5% once chosen on a lucky duel)
        self.choice, self._split = None, split

    def _duel(self, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> None:
        """Whole steps, torch's against the assembly's: the split's kernels all ran in the parts' races; torch's
        whole step (one backward call for both gradients) may not have: one step of torch's to warm it up, then the
        duel (torch, split, split, torch). A win short of :data:`DECISIVE` is confirmed by a second duel (the next
        measuring call's stage): the assembly is kept only if it wins both by the margin."""
        split, plan = self._split, self.plan
        assert split is not None
        torch_choice = Choice(get_route("torch"), measured=True, ms=split.ms)
        self.choice = split
        xs, ws = x.detach().requires_grad_(x.requires_grad), w.detach().requires_grad_(w.requires_grad)
        bs = None if b is None else b.detach().requires_grad_(b.requires_grad)
        fns = {
            "step:torch": _step_thunk(torch_choice, plan, xs, ws, bs),
            "step:split": _step_thunk(split, plan, xs, ws, bs),
        }
        if not self._duels:
            try:
                race._clock("step:torch", fns["step:torch"])
            except (RuntimeError, MemoryError):
                return
        steps = race.duel(fns, "step:torch", "step:split")
        self._duels.append(steps)
        # each side's best step over the duels so far
        split.ms.update({k: min(d[k] for d in self._duels if k in d) for k in steps})
        if "step:split" not in steps or race.winner(steps, "step:torch") != "step:split":
            self.choice = torch_choice
            return
        if steps["step:torch"] < DECISIVE * steps["step:split"] and len(self._duels) < CONFIRM:
            self.choice = None  # a win within reach of the steps' spread: the next stage duels again


#: Duels of whole steps an assembled training step must win, each by the margin, unless it wins the first by
#: DECISIVE: steps of 130-200 ms varied by ±8% run to run here, and one duel chose an assembly (3-D 32->16 k4 s2 at
#: batch 16, torch_cl + torch's gradients, 13% ahead in its duel) that then measured 0.96x torch over 73 steps.
CONFIRM = 2


def _heuristic(
    plan: Plan, dtype: torch.dtype, grad: bool, budget: float, avail: int | None, exact_only: bool = False
) -> Choice:
    fits: dict[str, int] = {}

    def allowed(r: Route) -> bool:
        if exact_only and not r.nonfinite_exact(plan):
            return False
        c = _fit(r, plan, dtype, grad, budget)
        if c is not None:
            fits[r.name] = c
        return c is not None

    try:
        route = heuristic(plan, allowed)
    except LookupError:
        raise _budget_error(plan, dtype, budget, avail) from None
    return Choice(route, fits[route.name])


def _needs_grad(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> bool:
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (x, w, b))


def _fast_key(plan: Plan, x: torch.Tensor, w: torch.Tensor, grad: bool, s: Settings) -> tuple:
    k = (plan, x.dtype, x.device.type, _layout(x, plan.nd), _layout(w, plan.nd), grad, s)
    return k + (torch.get_num_threads(), torch.backends.mkldnn.enabled)


def choose(
    plan: Plan, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None = None, grad: bool | None = None
) -> Choice:
    """The route "auto" runs for this call: from the cache, by measuring now (a race that :func:`call` began is
    played to its end), or by the heuristic (see above)."""
    if grad is None:
        grad = _needs_grad(x, w, b)
    s = current()
    fast_key = _fast_key(plan, x, w, grad, s)
    choice = _fast.get(fast_key)
    if choice is None:
        choice = _choose(plan, x, w, b, grad, s, fast_key)
        _remember(fast_key, choice)
    return _exact_for_input(choice, plan, x, w, grad)


def chosen(plan: Plan, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None = None) -> Choice | None:
    """The choice already made for this call (in this process), or None: nothing is measured or looked up."""
    return _fast.get(_fast_key(plan, x, w, _needs_grad(x, w, b), current()))


def measuring(plan: Plan, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None = None) -> bool:
    """Whether this call's layer is being measured by :func:`call`: its race has begun and is not over."""
    return _fast_key(plan, x, w, _needs_grad(x, w, b), current()) in _pending


def call(plan: Plan, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """What "auto" computes: the chosen route's output (:func:`choose`, :func:`run`). A layer's measuring is spread
    over its first calls, so that no single call pays all of it. Without gradients: one round of the race per call
    (every candidate's first run; the second runs; a duel where one is needed), each call returning the output of
    its round's last run. With gradients: one stage per call (a round of the forward race; the input-gradient ways;
    the weight-gradient ways; duels of whole steps where the parts do not decide, a narrow win confirmed by a
    second), each call computed by torch."""
    grad = _needs_grad(x, w, b)
    s = current()
    fast_key = _fast_key(plan, x, w, grad, s)
    choice = _fast.get(fast_key)
    if choice is None and _measures(plan, x, s):
        y = _measuring_round(fast_key, plan, x, w, b, grad)
        if y is not None:
            return y
    return run(choose(plan, x, w, b, grad), plan, x, w, b)


# measurements begun by :func:`call` and not over, by the key of :data:`_fast`
_pending: dict[tuple, _Race | _Parts] = {}


def _measurement(plan: Plan, x: torch.Tensor, grad: bool, budget: float, avail: int | None) -> _Race | _Parts:
    """What measures this key: a training step chosen by parts where they apply, else a race of whole calls."""
    from .training import split_applies  # noqa: PLC0415

    if grad and split_applies(plan):
        return _Parts(plan, budget, avail)
    return _Race(plan, grad, _candidates(plan, x.dtype, grad, budget, avail))


def _measuring_round(
    fast_key: tuple, plan: Plan, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, grad: bool
) -> torch.Tensor | None:
    """One round of this layer's measuring on this call's tensors, and the call's output; None where nothing is to
    be measured (a choice in the cache, a lone candidate): :func:`choose` then has it."""
    k = key(plan, x, w, grad)
    with _lock:
        r = _pending.get(fast_key)
        if r is None:  # the budget and the cache are read once, when the measuring begins
            budget, avail = _limit(plan, x.dtype, x.device, False)
            if _cached(k, plan, x.dtype, grad, budget) is not None:
                return None
            r = _measurement(plan, x, grad, budget, avail)
            if r.choice is not None:
                _settle(k, fast_key, r.choice)
                return None
            _pending[fast_key] = r
        last = r.play(x, w, b, one_round=True)
        if r.choice is not None:
            del _pending[fast_key]
            _settle(k, fast_key, r.choice)
    if grad:  # the call's own output, with its graph: torch's (the heuristic's where torch does not apply), or
        # the forward winner's where torch is far behind (:meth:`_Parts.interim`)
        use = r.interim(x.dtype) if isinstance(r, _Parts) else None
        if use is None:
            torch_route = get_route("torch")
            use = (
                Choice(torch_route)
                if torch_route.applies(plan)
                else _heuristic(plan, x.dtype, True, *_limit(plan, x.dtype, x.device, False))
            )
        return run(_exact_for_input(use, plan, x, w, True), plan, x, w, b)
    assert isinstance(r, _Race)
    # the round's last run is the output, unless it did not run (a fake clock, an error) or its route departs
    # from the definition on this input's NaN or inf: then the leader (or the exact route) runs once more
    ran, y = last if last is not None else (None, None)
    use = _exact_for_input(ran or r.leader, plan, x, w, False)
    return y if use is ran else run(use, plan, x, w, b)


def _remember(fast_key: tuple, choice: Choice) -> None:
    if len(_fast) > 4096:
        _fast.clear()
    _fast[fast_key] = choice


def _settle(k: str, fast_key: tuple, choice: Choice) -> None:
    """Keep a measured choice in the cache file (key ``k``) and in memory (``fast_key``)."""
    entry = {"route": choice.route.name, "chunks": choice.chunks, "ms": choice.ms}
    if choice.gx is not None:
        entry.update(gx=choice.gx, gw=choice.gw)
    _store(k, entry)
    _remember(fast_key, choice)


def _all_finite(x: torch.Tensor) -> bool:
    """Whether ``x`` holds no NaN or inf, by one sum (finite unless a term is, or it overflows: then the exact route
    runs, which is only slower). Measured at 0.04 ms for a 16x64x32x32 float32 input, against 1.1 ms for
    ``torch.isfinite(x).all()`` and 16-49 ms for the sub-pixel call, k11 s4 to 3 channels (2 threads, load
    average 3.9)."""
    with torch.no_grad():
        total = x.detach().sum(dtype=torch.float64 if x.dtype == torch.float64 else torch.float32)
    return bool(torch.isfinite(total))


def _exact_for_input(choice: Choice, plan: Plan, x: torch.Tensor, w: torch.Tensor, grad: bool) -> Choice:
    """``choice``, unless its route departs from the definition on a non-finite input (``Route.nonfinite_exact``)
    and this input has one: then the heuristic's best route among the exact ones. The FFT route (not direct)
    spreads a non-finite *weight* over the whole output too, so its weight is checked as well (direct routes
    depart on a weight only where it meets padding zeros, as torch's own oneDNN kernels do). Not checked while
    ``torch.compile`` traces (a data-dependent branch); everywhere else NaN and inf follow the definition."""
    if choice.route.nonfinite_exact(plan) or torch.compiler.is_compiling():
        return choice
    if _all_finite(x) and (choice.route.direct or _all_finite(w)):
        return choice
    budget, avail = _limit(plan, x.dtype, x.device, False)
    return _heuristic(plan, x.dtype, grad, budget, avail, exact_only=True)


def _work(plan: Plan) -> int:
    """The size of a call for the tiny-call rule: its multiply-adds, and its input and output at 16 each."""
    return plan.flops + 16 * (math.prod(plan.input_shape) + math.prod(plan.output_shape))


def _measures(plan: Plan, x: torch.Tensor, s: Settings) -> bool:
    """Whether this call's route is measured (else the heuristic, or torch on a tiny call, decides)."""
    return s.enabled and _work(plan) >= s.min_work and not torch.compiler.is_compiling() and x.device.type == "cpu"


def _choose(
    plan: Plan, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, grad: bool, s: Settings, fast_key: tuple
) -> Choice:
    compiling = torch.compiler.is_compiling()
    budget, avail = _limit(plan, x.dtype, x.device, compiling)
    if _work(plan) < s.min_work and get_route("torch").applies(plan):
        # a tiny call: any other route's Python overhead (tens of microseconds) outweighs what it could win
        torch_route = get_route("torch")
        if _fit(torch_route, plan, x.dtype, grad, budget) is not None:
            return Choice(torch_route)
    if not _measures(plan, x, s):
        return _heuristic(plan, x.dtype, grad, budget, avail)
    k = key(plan, x, w, grad)
    with _lock:
        hit = _cached(k, plan, x.dtype, grad, budget)
        if hit is not None:
            _pending.pop(fast_key, None)
            return hit
        r = _pending.pop(fast_key, None) or _measurement(plan, x, grad, budget, avail)
        r.play(x if grad else x.detach(), w, b)
        assert r.choice is not None
        choice = r.choice
        _settle(k, fast_key, choice)
    return choice


def _cached(k: str, plan: Plan, dtype: torch.dtype, grad: bool, budget: float) -> Choice | None:
    hit = _lookup(k)
    if hit is None:
        return None
    route = get_route(hit["route"])
    parts = hit.get("gx") is not None
    chunks = _fit(route, plan, dtype, grad and not parts, budget)  # the budget may have changed since
    if chunks is None:
        return None
    return Choice(route, chunks, measured=True, ms=hit.get("ms", {}), gx=hit.get("gx"), gw=hit.get("gw"))


def _candidates(plan: Plan, dtype: torch.dtype, grad: bool, budget: float, avail: int | None) -> list[Choice]:
    """The routes worth timing on ``plan`` that fit the budget (with their batch slices)."""
    out = []
    for r in routes(tuned=True):
        if r.applies(plan) and r.worth(plan):
            chunks = _fit(r, plan, dtype, grad, budget)
            if chunks is not None:
                out.append(Choice(r, chunks))
    if not out:
        raise _budget_error(plan, dtype, budget, avail)
    return out
