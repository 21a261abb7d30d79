"""The race "auto" runs between routes (:mod:`tconv.ops.autotune`): which runs to time, in what order, and who wins.

The race is a generator of requests (:func:`steps`): it yields the name of the candidate to run next and is sent back
that run's seconds (None where the run raised). Between its rounds it yields a :class:`Pause`, so a player may stop
there and go on later: :class:`Player` plays it to the end in one go (:func:`race`, :func:`duel`), or one round per
call, which is how "auto" spreads a layer's measuring over its first calls (each of them returns a real result).

1. **Round 1**: every candidate runs once: its warm-up (oneDNN builds its kernels for a new shape on the first call,
   often several calls' worth of time). ``floor`` (seconds, by name) skips a candidate that cannot beat a run
   already taken.
2. **Round 2**: a second run, the measurement, for the two best candidates besides ``ref`` when within
   :data:`CONTEND` of the best first run (calls over :data:`LONG` seconds: within 10%), and for ``ref`` (torch: its
   first run may have paid a warm-up the others then shared) unless that first run is over :data:`LONG` and
   :data:`REF_AGAIN` times the lead; ``ref`` again while its runs keep falling (:data:`FALLING`, up to
   :data:`WARMING` runs), at least three times under :data:`QUICK` seconds. A route's time is the best of its runs.
3. **Round 3**: where the leader is not ``ref`` and leads it by the margin (:func:`margin`), a **duel**: ``ref``,
   leader, leader, ``ref`` one after the other (each pays what the other left in the caches, as in a real network
   where layers alternate); both times become the better of their duel runs. Calls over :data:`LONG` seconds skip
   it, and so does a leader ahead by :data:`DECISIVE` or more.

The winner (:func:`winner`) is ``ref`` unless another candidate is faster by the margin.

>>> times = iter([0.010, 0.004, 0.008, 0.0041, 0.0079])  # torch, gemm; torch, gemm again; torch a third time
>>> race({"torch": None, "gemm": None}, "torch", clock=lambda name, fn: next(times))
{'torch': 7.9, 'gemm': 4.0}
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MARGIN",
    "SHORT",
    "SHORT_MARGIN",
    "CONTEND",
    "LONG",
    "DECISIVE",
    "FALLING",
    "WARMING",
    "QUICK",
    "REF_AGAIN",
    "Pause",
    "Player",
    "steps",
    "race",
    "duel",
    "margin",
    "winner",
]

#: A route other than torch must be this much faster than torch (relative) to be chosen: two runs of a millisecond
#: call vary by more than 3% on a shared 2-core machine, and a wrong choice within the noise only costs.
MARGIN = 0.06

#: Calls under SHORT seconds vary more between runs (±10% for 1-3 ms calls here): there the margin is SHORT_MARGIN.
SHORT = 0.005
SHORT_MARGIN = 0.15

#: After the warm-up round, a second (measured) run for the routes whose first run was within this factor of the best.
CONTEND = 1.5

#: A first run longer than this (seconds) is taken as the route's measurement unless it is within 10% of the lead.
LONG = 0.25

#: A lead this large (torch's best run over the leader's) is decisive: no duel, and a training step whose parts add
#: up to this much less than torch's parts is kept without racing whole steps. Run-to-run spread here is ±10-20%,
#: so a 1.5x lead does not reverse; the duel's four calls (two of them torch's, each several of the leader's) were
#: the largest part of a first call where the winner is far ahead.
DECISIVE = 1.5

#: torch is timed again while its runs keep falling (each under FALLING x the one before), up to WARMING runs: on a
#: new shape oneDNN's deconvolution took 49, 5, then ~1.2 ms (DCGAN 512->256 at batch 1), so two runs made col2im
#: (1.9 ms) look 2.6x faster where it is 1.3x slower.
FALLING = 0.85
WARMING = 6

#: ... and a torch call under QUICK seconds runs at least three times (its second run can still be cold: 10.6 then
#: 10.9 ms, then 1.2 ms, on that layer)
QUICK = 0.02

#: torch's first run is timed again unless it is over :data:`LONG` and this many times the lead: a first run of a
#: 3-D training step took 522 ms where its warm calls take ~150 ms, so a long first run alone does not say torch is slow.
REF_AGAIN = 10.0

Clock = Callable[[str, Callable[[], Any]], float]


def _clock(label: str, fn: Callable[[], Any]) -> float:
    """Seconds one call of ``fn`` takes (``label`` names what runs: a route, ``"gx:<way>"``, ``"gw:<way>"``; the
    tests replace this function by a fake clock keyed on it)."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


@dataclass(frozen=True)
class Pause:
    """The end of a round: ``leader`` is the candidate with the best run so far."""

    leader: str


#: what a race generator yields (a name to run, or a pause), is sent (the run's seconds, None where it raised) and
#: returns (each candidate's time in ms)
Steps = Generator["str | Pause", "float | None", dict[str, float]]


def _ms(times: dict[str, float]) -> dict[str, float]:
    return {n: round(1e3 * t, 4) for n, t in times.items()}


def steps(
    names: list[str], ref: str | None, floor: dict[str, float] | None = None, firsts: dict[str, float] | None = None
) -> Steps:
    """The race between ``names`` (see the module's docstring), ``ref`` (torch) the reference. ``firsts`` receives
    each candidate's first (cold) run, ms. Returns each candidate's time in ms (those that raised are left out)."""
    first: dict[str, float] = {}
    settled: dict[str, float] = {}  # second runs taken at once (routes without a floor, where others have one)
    for name in names:
        if floor and name in floor and settled and floor[name] > min(settled.values()):
            continue  # cannot be faster than a route already timed (its floor: the dense sum at the GEMM rate)
        t = yield name
        if t is None:
            continue
        first[name] = t
        if floor and name not in floor:  # its warm-up is over: time it again before the floors are compared
            again = yield name
            if again is not None:
                settled[name] = min(t, again)
    if firsts is not None:
        firsts.update(_ms(first))
    if not first:
        return {}
    runs: dict[str, list[float]] = {n: [t] for n, t in first.items()}
    for name, t in settled.items():
        runs[name].append(t)
    pause: list[Pause] = [Pause(min(first, key=first.__getitem__))]  # yielded before round 2's first run, if any

    lead = min(first.values())
    # at most the two best first runs besides ref get a second run: a third within CONTEND is rarely the winner,
    # and every run is part of the first calls' cost
    top = set(sorted((n for n in first if n != ref), key=first.__getitem__)[:2])
    for name, t in first.items():
        # a call of over LONG seconds has paid its one-time setup in a small part of its time: its first run stands
        # as its measurement unless it is close to the lead
        if name == ref:  # torch's first run may hold a warm-up of several of its calls: it is timed again unless
            again = t < max(LONG, REF_AGAIN * lead)  # far behind (a second run would cost more than it can change)
        else:
            again = name in top and (t <= CONTEND * lead if t < LONG else t <= 1.1 * lead)
        if again and name not in settled:
            if pause:
                yield pause.pop()
            t2 = yield name
            if t2 is not None:
                runs[name].append(t2)
    if ref in runs:  # torch may need several calls to warm up on a new shape: time it until it stops falling
        r = runs[ref]
        while len(r) < WARMING and r[-1] < LONG:
            falling = len(r) >= 2 and r[-1] < FALLING * r[-2]
            if not (falling or (len(r) < 3 and min(r) < QUICK)):
                break
            if pause:
                yield pause.pop()
            t2 = yield ref
            if t2 is None:
                break
            r.append(t2)
    best = {n: min(r) for n, r in runs.items()}
    others = [n for n in best if n != ref]
    if ref in best and others:
        leader = min(others, key=best.__getitem__)
        close = best[leader] * (1 + margin(best[leader])) < best[ref] < DECISIVE * best[leader]
        if close and best[leader] < LONG:
            yield Pause(leader)
            return _ms(best) | (yield from duel_steps(ref, leader))
    return _ms(best)


def duel_steps(ref: str, other: str) -> Steps:
    """``ref``, ``other``, ``other``, ``ref`` one after the other; each one's time (ms) is the better of its two.
    Where one raises, only the other's time is returned."""
    times: dict[str, list[float]] = {ref: [], other: []}
    for n in (ref, other, other, ref):
        if n in times:
            t = yield n
            if t is None:
                del times[n]
            else:
                times[n].append(t)
    return {n: round(1e3 * min(t), 4) for n, t in times.items()}


class Player:
    """Plays a race generator: runs what it asks for, with ``fns`` (by name) given to each :meth:`play`, timed by
    :func:`_clock` (or ``clock``). A run that raises RuntimeError or MemoryError is reported as failed."""

    def __init__(self, race_steps: Steps, clock: Clock | None = None) -> None:
        self._steps = race_steps
        self._clock = clock
        self.done = False
        self.result: dict[str, float] = {}
        self.leader: str | None = None  # at a pause: the candidate with the best run so far

    def play(self, fns: dict[str, Callable[[], Any]], one_round: bool = False) -> None:
        """Run the race to its end, or (``one_round``) to the end of the current round."""
        clock = self._clock or _clock
        ask = self._send(None)  # start, or go on after a pause (a generator takes None for both)
        while not self.done:
            if isinstance(ask, Pause):
                if one_round:
                    self.leader = ask.leader
                    return
                ask = self._send(None)
                continue
            try:
                t: float | None = clock(ask, fns[ask])
            except (RuntimeError, MemoryError):
                t = None
            ask = self._send(t)

    def _send(self, value: float | None) -> str | Pause | None:
        """The race's next request after ``value``; marks the race done, with its result, when it returns."""
        try:
            return self._steps.send(value)
        except StopIteration as stop:
            self.done, self.result = True, stop.value
            return None


def race(
    fns: dict[str, Callable[[], Any]],
    ref: str | None,
    floor: dict[str, float] | None = None,
    firsts: dict[str, float] | None = None,
    clock: Clock | None = None,
) -> dict[str, float]:
    """The whole race between ``fns`` at once (:func:`steps`): each candidate's time in ms."""
    player = Player(steps(list(fns), ref, floor, firsts), clock)
    player.play(fns)
    return player.result


def duel(fns: dict[str, Callable[[], Any]], ref: str, other: str) -> dict[str, float]:
    """A duel at once (:func:`duel_steps`)."""
    player = Player(duel_steps(ref, other))
    player.play(fns)
    return player.result


def margin(seconds: float) -> float:
    """:data:`MARGIN`, or :data:`SHORT_MARGIN` for calls under :data:`SHORT` seconds."""
    return SHORT_MARGIN if seconds < SHORT else MARGIN


def winner(ms: dict[str, float], ref: str) -> str:
    """The fastest; ``ref`` (torch) unless another is faster by the margin (:func:`margin`)."""
    best = min(ms, key=ms.__getitem__)
    if ref in ms and ms[ref] <= ms[best] * (1 + margin(ms[best] / 1e3)):
        return ref
    return best
