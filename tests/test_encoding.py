"""Bag of words, LLC, spatial pyramid and additive-kernel maps, on numpy and the cupy stand-in."""

import numpy as np
import pytest

from histnet.backend import get_backend, to_host
from histnet.errors import ConfigError
from histnet.features.encoding import (LLC, BagOfWords, chi2_kernel, chi2_map, hellinger_map, llc_codes,
                                       pyramid_level_weights, pyramid_pool, pyramid_regions)

XP = get_backend("cupy-standin").xp


def grid_frames(h=16, w=16, step=4):
    ys, xs = np.meshgrid(np.arange(step // 2, h, step), np.arange(step // 2, w, step), indexing="ij")
    return np.stack([ys.ravel(), xs.ravel(), np.full(ys.size, step)], 1).astype(np.float32)


def test_pyramid_regions_shapes_and_sums():
    frames = grid_frames()  # 4x4 grid of centres in a 16x16 image
    M = pyramid_regions(frames, (16, 16), (1, 2, 4))
    assert M.shape == (16, 1 + 4 + 16)
    np.testing.assert_array_equal(M.sum(1), 3)  # each descriptor in one cell per level
    np.testing.assert_array_equal(M[:, 0], 1)
    np.testing.assert_array_equal(M[:, 1:5].sum(0), 4)
    np.testing.assert_array_equal(M[:, 5:].sum(0), 1)
    # top-left 2x2 cell holds centres with y, x < 8
    np.testing.assert_array_equal(M[:, 1] > 0, (frames[:, 0] < 8) & (frames[:, 1] < 8))
    w = pyramid_level_weights((1, 2, 4))
    np.testing.assert_allclose(w[[0, 1, 5]], [0.25, 0.25, 0.5])


def test_pyramid_pool_sum_and_max():
    rng = np.random.default_rng(0)
    codes = rng.random((3, 16, 5)).astype(np.float32)
    M = pyramid_regions(grid_frames(), (16, 16), (1, 2, 4))
    s = pyramid_pool(codes, M, "sum")
    m = pyramid_pool(codes, M, "max")
    assert s.shape == m.shape == (3, 21, 5)
    for r in range(21):
        sel = M[:, r] > 0
        np.testing.assert_allclose(s[:, r], codes[:, sel].sum(1), rtol=1e-5)
        np.testing.assert_allclose(m[:, r], codes[:, sel].max(1))
    np.testing.assert_allclose(s[:, 1:5].sum(1), s[:, 0], rtol=1e-5)  # levels partition the image
    np.testing.assert_allclose(to_host(pyramid_pool(XP.asarray(codes), M, "max")), m)
    np.testing.assert_allclose(to_host(pyramid_pool(XP.asarray(codes), M, "sum")), s, rtol=1e-6)


def test_hellinger_and_chi2_maps_approximate_the_kernels():
    rng = np.random.default_rng(0)
    x = rng.dirichlet(np.ones(20), size=8)
    y = rng.dirichlet(np.ones(20), size=9)
    np.testing.assert_allclose(hellinger_map(x) @ hellinger_map(y).T, np.sqrt(x[:, None] * y[None]).sum(-1),
                               rtol=1e-12)
    exact = chi2_kernel(x, y)
    for order, tol in ((1, 0.06), (2, 0.02), (3, 0.01)):
        approx = chi2_map(x, order) @ chi2_map(y, order).T
        assert chi2_map(x, order).shape == (8, 20 * (2 * order + 1))
        assert np.abs(approx - exact).max() < tol * exact.max()
    # k(x, x) = sum x for chi2; the map's self-product is close
    np.testing.assert_allclose((chi2_map(x, 2) ** 2).sum(1), x.sum(1), rtol=0.02)
    np.testing.assert_allclose(to_host(chi2_map(XP.asarray(x), 2)), chi2_map(x, 2), rtol=1e-12)
    assert (chi2_map(np.zeros((1, 3)), 2) == 0).all()  # x = 0 maps to 0, no log(0)


def test_bovw_hard_histograms_by_brute_force():
    rng = np.random.default_rng(0)
    D = rng.normal(size=(400, 6)).astype(np.float32)
    X = rng.normal(size=(2, 16, 6)).astype(np.float32)
    frames = grid_frames()
    enc = BagOfWords(5, levels=(1, 2), kernel="linear", random_state=0).fit(D)
    got = enc.transform(X, frames, (16, 16))
    assert got.shape == (2, 5 * 5) == (2, enc.output_dim())
    C = enc.codebook_.cluster_centers_
    M = pyramid_regions(frames, (16, 16), (1, 2))
    wts = pyramid_level_weights((1, 2))
    for n in range(2):
        words = ((X[n][:, None] - C[None]) ** 2).sum(-1).argmin(1)
        for r in range(5):
            hist = np.bincount(words[M[:, r] > 0], minlength=5) / 16.0 * wts[r]
            np.testing.assert_allclose(got[n].reshape(5, 5)[r], hist, rtol=1e-6)
    # Hellinger: the square root of the same; chi2 map: 5 features per bin
    h = BagOfWords(5, levels=(1, 2), random_state=0).fit(D).transform(X, frames, (16, 16))
    np.testing.assert_allclose(h, np.sqrt(got), rtol=1e-6)
    c = BagOfWords(5, levels=(1, 2), kernel="chi2", random_state=0).fit(D)
    assert c.transform(X, frames, (16, 16)).shape == (2, 25 * 5) == (2, c.output_dim())
    # no frames: one histogram per image, summing to one
    np.testing.assert_allclose(enc.transform(X).sum(1), 1, rtol=1e-6)
    # the same under the cupy stand-in (hard codes, Hellinger map)
    s = BagOfWords(5, levels=(1, 2), random_state=0).fit(XP.asarray(D))
    np.testing.assert_allclose(to_host(s.transform(XP.asarray(X), frames, (16, 16))), h, rtol=1e-5, atol=1e-7)


def test_bovw_soft_assignment():
    rng = np.random.default_rng(1)
    D = rng.normal(size=(300, 4)).astype(np.float32)
    X = rng.normal(size=(2, 16, 4)).astype(np.float32)
    enc = BagOfWords(6, assignment="soft", sigma=0.7, kernel="linear", random_state=0).fit(D)
    codes = enc.codes(X[0])
    C = enc.codebook_.cluster_centers_
    k = np.exp(-((X[0][:, None] - C[None]) ** 2).sum(-1) / (2 * 0.7 ** 2))
    np.testing.assert_allclose(codes, k / k.sum(1, keepdims=True), rtol=1e-4, atol=1e-7)
    b = BagOfWords(6, assignment="soft", sigma=0.7, kernel="chi2", random_state=0)
    a = BagOfWords(6, assignment="soft", sigma=0.7, kernel="chi2", random_state=0)
    fa = a.fit(D).transform(X, grid_frames(), (16, 16))
    fb = b.fit(XP.asarray(D)).transform(XP.asarray(X), grid_frames(), (16, 16))
    np.testing.assert_allclose(to_host(fb), fa, rtol=1e-4, atol=1e-6)


def llc_by_kkt(x, B, beta):
    """min_c |x - B'c|^2 + (regulariser) s.t. 1'c = 1, by the KKT system of the equality-constrained QP."""
    Z = B - x[None]
    G = Z @ Z.T
    G = G + beta * np.trace(G) * np.eye(len(B))
    k = len(B)
    A = np.zeros((k + 1, k + 1))
    A[:k, :k] = 2 * G
    A[:k, k] = A[k, :k] = 1
    rhs = np.zeros(k + 1)
    rhs[k] = 1
    return np.linalg.lstsq(A, rhs, rcond=None)[0][:k]


def test_llc_matches_a_direct_constrained_solve():
    rng = np.random.default_rng(0)
    C = rng.normal(size=(12, 5))
    X = rng.normal(size=(7, 5))
    codes = llc_codes(X, C, n_neighbors=4, beta=1e-4)
    assert codes.shape == (7, 12)
    np.testing.assert_allclose(codes.sum(1), 1, rtol=1e-10)
    for i in range(7):
        nn = np.argsort(((C - X[i]) ** 2).sum(1))[:4]
        want = np.zeros(12)
        want[nn] = llc_by_kkt(X[i], C[nn], 1e-4)
        np.testing.assert_allclose(codes[i], want, rtol=1e-6, atol=1e-9)
    # with k >= d + 1 and tiny beta the code reconstructs x exactly (an affine combination)
    exact = llc_codes(X, C, n_neighbors=8, beta=1e-10)
    np.testing.assert_allclose(exact @ C, X, atol=1e-4)
    np.testing.assert_allclose(to_host(llc_codes(XP.asarray(X), XP.asarray(C), 4)), codes, rtol=1e-8, atol=1e-12)


def test_llc_encoder_pools_and_normalises():
    rng = np.random.default_rng(2)
    D = rng.normal(size=(300, 4)).astype(np.float32)
    X = rng.normal(size=(3, 16, 4)).astype(np.float32)
    frames = grid_frames()
    enc = LLC(8, n_neighbors=3, levels=(1, 2, 4), random_state=0).fit(D)
    got = enc.transform(X, frames, (16, 16))
    assert got.shape == (3, 21 * 8) == (3, enc.output_dim())
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1, rtol=1e-5)
    codes = enc.codes(X.reshape(-1, 4)).reshape(3, 16, 8)
    pooled = pyramid_pool(codes, pyramid_regions(frames, (16, 16), (1, 2, 4)), "max").reshape(3, -1)
    np.testing.assert_allclose(got, pooled / np.linalg.norm(pooled, axis=1, keepdims=True), rtol=1e-5)
    std = LLC(8, n_neighbors=3, levels=(1, 2, 4), random_state=0).fit(XP.asarray(D))
    np.testing.assert_allclose(to_host(std.transform(XP.asarray(X), frames, (16, 16))), got, rtol=1e-4, atol=1e-6)


def test_codebook_of_other_dimension_is_refused():
    enc = BagOfWords(4, random_state=0).fit(np.random.default_rng(0).normal(size=(50, 8)).astype(np.float32))
    with pytest.raises(ConfigError, match="dimension 6 .* dimension 8"):
        enc.transform(np.zeros((2, 16, 6), np.float32), grid_frames(), (16, 16))
    with pytest.raises(ConfigError, match="16 descriptors per image but 4 frames"):
        enc.transform(np.zeros((2, 16, 8), np.float32), grid_frames()[:4], (16, 16))
    with pytest.raises(ConfigError, match="assignment"):
        BagOfWords(4, assignment="fuzzy").fit(np.zeros((10, 2), np.float32))
    with pytest.raises(ConfigError, match="kernel"):
        LLC(4, kernel="rbf").fit(np.zeros((10, 2), np.float32))


def test_bovw_mask_counts_only_kept_descriptors():
    rng = np.random.default_rng(4)
    D = rng.normal(size=(200, 4)).astype(np.float32)
    X = rng.normal(size=(2, 16, 4)).astype(np.float32)
    mask = (rng.random((2, 16)) > 0.4).astype(np.float32)
    enc = BagOfWords(5, levels=(1,), kernel="linear", random_state=0).fit(D)
    got = enc.transform(X, grid_frames(), (16, 16), mask=mask)
    for n in range(2):
        want = enc.transform(X[n:n + 1, mask[n] > 0])
        np.testing.assert_allclose(got[n], want[0], rtol=1e-6)


def test_kernel_map_transformer_in_a_pipeline():
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    from histnet.features.encoding import AdditiveKernelMap

    rng = np.random.default_rng(5)
    X = rng.dirichlet(np.ones(6), size=40)
    y = (X[:, 0] > X[:, 1]).astype(int)
    pipe = make_pipeline(AdditiveKernelMap("chi2", order=1), LinearSVC()).fit(X, y)
    assert pipe.score(X, y) > 0.8
    m = AdditiveKernelMap("hellinger").fit(X)
    np.testing.assert_allclose(m.transform(X), np.sqrt(X))
    with pytest.raises(ConfigError, match="dimension 5 .* dimension 6"):
        m.transform(X[:, :5])
    with pytest.raises(ConfigError, match="kernel"):
        AdditiveKernelMap("rbf").fit(X)
