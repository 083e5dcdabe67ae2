"""Diagonal GMM (EM) against scikit-learn, and Fisher vectors against the formulas written as loops."""

import math

import numpy as np
import pytest
from sklearn.mixture import GaussianMixture

from histnet.backend import get_backend, to_host
from histnet.errors import ConfigError
from histnet.features.encoding import pyramid_regions
from histnet.features.fisher import FisherVector, fisher_vector, power_l2_normalize
from histnet.features.gmm import ComponentCollapseWarning, DiagonalGMM

XP = get_backend("cupy-standin").xp


def mixture(n=2000, d=6, k=5, seed=0):
    rng = np.random.default_rng(seed)
    mu = rng.normal(scale=3.0, size=(k, d))
    sd = rng.uniform(0.3, 1.5, size=(k, d))
    lab = rng.integers(k, size=n)
    return (mu[lab] + sd[lab] * rng.normal(size=(n, d))).astype(np.float32)


def test_log_likelihood_within_one_percent_of_sklearn():
    X = mixture()
    ours = DiagonalGMM(5, random_state=0, n_init=2).fit(X)
    ref = GaussianMixture(5, covariance_type="diag", random_state=0, n_init=2).fit(X.astype(np.float64))
    ll, ll_ref = ours.score(X), ref.score(X.astype(np.float64))
    assert abs(ll - ll_ref) <= 0.01 * abs(ll_ref)
    # score_samples is log p(x) of the fitted mixture, checked by a direct density sum
    x = X[:7].astype(np.float64)
    w, m, v = (np.asarray(a, np.float64) for a in (ours.weights_, ours.means_, ours.variances_))
    dens = (w * np.exp(-0.5 * (((x[:, None] - m) ** 2) / v).sum(-1)) / np.sqrt((2 * np.pi * v).prod(-1))).sum(1)
    np.testing.assert_allclose(ours.score_samples(X[:7]), np.log(dens), rtol=1e-4)
    np.testing.assert_allclose(ours.predict_proba(X).sum(1), 1, rtol=1e-5)
    assert ours.converged_


def test_standin_gives_the_numpy_result():
    X = mixture(n=500, d=4, k=3, seed=1)
    a = DiagonalGMM(3, max_iter=15, random_state=0).fit(X)
    b = DiagonalGMM(3, max_iter=15, random_state=0).fit(XP.asarray(X))
    for name in ("weights_", "means_", "variances_"):
        np.testing.assert_allclose(to_host(getattr(b, name)), getattr(a, name), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(to_host(b.predict_proba(XP.asarray(X))), a.predict_proba(X), atol=1e-5)
    assert b.score(XP.asarray(X)) == pytest.approx(a.score(X), rel=1e-5)


def test_collapsed_component_is_floored_and_named():
    rng = np.random.default_rng(0)
    spread = rng.normal(size=(300, 3))
    spike = np.tile([[8.0, 8.0, 8.0]], (60, 1))  # 60 identical descriptors: zero variance
    X = np.concatenate([spread, spike]).astype(np.float32)
    with pytest.warns(ComponentCollapseWarning, match=r"component \d+ collapsed"):
        g = DiagonalGMM(3, variance_floor=1e-3, random_state=0).fit(X)
    floor = 1e-3 * X.var(0)
    assert (g.variances_ >= floor * (1 - 1e-6)).all()
    assert np.isfinite(g.score(X))


def test_dimension_mismatch_and_bad_params():
    g = DiagonalGMM(2, random_state=0).fit(mixture(n=200, d=4, k=2))
    with pytest.raises(ConfigError, match="dimension 3 .* dimension 4"):
        g.predict_proba(np.zeros((5, 3), np.float32))
    with pytest.raises(ConfigError, match="init"):
        DiagonalGMM(2, init="foo").fit(mixture(n=50, d=2, k=2))


# -- Fisher vectors ---------------------------------------------------------------------------

def fisher_by_loops(X, w, mu, var, gamma):
    """The formulas of Perronnin et al. 2010 / VLFeat, one descriptor and component at a time."""
    T, D = X.shape
    K = len(w)
    u = np.zeros((K, D))
    v = np.zeros((K, D))
    for t in range(T):
        for k in range(K):
            for d in range(D):
                z = (X[t, d] - mu[k, d]) / math.sqrt(var[k, d])
                u[k, d] += gamma[t, k] * z
                v[k, d] += gamma[t, k] * (z * z - 1)
    for k in range(K):
        u[k] /= T * math.sqrt(w[k])
        v[k] /= T * math.sqrt(2 * w[k])
    return np.concatenate([u.ravel(), v.ravel()])


def test_fisher_vector_matches_the_loop_formulas_with_a_pyramid():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2, 6, 3))
    gmm = DiagonalGMM(2, random_state=0).fit(rng.normal(size=(100, 3)))
    w, mu, var = (np.asarray(a, np.float64) for a in (gmm.weights_, gmm.means_, gmm.variances_))
    frames = np.array([[1, 1, 4], [1, 6, 4], [6, 1, 4], [6, 6, 4], [2, 2, 4], [7, 7, 4]], np.float32)
    M = pyramid_regions(frames, (8, 8), (1, 2))
    gamma = np.stack([to_host(gmm.predict_proba(x)) for x in X]).astype(np.float64)
    fv = fisher_vector(X, mu, var, w, M, gamma, normalization=None)
    assert fv.shape == (2, 5 * 2 * 2 * 3)
    for n in range(2):
        for r in range(5):
            sel = M[:, r] > 0
            want = fisher_by_loops(X[n][sel], w, mu, var, gamma[n][sel])
            np.testing.assert_allclose(fv[n].reshape(5, -1)[r], want, rtol=1e-9, atol=1e-12)
    # the encoder computes the posteriors itself and gives the same (normalised) vector
    enc = FisherVector(2, levels=(1, 2)).set_gmm(gmm.weights_, gmm.means_, gmm.variances_)
    got = enc.transform(X.astype(np.float32), frames, (8, 8))
    want = fisher_vector(X, mu, var, w, M, gamma)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    assert enc.output_dim() == got.shape[1]
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1, rtol=1e-5)


def test_improved_normalisation_hand_case():
    # z = (4, -9) -> power: (2, -3) -> L2 (norm sqrt(13)): (2, -3)/sqrt(13)
    # z = (0, 0.25) -> (0, 0.5) -> (0, 1)
    Z = np.array([[4.0, -9.0], [0.0, 0.25]])
    want = np.array([[2 / math.sqrt(13), -3 / math.sqrt(13)], [0.0, 1.0]])
    np.testing.assert_allclose(power_l2_normalize(Z), want, rtol=1e-12)
    np.testing.assert_allclose(to_host(power_l2_normalize(XP.asarray(Z))), want, rtol=1e-12)


def test_fisher_standin_and_mismatch():
    rng = np.random.default_rng(1)
    D = rng.normal(size=(300, 4)).astype(np.float32)
    X = rng.normal(size=(3, 16, 4)).astype(np.float32)
    frames = np.stack(np.meshgrid(np.arange(4) * 4 + 2, np.arange(4) * 4 + 2, indexing="ij"), -1).reshape(16, 2)
    frames = np.concatenate([frames, np.full((16, 1), 4)], 1).astype(np.float32)
    a = FisherVector(3, levels=(1, 2), gmm_iter=10, random_state=0).fit(D)
    b = FisherVector(3, levels=(1, 2), gmm_iter=10, random_state=0).fit(XP.asarray(D))
    fa = a.transform(X, frames, (16, 16))
    fb = b.transform(XP.asarray(X), frames, (16, 16))
    np.testing.assert_allclose(to_host(fb), fa, rtol=1e-4, atol=1e-5)
    with pytest.raises(ConfigError, match="dimension 5 .* dimension 4"):
        a.transform(np.zeros((1, 16, 5), np.float32), frames, (16, 16))


def test_masked_descriptors_are_left_out():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(2, 6, 3))
    gmm = DiagonalGMM(2, random_state=0).fit(rng.normal(size=(100, 3)))
    w, mu, var = (np.asarray(a, np.float64) for a in (gmm.weights_, gmm.means_, gmm.variances_))
    gamma = np.stack([to_host(gmm.predict_proba(x)) for x in X]).astype(np.float64)
    mask = np.array([[1, 1, 0, 1, 0, 1], [0, 1, 1, 1, 1, 1]], np.float64)
    fv = fisher_vector(X, mu, var, w, None, gamma, normalization=None, mask=mask)
    for n in range(2):
        sel = mask[n] > 0
        np.testing.assert_allclose(fv[n], fisher_by_loops(X[n][sel], w, mu, var, gamma[n][sel]), rtol=1e-9)
