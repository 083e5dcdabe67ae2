"""Timing helper shared by the speed benchmarks (imported as a sibling module when a
benchmark script runs: `python benchmarks/speed_X.py`)."""

import time


def best_time(fn, reps: int, sync=lambda: None) -> float:
    """Best wall-clock seconds of ``reps`` calls of ``fn`` after one warm-up call.

    ``sync`` waits for the device (a GPU stream) so asynchronous work is counted.
    """
    return best_times({"fn": fn}, reps, {"fn": sync})["fn"]


def best_times(fns: dict, reps: int, syncs: dict = None) -> dict:
    """Best wall-clock seconds of each of ``fns`` (name -> callable), their repeats alternating.

    One warm-up call of each, then ``reps`` rounds in which every function runs once, in
    the order given: a machine that slows down or speeds up during the measurement (a
    shared guest) slows every side alike, so the ratios of the results compare. ``syncs``
    maps a name to the function that waits for its device, where it has one.
    """
    syncs = syncs or {}
    for name, fn in fns.items():
        fn()
        syncs.get(name, lambda: None)()
    best = {name: float("inf") for name in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            syncs.get(name, lambda: None)()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best
