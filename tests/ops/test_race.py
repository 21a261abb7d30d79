"""The race between routes (tconv.ops.race): its rounds, its pauses, failed runs, the winner rule."""

from tconv.ops import race


def _clock(times: dict[str, list[float]], log: list[str]):
    def clock(name, fn):
        log.append(name)
        t = times[name].pop(0)
        if t is None:
            raise RuntimeError("failed")
        return t / 1e3

    return clock


def test_one_round_per_play_and_the_same_result_as_at_once():
    times = {"torch": [30.0, 12.0, 11.0, 11.0, 11.5], "gemm": [9.0, 8.5, 8.4, 8.6], "col2im": [20.0]}
    log: list[str] = []
    player = race.Player(
        race.steps(["torch", "gemm", "col2im"], "torch"), _clock({k: list(v) for k, v in times.items()}, log)
    )
    rounds = []
    while not player.done:
        start = len(log)
        player.play(dict.fromkeys(["torch", "gemm", "col2im"]), one_round=True)
        rounds.append(log[start:])
    assert rounds[0] == ["torch", "gemm", "col2im"]  # every candidate once
    assert rounds[1] == ["torch", "gemm", "torch"]  # the second runs; torch until it stops falling
    assert rounds[2] == ["torch", "gemm", "gemm", "torch"]  # 8.5 against 11: within DECISIVE, a duel
    assert player.result == {"torch": 11.0, "gemm": 8.4, "col2im": 20.0}
    log2: list[str] = []
    at_once = race.race(dict.fromkeys(times), "torch", clock=_clock({k: list(v) for k, v in times.items()}, log2))
    assert at_once == player.result and log2 == sum(rounds, [])
    assert race.winner(at_once, "torch") == "gemm"


def test_the_pause_names_the_leader_so_far():
    log: list[str] = []
    player = race.Player(
        race.steps(["torch", "gemm"], "torch"), _clock({"torch": [10.0, 9.0, 9.0], "gemm": [4.0, 4.0]}, log)
    )
    player.play(dict.fromkeys(["torch", "gemm", "col2im"]), one_round=True)
    assert player.leader == "gemm" and not player.done


def test_a_run_that_raises_leaves_its_candidate_out():
    log: list[str] = []
    times = {"torch": [10.0, 10.0, 10.0], "gemm": [None], "col2im": [4.0, 4.0]}
    ms = race.race(dict.fromkeys(times), "torch", clock=_clock(times, log))
    assert "gemm" not in ms and race.winner(ms, "torch") == "col2im"


def test_near_ties_go_to_the_reference():
    assert race.winner({"torch": 10.0, "gemm": 9.7}, "torch") == "torch"  # 3%: within MARGIN
    assert race.winner({"torch": 1.0, "gemm": 0.9}, "torch") == "torch"  # a 1 ms call: within SHORT_MARGIN
    assert race.winner({"torch": 10.0, "gemm": 9.0}, "torch") == "gemm"
