"""k-means codebooks and descriptor PCA against scikit-learn, on numpy and the cupy stand-in."""

import numpy as np
import pytest
from sklearn.cluster import KMeans as SkKMeans
from sklearn.decomposition import PCA as SkPCA

from histnet.backend import get_backend, to_host
from histnet.errors import ConfigError, DataError
from histnet.features.kmeans import KMeans, assign, kmeans_plusplus
from histnet.features.pca import PCA

XP = get_backend("cupy-standin").xp


def blobs(n=1500, d=8, k=12, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(k, d))
    lab = rng.integers(k, size=n)
    return (centres[lab] + rng.normal(size=(n, d))).astype(np.float32)


@pytest.mark.parametrize("algorithm", ["lloyd", "minibatch"])
def test_inertia_within_one_percent_of_sklearn(algorithm):
    X = blobs()
    ours = KMeans(12, algorithm=algorithm, n_init=3, max_iter=60 if algorithm == "lloyd" else 15,
                  batch_size=256, random_state=0).fit(X)
    ref = SkKMeans(12, n_init=3, random_state=0).fit(X.astype(np.float64))
    assert ours.inertia_ <= ref.inertia_ * 1.01
    # the reported inertia is the inertia of the returned centres
    d2 = ((X[:, None, :] - ours.cluster_centers_[None]) ** 2).sum(-1).min(1).sum()
    assert ours.inertia_ == pytest.approx(d2, rel=1e-4)


def test_inertia_on_unstructured_data():
    X = np.random.default_rng(1).normal(size=(800, 6)).astype(np.float32)
    ours = KMeans(16, n_init=10, random_state=0).fit(X)
    ref = SkKMeans(16, n_init=10, random_state=0).fit(X.astype(np.float64))
    assert ours.inertia_ <= ref.inertia_ * 1.01


@pytest.mark.parametrize("algorithm", ["lloyd", "minibatch"])
def test_standin_gives_the_numpy_result(algorithm):
    X = blobs(n=400, d=5, k=6)
    a = KMeans(6, algorithm=algorithm, max_iter=10, batch_size=128, random_state=3).fit(X)
    b = KMeans(6, algorithm=algorithm, max_iter=10, batch_size=128, random_state=3).fit(XP.asarray(X))
    assert type(b.cluster_centers_).__module__ == "histnet.standin.arrays"
    np.testing.assert_allclose(to_host(b.cluster_centers_), a.cluster_centers_, rtol=1e-5, atol=1e-5)
    assert b.inertia_ == pytest.approx(a.inertia_, rel=1e-5)
    np.testing.assert_array_equal(to_host(b.predict(XP.asarray(X))), a.predict(X))
    np.testing.assert_allclose(to_host(b.transform(XP.asarray(X))), a.transform(X), rtol=1e-4, atol=1e-4)


def test_assign_matches_brute_force_and_plusplus_picks_rows():
    X = blobs(n=300, d=4, k=5)
    C = kmeans_plusplus(X, 5, np.random.default_rng(0))
    assert all((X == c).all(1).any() for c in C)  # every seed is a data row
    lab, d2 = assign(X, C)
    full = ((X[:, None] - C[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(lab, full.argmin(1))
    np.testing.assert_allclose(d2, full.min(1), rtol=1e-4, atol=1e-4)


def test_partial_fit_streams_minibatches():
    X = blobs(n=1200, d=6, k=8)
    km = KMeans(8, random_state=0)
    for start in range(0, 1200, 200):
        km.partial_fit(X[start:start + 200])
    assert km.n_iter_ == 6 and float(km.counts_.sum()) == 1200
    ref = SkKMeans(8, n_init=3, random_state=0).fit(X)
    assert -km.score(X) <= ref.inertia_ * 1.5  # one pass of Sculley's updates is close


def test_bad_input_is_refused_with_both_dimensions():
    km = KMeans(4, random_state=0).fit(blobs(n=100, d=8, k=4))
    with pytest.raises(DataError, match="dimension 5 .* dimension 8"):  # a data fault
        km.predict(np.zeros((3, 5), np.float32))
    with pytest.raises(ConfigError, match="fewer than n_clusters"):
        KMeans(50).fit(np.zeros((10, 2), np.float32))
    with pytest.raises(ConfigError, match="algorithm"):
        KMeans(2, algorithm="elkan").fit(np.zeros((10, 2), np.float32))
    with pytest.raises(ConfigError, match="not fitted"):
        KMeans(2).predict(np.zeros((10, 2), np.float32))


def test_params_stored_unchanged():
    km = KMeans(7, algorithm="minibatch", tol=0.5)
    assert km.get_params()["n_clusters"] == 7 and km.get_params()["tol"] == 0.5


# -- PCA ------------------------------------------------------------------------------------

def test_pca_matches_sklearn():
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(500, 10)) @ rng.normal(size=(10, 10))).astype(np.float32)
    ours = PCA(4).fit(X)
    ref = SkPCA(4).fit(X.astype(np.float64))
    np.testing.assert_allclose(ours.explained_variance_, ref.explained_variance_, rtol=1e-4)
    # components agree up to sign
    dots = np.abs((ours.components_ * ref.components_).sum(1))
    np.testing.assert_allclose(dots, 1, atol=1e-4)
    np.testing.assert_allclose(np.abs(ours.transform(X)), np.abs(ref.transform(X)), rtol=1e-3, atol=1e-3)
    w = PCA(4, whiten=True).fit(X).transform(X)
    np.testing.assert_allclose(w.var(0, ddof=1), 1, rtol=1e-3)
    full = PCA(10).fit(X)
    np.testing.assert_allclose(full.inverse_transform(full.transform(X)), X, rtol=1e-3, atol=1e-3)


def test_pca_standin_and_errors():
    X = np.random.default_rng(2).normal(size=(200, 6)).astype(np.float32)
    a = PCA(3, whiten=True).fit(X)
    b = PCA(3, whiten=True).fit(XP.asarray(X))
    np.testing.assert_allclose(to_host(b.transform(XP.asarray(X))), a.transform(X), rtol=1e-4, atol=1e-5)
    with pytest.raises(DataError, match="dimension 4 .* dimension 6"):
        a.transform(np.zeros((2, 4), np.float32))
    with pytest.raises(ConfigError, match="n_components"):
        PCA(9).fit(X)
