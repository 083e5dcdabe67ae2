"""Tests of histnet.features._angles: the gradient angles HOG and dense SIFT take from a
polynomial where numpy's arctan2 is a scalar loop, against float64 arctan2."""

import numpy as np

from histnet.backend import get_backend
from histnet.features._angles import fast_path, numpy_has_vector_atan2, signed_angle, unsigned_angle

fc = get_backend("cupy-standin").xp


def gradients(seed):
    """float32 (y, x): random gradients of three scales, then every pair of the special values
    (axes, diagonals, zeros, -0, the tiniest and the largest)."""
    rng = np.random.default_rng(seed)
    y, x = (rng.standard_normal((2, 200_000)) * rng.choice([1e-3, 1, 300], (2, 200_000))).astype(np.float32)
    special = np.float32([0, -0.0, 1, -1, 255, -255, 1e-30, 3e38])
    return (np.concatenate([y, np.repeat(special, len(special))]),
            np.concatenate([x, np.tile(special, len(special))]))


def test_unsigned_angle_matches_arctan2_to_float32_precision():
    y, x = gradients(0)
    got = unsigned_angle(y, x)
    assert got.dtype == np.float32 and np.all((got >= 0) & (got <= np.float32(np.pi)))
    diff = np.abs(got - np.arctan2(y.astype(np.float64), x.astype(np.float64)) % np.pi)
    assert np.minimum(diff, np.pi - diff).max() < 5e-7  # 0 and pi are the same orientation


def test_signed_angle_matches_arctan2_to_float32_precision():
    """SIFT's 0-360 degrees; pi and -pi are the same direction."""
    y, x = gradients(2)
    got = signed_angle(y, x)
    assert got.dtype == np.float32 and np.all(np.abs(got) <= np.float32(np.pi))
    diff = np.abs(got - np.arctan2(y.astype(np.float64), x.astype(np.float64)))
    assert np.minimum(diff, 2 * np.pi - diff).max() < 5e-7
    np.testing.assert_array_equal(np.signbit(got), np.signbit(y))  # the sign is y's, as arctan2's


def test_the_polynomial_is_taken_only_for_float32_numpy_without_a_vector_arctan2():
    assert isinstance(numpy_has_vector_atan2(), bool)
    assert fast_path(np.zeros(3, np.float32)) is (not numpy_has_vector_atan2())
    assert not fast_path(np.zeros(3, np.float64))  # float64 keeps arctan2's precision
    assert not fast_path(fc.asarray(np.zeros(3, np.float32)))  # devices keep arctan2
