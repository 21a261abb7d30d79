"""The measured choice of "auto": the cache (hit, stale, corrupt, concurrent writers), the memory budget, the
heuristic switch, forward + backward timing where gradients are needed.

Timing is replaced by a fake clock wherever a test asserts which route wins, so nothing here depends on speed.
"""

import json
import multiprocessing

import pytest
import torch

import tconv
from tconv.ops import autotune, race, registry


@pytest.fixture(autouse=True)
def fresh_cache(tmp_path):
    """Every test: measuring on, a private cache directory, nothing remembered from earlier tests."""
    autotune.clear_memory_cache()
    with autotune.settings(enabled=True, cache_dir=tmp_path, min_work=0, memory_factor=1.5, memory_slack=0):
        yield tmp_path
    autotune.clear_memory_cache()


def fake_clock(monkeypatch, ms: dict[str, float], calls: list | None = None, runs: bool = False):
    """Replace timing by fixed numbers per label (a route, "gx:<way>", "gw:<way>"; 100 ms where not given) and record
    which labels were timed, with whether gradients were being recorded. Nothing is run unless ``runs``."""

    def clock(label, fn):
        if calls is not None:
            calls.append((label, torch.is_grad_enabled()))
        if runs:
            fn()
        return ms.get(label, 100.0) / 1e3

    monkeypatch.setattr(race, "_clock", clock)


def sequence_clock(monkeypatch, runs: dict[str, list[float]], rest: float) -> list[str]:
    """A fake clock that gives each label its listed times in turn (ms; ``rest`` once a list is used up, and for
    labels not listed); returns the list of labels timed, which it fills."""
    calls: list[str] = []

    def clock(label, fn):
        calls.append(label)
        seq = runs.get(label)
        return (seq.pop(0) if seq else rest) / 1e3

    monkeypatch.setattr(race, "_clock", clock)
    return calls


def _layer(n=2, c_in=8, c_out=8, size=8, k=2, s=2, **kw):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, c_in, size, size, generator=g)
    w = torch.randn(c_in, c_out, k, k, generator=g)
    return tconv.make_plan(x.shape, w.shape, stride=s, **kw), x, w


def test_fastest_route_wins_and_is_cached_in_memory_and_on_disk(monkeypatch, fresh_cache):
    plan, x, w = _layer()
    calls = []
    fake_clock(monkeypatch, {"torch": 10, "gemm": 4, "col2im": 6}, calls)
    c = autotune.choose(plan, x, w)
    assert c.measured and c.route.name == "gemm" and c.ms["torch"] == 10
    assert {name for name, _ in calls} >= {"torch", "gemm"}
    entries = json.loads(autotune.cache_path().read_text())["entries"]
    assert [e["route"] for e in entries.values()] == ["gemm"]
    calls.clear()
    assert autotune.choose(plan, x, w).route.name == "gemm" and not calls  # memory hit
    autotune.clear_memory_cache()
    assert autotune.choose(plan, x, w).route.name == "gemm" and not calls  # file hit (another process's view)


def test_torch_wins_near_ties(monkeypatch):
    plan, x, w = _layer()
    fake_clock(monkeypatch, {"torch": 10, "gemm": 9.8})  # 2% faster: within MARGIN
    assert autotune.choose(plan, x, w).route.name == "torch"


def test_result_follows_the_cache_deterministically(monkeypatch):
    """Given the cache, the route (hence every bit of the result) is fixed: the stored winner runs."""
    plan, x, w = _layer()
    fake_clock(monkeypatch, {"torch": 10, "col2im": 1})
    while autotune.measuring(plan, x, w) or autotune.chosen(plan, x, w) is None:  # its first calls measure
        tconv.conv_transpose(x, w, stride=2)
    y1 = tconv.conv_transpose(x, w, stride=2)
    fake_clock(monkeypatch, {"torch": 1, "col2im": 10})  # the machine "changed its mind": the cache still rules
    y2 = tconv.conv_transpose(x, w, stride=2)
    assert torch.equal(y1, y2)
    assert torch.equal(y1, tconv.conv_transpose(x, w, stride=2, method="col2im"))


def test_key_separates_dtype_layout_threads_and_grad():
    plan, x, w = _layer()
    keys = {
        autotune.key(plan, x, w, False),
        autotune.key(plan, x.double(), w.double(), False),
        autotune.key(plan, x.contiguous(memory_format=torch.channels_last), w, False),
        autotune.key(plan, x, w.contiguous(memory_format=torch.channels_last), False),
        autotune.key(plan, x, w, True),
    }
    assert len(keys) == 5
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1 if threads != 1 else 2)
        assert autotune.key(plan, x, w, False) not in keys
    finally:
        torch.set_num_threads(threads)


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.parametrize(
    "content",
    [
        "{not json",  # corrupt
        json.dumps({"format": autotune.FORMAT - 1, "machine": "?", "entries": {}}),  # an older format
        "[1, 2, 3]",  # valid JSON, wrong shape
    ],
)
def test_corrupt_or_stale_file_is_ignored_and_rewritten(monkeypatch, content):
    plan, x, w = _layer()
    path = autotune.cache_path()
    _write(path, content)
    fake_clock(monkeypatch, {"torch": 10, "gemm": 4})
    assert autotune.choose(plan, x, w).route.name == "gemm"
    data = json.loads(path.read_text())
    assert data["format"] == autotune.FORMAT and len(data["entries"]) == 1
    assert not list(path.parent.glob(".*.tmp*"))  # the atomic write left no temporary behind


def test_stale_entry_for_this_key_is_not_used(monkeypatch):
    """A file from another machine (or format) that names a route for this very key is not trusted."""
    plan, x, w = _layer()
    k = autotune.key(plan, x, w, False)
    _write(autotune.cache_path(), json.dumps({"format": autotune.FORMAT, "machine": "elsewhere", "entries": {
        k: {"route": "col2im"}}}))  # fmt: skip
    fake_clock(monkeypatch, {"torch": 10, "gemm": 4})
    assert autotune.choose(plan, x, w).route.name == "gemm"


def _writer(args):
    cache_dir, i = args
    with autotune.settings(cache_dir=cache_dir):
        for j in range(15):
            autotune._store(f"key {i} {j}", {"route": "torch"})


def test_concurrent_writers_lose_nothing(fresh_cache):
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(4) as pool:
        pool.map(_writer, [(fresh_cache, i) for i in range(4)])
    entries = json.loads(autotune.cache_path().read_text())["entries"]
    assert len(entries) == 60


def test_unwritable_cache_dir_keeps_choices_in_memory(monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    plan, x, w = _layer()
    fake_clock(monkeypatch, {"torch": 10, "gemm": 4})
    with autotune.settings(cache_dir=blocker / "sub"), pytest.warns(UserWarning, match="cannot write"):
        assert autotune.choose(plan, x, w).route.name == "gemm"
        assert autotune.choose(plan, x, w).route.name == "gemm"


def test_memory_budget_keeps_col2im_off_the_big_kernel(monkeypatch, tmp_path):
    """x (1,1,400,400) with a 64x64 kernel: col2im would need ~2.7 GB where torch needs the 0.9 MB output."""
    x, w = torch.zeros(1, 1, 400, 400), torch.zeros(1, 1, 64, 64)
    plan = tconv.make_plan(x.shape, w.shape)
    calls = []
    fake_clock(monkeypatch, {"col2im": 1, "torch": 100, "fft": 50}, calls)
    c = autotune.choose(plan, x, w)
    assert "col2im" not in {name for name, _ in calls}
    assert c.route.name == "fft"
    assert autotune.budget_bytes(plan, torch.float32) == 1.5 * (400 * 400 + 2 * 463 * 463 + 64 * 64) * 4
    with autotune.settings(memory_factor=None, cache_dir=tmp_path / "other"):  # no limit: col2im may compete
        autotune.clear_memory_cache()
        calls.clear()
        assert autotune.choose(plan, x, w).route.name == "col2im"


def test_over_budget_route_runs_on_batch_slices():
    """A route that needs more than the budget for the whole batch runs slice by slice, with the same result."""
    plan, x, w = _layer(n=8, c_in=16, c_out=3, size=6, k=4, s=2, padding=1)
    sub = autotune.get_route("subpixel")
    out = 8 * 3 * 12 * 12 * 4
    budget = out + registry.memory_bytes(sub, plan, x.dtype) / 3  # as if torch needed little more than its output
    chunks = autotune._fit(sub, plan, x.dtype, False, budget)
    assert chunks is not None and chunks > 1
    assert autotune._fit(sub, plan, x.dtype, True, budget) is None  # not with gradients: no slicing then
    y = autotune.run(autotune.Choice(sub, chunks), plan, x, w, None)
    torch.testing.assert_close(y, torch.nn.functional.conv_transpose2d(x, w, stride=2, padding=1))


def test_memory_factor_is_validated():
    with pytest.raises(tconv.ConfigError, match="memory_factor=0.5 must be a number >= 1"):
        autotune.configure(memory_factor=0.5)


def test_heuristic_when_off_tiny_or_by_environment(monkeypatch):
    plan, x, w = _layer()
    calls = []
    fake_clock(monkeypatch, {"torch": 1, "gemm": 100}, calls)
    with autotune.settings(enabled=False):
        assert autotune.choose(plan, x, w).route.name == "gemm" and not calls
    with autotune.settings(min_work=autotune.MIN_WORK):  # a tiny layer: measuring cannot pay
        c = autotune.choose(plan, x, w)
        assert not c.measured and not calls
    monkeypatch.setenv("TCONV_AUTOTUNE", "0")
    assert autotune.Settings().enabled is False
    monkeypatch.setenv("TCONV_CACHE_DIR", "/some/where")
    assert str(autotune.Settings().cache_dir) == "/some/where"


def test_gradients_needed_race_the_parts_apart(monkeypatch):
    """A training key: the forward routes race without gradients (and that winner is stored for the inference key
    too), then the input- and weight-gradient ways race apart; the assembly wins when its parts beat torch's."""
    plan, x, w = _layer()
    calls = []
    ms = {"torch": 10, "gemm": 7, "gx:torch": 10, "gx:conv": 8, "gw:torch": 10, "gw:gemm": 8.5, "gb": 0}
    ms.update({"step:split": 20})  # parts 23.5 against torch's 30: not decisive, so whole steps decide
    fake_clock(monkeypatch, ms, calls)
    c = autotune.choose(plan, x, w.requires_grad_())
    assert (c.route.name, c.gx, c.gw) == ("gemm", "conv", "gemm")
    assert c.ms["step:split"] < c.ms["step:torch"]
    labels = {n for n, _ in calls}
    assert {"torch", "gemm", "gx:torch", "gx:conv", "gw:torch", "gw:gemm", "step:torch", "step:split"} <= labels
    k_train, k_infer = autotune.key(plan, x, w, True), autotune.key(plan, x, w, False)
    entries = json.loads(autotune.cache_path().read_text())["entries"]
    assert entries[k_train]["gx"] == "conv" and entries[k_infer]["route"] == "gemm" and "gx" not in entries[k_infer]
    calls.clear()
    autotune.clear_memory_cache()
    again = autotune.choose(plan, x, w)
    assert (again.route.name, again.gx, again.gw, calls) == ("gemm", "conv", "gemm", [])  # from the file


def test_parts_far_ahead_are_kept_without_racing_whole_steps(monkeypatch):
    """Parts that add up to DECISIVE times less than torch's: whole steps would not reverse it, and racing them
    would cost several of torch's steps on the first call."""
    plan, x, w = _layer()
    calls = []
    fake_clock(monkeypatch, {"torch": 10, "gemm": 2, "gx:torch": 10, "gx:conv": 5, "gw:torch": 10, "gb": 0}, calls)
    c = autotune.choose(plan, x, w.requires_grad_())
    assert (c.route.name, c.gx, c.gw) == ("gemm", "conv", "torch")
    assert not {"step:torch", "step:split"} & {n for n, _ in calls}


def _step_clock(monkeypatch, split_steps: list[float]) -> list[str]:
    """Parts that promise a win short of DECISIVE (23.5 against torch's 30); torch's whole step 25 ms, the split's
    the listed times in turn. Returns the labels timed."""
    ms = {"torch": 10, "gemm": 7, "gx:torch": 10, "gx:conv": 8, "gw:torch": 10, "gw:gemm": 8.5, "gb": 0}
    ms["step:torch"] = 25
    labels: list[str] = []

    def clock(label, fn):
        labels.append(label)
        if label == "step:split":
            return split_steps.pop(0) / 1e3
        return ms.get(label, 100.0) / 1e3

    monkeypatch.setattr(race, "_clock", clock)
    return labels


def test_a_narrow_whole_step_win_is_confirmed_by_a_second_duel(monkeypatch):
    """20 against 25 ms is a win by the margin but not DECISIVE: a second duel must confirm it."""
    plan, x, w = _layer()
    labels = _step_clock(monkeypatch, [20.0] * 4)
    c = autotune.choose(plan, x, w.requires_grad_())
    assert (c.route.name, c.gx, c.gw) == ("gemm", "conv", "gemm")
    assert labels.count("step:split") == 4 and labels.count("step:torch") == 5  # one warm-up, two per duel


def test_a_narrow_win_that_the_second_duel_reverses_leaves_torch(monkeypatch):
    plan, x, w = _layer()
    labels = _step_clock(monkeypatch, [20.0, 20.0, 30.0, 30.0])
    c = autotune.choose(plan, x, w.requires_grad_())
    assert (c.route.name, c.gx) == ("torch", None)
    assert labels.count("step:split") == 4


def test_a_decisive_whole_step_win_needs_one_duel(monkeypatch):
    plan, x, w = _layer()
    labels = _step_clock(monkeypatch, [10.0, 10.0])  # 2.5x ahead
    c = autotune.choose(plan, x, w.requires_grad_())
    assert (c.route.name, c.gx, c.gw) == ("gemm", "conv", "gemm")
    assert labels.count("step:split") == 2


def test_the_second_duel_is_its_own_measuring_call(monkeypatch):
    """Spread over calls: the confirming duel is one more stage, and each call still returns torch's result."""
    plan, x, w = _layer(n=2, c_in=8, c_out=4, size=6, k=2, s=2)
    ref = torch.nn.functional.conv_transpose2d(x, w, stride=2)
    labels = _step_clock(monkeypatch, [20.0] * 4)
    stages = []
    while not stages or autotune.measuring(plan, x, w.requires_grad_()):
        labels.clear()
        y = tconv.conv_transpose(x, w.detach().clone().requires_grad_(), stride=2)
        torch.testing.assert_close(y, ref)
        stages.append(sorted({n.split(":")[0] for n in labels if ":" in n}))
        assert len(stages) < 14
    assert stages[-4:] == [["gx"], ["gw"], ["step"], ["step"]]
    assert autotune.choose(plan, x, w).route.name == "gemm"


def test_parts_that_do_not_beat_torch_leave_torch(monkeypatch):
    plan, x, w = _layer()
    fake_clock(monkeypatch, {"torch": 10, "gemm": 9.9, "gx:torch": 5, "gw:torch": 5})
    c = autotune.choose(plan, x, w.requires_grad_())
    assert (c.route.name, c.gx) == ("torch", None)


def test_parts_that_win_on_paper_but_lose_the_whole_step_leave_torch(monkeypatch):
    """The sums say the assembly wins; the whole steps, raced, say it does not: torch."""
    plan, x, w = _layer()
    calls = []
    fake_clock(monkeypatch, {"torch": 10, "gemm": 4, "gx:torch": 10, "gw:torch": 10, "step:torch": 25}, calls)
    c = autotune.choose(plan, x, w.requires_grad_())
    assert (c.route.name, c.gx) == ("torch", None) and c.ms["step:split"] == 100
    assert ("step:split", True) in calls


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_assembled_step_gives_torchs_gradients(monkeypatch, layout, tmp_path):
    """Whatever parts win, the values are torch's: each way of each part, forced to win in turn."""
    from tconv.ops.training import GRAD_INPUT, GRAD_WEIGHT

    plan, x, w = _layer(n=2, c_in=6, c_out=4, size=5, k=3, s=2, padding=1, output_padding=1)
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    b = torch.randn(4)
    gy = torch.randn(plan.output_shape)
    ref_in = [t.clone().requires_grad_() for t in (x, w, b)]
    ref = torch.nn.functional.conv_transpose2d(*ref_in, stride=2, padding=1, output_padding=1)
    expect = torch.autograd.grad(ref, ref_in, gy)
    for gx in [n for n, (_, ok) in GRAD_INPUT.items() if ok(plan)]:
        for gw in [n for n, (_, ok) in GRAD_WEIGHT.items() if ok(plan)]:
            autotune.configure(cache_dir=tmp_path / f"{gx}-{gw}")
            autotune.clear_memory_cache()
            fake_clock(monkeypatch, {"subpixel": 1, f"gx:{gx}": 1, f"gw:{gw}": 1, "gb": 0, "step:split": 3})
            ins = [t.clone().requires_grad_() for t in (x, w, b)]
            y = tconv.conv_transpose(*ins, stride=2, padding=1, output_padding=1, method="auto")
            c = autotune.choose(plan, *ins)
            assert (c.route.name, c.gx, c.gw) == ("subpixel", gx, gw)
            torch.testing.assert_close(y, ref)
            got = torch.autograd.grad(y, ins, gy)
            for a, e in zip(got, expect, strict=True):
                torch.testing.assert_close(a, e, rtol=1e-4, atol=1e-4)


def test_assembled_step_has_second_derivatives(monkeypatch):
    """create_graph=True: the backward differentiates torch's operator, so gradient penalties work."""
    plan, x, w = _layer(n=1, c_in=3, c_out=2, size=4, k=3, s=2, padding=1)
    x, w = x.double(), w.double()
    fake_clock(monkeypatch, {"subpixel": 1, "gx:conv": 1, "gw:torch_cl": 1, "step:split": 3})
    xs, ws = x.clone().requires_grad_(), w.clone().requires_grad_()
    assert torch.autograd.gradgradcheck(lambda a, b: tconv.conv_transpose(a, b, stride=2, padding=1), (xs, ws))
    assert autotune.choose(plan, xs, ws).gx == "conv"


def test_corrupt_part_names_in_the_file_are_ignored(monkeypatch):
    plan, x, w = _layer()
    k = autotune.key(plan, x, w, True)
    _write(autotune.cache_path(), json.dumps({"format": autotune.FORMAT, "machine": autotune._machine(), "entries": {
        k: {"route": "gemm", "gx": "nonsense", "gw": "torch"}}}))  # fmt: skip
    fake_clock(monkeypatch, {"torch": 1})
    assert autotune.choose(plan, x, w.requires_grad_()).route.name == "torch"


def test_real_measurement_on_a_small_layer():
    """No fake clock: every call while the layer is measured (one stage each) and after computes what torch
    computes, forward and backward."""
    plan, x, w = _layer(n=2, c_in=8, c_out=4, size=6, k=3, s=2, padding=1, output_padding=1)
    ref_x, ref_w = x.clone().requires_grad_(), w.clone().requires_grad_()
    ref = torch.nn.functional.conv_transpose2d(ref_x, ref_w, stride=2, padding=1, output_padding=1)
    gy = torch.randn_like(ref)
    expect = torch.autograd.grad(ref, (ref_x, ref_w), gy)
    calls = 0
    xg, wg = x.clone().requires_grad_(), w.clone().requires_grad_()
    while calls < 2 or autotune.measuring(plan, xg, wg):
        xg, wg = x.clone().requires_grad_(), w.clone().requires_grad_()
        y = tconv.conv_transpose(xg, wg, stride=2, padding=1, output_padding=1)
        torch.testing.assert_close(y, ref)
        torch.testing.assert_close(torch.autograd.grad(y, (xg, wg), gy), expect)
        calls += 1
        assert calls < 12
    entries = json.loads(autotune.cache_path().read_text())["entries"]
    assert len(entries) == 2  # the training key and the inference key its forward race filled


def test_clear_winner_ends_measuring_after_warm_up_and_one_run(monkeypatch):
    plan, x, w = _layer()
    calls = []
    fake_clock(monkeypatch, {"torch": 10, "gemm": 2}, calls)  # the rest: 100 ms
    assert autotune.choose(plan, x, w).route.name == "gemm"
    names = [n for n, _ in calls]
    # warm-up + run each (torch, a call under QUICK, a third time); a 5x lead is decisive (DECISIVE): no duel
    assert names.count("gemm") == 2 and names.count("torch") == 3
    assert all(names.count(n) == 1 for n in set(names) - {"gemm", "torch"})  # far behind after the warm-up: once


def test_torch_still_warming_up_is_timed_until_it_settles(monkeypatch):
    """On a new shape oneDNN took 49, 5, then ~1.2 ms a call (DCGAN 512->256, batch 1): two runs of torch against
    col2im's 1.9 ms would choose col2im, 1.3x slower once torch is warm."""
    plan, x, w = _layer()
    runs = {"torch": [49.0, 5.0, 1.6, 1.25, 1.2, 1.2, 1.2, 1.2], "col2im": [5.0, 1.94, 1.94, 1.94]}
    calls = sequence_clock(monkeypatch, runs, 100.0)
    c = autotune.choose(plan, x, w)
    assert c.route.name == "torch" and c.ms["torch"] == 1.2
    assert calls.count("torch") == 5  # 49, 5, 1.6, 1.25 still falling by over 15%, then 1.2: settled


def test_the_choice_keeps_the_winners_cold_run(monkeypatch):
    """The winner's first run in the race is what the call costs cold (its own setup, paid with or without
    measuring): the benchmark subtracts it to report what measuring added. Not kept in the cache file."""
    plan, x, w = _layer()
    sequence_clock(monkeypatch, {"torch": [30.0, 10.0, 10.0], "gemm": [25.0, 2.0]}, 100.0)
    c = autotune.choose(plan, x, w)
    assert (c.route.name, c.cold_ms, c.ms["gemm"]) == ("gemm", 25.0, 2.0)
    autotune.clear_memory_cache()
    assert autotune.choose(plan, x, w).cold_ms is None  # from the file: nothing was run


def test_only_the_two_best_contenders_run_again(monkeypatch):
    plan, x, w = _layer()
    calls = []
    fake_clock(monkeypatch, {"torch": 10, "gemm": 6, "subpixel": 6.5, "col2im": 7, "torch_cl": 7.5}, calls)
    assert autotune.choose(plan, x, w).route.name == "gemm"
    names = [n for n, _ in calls]
    assert [names.count(n) for n in ("torch", "gemm", "subpixel", "col2im", "torch_cl")] == [3, 2, 2, 1, 1]


def test_torch_is_timed_again_after_a_long_first_run_unless_far_behind(monkeypatch):
    """A long first run of torch may be mostly its warm-up (a 3-D training step: 522 ms first, ~150 ms warm): it
    gets its second run unless it is over LONG and REF_AGAIN times the lead."""
    plan, x, w = _layer()
    runs = {"torch": [522.0, 150.0, 150.0], "gemm": [145.0, 145.0]}  # within MARGIN of torch: no duel
    calls = sequence_clock(monkeypatch, runs, 1000.0)
    c = autotune.choose(plan, x, w)
    assert calls.count("torch") == 3 and c.route.name == "torch" and c.ms["torch"] == 150.0  # 522 -> 150: falling
    autotune.clear_memory_cache()
    autotune.configure(cache_dir=autotune.current().cache_dir / "far")
    calls.clear()
    runs.update(torch=[600.0, 600.0], gemm=[30.0, 30.0])  # 20x the lead and over LONG: not again
    assert autotune.choose(plan, x, w).route.name == "gemm" and calls.count("torch") == 1


def test_a_leader_other_than_torch_must_win_a_duel(monkeypatch):
    """torch, leader, leader, torch after the warm-up runs: 4 more calls, and the duel's times decide."""
    plan, x, w = _layer()
    calls = []
    fake_clock(monkeypatch, {"torch": 10, "gemm": 9}, calls)
    assert autotune.choose(plan, x, w).route.name == "gemm"
    names = [n for n, _ in calls]
    assert names.count("torch") == 5 and names.count("gemm") == 4 and names[-4:] == ["torch", "gemm", "gemm", "torch"]
    autotune.clear_memory_cache()
    autotune.configure(cache_dir=autotune.current().cache_dir / "b")
    fake_clock(monkeypatch, {"torch": 10, "gemm": 9.6})  # within MARGIN: no duel, torch
    assert autotune.choose(plan, x, w).route.name == "torch"


def test_routes_that_cannot_win_are_not_timed(monkeypatch):
    """The cost model (Route.worth): no FFT for a small kernel, no polyphase where torch applies (it won races on
    dilated layers but not call by call); the FFT for the big kernel, polyphase beyond 3-D."""
    plan, x, w = _layer()
    calls = []
    fake_clock(monkeypatch, {}, calls)
    autotune.choose(plan, x, w)
    assert not {"fft", "polyphase"} & {n for n, _ in calls}
    big = tconv.make_plan((1, 1, 400, 400), (1, 1, 64, 64))
    dil = tconv.make_plan((2, 8, 8, 8), (8, 8, 3, 3), stride=2, dilation=2)
    four = tconv.make_plan((1, 2, 4, 4, 4, 4), (2, 2, 2, 2, 2, 2), stride=2)
    assert registry.get_route("fft").worth(big) and registry.get_route("polyphase").worth(four)
    assert not registry.get_route("fft").worth(dil) and not registry.get_route("polyphase").worth(dil)


def test_no_route_above_the_available_memory_and_the_error_reports_the_budget(monkeypatch):
    """With little memory available only routes that need no more than torch (or than what is there) compete."""
    plan, x, w = _layer(n=4, c_in=8, c_out=8, size=16, k=3, s=2, padding=1)
    need = {r.name: registry.memory_bytes(r, plan, x.dtype) for r in registry.routes(tuned=True) if r.applies(plan)}
    monkeypatch.setenv("TCONV_MAX_BYTES", "1000")  # less than any route needs: torch's own need is the limit
    calls = []
    fake_clock(monkeypatch, {}, calls)
    c = autotune.choose(plan, x, w)
    timed = {n for n, _ in calls}
    assert "torch" in timed and c.route.name in timed
    assert all(autotune._fit(registry.get_route(n), plan, x.dtype, False, need["torch"]) for n in timed)
    assert {n for n in need if need[n] > need["torch"]} - timed  # the hungrier routes were not run
    err = autotune._budget_error(plan, x.dtype, 1000, 1000)
    assert "no route fits in 1000 B: the memory budget is" in str(err) and "1000 B is available" in str(err)


def test_direct_routes_below_their_floor_are_not_timed(monkeypatch):
    """The FFT runs first on the big kernel; at 1 ms it beats even the dense sum at the machine's GEMM rate (1.3
    GFLOP), so no direct route, torch included, is timed."""
    x, w = torch.zeros(1, 1, 400, 400), torch.zeros(1, 1, 64, 64)
    plan = tconv.make_plan(x.shape, w.shape)
    assert plan.flops / (1.5 * autotune.gemm_rate()) > 1e-3  # the floor is above the FFT's (fake) time
    calls = []
    fake_clock(monkeypatch, {"fft": 1}, calls)
    c = autotune.choose(plan, x, w)
    assert c.route.name == "fft" and {n for n, _ in calls} == {"fft"}


def test_depthwise_layers_skip_the_routes_that_never_win_there(monkeypatch):
    plan = tconv.make_plan((4, 16, 8, 8), (16, 1, 4, 4), stride=2, padding=1, groups=16)
    x, w = torch.zeros(4, 16, 8, 8), torch.zeros(16, 1, 4, 4)
    calls = []
    fake_clock(monkeypatch, {}, calls)
    c = autotune.choose(plan, x, w)
    # channels-last, sub-pixel and col2im never win there: torch is the only candidate, so nothing is timed at all,
    # and the choice is stored like a measured one (a later process does not ask again)
    assert c.route.name == "torch" and calls == []
    assert json.loads(autotune.cache_path().read_text())["entries"][autotune.key(plan, x, w, False)]["route"] == "torch"
    assert not autotune.get_route("col2im").worth(plan)


def test_depthwise_training_races_the_gradient_parts_with_torchs_forward(monkeypatch):
    """torch is the only forward worth timing on a depthwise layer (not timed), yet the gradients are still raced:
    the same forward on both sides, so the parts alone decide."""
    plan = tconv.make_plan((4, 16, 8, 8), (16, 1, 4, 4), stride=2, padding=1, groups=16)
    x, w = torch.zeros(4, 16, 8, 8), torch.zeros(16, 1, 4, 4, requires_grad=True)
    calls = []
    fake_clock(monkeypatch, {"gx:torch": 10, "gw:torch": 30, "gw:torch_cl": 10, "gb": 0}, calls)
    c = autotune.choose(plan, x, w)
    assert (c.route.name, c.gx, c.gw) == ("torch", "torch", "torch_cl")
    assert "torch" not in {n for n, _ in calls}  # the forward: not timed


def test_repeated_call_where_auto_chose_torch_goes_straight_to_torch(monkeypatch):
    """The second time a call is seen (and auto chose torch itself), nothing runs around torch's function; a
    channels-last input or changed settings take the usual path again, and a call that needs gradients is chosen
    apart (its first repeat takes the usual path, later ones go straight to torch, gradients and all)."""
    from tconv.ops import boundary

    x, w, b = torch.randn(2, 8, 6, 6), torch.randn(8, 4, 4, 4), torch.randn(4)
    fake_clock(monkeypatch, {"torch": 1})
    kw = dict(stride=2, padding=1)
    ref = torch.nn.functional.conv_transpose2d(x, w, b, **kw)
    first = tconv.conv_transpose(x, w, b, **kw)  # validates and measures
    second = tconv.conv_transpose(x, w, b, **kw)  # a repeat: records that torch was chosen
    runs = []
    real_run = boundary.run
    monkeypatch.setattr(boundary, "run", lambda *a, **k: runs.append(1) or real_run(*a, **k))
    third = tconv.conv_transpose(x, w, b, **kw)
    assert runs == [] and all(torch.equal(y, ref) for y in (first, second, third))
    tconv.conv_transpose(x.contiguous(memory_format=torch.channels_last), w, b, **kw)
    assert len(runs) == 1
    plan = tconv.make_plan(x.shape, w.shape, **kw)
    x.requires_grad_()
    while autotune.chosen(plan, x, w, b) is None:  # the training key is measured over its first calls
        tconv.conv_transpose(x, w, b, **kw)
        assert len(runs) < 12
    n = len(runs)
    y = tconv.conv_transpose(x, w, b, **kw)  # gradients again, chosen: straight to torch now
    assert len(runs) == n and y.grad_fn is not None
    (gx,) = torch.autograd.grad(y.square().sum(), x)
    xr = x.detach().requires_grad_()
    (rx,) = torch.autograd.grad(torch.nn.functional.conv_transpose2d(xr, w, b, **kw).square().sum(), xr)
    torch.testing.assert_close(gx, rx)
    x.requires_grad_(False)
    with autotune.settings(memory_factor=2.0):  # other settings: the choice is looked up again
        tconv.conv_transpose(x, w, b, **kw)
    assert len(runs) == n + 1


def test_measuring_is_spread_over_the_first_calls_each_with_a_real_result(monkeypatch):
    """Without gradients, a layer's race runs one round per call (every candidate once; then the second runs),
    each call returning a correct output: no call pays the whole race. Then the winner, cached, runs alone."""
    plan, x, w = _layer(n=2, c_in=8, c_out=4, size=6, k=2, s=2)
    b = torch.randn(4)
    ref = torch.nn.functional.conv_transpose2d(x, w, b, stride=2)
    calls = []
    fake_clock(monkeypatch, {"torch": 10, "gemm": 4}, calls, runs=True)
    rounds = []
    while not rounds or autotune.measuring(plan, x, w, b):
        calls.clear()
        torch.testing.assert_close(tconv.conv_transpose(x, w, b, stride=2), ref)
        rounds.append([n for n, _ in calls])
    candidates = {c.route.name for c in autotune._candidates(plan, x.dtype, False, float("inf"), None)}
    assert sorted(rounds[0]) == sorted(candidates)  # round 1: each candidate once
    assert rounds[1] == ["torch", "gemm", "torch"] and len(rounds) == 2  # round 2: the second runs; decisive
    assert autotune.chosen(plan, x, w, b).route.name == "gemm"
    assert json.loads(autotune.cache_path().read_text())["entries"][autotune.key(plan, x, w, False)]["route"] == "gemm"
    calls.clear()
    torch.testing.assert_close(tconv.conv_transpose(x, w, b, stride=2), ref)
    assert calls == []


def test_choose_plays_a_race_that_calls_began_to_its_end(monkeypatch):
    plan, x, w = _layer()
    calls = []
    fake_clock(monkeypatch, {"torch": 10, "gemm": 9}, calls)  # close: a duel in round 3
    tconv.conv_transpose(x, w, stride=2)
    assert autotune.measuring(plan, x, w) and autotune.chosen(plan, x, w) is None
    first = len(calls)
    c = autotune.choose(plan, x, w)
    names = [n for n, _ in calls[first:]]
    assert c.route.name == "gemm" and names[-4:] == ["torch", "gemm", "gemm", "torch"]
    assert not autotune.measuring(plan, x, w) and names.count("col2im") == 0  # round 1 is not run again


def test_a_measuring_call_follows_the_definition_on_non_finite_input(monkeypatch):
    """A round's last run may be a route that departs from the definition on NaN or inf (the sub-pixel route's
    padded taps): then the call's output comes from an exact route, as torch's."""
    plan, x, w = _layer(n=2, c_in=6, c_out=3, size=5, k=3, s=2, padding=1)
    assert not registry.get_route("subpixel").nonfinite_exact(plan)
    x[0, 0, 2, 2] = float("inf")
    ref = torch.nn.functional.conv_transpose2d(x, w, stride=2, padding=1)

    def clock(label, fn):
        if label != "col2im":  # col2im "fails" before running: the sub-pixel output, run just before, is the last
            fn()
            return {"subpixel": 1.0, "torch": 10.0}.get(label, 50.0) / 1e3
        raise RuntimeError("not this one")

    monkeypatch.setattr(race, "_clock", clock)
    autotune.configure(memory_factor=None)  # every route competes
    names = [c.route.name for c in autotune._candidates(plan, x.dtype, False, float("inf"), None)]
    assert names[-2:] == ["subpixel", "col2im"]
    y = tconv.conv_transpose(x, w, stride=2, padding=1)
    assert autotune.measuring(plan, x, w)
    torch.testing.assert_close(y, ref, equal_nan=True)
    sub = tconv.conv_transpose(x, w, stride=2, padding=1, method="subpixel")
    assert not torch.equal(sub.isnan(), ref.isnan())  # the test can fail: the sub-pixel output differs


def test_a_training_layer_is_measured_one_stage_per_call(monkeypatch):
    """With gradients: a round of the forward race, then the input-gradient ways, the weight-gradient ways, and
    whole steps, one stage per call; every call computes torch's output and gradients meanwhile."""
    plan, x, w = _layer(n=2, c_in=8, c_out=4, size=6, k=2, s=2)
    ref_x, ref_w = x.clone().requires_grad_(), w.clone().requires_grad_()
    ref = torch.nn.functional.conv_transpose2d(ref_x, ref_w, stride=2)
    gy = torch.randn_like(ref)
    expect = torch.autograd.grad(ref, (ref_x, ref_w), gy)
    calls = []
    ms = {"torch": 10, "gemm": 7, "gx:torch": 10, "gx:conv": 8, "gw:torch": 10, "gw:gemm": 8.5, "gb": 0}
    fake_clock(monkeypatch, {**ms, "step:split": 20}, calls)
    rounds = []
    while not rounds or autotune.measuring(plan, x, w.requires_grad_()):
        calls.clear()
        xg, wg = x.clone().requires_grad_(), w.detach().clone().requires_grad_()
        y = tconv.conv_transpose(xg, wg, stride=2)
        torch.testing.assert_close(y, ref)
        torch.testing.assert_close(torch.autograd.grad(y, (xg, wg), gy), expect)
        rounds.append({n.split(":")[0] if ":" in n else "forward" for n, _ in calls})
        assert len(rounds) < 12
    assert rounds[0] == {"forward"} and rounds[-3:] == [{"gx"}, {"gw"}, {"step"}]
    assert all(r == {"forward"} for r in rounds[:-3]) and len(rounds) >= 5  # the forward race: rounds of its own
    c = autotune.choose(plan, x, w)
    assert (c.route.name, c.gx, c.gw) == ("gemm", "conv", "gemm")


def test_training_calls_far_from_torch_are_computed_by_the_forward_winner(monkeypatch):
    """While a training layer is measured its calls compute their own result: by torch, unless the forward winner is
    far ahead (the FFT on the 400² image with a 64x64 kernel: torch's step there takes ~120 of the FFT's)."""
    x, w = torch.randn(1, 1, 400, 400), torch.randn(1, 1, 64, 64)
    plan = tconv.make_plan(x.shape, w.shape)
    fake_clock(monkeypatch, {"fft": 1, "gx:fft": 1, "gw:fft": 1})
    ran = []
    real_run = autotune.run
    monkeypatch.setattr(autotune, "run", lambda c, *a: ran.append(c.route.name) or real_run(c, *a))
    xg = x.clone().requires_grad_()
    y = tconv.conv_transpose(xg, w)
    assert autotune.measuring(plan, xg, w) and ran == ["fft"]
    (gx,) = torch.autograd.grad(y.square().sum(), xg)
    xr = x.clone().requires_grad_()
    ref = torch.nn.functional.conv_transpose2d(xr, w)
    torch.testing.assert_close(y, ref, rtol=1e-4, atol=1e-3)
    torch.testing.assert_close(gx, torch.autograd.grad(ref.square().sum(), xr)[0], rtol=1e-3, atol=1e-1)
