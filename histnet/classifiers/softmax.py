"""Softmax (multinomial logistic) regression on numpy or cupy, trained by Newton-CG.

The linear classifier at the top of every neural net of the progression, here on its
own, as scikit-learn's ``LogisticRegression`` (multinomial, L2) defines it: with
logits Z = X W + 1 b^T and P = softmax(Z) row by row,

    min_{W, b}  F = 1/2 |W|^2 + C sum_i -log P[i, y_i]

(the bias b is not penalised). Gradient and Hessian-vector product, with Y the one-hot
labels and U = X V + 1 v_b^T for a direction (V, v_b):

    dF/dW = W + C X^T (P - Y)             dF/db = C 1^T (P - Y)
    H(V)  = V + C X^T T                   H(v_b) = C 1^T T,   T = P * U - P * rowsum(P * U)

Solver: truncated Newton, as :mod:`.linear_svm` but over the whole (d+1) x K matrix at
once (the classes are coupled by the softmax, so CG runs on one system): CG to a
residual of 0.1 |g|, then a backtracking line search whose change of F is evaluated
from the rows' log-sum-exp *changes* (``log1p`` of a sum of ``expm1`` for small steps),
so float32 does not stall near the optimum. Stops when |g| <= ``tol`` |g(0)|.

What it leaves out: L1 / elastic-net penalties, class and sample weights, warm starts.
Two classes are a two-column softmax here, not scikit-learn's single logistic unit:
the optimum differs (the penalty counts both columns), but ``decision_function``
returns the log-odds (n_samples,) as scikit-learn's binary classifiers do.

References
----------
Bishop, C. M. (2006). Pattern Recognition and Machine Learning, section 4.3.4
    (multiclass logistic regression). Springer.
Lin, C.-J., Weng, R. C. & Keerthi, S. S. (2008). Trust region Newton method for
    large-scale logistic regression. JMLR 9, 627-650.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning

from ..backend import get_array_module
from ..progress import Stage
from ..validation import (check_features, check_fitted, check_float_dtype, check_labels, check_n_features,
                          check_positive, encode_labels)
from ._device import DeviceClassifierMixin, match_device
from .linear_svm import ARMIJO, EPS_CG, MAX_HALVINGS, _backward, _forward

__all__ = ["SoftmaxRegression", "softmax_objective", "softmax"]


def softmax(Z):
    """Row-wise softmax of Z (n, K), shifted by the row maximum for stability."""
    xp = get_array_module(Z)
    E = xp.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


def _log_sum_exp(Z):
    """log sum_k exp(Z[i, k]) for every row: (n, K) -> (n,)."""
    xp = get_array_module(Z)
    m = Z.max(axis=1)
    return m + xp.log(xp.exp(Z - m[:, None]).sum(axis=1))


def _penalty_mask(W, fit_intercept):
    """1 for penalised rows of W (the weights), 0 for the bias row; (d+1, 1)."""
    xp = get_array_module(W)
    mask = xp.ones((W.shape[0], 1), dtype=W.dtype)
    mask[-1] = 0 if fit_intercept else 1
    return mask


def softmax_objective(W, X, Y, C: float, fit_intercept: bool = True):
    """F and its gradient.

    Parameters
    ----------
    W : ndarray of shape (n_features + 1, K)
        Weights; the last row is the bias b (not penalised when ``fit_intercept``).
    X : ndarray of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, K), one-hot
    C : float

    Returns
    -------
    F : 0-d array
    G : ndarray of shape (n_features + 1, K)
    """
    s = 1.0 if fit_intercept else 0.0
    Z = _forward(X, W, s)
    mask = _penalty_mask(W, fit_intercept)
    nll = (_log_sum_exp(Z) - (Z * Y).sum(axis=1)).sum()
    F = 0.5 * (W * W * mask).sum() + C * nll
    G = W * mask + C * _backward(X, softmax(Z) - Y, s)
    return F, G


def _hessian_vector(X, P, V, XV, C, s, mask):
    """H V for the softmax objective at probabilities P (n, K); XV = X~ V (n, K)."""
    PU = P * XV
    T = PU - P * PU.sum(axis=1, keepdims=True)
    return V * mask + C * _backward(X, T, s)


def _lse_change(P, tU):
    """log sum_k P[i, k] exp(tU[i, k]) per row = lse(Z + tU) - lse(Z), accurate for small tU."""
    xp = get_array_module(P)
    m = tU.max(axis=1)
    small = xp.log1p((P * xp.expm1(xp.minimum(tU, 1))).sum(axis=1))
    large = m + xp.log((P * xp.exp(tU - m[:, None])).sum(axis=1))
    return xp.where(m < 1, small, large)


def fit_softmax(X, Y, C, fit_intercept, tol, max_iter, max_cg_iter, progress=None):
    """Minimise :func:`softmax_objective` by Newton-CG with a line search.

    Returns W (n_features + 1, K), the Newton iterations run, and whether |g| met
    ``tol`` |g(0)|.
    """
    xp = get_array_module(X, Y)
    n, d = X.shape
    K = Y.shape[1]
    s = 1.0 if fit_intercept else 0.0
    W = xp.zeros((d + 1, K), dtype=X.dtype)
    mask = _penalty_mask(W, fit_intercept)
    Z = xp.zeros((n, K), dtype=X.dtype)
    stage = Stage("softmax Newton", total=max_iter, progress=progress)
    gnorm0, converged, n_iter = None, False, 0
    for n_iter in range(1, max_iter + 1):
        P = softmax(Z)
        G = W * mask + C * _backward(X, P - Y, s)
        gnorm = float(xp.sqrt((G * G).sum()))
        gnorm0 = gnorm if gnorm0 is None else gnorm0
        if gnorm <= tol * gnorm0:
            n_iter -= 1
            converged = True
            break
        # -- CG on H S = -G (one system: the classes are coupled) --
        S, XS = xp.zeros_like(G), xp.zeros_like(Z)
        R = -G
        D = R.copy()
        rr = float((R * R).sum())
        for _ in range(max_cg_iter):
            if rr <= (EPS_CG * gnorm) ** 2:
                break
            XD = _forward(X, D, s)
            HD = _hessian_vector(X, P, D, XD, C, s, mask)
            alpha = rr / float((D * HD).sum())
            S += alpha * D
            XS += alpha * XD
            R -= alpha * HD
            rr_new = float((R * R).sum())
            D = R + (rr_new / rr) * D
            rr = rr_new
        # -- line search: F(W + tS) - F(W), term by term --
        ws, ss, gs = float((W * S * mask).sum()), float((S * S * mask).sum()), float((G * S).sum())
        ys = (XS * Y).sum(axis=1)
        t, ok = 1.0, False
        for _ in range(MAX_HALVINGS):
            change = t * ws + 0.5 * t * t * ss + C * float((_lse_change(P, t * XS) - t * ys).sum())
            if change <= ARMIJO * t * gs:
                ok = True
                break
            t *= 0.5
        if not ok:  # no decrease possible at this precision: as good as it gets
            converged = True
            break
        W += t * S
        Z += t * XS
        if progress is not None:
            stage.update(n_iter, f"|g|/|g0| {gnorm / gnorm0:.2e}")
    else:
        P = softmax(Z)
        G = W * mask + C * _backward(X, P - Y, s)
        converged = float(xp.sqrt((G * G).sum())) <= tol * gnorm0
    return W, n_iter, converged


class SoftmaxRegression(DeviceClassifierMixin, ClassifierMixin, BaseEstimator):
    """Multinomial logistic regression with an L2 penalty (scikit-learn's objective).

    Minimises 1/2 |W|^2 + C sum_i -log softmax(x_i W + b)[y_i] by Newton-CG on the
    device of ``X`` (see the module docstring). Each CG step costs two GEMMs,
    O(n d K).

    Parameters
    ----------
    C : float, default=1.0
        Inverse regularisation strength.
    tol : float, default=1e-4
        Stop when the gradient norm falls below ``tol`` times its value at W = 0.
    max_iter : int, default=100
        Newton iterations at most (a ``ConvergenceWarning`` if they run out).
    max_cg_iter : int, default=200
        CG steps per Newton iteration at most.
    fit_intercept : bool, default=True
        Learn an unpenalised bias per class.
    dtype : {"float32", "float64"}, default="float32"

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,), host
    coef_ : ndarray of shape (n_classes, n_features), on the device of ``X``
    intercept_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    n_iter_ : int
    """

    def __init__(self, C=1.0, *, tol=1e-4, max_iter=100, max_cg_iter=200, fit_intercept=True,
                 dtype="float32"):
        self.C = C
        self.tol = tol
        self.max_iter = max_iter
        self.max_cg_iter = max_cg_iter
        self.fit_intercept = fit_intercept
        self.dtype = dtype

    def fit(self, X, y, progress=None):
        """Fit on X (n_samples, n_features) and labels y (n_samples,); returns self.

        Raises
        ------
        InvalidInputError
            Bad X or y (NaN/inf, wrong shape, mismatched lengths, one class).
        ConfigError
            A parameter is out of range.
        """
        name = type(self).__name__
        check_positive(self.C, f"{name} C")
        check_positive(self.tol, f"{name} tol")
        check_positive(self.max_iter, f"{name} max_iter", integer=True)
        check_positive(self.max_cg_iter, f"{name} max_cg_iter", integer=True)
        dtype = check_float_dtype(self.dtype, name)
        X = check_features(X, f"{name}.fit", dtype=dtype)
        y = check_labels(y, X.shape[0], f"{name}.fit")
        self.classes_, index = encode_labels(y, f"{name}.fit")
        xp = get_array_module(X)
        Y = np.eye(len(self.classes_), dtype=dtype)[index]
        Y = xp.asarray(Y) if xp is not np else Y
        W, self.n_iter_, converged = fit_softmax(X, Y, float(self.C), bool(self.fit_intercept),
                                                 float(self.tol), int(self.max_iter),
                                                 int(self.max_cg_iter), progress)
        if not converged:
            warnings.warn(f"{name}: not converged after max_iter={self.max_iter} Newton iterations; "
                          "raise max_iter or tol", ConvergenceWarning, stacklevel=2)
        self.coef_ = xp.ascontiguousarray(W[:-1].T)
        self.intercept_ = W[-1] if self.fit_intercept else xp.zeros_like(W[-1])
        self.n_features_in_ = X.shape[1]
        return self

    def _logits(self, X):
        """Logits X W + b, shape (n_samples, n_classes), on the device of X."""
        check_fitted(self, "coef_")
        name = type(self).__name__
        X = check_features(X, f"{name}.decision_function", dtype=self.coef_.dtype, allow_empty=True)
        check_n_features(X, self.n_features_in_, self, "decision_function")
        xp = get_array_module(X)
        return X @ match_device(self.coef_, xp).T + match_device(self.intercept_, xp)

    def decision_function(self, X):
        """Logits X W + b, shape (n_samples, n_classes), on the device of X.

        With two classes, the log-odds of ``classes_[1]``, shape (n_samples,), as
        scikit-learn's binary classifiers return.
        """
        Z = self._logits(X)
        return Z[:, 1] - Z[:, 0] if Z.shape[1] == 2 else Z

    def predict_proba(self, X):
        """Class probabilities softmax(X W + b), shape (n_samples, n_classes)."""
        return softmax(self._logits(X))

    def predict_log_proba(self, X):
        """log of :meth:`predict_proba`, computed stably."""
        Z = self._logits(X)
        return Z - _log_sum_exp(Z)[:, None]

    def predict(self, X):
        """The most probable class; on the device of X for numeric labels, else host."""
        return self._labels_from_index(self._logits(X).argmax(axis=1))
