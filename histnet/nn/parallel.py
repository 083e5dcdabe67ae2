"""Elementwise layer work on the CPU's cores: the batch split across a few threads.

numpy runs a ufunc on one core; BLAS (the GEMMs) already uses all of them. A layer whose time
is elementwise passes over big maps (max pooling, ReLU) is therefore held to one core while
PyTorch spreads the same loops over its threads. numpy releases the GIL inside its loops, so
running the same code on slices of the batch in threads uses the other cores: max pooling's
backward on a 128 x 32 x 32 x 64 map took 41 ms on one core and 21.5 ms on two (the 2-vCPU
guest of ``results/speed.md``).

Only work that is independent per image is split, so the numbers are bit-identical to one
thread (no sum crosses the batch). Under cupy, and for small arrays, the work runs on the
calling thread.

Threads: ``HISTNET_THREADS`` if set, else ``OMP_NUM_THREADS`` (what BLAS follows), else the
cores this process may run on; :func:`set_threads` changes it at run time (the speed
benchmarks set it to the BLAS thread count, so a comparison runs both libraries on the same
threads).
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np

#: below this many elements a layer's loop stays on the calling thread (the hand-off costs
#: tens of microseconds)
MIN_SIZE = 1 << 17

_threads = None
_pool = None
#: True inside a call of :func:`over_batch` (on its calling thread and in its slices): work
#: split there again runs on the thread it is on, not as more tasks for the same threads
_inside = contextvars.ContextVar("histnet_layer_threads", default=False)
_blas = None  # threadpoolctl's controller of the loaded BLAS libraries, made on first use


def _forget_pool() -> None:
    """In a forked child the pool's threads do not exist: start a new pool when needed."""
    global _pool
    _pool = None


if hasattr(os, "register_at_fork"):  # a process forked by the user's own code (multiprocessing)
    os.register_at_fork(after_in_child=_forget_pool)


def _default_threads() -> int:
    for var in ("HISTNET_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(var, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def threads() -> int:
    """Threads the elementwise layer work uses."""
    global _threads
    if _threads is None:
        _threads = _default_threads()
    return _threads


def set_threads(n: int) -> None:
    """Use ``n`` threads from now on (1: everything on the calling thread)."""
    global _threads, _pool
    if int(n) < 1:
        raise ValueError(f"threads must be at least 1, not {n}")
    _threads = int(n)
    if _pool is not None:
        _pool.shutdown(wait=True)
        _pool = None


def over_batch(fn, n: int, size: int, xp=np) -> None:
    """Call ``fn(s)`` for contiguous slices ``s`` that cover ``range(n)`` (the batch axis).

    ``fn`` writes its results into arrays the caller made, at ``[s]``; ``size`` is the number
    of elements the whole call touches, so small work stays on one thread. The first slice
    runs on the calling thread; an exception in any slice is raised here. Called again from
    within a slice (a chunk's im2col copy inside a chunked convolution), it runs ``fn`` on that
    slice's thread: the threads are already busy, and the data is in that core's cache.
    """
    global _pool
    k = min(threads(), n)
    if xp is not np or k <= 1 or size < MIN_SIZE or _inside.get():
        fn(slice(0, n))
        return
    if _pool is None:
        _pool = ThreadPoolExecutor(threads(), thread_name_prefix="histnet-layer")
    bounds = [i * n // k for i in range(k + 1)]
    token = _inside.set(True)
    try:
        # each slice runs in a copy of the caller's context, so numpy's error state (np.errstate
        # is a context variable) holds in the threads as it does here: a run that silences
        # overflow warnings while it checks for divergence stays silent; so does _inside
        futures = [_pool.submit(contextvars.copy_context().run, fn, slice(bounds[i], bounds[i + 1]))
                   for i in range(1, k)]
        try:
            fn(slice(bounds[0], bounds[1]))
        finally:  # never return (or raise) while a thread still writes into the caller's arrays
            wait(futures)
    finally:
        _inside.reset(token)
    for f in futures:
        f.result()


def copyto(dst, src, xp=np) -> None:
    """``dst[...] = src`` (same shape; ``src`` may be any strided view), a slice of the leading
    axis per thread: the gathers of im2col and Winograd, copies that numpy runs on one core."""
    over_batch(lambda i: xp.copyto(dst[i], src[i]), dst.shape[0], dst.size, xp)


@contextlib.contextmanager
def one_blas_thread():
    """BLAS on one thread inside the block (then as before), so that each layer thread's GEMMs
    run on its own core instead of all of them sharing BLAS's threads (threadpoolctl, which
    scikit-learn installs; entering and leaving costs about 0.1 ms)."""
    global _blas
    if _blas is None:
        from threadpoolctl import ThreadpoolController

        _blas = ThreadpoolController()
    with _blas.limit(limits=1, user_api="blas"):
        yield


def over_batch_gemms(fn, n: int, xp=np) -> None:
    """:func:`over_batch` for work that calls BLAS: ``fn(s)`` on every thread's slice of the
    batch, each slice's GEMMs on one core (the im2col of a few images at a time, see
    :meth:`histnet.nn.Conv2D`). On one thread BLAS is held to one thread as well: OpenBLAS's
    threaded kernels round differently from its one-thread kernels, and the results must not
    depend on the thread count. Under cupy ``fn`` sees the whole batch."""
    if xp is not np:
        fn(slice(0, n))
        return
    with one_blas_thread():
        over_batch(fn, n, MIN_SIZE, xp)
