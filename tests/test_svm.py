"""Tests of histnet.classifiers.linear_svm: the objective, the solver, the estimator API.

The reference is LIBLINEAR through scikit-learn's LinearSVC, which solves the same
problem (squared hinge, L2, one-vs-rest, bias as a regularised constant feature).
"""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from histnet.backend import get_backend, to_host
from histnet.classifiers import InvalidInputError, LinearSVM, NotFittedEstimatorError
from histnet.classifiers.linear_svm import (_forward, _hessian_vector, one_vs_rest_targets,
                                            squared_hinge_objective)
from histnet.errors import ConfigError, HistnetError
from histnet.progress import ProgressEvent

STANDIN = get_backend("cupy-standin").xp


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    return train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)


def _problem(n=30, d=5, K=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    index = rng.integers(0, K, n)
    Y = one_vs_rest_targets(index, K, np, np.float64)
    W = 0.3 * rng.standard_normal((d + 1, K))
    return X, Y, W


# -- the objective ------------------------------------------------------------------------

@pytest.mark.parametrize("s", [1.0, 2.5, 0.0])
def test_gradient_matches_central_differences_elementwise(s):
    X, Y, W = _problem()
    C = 0.7
    f, G = squared_hinge_objective(W, X, Y, C, s)
    # Margins of both signs: the check covers active and inactive samples.
    M = 1 - Y * _forward(X, W, s)
    assert (M > 0).any() and (M < 0).any()
    h = 1e-6
    num = np.zeros_like(W)
    for i in range(W.shape[0]):
        for k in range(W.shape[1]):
            E = np.zeros_like(W)
            E[i, k] = h
            fp, _ = squared_hinge_objective(W + E, X, Y, C, s)
            fm, _ = squared_hinge_objective(W - E, X, Y, C, s)
            num[i, k] = (fp[k] - fm[k]) / (2 * h)
    np.testing.assert_allclose(G, num, rtol=1e-6, atol=1e-7)


def test_objective_is_the_formula():
    X, Y, W = _problem(n=7, d=3, K=3)
    C, s = 0.3, 1.5
    f, _ = squared_hinge_objective(W, X, Y, C, s)
    for k in range(3):
        w, b = W[:-1, k], s * W[-1, k]
        loss = sum(max(0.0, 1 - Y[i, k] * (X[i] @ w + b)) ** 2 for i in range(len(X)))
        assert f[k] == pytest.approx(0.5 * W[:, k] @ W[:, k] + C * loss, rel=1e-12)


def test_hessian_vector_matches_differences_of_the_gradient():
    X, Y, W = _problem(seed=1)
    C, s = 0.7, 1.0
    V = np.random.default_rng(2).standard_normal(W.shape)
    h = 1e-7  # small enough that no margin crosses 1: H is the true Hessian there
    _, Gp = squared_hinge_objective(W + h * V, X, Y, C, s)
    _, Gm = squared_hinge_objective(W - h * V, X, Y, C, s)
    active = (1 - Y * _forward(X, W, s) > 0).astype(float)
    HV = _hessian_vector(X, active, V, _forward(X, V, s), C, s)
    np.testing.assert_allclose(HV, (Gp - Gm) / (2 * h), rtol=1e-5, atol=1e-6)


def test_objective_under_standin_equals_numpy():
    X, Y, W = _problem()
    f, G = squared_hinge_objective(W, X, Y, 0.7, 1.0)
    fd, Gd = squared_hinge_objective(STANDIN.asarray(W), STANDIN.asarray(X), STANDIN.asarray(Y), 0.7, 1.0)
    np.testing.assert_allclose(to_host(fd), f, rtol=1e-12)
    np.testing.assert_allclose(to_host(Gd), G, rtol=1e-12)


# -- the solver against LIBLINEAR ------------------------------------------------------------

@pytest.mark.parametrize("C", [0.01, 1.0])
def test_accuracy_within_half_a_point_of_linearsvc(digits, C):
    Xtr, Xte, ytr, yte = digits
    ref = LinearSVC(C=C, random_state=0, dual=False, max_iter=5000).fit(Xtr, ytr)
    ours = LinearSVM(C=C).fit(Xtr, ytr)
    assert abs(ours.score(Xte, yte) - ref.score(Xte, yte)) <= 0.005
    assert ours.score(Xte, yte) > 0.93


def test_tight_solution_equals_liblinear(digits):
    """Solved tightly, both find the same (unique) optimum of the same objective."""
    Xtr, _, ytr, _ = digits
    ref = LinearSVC(C=0.1, random_state=0, dual=False, tol=1e-8, max_iter=5000).fit(Xtr, ytr)
    ours = LinearSVM(C=0.1, tol=1e-8, dtype="float64").fit(Xtr, ytr)
    scale = np.abs(ref.coef_).max()
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=2e-4 * scale)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, atol=2e-4 * scale)


def test_solution_is_a_stationary_point(digits):
    Xtr, _, ytr, _ = digits
    m = LinearSVM(C=1.0, tol=1e-6, dtype="float64").fit(Xtr, ytr)
    W = np.vstack([m.coef_.T, m.intercept_[None, :]])
    Y = one_vs_rest_targets(np.searchsorted(m.classes_, ytr), 10, np, np.float64)
    _, G0 = squared_hinge_objective(np.zeros_like(W), Xtr, Y, 1.0)
    _, G = squared_hinge_objective(W, Xtr, Y, 1.0)
    assert np.all(np.linalg.norm(G, axis=0) <= 1e-6 * np.linalg.norm(G0, axis=0))


def test_cg_on_active_rows_only_gives_the_same_solution(digits, monkeypatch):
    import histnet.classifiers.linear_svm as L

    Xtr, _, ytr, _ = digits
    calls = []
    cg = L._conjugate_gradient

    def recording_cg(*args):
        out = cg(*args)
        calls.append(out[3])
        return out

    monkeypatch.setattr(L, "_conjugate_gradient", recording_cg)
    compact = LinearSVM(C=1.0, tol=1e-10, dtype="float64").fit(Xtr, ytr)
    assert any(calls)  # the compacted path ran
    monkeypatch.setattr(L, "COMPACT_BELOW", 0.0)
    calls.clear()
    full = LinearSVM(C=1.0, tol=1e-10, dtype="float64").fit(Xtr, ytr)
    assert not any(calls)
    np.testing.assert_allclose(compact.coef_, full.coef_, atol=1e-7 * np.abs(full.coef_).max())


def test_binary_problem_is_one_classifier_like_sklearn(digits):
    Xtr, Xte, ytr, yte = digits
    keep, keep_te = np.isin(ytr, [3, 8]), np.isin(yte, [3, 8])
    ref = LinearSVC(C=0.1, random_state=0, dual=False, tol=1e-8).fit(Xtr[keep], ytr[keep])
    ours = LinearSVM(C=0.1, tol=1e-8, dtype="float64").fit(Xtr[keep], ytr[keep])
    assert ours.coef_.shape == ref.coef_.shape == (1, 64)
    assert ours.decision_function(Xte[keep_te]).shape == (keep_te.sum(),)
    np.testing.assert_allclose(ours.decision_function(Xte[keep_te]), ref.decision_function(Xte[keep_te]),
                               atol=1e-3)
    np.testing.assert_array_equal(ours.predict(Xte[keep_te]), ref.predict(Xte[keep_te]))


def test_no_intercept(digits):
    Xtr, _, ytr, _ = digits
    ref = LinearSVC(C=0.1, fit_intercept=False, dual=False, tol=1e-8).fit(Xtr, ytr)
    ours = LinearSVM(C=0.1, fit_intercept=False, tol=1e-8, dtype="float64").fit(Xtr, ytr)
    assert np.all(ours.intercept_ == 0)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=2e-4 * np.abs(ref.coef_).max())


def test_float32_default_and_float64_option(digits):
    Xtr, Xte, ytr, yte = digits
    m32 = LinearSVM(C=0.1).fit(Xtr, ytr)
    m64 = LinearSVM(C=0.1, dtype="float64").fit(Xtr, ytr)
    assert m32.coef_.dtype == np.float32 and m64.coef_.dtype == np.float64
    assert m32.decision_function(Xte).dtype == np.float32
    np.testing.assert_allclose(m32.coef_, m64.coef_, atol=5e-3 * np.abs(m64.coef_).max())


def test_string_labels_and_input_left_unchanged(digits):
    Xtr, Xte, ytr, yte = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
    X_copy = Xtr.copy()
    m = LinearSVM(C=0.1).fit(Xtr, names[ytr])
    np.testing.assert_array_equal(Xtr, X_copy)
    assert list(m.classes_) == sorted(names)
    assert m.score(Xte, names[yte]) > 0.9


def test_progress_events(digits):
    Xtr, _, ytr, _ = digits
    events = []
    m = LinearSVM(C=0.1).fit(Xtr, ytr, progress=events.append)
    assert len(events) == m.n_iter_ and all(isinstance(e, ProgressEvent) for e in events)
    assert events[-1].line().startswith("[SVM Newton]")


def test_max_iter_reached_warns(digits):
    Xtr, _, ytr, _ = digits
    from sklearn.exceptions import ConvergenceWarning

    with pytest.warns(ConvergenceWarning, match="max_iter=1"):
        LinearSVM(C=1.0, max_iter=1).fit(Xtr, ytr)


# -- the cupy stand-in -----------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_standin_gives_the_numpy_coefficients(digits, dtype):
    Xtr, Xte, ytr, yte = digits
    host = LinearSVM(C=0.1, dtype=dtype).fit(Xtr, ytr)
    Xd = STANDIN.asarray(Xtr)
    dev = LinearSVM(C=0.1, dtype=dtype).fit(Xd, STANDIN.asarray(ytr))
    assert type(dev.coef_) is STANDIN.ndarray
    assert dev.n_iter_ == host.n_iter_
    np.testing.assert_allclose(to_host(dev.coef_), host.coef_, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(to_host(dev.intercept_), host.intercept_, rtol=1e-5, atol=1e-6)
    scores = dev.decision_function(STANDIN.asarray(Xte))
    assert type(scores) is STANDIN.ndarray
    np.testing.assert_array_equal(to_host(dev.predict(STANDIN.asarray(Xte))), host.predict(Xte))
    assert dev.score(STANDIN.asarray(Xte), yte) == host.score(Xte, yte)


def test_host_input_to_a_device_model_is_moved_explicitly(digits):
    Xtr, Xte, ytr, _ = digits
    dev = LinearSVM(C=0.1).fit(STANDIN.asarray(Xtr), ytr)
    host_scores = dev.decision_function(Xte)  # computed on the host with a host copy of coef_
    assert isinstance(host_scores, np.ndarray)
    np.testing.assert_allclose(host_scores, to_host(dev.decision_function(STANDIN.asarray(Xte))), rtol=1e-6)


# -- scikit-learn estimator API ------------------------------------------------------------------

def test_clone_get_set_params_and_pipeline(digits):
    Xtr, Xte, ytr, yte = digits
    svm = LinearSVM(C=0.5, dtype="float64")
    assert svm.get_params()["C"] == 0.5
    twin = clone(svm)
    assert twin is not svm and twin.get_params() == svm.get_params()
    assert not hasattr(twin, "coef_")
    pipe = make_pipeline(StandardScaler(), LinearSVM(C=0.01))
    pipe.set_params(linearsvm__C=0.02)
    pipe.fit(Xtr, ytr)
    assert pipe.score(Xte, yte) > 0.93
    grid = GridSearchCV(LinearSVM(), {"C": [0.01, 0.1]}, cv=2).fit(Xtr[:400], ytr[:400])
    assert grid.best_params_["C"] in (0.01, 0.1)


def test_init_only_stores_parameters():
    svm = LinearSVM(C="not checked until fit", dtype="float16")
    assert svm.C == "not checked until fit" and svm.dtype == "float16"


# -- bad input ------------------------------------------------------------------------------------

def test_nan_in_X_is_a_clear_error(digits):
    Xtr, _, ytr, _ = digits
    X = Xtr.copy()
    X[3, 5] = np.nan
    with pytest.raises(InvalidInputError, match="LinearSVM.fit: X contains NaN or inf"):
        LinearSVM().fit(X, ytr)
    with pytest.raises(InvalidInputError, match="NaN or inf"):
        LinearSVM().fit(STANDIN.asarray(X), ytr)


def test_one_class_is_a_clear_error(digits):
    Xtr, _, ytr, _ = digits
    with pytest.raises(InvalidInputError, match="only one class"):
        LinearSVM().fit(Xtr[:5], np.zeros(5))


def test_mismatched_lengths_is_a_clear_error(digits):
    Xtr, _, ytr, _ = digits
    with pytest.raises(InvalidInputError, match=r"X has 100 rows but y has 99 labels"):
        LinearSVM().fit(Xtr[:100], ytr[:99])


@pytest.mark.parametrize("params, match", [
    ({"C": 0}, "C=0"), ({"C": -1.0}, "C=-1.0"), ({"tol": 0.0}, "tol"), ({"max_iter": 2.5}, "max_iter"),
    ({"dtype": "float16"}, "dtype='float16'"), ({"C": float("nan")}, "C=nan"),
])
def test_bad_parameters_are_config_errors(digits, params, match):
    Xtr, _, ytr, _ = digits
    with pytest.raises(ConfigError, match=match):
        LinearSVM(**params).fit(Xtr, ytr)


def test_shape_errors_and_not_fitted(digits):
    Xtr, Xte, ytr, _ = digits
    with pytest.raises(NotFittedEstimatorError, match="not fitted"):
        LinearSVM().predict(Xte)
    with pytest.raises(InvalidInputError, match="must be 2-d"):
        LinearSVM().fit(Xtr[0], ytr[:1])
    m = LinearSVM(C=0.1).fit(Xtr, ytr)
    with pytest.raises(InvalidInputError, match="X has 10 features, but LinearSVM is expecting 64 features"):
        m.predict(Xte[:, :10])
    # all of these are HistnetErrors and ValueErrors (scikit-learn's convention)
    assert issubclass(InvalidInputError, HistnetError) and issubclass(InvalidInputError, ValueError)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert m.predict(Xte[:0]).shape == (0,)


# -- softmax regression (histnet.classifiers.softmax), the SVM's sibling ----------------------

def _softmax_problem(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((25, 4))
    Y = np.eye(3)[rng.integers(0, 3, 25)]
    W = 0.5 * rng.standard_normal((5, 3))
    return X, Y, W


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_softmax_gradient_and_hessian_match_central_differences(fit_intercept):
    from histnet.classifiers.softmax import _hessian_vector as hv
    from histnet.classifiers.softmax import _penalty_mask, softmax, softmax_objective

    X, Y, W = _softmax_problem()
    if not fit_intercept:
        W[-1] = 0
    C, h = 0.8, 1e-6
    F, G = softmax_objective(W, X, Y, C, fit_intercept)
    num = np.zeros_like(W)
    for i in range(W.shape[0]):
        for k in range(W.shape[1]):
            E = np.zeros_like(W)
            E[i, k] = h
            num[i, k] = (float(softmax_objective(W + E, X, Y, C, fit_intercept)[0])
                         - float(softmax_objective(W - E, X, Y, C, fit_intercept)[0])) / (2 * h)
    if not fit_intercept:
        num[-1] = 0  # the bias row is not a parameter then
    np.testing.assert_allclose(G, num, rtol=1e-6, atol=1e-8)
    s = 1.0 if fit_intercept else 0.0
    V = np.random.default_rng(1).standard_normal(W.shape)
    if not fit_intercept:
        V[-1] = 0
    Gp = softmax_objective(W + h * V, X, Y, C, fit_intercept)[1]
    Gm = softmax_objective(W - h * V, X, Y, C, fit_intercept)[1]
    P = softmax(_forward(X, W, s))
    HV = hv(X, P, V, _forward(X, V, s), C, s, _penalty_mask(W, fit_intercept))
    np.testing.assert_allclose(HV, (Gp - Gm) / (2 * h), rtol=1e-5, atol=1e-7)


def test_softmax_line_search_change_is_accurate():
    from histnet.classifiers.softmax import _lse_change, _log_sum_exp, softmax

    rng = np.random.default_rng(3)
    Z, U = rng.standard_normal((6, 4)), rng.standard_normal((6, 4))
    for t in [1e-6, 0.3, 50.0]:
        np.testing.assert_allclose(_lse_change(softmax(Z), t * U), _log_sum_exp(Z + t * U) - _log_sum_exp(Z),
                                   rtol=1e-9, atol=1e-15)


def test_softmax_equals_sklearn_logistic_regression(digits):
    from sklearn.linear_model import LogisticRegression

    from histnet.classifiers import SoftmaxRegression

    Xtr, Xte, ytr, yte = digits
    ref = LogisticRegression(C=0.1, solver="newton-cg", tol=1e-8, max_iter=5000).fit(Xtr, ytr)
    ours = SoftmaxRegression(C=0.1, tol=1e-8, dtype="float64").fit(Xtr, ytr)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-6)
    np.testing.assert_allclose(ours.predict_proba(Xte), ref.predict_proba(Xte), atol=1e-6)
    np.testing.assert_allclose(np.exp(ours.predict_log_proba(Xte)), ours.predict_proba(Xte), rtol=1e-10)
    m32 = SoftmaxRegression(C=0.1).fit(Xtr, ytr)
    assert m32.coef_.dtype == np.float32
    assert abs(m32.score(Xte, yte) - ref.score(Xte, yte)) <= 0.005


def test_softmax_standin_equals_numpy_and_api(digits):
    from histnet.classifiers import SoftmaxRegression

    Xtr, Xte, ytr, yte = digits
    host = SoftmaxRegression(C=0.1, dtype="float64").fit(Xtr, ytr)
    dev = SoftmaxRegression(C=0.1, dtype="float64").fit(STANDIN.asarray(Xtr), ytr)
    assert type(dev.coef_) is STANDIN.ndarray
    np.testing.assert_allclose(to_host(dev.coef_), host.coef_, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(to_host(dev.predict_proba(STANDIN.asarray(Xte))), host.predict_proba(Xte),
                               atol=1e-9)
    pipe = make_pipeline(StandardScaler(), clone(SoftmaxRegression(C=0.05)))
    assert pipe.fit(Xtr, ytr).score(Xte, yte) > 0.93
    with pytest.raises(InvalidInputError, match="only one class"):
        SoftmaxRegression().fit(Xtr[:4], np.ones(4))
    with pytest.raises(ConfigError, match="C=-2"):
        SoftmaxRegression(C=-2).fit(Xtr, ytr)


@pytest.mark.parametrize("make", ["LinearSVM", "SoftmaxRegression", "StandardScaler"])
def test_scikit_learn_estimator_checks_pass(make):
    """scikit-learn's own estimator conventions (clone, input validation, dtypes, ...)."""
    import histnet.classifiers as hc
    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_estimator(getattr(hc, make)())


def test_sklearn_style_messages_for_y():
    from sklearn.exceptions import DataConversionWarning

    X = np.random.default_rng(0).standard_normal((12, 3))
    y = np.arange(12) % 3
    with pytest.raises(InvalidInputError, match="Unknown label type: continuous"):
        LinearSVM().fit(X, y + 0.5)
    with pytest.raises(InvalidInputError, match="target y is None"):
        LinearSVM().fit(X, None)
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        LinearSVM().fit(X, y[:, None])
    import scipy.sparse as sp

    with pytest.raises(InvalidInputError, match="sparse input is not supported"):
        LinearSVM().fit(sp.csr_matrix(X), y)
