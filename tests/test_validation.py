"""histnet.validation: parameter rules and the array checks, on numpy and the cupy stand-in."""

import subprocess
import sys

import numpy as np
import pytest

from histnet import errors
from histnet.backend import get_backend
from histnet.errors import ConfigError, DataError, InvalidInputError, ParameterError
from histnet.validation import (RANDOM_STATE, Interval, check_descriptors, check_estimator_input, check_features,
                                check_fitted, check_params, check_positive)

XP = get_backend("cupy-standin").xp


@pytest.mark.parametrize("rule, inside, outside", [
    (Interval(int, 1, None), [1, 7, np.int64(3), 10 ** 400], [0, -1, 1.0, True, "2", None]),
    (Interval(float, 0, None, closed="neither"), [1e-9, 3, np.float32(0.5)], [0, -1.0, np.nan, np.inf, False]),
    (Interval(float, 0, 1, closed="left"), [0, 0.0, 0.999], [1, 1.0, -0.1]),
    (Interval(float, 0, 1, closed="right"), [1, 0.5], [0, 0.0]),
    (Interval(float, 0, 1), [0, 1], [1.0001]),
])
def test_intervals(rule, inside, outside):
    assert all(v in rule for v in inside)
    assert not any(v in rule for v in outside)


def test_intervals_in_words():
    assert Interval(int, 1, None).describe() == "an integer in [1, inf)"
    assert Interval(float, 0, 1, closed="neither").describe() == "a number in (0, 1)"
    assert Interval(float, 0, None).describe() == "a non-negative number"
    assert Interval(int, 0, None, closed="neither").describe() == "a positive integer"
    with pytest.raises(TypeError):
        Interval(str, 0, 1)
    with pytest.raises(ValueError):
        Interval(int, 0, 1, closed="open")


class Config:
    n = 3
    kind = "a"
    target = None
    flag = np.True_
    hook = print
    seed = np.random.RandomState(0)


def test_check_params_takes_every_kind_of_rule():
    rules = {"n": Interval(int, 1, None), "kind": {"a", "b"}, "target": (None, Interval(float, 0, 1)),
             "flag": bool, "hook": (None, callable), "seed": RANDOM_STATE}
    check_params(Config(), rules)
    check_params({"n": 2}, {"n": Interval(int, 1, None)}, owner="dict")
    for name, value, match in [("n", 0, r"Config: n=0 must be an integer in \[1, inf\)"),
                               ("kind", "c", "kind='c' must be one of 'a', 'b'"),
                               ("kind", ["a"], "kind=\\['a'\\] must be one of"),  # unhashable
                               ("target", 2.0, r"target=2.0 must be None or a number in \[0, 1\]"),
                               ("flag", 1, "flag=1 must be a bool"),
                               ("hook", 1, "hook=1 must be None or a callable"),
                               ("seed", -1, "seed=-1 must be None or an integer in .* or a RandomState")]:
        c = Config()
        setattr(c, name, value)
        with pytest.raises(ParameterError, match=match) as e:
            check_params(c, rules)
        assert isinstance(e.value, ConfigError) and isinstance(e.value, TypeError) and "\n" not in str(e.value)
    with pytest.raises(TypeError, match="unknown rule"):
        check_params(Config(), {"n": "positive"})


def test_check_positive_keeps_its_message():
    assert check_positive(2, "SVM C") == 2
    for value, integer, match in [(0, False, "SVM C=0: must be a positive number"),
                                  (2.5, True, "SVM C=2.5: must be a positive integer"),
                                  (float("nan"), False, "C=nan"), (True, True, "C=True")]:
        with pytest.raises(ConfigError, match=match):
            check_positive(value, "SVM C", integer=integer)


@pytest.mark.parametrize("xp", [np, XP], ids=["numpy", "standin"])
def test_check_features_on_each_device(xp):
    X = xp.asarray(np.arange(6, dtype=np.float64).reshape(3, 2))
    out = check_features(X, "f", dtype=np.float32)
    assert out.dtype == np.float32 and type(out) is type(X)
    bad = np.ones((3, 2))
    bad[1, 1] = np.nan
    for arr, match in [(bad, "f: X contains NaN or inf"), (np.ones(3), "f: X must be 2-d"),
                       (np.ones((0, 2)), "0 sample"), (np.ones((2, 0)), "0 feature")]:
        with pytest.raises(InvalidInputError, match=match):
            check_features(xp.asarray(arr), "f")


def test_descriptor_faults_are_data_errors():
    check_descriptors(XP.asarray(np.zeros((4, 8), np.float32)), "KMeans.predict", 8)
    for X, match in [(np.zeros((3, 5)), "descriptors have dimension 5 but this codebook was fitted on dimension 8"),
                     (np.zeros((0, 8)), "got zero descriptors"), (np.zeros(8), "descriptors must be a 2-d array"),
                     (np.zeros((2, 8), bool), "descriptors must be numeric")]:
        with pytest.raises(DataError, match="KMeans.predict: " + match):
            check_descriptors(X, "KMeans.predict", 8)


def test_estimator_input_on_host_and_device():
    from sklearn.base import BaseEstimator

    est = BaseEstimator()
    X = np.random.default_rng(0).random((5, 3))
    assert check_estimator_input(est, X, "E", reset=True).shape == (5, 3) and est.n_features_in_ == 3
    with pytest.raises(InvalidInputError, match="E: X has 4 features, but BaseEstimator is expecting 3"):
        check_estimator_input(est, np.zeros((2, 4)), "E", reset=False)
    Xd = XP.asarray(X)
    assert check_estimator_input(est, Xd, "E", reset=False) is Xd  # accepted dtype: no copy
    with pytest.raises(InvalidInputError, match="E: X has 4 features, but BaseEstimator is expecting 3"):
        check_estimator_input(est, XP.asarray(np.zeros((2, 4))), "E", reset=False)
    with pytest.raises(errors.InvalidInputTypeError, match="host data"):
        check_estimator_input(est, Xd, "E", reset=False, allow_device=False)
    from sklearn.base import ClassifierMixin

    class Classifier(ClassifierMixin, BaseEstimator):
        pass

    with pytest.raises(InvalidInputError, match="E: .*requires y to be passed"):
        check_estimator_input(Classifier(), X, "E", reset=True, y=None)
    Xh, y = check_estimator_input(est, X, "E", reset=True, y=[0, 1, 0, 1, 1])
    assert len(y) == 5


def test_not_fitted_error_is_built_on_first_use_only():
    """histnet.errors stays free of scikit-learn (the CLI imports it on every start)."""
    code = ("import sys, histnet.errors as e; assert 'sklearn' not in sys.modules; "
            "c = e.NotFittedEstimatorError; assert 'sklearn' in sys.modules and e.NotFittedEstimatorError is c; "
            "import pickle; x = pickle.loads(pickle.dumps(c('m'))); assert type(x) is c")
    subprocess.run([sys.executable, "-c", code], check=True)

    class Model:
        pass

    with pytest.raises(errors.NotFittedEstimatorError, match=r"Model is not fitted yet: call fit\(X\) first"):
        check_fitted(Model(), "coef_", call="fit(X)")


def test_public_names_are_the_same_classes():
    from histnet.classifiers import InvalidInputError as classifiers_error
    from histnet.classifiers import NotFittedEstimatorError
    from histnet.rbm import InputError, InputRangeError

    assert classifiers_error is InputError is errors.InvalidInputError
    assert NotFittedEstimatorError is errors.NotFittedEstimatorError
    assert InputRangeError is errors.InputRangeError and issubclass(InputRangeError, InputError)
