"""Tests of histnet.rbm: the RBM estimator's math, learning, monitors, backends and bad input."""

import warnings

import numpy as np
import pytest

from histnet.backend import get_backend, to_device, to_host
from histnet.errors import ConfigError, DataError, DivergenceError, NotFittedEstimatorError
from histnet.rbm import RBM, InputError, InputRangeError, sigmoid, softplus
from histnet.tiles import tile_images

PROTOTYPES = np.array([[1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1], [1, 0, 1, 0, 1, 0]], np.float32)


def tiny_data(n=300, seed=0):
    """A small distribution on 6 bits: three prototypes with 5% bit noise."""
    rng = np.random.default_rng(seed)
    X = PROTOTYPES[rng.integers(0, 3, n)]
    flip = rng.random(X.shape) < 0.05
    return np.where(flip, 1 - X, X).astype(np.float32)


def all_states(n):
    return ((np.arange(2 ** n)[:, None] >> np.arange(n)[None, :]) & 1).astype(np.float64)


def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def test_sigmoid_and_softplus_match_reference():
    x = np.linspace(-60, 60, 241).astype(np.float32)
    np.testing.assert_allclose(sigmoid(x.copy()), np_sigmoid(x.astype(np.float64)), atol=1e-6)
    np.testing.assert_allclose(softplus(x), np.logaddexp(0, x.astype(np.float64)), rtol=1e-6, atol=1e-6)


def test_sigmoid_keeps_the_relative_precision_of_small_probabilities():
    """Down to float32's smallest normal numbers (x = -80: 1.8e-35), not only near 0.5: a
    hidden unit's P(h=1|v) of 1e-6 must not come out as 0 or with three digits (what the
    form 0.5 tanh(x/2) + 0.5 did), and far out of range it is exactly 0 or 1, silently."""
    x = np.linspace(-80, 80, 1601).astype(np.float32)
    ref = np_sigmoid(x.astype(np.float64))
    got = sigmoid(x.copy())
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=0)
    out = np.empty(3, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert sigmoid(np.float32([-1e4, 0, 1e4]), out=out) is out
    np.testing.assert_array_equal(out, [0.0, 0.5, 1.0])


@pytest.mark.parametrize("kw", [
    dict(learning_rate=0.05),  # CD-1, momentum 0.5 -> 0.9
    # PCD with high momentum oscillates (Tieleman & Hinton 2009); plain SGD as scikit-learn does
    dict(learning_rate=0.1, persistent=True, initial_momentum=0.0, final_momentum=0.0),
])
def test_exact_log_likelihood_rises_on_tiny_model(kw):
    X = tiny_data()
    before = RBM(4, n_iter=0, random_state=0).fit(X).log_likelihood(X)
    ll = RBM(4, n_iter=40, batch_size=10, random_state=0, **kw).fit(X).log_likelihood(X)
    # the entropy of the data distribution bounds any model: E[log p] <= -H(data) ~ -2.29 nats
    entropy = np.log(3) + 6 * -(0.05 * np.log(0.05) + 0.95 * np.log(0.95))
    assert before < -3.5
    assert -entropy - 0.2 < ll <= -entropy + 0.05


def test_log_partition_enumerates_either_side():
    rng = np.random.default_rng(1)
    for H, V in ((3, 5), (5, 3)):
        rbm = RBM(H, n_iter=0, random_state=0).fit(rng.random((4, V)).astype(np.float32))
        rbm.components_ = rng.standard_normal((H, V)).astype(np.float32)
        rbm.intercept_hidden_ = rng.standard_normal(H).astype(np.float32)
        rbm.intercept_visible_ = rng.standard_normal(V).astype(np.float32)
        W, a, b = (x.astype(np.float64) for x in (rbm.components_, rbm.intercept_visible_, rbm.intercept_hidden_))
        v, h = all_states(V), all_states(H)
        energy = -(v @ a)[:, None] - (h @ b)[None, :] - v @ W.T @ h.T
        brute = np.log(np.exp(-energy).sum())
        assert rbm.log_partition() == pytest.approx(brute, rel=1e-9)


def test_gaussian_log_partition_matches_numerical_integral():
    rng = np.random.default_rng(2)
    rbm = RBM(3, visible="gaussian", learn_sigma=True, n_iter=0, random_state=0).fit(rng.standard_normal((20, 1)))
    rbm.components_ = np.array([[0.7], [-0.4], [1.1]], np.float32)
    rbm.intercept_hidden_ = np.array([0.2, -0.3, 0.1], np.float32)
    rbm.intercept_visible_ = np.array([0.3], np.float32)
    rbm.log_variance_ = np.array([np.log(0.6 ** 2)], np.float32)
    grid = np.linspace(-15, 15, 60001)[:, None]
    F = rbm.free_energy(grid.astype(np.float32)).astype(np.float64)
    numeric = np.log(np.trapezoid(np.exp(-F), grid[:, 0]))
    assert rbm.log_partition() == pytest.approx(numeric, abs=1e-4)


def test_mean_field_equals_average_of_gibbs_samples():
    rng = np.random.default_rng(3)
    X = (rng.random((5, 8)) > 0.5).astype(np.float32)
    rbm = RBM(6, n_iter=0, random_state=0).fit(X)
    rbm.components_ = rng.standard_normal((6, 8)).astype(np.float32)
    p = rbm.transform(X)
    g = np.random.default_rng(0)
    reps = 4000
    samples = rbm._sample_hiddens(np.repeat(p, reps, axis=0), g).reshape(5, reps, 6).mean(axis=1)
    np.testing.assert_allclose(samples, p, atol=0.03)
    mean_v = rbm._mean_visibles(p)
    vs = rbm._sample_visibles(np.repeat(mean_v, reps, axis=0), g).reshape(5, reps, 8).mean(axis=1)
    np.testing.assert_allclose(vs, mean_v, atol=0.03)


def test_cd1_update_equals_hand_computation():
    rng = np.random.default_rng(4)
    v0 = (rng.random((3, 5)) > 0.5).astype(np.float32)
    rbm = RBM(4, n_iter=0, initial_momentum=0.0, weight_decay=0.0, learning_rate=0.3, random_state=0).fit(v0)
    rbm.components_ = (0.5 * rng.standard_normal((4, 5))).astype(np.float32)
    rbm.intercept_hidden_ = (0.1 * rng.standard_normal(4)).astype(np.float32)
    W, a, b = (x.astype(np.float64).copy() for x in (rbm.components_, rbm.intercept_visible_, rbm.intercept_hidden_))
    rbm._update(v0, np.random.default_rng(9), epoch=0)
    # by hand: h ~ P(h|v0), v1 = P(v|h) (mean field), p1 = P(h|v1); dW = lr/n (p0^T v0 - p1^T v1)
    g = np.random.default_rng(9)
    p0 = np_sigmoid(v0 @ W.T + b)
    h = (g.random(p0.shape, dtype=np.float32) < p0.astype(np.float32)).astype(np.float64)
    v1 = np_sigmoid(h @ W + a)
    p1 = np_sigmoid(v1 @ W.T + b)
    lr, n = 0.3, 3
    np.testing.assert_allclose(rbm.components_, W + lr / n * (p0.T @ v0 - p1.T @ v1), atol=1e-5)
    np.testing.assert_allclose(rbm.intercept_visible_, a + lr / n * (v0 - v1).sum(0), atol=1e-5)
    np.testing.assert_allclose(rbm.intercept_hidden_, b + lr / n * (p0 - p1).sum(0), atol=1e-5)


@pytest.mark.filterwarnings("ignore:RBM. Gaussian visible units")
@pytest.mark.parametrize("visible,learn_sigma", [("bernoulli", False), ("gaussian", False), ("gaussian", True)])
def test_free_energy_gradients_match_finite_differences(visible, learn_sigma):
    """The statistics the update uses are -dF/dtheta (summed over the batch), checked in float64."""
    rng = np.random.default_rng(5)
    X = rng.random((4, 5)) if visible == "bernoulli" else rng.standard_normal((4, 5))
    rbm = RBM(3, visible=visible, learn_sigma=learn_sigma, n_iter=0, random_state=0).fit(X)
    rbm.components_ = rng.standard_normal((3, 5))
    rbm.intercept_hidden_ = rng.standard_normal(3)
    rbm.intercept_visible_ = rng.standard_normal(5)
    rbm.log_variance_ = 0.3 * rng.standard_normal(5) if learn_sigma else np.zeros(5)
    p = rbm._mean_hiddens(X)
    grads = rbm._free_energy_grads(X, p)
    names = ["components_", "intercept_visible_", "intercept_hidden_", "log_variance_"]
    eps = 1e-6
    for name, g in zip(names, grads):
        if g is None:
            continue
        theta = getattr(rbm, name)
        num = np.zeros_like(theta)
        for idx in np.ndindex(theta.shape):
            old = theta[idx]
            theta[idx] = old + eps
            fp = rbm._free_energy(X).sum()
            theta[idx] = old - eps
            fm = rbm._free_energy(X).sum()
            theta[idx] = old
            num[idx] = -(fp - fm) / (2 * eps)
        np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-7, err_msg=name)


def test_parity_with_sklearn_bernoulli_rbm_given_same_weights():
    from sklearn.neural_network import BernoulliRBM

    rng = np.random.default_rng(6)
    X = rng.random((20, 12))
    ours = RBM(7, n_iter=0, random_state=0).fit(X.astype(np.float32))
    sk = BernoulliRBM(n_components=7, n_iter=1, random_state=0).fit(X)
    for dtype in (np.float32, np.float64):
        ours.components_ = sk.components_.astype(dtype)
        ours.intercept_hidden_ = sk.intercept_hidden_.astype(dtype)
        ours.intercept_visible_ = sk.intercept_visible_.astype(dtype)
        tol = 1e-5 if dtype == np.float32 else 1e-12
        # transform computes in float32 (the dtype policy); the math itself is checked in both dtypes
        np.testing.assert_allclose(ours.transform(X), sk.transform(X), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(ours._mean_hiddens(X.astype(dtype)), sk.transform(X), rtol=tol, atol=tol)
        np.testing.assert_allclose(ours._free_energy(X.astype(dtype)), sk._free_energy(X), rtol=tol, atol=tol * 10)
        # one sampled Gibbs step with the same uniforms: the same states
        v_next = ours.gibbs(X.astype(dtype), np.random.default_rng(0))
        assert set(np.unique(v_next)) <= {0.0, 1.0}


def test_training_data_unchanged_and_fixed_seed_reproducible():
    X = tiny_data(120)
    X0 = X.copy()
    kw = dict(n_iter=3, batch_size=16, persistent=True, sparsity_target=0.1, random_state=7)
    a = RBM(5, **kw).fit(X)
    np.testing.assert_array_equal(X, X0)
    b = RBM(5, **kw).fit(X)
    np.testing.assert_array_equal(a.components_, b.components_)
    c = RBM(5, **{**kw, "random_state": 8}).fit(X)
    assert not np.array_equal(a.components_, c.components_)


@pytest.mark.parametrize("kw", [
    dict(),
    dict(persistent=True, k=2, sample_visible=True),
    dict(visible="gaussian", learning_rate=0.01),
    dict(visible="gaussian", learn_sigma=True, learning_rate=0.01, sparsity_target=0.1),
])
def test_cupy_standin_gives_the_numpy_result(kw):
    rng = np.random.default_rng(8)
    X = rng.random((64, 10)).astype(np.float32)
    if kw.get("visible") == "gaussian":
        X = (X - X.mean(0)) / X.std(0)
    cpu = RBM(6, n_iter=2, batch_size=16, random_state=3, **kw).fit(X)
    dev = RBM(6, n_iter=2, batch_size=16, random_state=3, device="cupy-standin", **kw).fit(X)
    np.testing.assert_allclose(to_host(dev.components_), cpu.components_, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dev.transform(X), cpu.transform(X), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dev.free_energy(X), cpu.free_energy(X), rtol=1e-5, atol=1e-4)
    xp = get_backend("cupy-standin").xp
    Xd = to_device(X, xp)
    out = dev.transform(Xd)
    assert type(out).__module__ == "histnet.standin.arrays"
    dev.sample(3, n_steps=2, rng=0)
    assert dev.log_likelihood(X[:, :]) == pytest.approx(cpu.log_likelihood(X), rel=1e-4, abs=1e-3)
    if kw.get("visible") != "gaussian":
        dev.score_samples(X)
        dev.partial_fit(Xd[:8])


def test_bernoulli_refuses_data_outside_unit_interval():
    X = np.random.default_rng(0).random((10, 4)) * 255
    with pytest.raises(InputRangeError, match=r"RBM: Bernoulli visible units need data in \[0, 1\]"):
        RBM(3).fit(X)
    with pytest.raises(DataError):
        RBM(3).fit(-np.ones((10, 4)))
    X01 = X / 255
    X01[0, 0] = np.nan
    with pytest.raises(InputError, match="RBM: Input X contains NaN"):
        RBM(3).fit(X01)
    fitted = RBM(3, n_iter=1).fit(X / 255)
    with pytest.raises(InputError, match="X has 5 features, but RBM is expecting 4"):
        fitted.transform(np.zeros((2, 5)))



@pytest.mark.parametrize("params, match", [
    ({"n_components": 0}, r"RBM: n_components=0 must be an integer in \[1, inf\)"),
    ({"k": 1.5}, r"k=1.5 must be an integer in \[1, inf\)"),
    ({"learning_rate": 0.0}, "learning_rate=0.0 must be a positive number"),
    ({"learning_rate": float("inf")}, "learning_rate=inf"),
    ({"visible": "binary"}, "visible='binary' must be one of 'bernoulli', 'gaussian'"),
    ({"sparsity_target": 1.0}, r"sparsity_target=1.0 must be None or a number in \(0, 1\)"),
    ({"initial_momentum": 1}, r"initial_momentum=1 must be a number in \[0, 1\)"),
    ({"persistent": "yes"}, "persistent='yes' must be a bool"),
    ({"random_state": -1}, "random_state=-1 must be None or an integer"),
    ({"progress": 3}, "progress=3 must be None or a callable"),
])
def test_bad_parameters_are_config_errors_naming_the_rule(params, match):
    with pytest.raises(ConfigError, match=match) as e:
        RBM(**dict({"n_components": 3, "n_iter": 1}, **params)).fit(tiny_data(20))
    assert isinstance(e.value, TypeError)  # as scikit-learn's InvalidParameterError is


def test_use_before_fit_is_a_data_error_and_sklearns_not_fitted():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedEstimatorError, match=r"RBM is not fitted yet: call fit\(X\) first") as e:
        RBM(3).transform(tiny_data(5))
    assert isinstance(e.value, DataError) and isinstance(e.value, NotFittedError)

def test_gaussian_warns_on_unstandardised_data():
    X = np.random.default_rng(0).random((50, 4)) * 255
    with pytest.warns(UserWarning, match="standardise"):
        RBM(3, visible="gaussian", n_iter=0).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        RBM(3, visible="gaussian", n_iter=0).fit((X - X.mean(0)) / X.std(0))


def test_divergence_names_layer_and_epoch():
    X = np.random.default_rng(0).random((50, 4))
    # lr * weight_decay = 10: each update multiplies the weights by about -9, so they overflow
    with pytest.raises(DivergenceError, match=r"layer 2: weights became NaN or inf in epoch [2-9]"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            RBM(3, learning_rate=10.0, weight_decay=1.0, batch_size=5, n_iter=20, name="layer 2").fit(X)


def test_monitors_and_figures():
    X = tiny_data(200)
    events = []
    rbm = RBM(4, n_iter=3, batch_size=10, random_state=0, progress=events.append).fit(X[:150], X_val=X[150:])
    assert [e.step for e in events] == [1, 2, 3]
    assert "reconstruction error" in events[0].line()
    assert {"free_energy_train", "free_energy_val", "free_energy_gap"} <= set(rbm.history_[-1])
    assert rbm.history_[-1]["reconstruction_error"] < rbm.history_[0]["reconstruction_error"] + 1e-3
    assert rbm.score_samples(X).shape == (200,)
    grid = tile_images(rbm.components_, (2, 3), n_cols=2)
    assert grid.shape == (2 * 3 - 1, 2 * 4 - 1)
    s = rbm.sample(5, n_steps=20, rng=1)
    assert s.shape == (5, 6) and np.all((s >= 0) & (s <= 1))


_RANGE = "refuses data outside [0, 1] by design; the check's random data are not probabilities"
BERNOULLI_EXPECTED_FAILURES = dict.fromkeys([
    "check_dict_unchanged", "check_dont_overwrite_parameters", "check_estimators_dtypes",
    "check_estimators_fit_returns_self", "check_estimators_overwrite_params", "check_estimators_pickle",
    "check_f_contiguous_array_estimator", "check_fit2d_1feature", "check_fit2d_1sample",
    "check_fit2d_predict1d", "check_fit_check_is_fitted", "check_fit_idempotent", "check_n_features_in",
    "check_n_features_in_after_fitting", "check_positive_only_tag_during_fit", "check_readonly_memmap_input",
    "check_transformer_data_not_an_array", "check_transformer_general", "check_transformer_preserve_dtypes",
], _RANGE)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_check_estimator():
    """The Gaussian RBM accepts any real data and passes every check; the Bernoulli RBM
    runs the same code paths and fails only the checks that feed it data outside [0, 1]."""
    from sklearn.utils.estimator_checks import check_estimator

    check_estimator(RBM(n_components=3, n_iter=2, batch_size=10, visible="gaussian", learning_rate=0.01))
    check_estimator(RBM(n_components=3, n_iter=2, batch_size=10), expected_failed_checks=BERNOULLI_EXPECTED_FAILURES)


def test_warns_when_hidden_units_saturate():
    X = tiny_data(100)
    rbm = RBM(4, n_iter=0, learning_rate=1e-6, random_state=0, name="RBM 3").fit(X)
    rbm.intercept_hidden_[...] = -40.0  # every unit off, as after the collapse a large step causes
    with pytest.warns(UserWarning, match=r"RBM 3: hidden units have saturated .* after epoch 1"):
        rbm._fit_epoch(X)
    assert rbm.history_[-1]["hidden_activity"] < 1e-3


def test_pseudo_likelihood_matches_sklearn_given_the_same_flipped_bits():
    from sklearn.neural_network import BernoulliRBM

    rng = np.random.default_rng(11)
    X = (rng.random((30, 9)) > 0.6).astype(np.float64)
    sk = BernoulliRBM(n_components=5, n_iter=2, random_state=0).fit(X)
    ours = RBM(5, n_iter=0, random_state=0).fit(X)
    ours.components_ = sk.components_.astype(np.float32)
    ours.intercept_hidden_ = sk.intercept_hidden_.astype(np.float32)
    ours.intercept_visible_ = sk.intercept_visible_.astype(np.float32)

    class SameBits:  # the bits sklearn flips: RandomState(random_state).randint(0, V, n)
        def integers(self, low, high, size):
            return np.random.RandomState(0).randint(low, high, size)

    ours.rng_ = SameBits()
    np.testing.assert_allclose(ours.score_samples(X), sk.score_samples(X), rtol=1e-5, atol=1e-4)
