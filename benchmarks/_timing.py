"""Timing helper shared by the speed benchmarks (imported as a sibling module when a
benchmark script runs: `python benchmarks/speed_X.py`)."""

import time


def best_time(fn, reps: int, sync=lambda: None) -> float:
    """Best wall-clock seconds of ``reps`` calls of ``fn`` after one warm-up call.

    ``sync`` waits for the device (a GPU stream) so asynchronous work is counted.
    """
    fn()
    sync()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return min(times)
