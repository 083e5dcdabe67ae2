"""Gradient orientations for the descriptors: ``atan2`` where numpy's is slow.

HOG and dense SIFT need the angle of every pixel's gradient. numpy computes ``arctan2`` with
vector instructions only on CPUs with AVX-512 (its SVML-based loops). Elsewhere, on an
AVX2-only CPU such as the AMD EPYC (Zen 3) guest of ``results/speed.md``, each float32
``arctan2`` is a scalar libm call, 29 ns a pixel, which made it half of HOG's time with the
paper's options and a third of dense SIFT's. :func:`unsigned_angle` (HOG's 0-180 degrees)
and :func:`signed_angle` (SIFT's 0-360) compute the same angles from arithmetic that numpy
vectorises on every CPU: 5.6 ns a pixel there (on chunks of 128 K pixels that stay in
cache), with the same largest error against a float64 reference as float32 ``arctan2``
(3.4e-7 radians).

The arithmetic: with ``a = min(|x|, |y|) / max(|x|, |y|)`` in [0, 1], ``atan(a)`` is an odd
polynomial of degree 15 (coefficients fitted for this module: least squares on 4,000
Chebyshev nodes of [0, 1], reweighted towards the largest errors until near minimax; largest
error 3.7e-8 rad in float64); then ``pi/2 - atan(a)`` where ``|y| > |x|``, and the half-plane
folds: ``pi`` minus that where the sign bits of ``x`` and ``y`` differ (unsigned), or where
``x`` is negative, negated where ``y`` is (signed).

Callers use it for float32 on the CPU when numpy has no vector ``arctan2`` (:func:`fast_path`)
and keep ``arctan2`` otherwise: for float64, which would lose precision to the polynomial,
for GPU arrays, and where numpy's own is fast (so results there stay as they were).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ..backend import get_array_module

#: atan(a) ~ a (c0 + c1 a^2 + c2 a^4 + ... + c7 a^14) on [0, 1]
_ATAN_COEFFS = (0.9999993356082288, -0.33329860846044634, 0.1994656605135383, -0.13908630674043962,
                0.09642198762448052, -0.05591233288697965, 0.021862955445139692, -0.004054565181664929)


@functools.lru_cache(maxsize=1)
def numpy_has_vector_atan2() -> bool:
    """Whether this numpy computes ``arctan2`` with vector instructions on this CPU.

    numpy vectorises its inverse trigonometric loops only for AVX-512 (``AVX512_SKX``, through
    Intel's SVML, which its Linux x86-64 builds carry); its build reports the features it
    found in ``__cpu_features__``. On an AVX-512 CPU with a build without SVML this says yes
    although numpy's loop is scalar: that machine keeps ``arctan2``, correct and as fast as
    before. If the table cannot be read, the answer is no (the polynomial is correct on every
    CPU, only its speed differs).
    """
    for module in ("numpy._core._multiarray_umath", "numpy.core._multiarray_umath"):
        try:
            features = __import__(module, fromlist=["__cpu_features__"]).__cpu_features__
        except (ImportError, AttributeError):
            continue
        return bool(features.get("AVX512_SKX", False))
    return False


def fast_path(x) -> bool:
    """Whether :func:`unsigned_angle` beats ``arctan2`` for ``x``: float32 numpy arrays on a
    CPU without a vector ``arctan2``."""
    xp = get_array_module(x)
    return xp is np and x.dtype == np.float32 and not numpy_has_vector_atan2()


def unsigned_angle(y, x):
    """``atan2(y, x)`` folded into [0, pi] (the unsigned orientation of the vector (x, y)),
    by the polynomial of the module docstring (callers take it where :func:`fast_path`).

    Parameters
    ----------
    y, x : xp arrays of the same shape and float dtype

    Returns
    -------
    xp array of ``y``'s shape and dtype. Where y = 0 the angle may be 0 or pi (the same
    orientation); where x = y = 0 it is 0 or pi. No overflow for any finite input.
    """
    xp = get_array_module(y)
    p, scratch = _first_octant(y, x)
    return _reflect(p, scratch, math.pi, xp.signbit(x) ^ xp.signbit(y))  # where the signs differ


def signed_angle(y, x):
    """``atan2(y, x)`` in [-pi, pi], by the same polynomial (for SIFT's 0-360 degree bins).

    Where y = 0 (or -0) and x < 0 the angle is pi or -pi, which are the same direction;
    ``y``'s sign bit decides, as for ``arctan2``.
    """
    xp = get_array_module(y)
    p, scratch = _first_octant(y, x)
    p = _reflect(p, scratch, math.pi, xp.signbit(x))  # where x < 0: the upper half-plane's angle
    p *= xp.subtract(1, 2 * xp.signbit(y), dtype=p.dtype)  # negative where y < 0
    return p


def _reflect(p, scratch, total, mask):
    """``p`` becomes ``total - p`` where ``mask`` (bool) holds, in place; ``scratch`` (an array
    of p's shape) is overwritten. Arithmetic with the 0/1 mask, not a select: the same numbers,
    and a data-dependent select is slower on the CPU."""
    xp = get_array_module(p)
    xp.subtract(p.dtype.type(total), p, out=scratch)
    scratch -= p
    scratch *= mask
    p += scratch
    return p


def _first_octant(y, x):
    """``(atan(|y| / |x|) in [0, pi/2], a scratch array)``: the polynomial for atan(min/max),
    then pi/2 minus it where |y| > |x|."""
    xp = get_array_module(y)
    dt = y.dtype.type
    ax, ay = xp.abs(x), xp.abs(y)
    a = xp.minimum(ax, ay)
    big = xp.maximum(ax, ay)
    xp.maximum(big, dt(1e-30), out=big)  # x = y = 0: a = 0, angle 0
    xp.divide(a, big, out=a)
    z = xp.multiply(a, a, out=big)
    p = z * dt(_ATAN_COEFFS[-1])
    for c in _ATAN_COEFFS[-2:0:-1]:
        p += dt(c)
        p *= z
    p += dt(_ATAN_COEFFS[0])
    p *= a                                    # atan(min / max), in [0, pi/4]
    return _reflect(p, a, math.pi / 2, ay > ax), a  # where |y| > |x|: atan(|y| / |x|)
