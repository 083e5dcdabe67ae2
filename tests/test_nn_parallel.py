"""Layer work split over the batch on threads (histnet.nn.parallel) and reused work arrays
(Layer.scratch): the same numbers as one thread, and nothing a caller still holds is ever
overwritten."""

import numpy as np
import pytest

from histnet.nn import parallel
from histnet.nn.blocks import Residual
from histnet.nn.conv import Conv2D
from histnet.nn.core import Layer, ReLU, relu_grad
from histnet.nn.lrn import LRN
from histnet.nn.norm import BatchNorm
from histnet.nn.pool import MaxPool2D


def test_over_batch_covers_each_image_once(two_threads):
    seen = np.zeros(1000, int)

    def fn(s):
        seen[s] += 1

    parallel.over_batch(fn, 1000, parallel.MIN_SIZE)  # large enough to be split
    assert (seen == 1).all()
    parallel.over_batch(fn, 1000, 10)  # small: one call on this thread
    assert (seen == 2).all()


def test_over_batch_inside_a_slice_stays_on_that_thread(two_threads):
    """Work split again from within a slice (a chunk's copy inside a chunked convolution) runs
    on the slice's own thread, once per row, not as more tasks for the busy threads."""
    import threading

    outer, inner = {}, {}

    def nested(s):
        def fn(t):
            for i in range(t.start, t.stop):
                inner[(s.start, i)] = threading.get_ident()

        parallel.over_batch(fn, 1000, parallel.MIN_SIZE)
        outer[s.start] = threading.get_ident()

    parallel.over_batch(nested, 2, parallel.MIN_SIZE)
    assert len(outer) == 2 and len(set(outer.values())) == 2  # the outer call was split
    assert len(inner) == 2000
    assert all(ident == outer[start] for (start, _), ident in inner.items())
    after = set()
    parallel.over_batch(lambda t: after.add(threading.get_ident()), 1000, parallel.MIN_SIZE)
    assert len(after) == 2  # the next call at the top level is split again


def test_over_batch_raises_a_threads_error(two_threads):
    def fn(s):
        if s.start > 0:
            raise ValueError("second half failed")

    with pytest.raises(ValueError, match="second half failed"):
        parallel.over_batch(fn, 10, parallel.MIN_SIZE)


def test_set_threads_rejects_zero():
    with pytest.raises(ValueError, match="at least 1"):
        parallel.set_threads(0)


def test_threads_follow_the_environment(monkeypatch):
    monkeypatch.setenv("HISTNET_THREADS", "3")
    assert parallel._default_threads() == 3
    monkeypatch.delenv("HISTNET_THREADS")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert parallel._default_threads() == 1


def test_pool_and_relu_bit_identical_on_two_threads(two_threads):
    rng = np.random.default_rng(0)
    x = np.maximum(rng.standard_normal((16, 20, 20, 32)).astype(np.float32), 0)  # ties at 0
    assert x.size >= parallel.MIN_SIZE
    out = {}
    for n in (1, 2):
        parallel.set_threads(n)
        pool = MaxPool2D(3, 2, 1)
        y = pool.forward(x, train=True)
        dx = pool.backward(np.ones_like(y))
        relu = ReLU()
        r = relu.forward(x - 0.5, train=True)
        out[n] = (y.copy(), np.array(dx), r.copy(), relu.backward(np.full_like(r, 2.0)).copy())
    for a, b in zip(out[1], out[2]):
        np.testing.assert_array_equal(a, b)
    # every output's gradient went to exactly one input: nothing lost or doubled
    assert out[2][1].sum() == out[2][0].size


def test_lrn_batchnorm_and_convolutions_bit_identical_on_two_threads(two_threads):
    """Their elementwise passes are split; their sums are not, or (the chunked convolution's
    weight gradient) add per-chunk products in chunk order."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((16, 16, 16, 32)).astype(np.float32)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    out = {}
    for n in (1, 2):
        parallel.set_threads(n)
        res = []
        block = Residual([Conv2D(32, 32, 3, padding=1, algo="chunks", rng=0), BatchNorm(32), ReLU(inplace=True),
                          Conv2D(32, 32, 3, padding=1, rng=1), BatchNorm(32)])
        for layer in (LRN(5, 1e-2, 0.75, 2.0), BatchNorm(32), Conv2D(32, 32, 3, padding=1, rng=0),
                      Conv2D(32, 32, 3, padding=1, algo="im2col", rng=0), block):
            res += [layer.forward(x, train=True).copy(), np.array(layer.backward(dy.copy()))]
            res += [g.copy() for g in layer.grads.values()]
        out[n] = res
    for a, b in zip(out[1], out[2]):
        np.testing.assert_array_equal(a, b)


def test_relu_grad_dtype_and_out():
    dy = np.arange(-3, 3, dtype=np.float32)
    y = np.array([0, 1, 0, 2, 3, 0], np.float32)
    np.testing.assert_array_equal(relu_grad(dy, y), [0, -2, 0, 0, 1, 0])
    assert relu_grad(dy, y).dtype == np.float32
    out = np.empty_like(dy)
    assert relu_grad(dy, y, out=out) is out


def test_scratch_reused_only_when_free():
    layer = Layer()
    a = layer.scratch("w", (4, 5), np.float32, np)
    a_id = id(a)
    del a
    b = layer.scratch("w", (4, 5), np.float32, np)
    assert id(b) == a_id  # nothing held the first: the same memory again
    view = b[1:]
    del b
    c = layer.scratch("w", (4, 5), np.float32, np)
    assert id(c) != a_id and view.base is not None  # a view was alive: a new array
    assert layer.scratch("w", (2, 5), np.float32, np).shape == (2, 5)


def test_pool_outputs_a_caller_keeps_are_not_overwritten():
    rng = np.random.default_rng(1)
    pool = MaxPool2D(3, 2, 1)
    x1, x2 = (rng.standard_normal((2, 9, 9, 3)).astype(np.float32) for _ in range(2))
    y1 = pool.forward(x1, train=True)
    dx1 = pool.backward(np.ones_like(y1))
    keep_y, keep_dx = y1.copy(), np.array(dx1)
    y2 = pool.forward(x2, train=True)
    pool.backward(np.full_like(y2, 3.0))
    np.testing.assert_array_equal(y1, keep_y)
    np.testing.assert_array_equal(dx1, keep_dx)
    assert not np.array_equal(y1, y2)


def test_openblas_idle_timeout_set_before_numpy_loads(tmp_path):
    """Importing histnet first (as the CLI does) shortens OpenBLAS's idle spin; a value the
    user set is kept."""
    import os
    import subprocess
    import sys

    code = "import histnet, os, numpy; print(os.environ['OPENBLAS_THREAD_TIMEOUT'])"
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "4"
    env["OPENBLAS_THREAD_TIMEOUT"] = "12"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "12"


def test_a_forked_child_gets_its_own_threads(two_threads):
    """After fork the parent's pool threads do not exist in the child; the child must not wait
    on them forever."""
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform")
    x = np.maximum(np.random.default_rng(2).standard_normal((16, 20, 20, 32)).astype(np.float32), 0)
    expected = MaxPool2D(3, 2, 1).forward(x)  # creates the pool here, in the parent
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        result = pool.apply_async(_pool_in_child, (x,)).get(timeout=60)
    np.testing.assert_array_equal(result, expected)


def _pool_in_child(x):
    return MaxPool2D(3, 2, 1).forward(x)


def test_threads_keep_the_callers_numpy_error_state(two_threads):
    """np.errstate set around a layer holds in its threads too (it is a context variable)."""
    x = np.full((64, 64, 64, 8), 1e30, np.float32)
    assert x.size >= parallel.MIN_SIZE
    lrn = LRN(5, 1e-4, 0.75, 2.0)
    with np.errstate(over="raise"):
        with pytest.raises(FloatingPointError):
            lrn.forward(x)  # x * x overflows float32, in whichever thread runs the slice
    with np.errstate(over="ignore", invalid="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("error")
            lrn.forward(x)  # silent, in every thread
