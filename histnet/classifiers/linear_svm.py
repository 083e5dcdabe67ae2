"""Linear SVM, one-vs-rest, trained in the primal by a Newton method on numpy or cupy.

Reproduces the linear SVM every hand-crafted pipeline of the ILSVRC 2010/2011 era ends
in, in LIBLINEAR's default formulation (Fan et al. 2008; scikit-learn's ``LinearSVC``):
for each class k, with y_ik = +1 if sample i is of class k and -1 otherwise,

    min_w  f_k(w) = 1/2 |w|^2 + C sum_i max(0, 1 - y_ik w.x~_i)^2          (L2-SVM)

where x~_i = [x_i, s] is the sample with a constant feature s = ``intercept_scaling``
appended, so the bias b_k = s w_k[-1] is regularised like every other weight, exactly
as LIBLINEAR does. The squared hinge makes f_k differentiable with the gradient and
generalised Hessian (Mangasarian 2002; Keerthi & DeCoste 2005)

    g_k = w + 2C X~^T (I_k (X~ w - y_k))          H_k = I + 2C X~^T D_k X~

where I_k / D_k select the samples with margin y_ik w.x~_i < 1.

Solver. All K one-vs-rest problems are solved at once, as one matrix problem: the
weights are a (d+1, K) matrix W and every step is a GEMM of the data with a (d+1, K)
or (n, K) matrix, which is what a GPU (and a multi-threaded BLAS) is good at. Each
outer iteration takes a truncated Newton step per class: conjugate gradient on
H_k s_k = -g_k for all k in parallel (two GEMMs per CG step, the CG coefficients a
vector over classes, a class dropping out when its residual falls below
``0.1 |g_k|``, LIBLINEAR's ``eps_cg``), then a backtracking (Armijo) line search per
class. The line search is nearly free: X~ s_k is a by-product of CG (one extra GEMM
when CG ran on a subset of the rows, below), so f_k along the step is an (n, K)
elementwise expression, evaluated as the *change* of f_k so that
float32 rounding of the objective itself does not stall it near the optimum.

Stopping is LIBLINEAR's: class k is done when
``|g_k| <= tol * max(min(n_pos_k, n_neg_k), 1) / n * |g_k(0)|``.

Why Newton-CG and not L-BFGS or dual coordinate descent: dual coordinate descent
(Hsieh et al. 2008) visits one sample at a time, a loop that does not vectorise or
run on a GPU. Newton-CG and L-BFGS both reduce to GEMMs over all classes at once, so
we counted GEMMs on the speed benchmark's problem (``benchmarks/speed_svm.py``:
4000 x 2000 float32, 10 classes, C=1, tol=1e-4): Newton-CG on all rows met LIBLINEAR's stopping
rule for every class after 15 Newton iterations and 1250 GEMMs (about 600 CG steps),
with LinearSVC's held-out accuracy; scipy's L-BFGS-B (10 corrections) on the stacked
objective was still 19 times above that gradient tolerance after 400 iterations
(about 820 GEMMs), and its progress was slowing. The problem is badly conditioned
(H ~ I + 2C X^T X) and Newton-CG handles that better. Two refinements were measured
on the same problem, in passes over X (GEMMs weighted by the rows they touch): CG on
only the rows that are active for some unfinished class (``COMPACT_BELOW``) cut the
work from 1250 to about 640 passes, so it is used; the diagonal preconditioner of
Hsia, Chiang & Lin (2018) (M = (1 - a) I + a diag(H), a = 0.01 to 1)
raised it to 790-1160 passes on these random-projection features, so there is none.
LIBLINEAR's primal solver globalises the Newton step with a trust region (TRON, Lin,
Weng & Keerthi 2008); Galli & Lin (2022) study trust region against line search for
these problems and find line search competitive; it is simpler to vectorise over
classes, so we use it.

What it leaves out: L1 regularisation, the hinge (not squared) loss, class and sample
weights, sparse input, Crammer-Singer multi-class, and CG preconditioning (above).

References
----------
Cortes, C. & Vapnik, V. (1995). Support-vector networks. Machine Learning 20, 273-297.
    doi:10.1007/BF00994018
Fan, R.-E., Chang, K.-W., Hsieh, C.-J., Wang, X.-R. & Lin, C.-J. (2008). LIBLINEAR: A
    library for large linear classification. JMLR 9, 1871-1874.
Lin, C.-J., Weng, R. C. & Keerthi, S. S. (2008). Trust region Newton method for
    large-scale logistic regression. JMLR 9, 627-650.
Hsieh, C.-J., Chang, K.-W., Lin, C.-J., Keerthi, S. S. & Sundararajan, S. (2008). A dual
    coordinate descent method for large-scale linear SVM. ICML 2008, 408-415.
Hsia, C.-Y., Chiang, W.-L. & Lin, C.-J. (2018). Preconditioned conjugate gradient
    methods in truncated Newton frameworks for large-scale linear classification.
    ACML 2018, PMLR 95, 312-326.
Mangasarian, O. L. (2002). A finite Newton method for classification. Optimization
    Methods and Software 17(5), 913-929.
Keerthi, S. S. & DeCoste, D. (2005). A modified finite Newton method for fast solution
    of large scale linear SVMs. JMLR 6, 341-361.
Galli, L. & Lin, C.-J. (2022). A study on truncated Newton methods for linear
    classification. IEEE TNNLS 33(7), 2828-2841. doi:10.1109/TNNLS.2020.3045836
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning

from ..backend import get_array_module, to_device, to_host
from ..progress import Stage
from ..validation import (check_features, check_fitted, check_float_dtype, check_labels, check_n_features,
                          check_positive, encode_labels)
from ._device import DeviceClassifierMixin, match_device

__all__ = ["LinearSVM", "squared_hinge_objective", "one_vs_rest_targets"]

# LIBLINEAR's inner tolerance: CG stops when |residual| <= EPS_CG |gradient|.
EPS_CG = 0.1
# Armijo constant and the most halvings of the step before a class is declared stuck.
ARMIJO = 1e-2
MAX_HALVINGS = 30
# CG drops the rows that are inactive for every class left when fewer than this
# fraction of rows remain (the gather costs about one pass over X).
COMPACT_BELOW = 0.9


# -- the model: X~ W, X~^T R ---------------------------------------------------------------

def _forward(X, W, s):
    """Decision values X~ W = X W[:-1] + s W[-1].

    X : (n, d), W : (d+1, K), s : float  ->  (n, K)
    """
    Z = X @ W[:-1]
    if s:
        Z += s * W[-1]
    return Z


def _backward(X, R, s):
    """The adjoint of :func:`_forward`: X~^T R = [X^T R ; s 1^T R].

    X : (n, d), R : (n, K), s : float  ->  (d+1, K)
    """
    xp = get_array_module(X, R)
    top = X.T @ R
    bias = (s * R.sum(axis=0)).astype(top.dtype)
    return xp.concatenate([top, bias[None, :]], axis=0)


def one_vs_rest_targets(index, n_classes: int, xp, dtype):
    """±1 targets: Y[i, k] = +1 if ``index[i] == k`` else -1.

    With two classes there is one problem, +1 for the second class (as scikit-learn).

    index : (n,) host int  ->  Y : (n, K) on ``xp``, K = 1 if n_classes == 2 else n_classes
    """
    index = np.asarray(index)
    if n_classes == 2:
        Y = np.where(index == 1, 1.0, -1.0)[:, None]
    else:
        Y = np.where(index[:, None] == np.arange(n_classes)[None, :], 1.0, -1.0)
    return xp.asarray(Y, dtype=dtype) if xp is not np else Y.astype(dtype)


def squared_hinge_objective(W, X, Y, C: float, intercept_scaling: float = 1.0):
    """The K one-vs-rest L2-SVM objectives and their gradients.

        f_k = 1/2 |W[:, k]|^2 + C sum_i max(0, 1 - Y[i, k] (X~ W)[i, k])^2
        G   = W - 2C X~^T (Y * max(0, 1 - Y * X~ W))

    Parameters
    ----------
    W : ndarray of shape (n_features + 1, K)
        Weights; the last row is the bias weight (intercept = ``intercept_scaling * W[-1]``).
    X : ndarray of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, K), entries ±1
    C : float
    intercept_scaling : float
        The constant feature s appended to every sample (0: no intercept).

    Returns
    -------
    f : ndarray of shape (K,)
    G : ndarray of shape (n_features + 1, K)
    """
    xp = get_array_module(W, X, Y)
    Z = _forward(X, W, intercept_scaling)
    hinge = xp.maximum(1 - Y * Z, 0)
    f = 0.5 * (W * W).sum(axis=0) + C * (hinge * hinge).sum(axis=0)
    G = W - (2 * C) * _backward(X, Y * hinge, intercept_scaling)
    return f, G


def _hessian_vector(X, active, V, XV, C, s):
    """Generalised Hessian times V for every class: V + 2C X~^T (active * X~ V).

    active : (n, K) 0/1, V : (d+1, K), XV = X~ V : (n, K)  ->  (d+1, K)
    """
    return V + (2 * C) * _backward(X, active * XV, s)


# -- the solver ------------------------------------------------------------------------------

def _conjugate_gradient(X, active, G, C, s, todo, max_iter):
    """Solve H_k S_k = -G_k for every class in ``todo`` at once (truncated CG).

    Each class stops when |residual_k| <= EPS_CG |G_k|; finished and excluded classes
    keep their step fixed (their coefficient is 0), so one GEMM pair serves all.
    Samples beyond the margin (y w.x~ >= 1) for every class still being solved add
    nothing to H (their row of ``active`` is 0 there); when they are at least
    ``1 - COMPACT_BELOW`` of the data, CG runs on the other rows only (one gather of
    X, then GEMMs on fewer rows; near the optimum that is a fraction of them).

    Returns S (d+1, K); X~ S on the rows CG used, (n_used, K); the number of CG
    steps; and whether CG used a subset of the rows (then the caller recomputes X~ S).
    """
    xp = get_array_module(X)
    used = (active * todo).max(axis=1) > 0
    compact = float(used.mean()) < COMPACT_BELOW
    if compact:
        rows = xp.flatnonzero(used)
        X, active = X[rows], active[rows]
    S = xp.zeros_like(G)
    XS = xp.zeros(active.shape, dtype=G.dtype)
    R = -G * todo
    D = R.copy()
    rr = (R * R).sum(axis=0)
    stop = EPS_CG * EPS_CG * (G * G).sum(axis=0)
    live = todo & (rr > stop)
    steps = 0
    while steps < max_iter and bool(live.any()):
        XD = _forward(X, D, s)
        HD = _hessian_vector(X, active, D, XD, C, s)
        dhd = (D * HD).sum(axis=0)
        alpha = xp.where(live, rr / xp.where(live, dhd, 1), 0).astype(G.dtype)
        S += alpha * D
        XS += alpha * XD
        R -= alpha * HD
        rr_new = (R * R).sum(axis=0)
        live = live & (rr_new > stop)
        beta = xp.where(live, rr_new / xp.where(live, rr, 1), 0).astype(G.dtype)
        D = R + beta * D
        rr = rr_new
        steps += 1
    return S, XS, steps, compact


def _line_search(W, G, S, margin, YXS, C, todo):
    """Backtracking line search along S, per class, from the full Newton step t = 1.

    Accepts the largest t in {1, 1/2, 1/4, ...} with f_k(W + t S) - f_k(W) <= ARMIJO t G.S.
    The change of f is computed term by term (never as a difference of two objective
    values), so float32 does not hide small decreases near the optimum::

        f(W + tS) - f(W) = t W.S + t^2/2 |S|^2 + C sum_i [max(0, m_i - t y_i x~_i.s)^2 - max(0, m_i)^2]

    with m = 1 - Y * X~ W. ``margin`` is m (n, K); ``YXS`` is Y * X~ S (n, K).

    Returns t (K,) (0 for classes not in ``todo`` or with no acceptable step) and
    the (K,) mask of classes for which no step was acceptable.
    """
    xp = get_array_module(W)
    ws = (W * S).sum(axis=0)
    ss = (S * S).sum(axis=0)
    gs = (G * S).sum(axis=0)
    h0 = xp.maximum(margin, 0)
    h0 = h0 * h0
    t = xp.ones(ws.shape, dtype=W.dtype)
    accepted = ~todo
    for _ in range(MAX_HALVINGS):
        h = xp.maximum(margin - t * YXS, 0)
        change = t * ws + 0.5 * t * t * ss + C * (h * h - h0).sum(axis=0)
        accepted = accepted | (change <= ARMIJO * t * gs)
        if bool(accepted.all()):
            break
        t = xp.where(accepted, t, 0.5 * t)
    stuck = todo & ~accepted
    t = xp.where(todo & accepted, t, 0).astype(W.dtype)
    return t, stuck


def fit_one_vs_rest(X, Y, C, intercept_scaling, tol, max_iter, max_cg_iter, progress=None, deadline=None):
    """Minimise all K objectives of :func:`squared_hinge_objective` by Newton-CG.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64, numpy or device
    Y : ndarray of shape (n_samples, K), ±1, same device and dtype
    C, intercept_scaling, tol : float
    max_iter, max_cg_iter : int
        Outer (Newton) iterations; CG steps per Newton iteration.
    progress : callable, optional
        Receives a :class:`~histnet.progress.ProgressEvent` per Newton iteration.
    deadline : float, optional
        A ``time.perf_counter()`` value: no Newton iteration starts after it (the first
        always runs), so a time budget ends the fit with the last iteration's weights.

    Returns
    -------
    W : ndarray of shape (n_features + 1, K)
    n_iter : int
        Newton iterations run.
    converged : bool
        Every class met the tolerance (or could not decrease f any further).
    """
    xp = get_array_module(X, Y)
    n, d = X.shape
    K = Y.shape[1]
    s = float(intercept_scaling)
    W = xp.zeros((d + 1, K), dtype=X.dtype)
    Z = xp.zeros((n, K), dtype=X.dtype)
    n_pos = to_host((Y > 0).sum(axis=0)).astype(np.float64)
    rel = tol * np.maximum(np.minimum(n_pos, n - n_pos), 1) / n
    rel = xp.asarray(rel, dtype=X.dtype) if xp is not np else rel.astype(X.dtype)
    stage = Stage("SVM Newton", total=max_iter, progress=progress)
    stuck = xp.zeros(K, dtype=bool)
    gnorm0 = None
    n_iter, converged = 0, False
    for n_iter in range(1, max_iter + 1):
        if deadline is not None and n_iter > 1 and time.perf_counter() >= deadline:
            n_iter -= 1
            break
        margin = 1 - Y * Z
        hinge = xp.maximum(margin, 0)
        G = W - (2 * C) * _backward(X, Y * hinge, s)
        gnorm = xp.sqrt((G * G).sum(axis=0))
        if gnorm0 is None:
            gnorm0 = gnorm
        todo = (gnorm > rel * gnorm0) & ~stuck
        if not bool(todo.any()):
            n_iter -= 1
            converged = True
            break
        active = (margin > 0).astype(X.dtype)
        S, XS, cg_steps, compact = _conjugate_gradient(X, active, G, C, s, todo, max_cg_iter)
        if compact:  # the line search needs X~ S on every row, not only those CG used
            XS = _forward(X, S, s)
        t, newly_stuck = _line_search(W, G, S, margin, Y * XS, C, todo)
        stuck = stuck | newly_stuck
        W += t * S
        Z += t * XS
        if progress is not None:  # the message costs device->host syncs
            stage.update(n_iter, f"{int(todo.sum())} classes left, {cg_steps} CG steps, "
                                 f"max |g|/|g0| {float((gnorm / gnorm0).max()):.2e}")
    else:
        margin = 1 - Y * Z
        G = W - (2 * C) * _backward(X, Y * xp.maximum(margin, 0), s)
        gnorm = xp.sqrt((G * G).sum(axis=0))
        converged = not bool(((gnorm > rel * gnorm0) & ~stuck).any())
    return W, n_iter, converged


# -- the estimator ------------------------------------------------------------------------------

class LinearSVM(DeviceClassifierMixin, ClassifierMixin, BaseEstimator):
    """One-vs-rest linear SVM with squared hinge loss and L2 penalty (LIBLINEAR's default).

    Minimises, for every class k, 1/2 |w_k|^2 + C sum_i max(0, 1 - y_ik (w_k.x_i + b_k))^2
    with the bias regularised through a constant feature ``intercept_scaling``, by
    Newton-CG over all classes at once (see the module docstring). Cost per Newton
    iteration: O(n d K) per CG step (two GEMMs).

    Parameters
    ----------
    C : float, default=1.0
        Inverse regularisation strength (Cortes & Vapnik's C); larger fits the training
        set harder.
    tol : float, default=1e-4
        Relative gradient norm at which a class stops, scaled as LIBLINEAR does
        (``|g| <= tol * max(min(n_pos, n_neg), 1) / n * |g(0)|``).
    max_iter : int, default=100
        Newton iterations at most; a ``ConvergenceWarning`` is issued if they run out.
    max_cg_iter : int, default=200
        Conjugate-gradient steps per Newton iteration at most.
    fit_intercept : bool, default=True
        Learn a bias per class.
    intercept_scaling : float, default=1.0
        The constant feature appended to every sample; the bias is
        ``intercept_scaling * w[-1]`` and is regularised. Larger values regularise the
        bias less (LIBLINEAR's and scikit-learn's ``intercept_scaling``).
    dtype : {"float32", "float64"}, default="float32"
        Precision of the computation and of ``coef_``; ``X`` is cast to it.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The sorted class labels (host numpy array).
    coef_ : ndarray of shape (1 or n_classes, n_features)
        One row per one-vs-rest problem (a single row with two classes, for
        ``classes_[1]``), on the device ``X`` was on.
    intercept_ : ndarray of shape (1 or n_classes,)
    n_features_in_ : int
    n_iter_ : int
        Newton iterations run.

    Notes
    -----
    Inputs may be numpy arrays or device (cupy) arrays; the computation and the fitted
    parameters stay on the device of ``X``. ``decision_function`` and ``predict``
    return arrays on the device of their ``X``; ``score`` returns a Python float.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = LinearSVM(C=0.01).fit(X / 16, y)
    >>> clf.score(X / 16, y) > 0.95
    True
    """

    def __init__(self, C=1.0, *, tol=1e-4, max_iter=100, max_cg_iter=200, fit_intercept=True,
                 intercept_scaling=1.0, dtype="float32"):
        self.C = C
        self.tol = tol
        self.max_iter = max_iter
        self.max_cg_iter = max_cg_iter
        self.fit_intercept = fit_intercept
        self.intercept_scaling = intercept_scaling
        self.dtype = dtype

    def fit(self, X, y, progress=None, deadline=None):
        """Fit all one-vs-rest problems.

        Parameters
        ----------
        X : array of shape (n_samples, n_features)
            numpy or device array; the fit runs on its device.
        y : array of shape (n_samples,)
            Class labels (any sortable type); at least two classes.
        progress : callable, optional
            Receives a :class:`~histnet.progress.ProgressEvent` per Newton iteration.
        deadline : float, optional
            A ``time.perf_counter()`` value after which no further Newton iteration starts
            (a time budget); ``stopped_by_deadline_`` says whether it cut the fit.

        Returns
        -------
        self

        Raises
        ------
        InvalidInputError
            X is not 2-d, holds NaN/inf, has a different length from y, or y has one class.
        ConfigError
            A parameter is out of range.
        """
        name = type(self).__name__
        check_positive(self.C, f"{name} C")
        check_positive(self.tol, f"{name} tol")
        check_positive(self.max_iter, f"{name} max_iter", integer=True)
        check_positive(self.max_cg_iter, f"{name} max_cg_iter", integer=True)
        if self.fit_intercept:
            check_positive(self.intercept_scaling, f"{name} intercept_scaling")
        dtype = check_float_dtype(self.dtype, name)
        X = check_features(X, f"{name}.fit", dtype=dtype)
        y = check_labels(y, X.shape[0], f"{name}.fit")
        self.classes_, index = encode_labels(y, f"{name}.fit")
        xp = get_array_module(X)
        Y = one_vs_rest_targets(index, len(self.classes_), xp, dtype)
        s = float(self.intercept_scaling) if self.fit_intercept else 0.0
        W, self.n_iter_, converged = fit_one_vs_rest(
            X, Y, float(self.C), s, float(self.tol), int(self.max_iter), int(self.max_cg_iter), progress,
            deadline)
        self.converged_ = bool(converged)
        self.stopped_by_deadline_ = bool(not converged and deadline is not None and self.n_iter_ < self.max_iter)
        if not converged and not self.stopped_by_deadline_:  # a budget's cut is in the record instead
            warnings.warn(f"{name}: not converged after max_iter={self.max_iter} Newton iterations; "
                          "raise max_iter or tol", ConvergenceWarning, stacklevel=2)
        self.coef_ = xp.ascontiguousarray(W[:-1].T)
        self.intercept_ = s * W[-1]
        self.n_features_in_ = X.shape[1]
        return self

    def decision_function(self, X):
        """Signed distances w_k.x + b_k.

        Parameters
        ----------
        X : array of shape (n_samples, n_features), numpy or device

        Returns
        -------
        ndarray of shape (n_samples,) with two classes (positive = ``classes_[1]``), else
        (n_samples, n_classes); on the device of ``X``, in ``coef_``'s dtype.
        """
        check_fitted(self, "coef_")
        name = type(self).__name__
        X = check_features(X, f"{name}.decision_function", dtype=self.coef_.dtype, allow_empty=True)
        check_n_features(X, self.n_features_in_, self, "decision_function")
        xp = get_array_module(X)
        scores = X @ match_device(self.coef_, xp).T + match_device(self.intercept_, xp)
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def get_state(self) -> dict:
        """The fitted arrays as host numpy: ``coef`` (K, d), ``intercept`` (K,), ``classes`` (K,)."""
        check_fitted(self, "coef_")
        return {"coef": to_host(self.coef_), "intercept": to_host(self.intercept_),
                "classes": np.asarray(self.classes_)}

    def set_state(self, state: dict, xp=np) -> "LinearSVM":
        """Restore :meth:`get_state`'s arrays onto the device of ``xp`` (in ``dtype``); returns self."""
        coef = np.asarray(state["coef"])
        if coef.ndim != 2:
            raise ValueError(f"LinearSVM state: coef must be (n_classifiers, n_features), got {coef.shape}")
        self.coef_ = to_device(coef, xp, dtype=self.dtype)
        self.intercept_ = to_device(np.asarray(state["intercept"]), xp, dtype=self.dtype)
        self.classes_ = np.asarray(state["classes"])
        self.n_features_in_ = int(coef.shape[1])
        return self

    def class_scores(self, X, n_classes: int) -> np.ndarray:
        """Decision values laid out over all ``n_classes`` labels 0..n_classes-1 (host float32).

        What a method's ``predict_scores`` returns: column ``k`` scores label ``k``. With two
        classes the one decision value is split into (-d, +d). A label absent from training
        scores the lowest finite float32, so it is never predicted and the scores stay finite
        for :func:`histnet.evaluate.evaluate` (which rejects inf as a sign of divergence).
        """
        d = to_host(self.decision_function(X))
        classes = np.asarray(self.classes_, np.int64)
        out = np.full((d.shape[0], n_classes), np.finfo(np.float32).min, np.float32)
        if d.ndim == 1:
            out[:, classes[0]], out[:, classes[1]] = -d, d
        else:
            out[:, classes] = d
        return out

    def predict(self, X):
        """Class labels: the class with the largest decision value (sign with two classes).

        Returns
        -------
        ndarray of shape (n_samples,): on the device of ``X`` for numeric labels, else a
        host array.
        """
        scores = self.decision_function(X)
        index = (scores > 0).astype(np.int64) if scores.ndim == 1 else scores.argmax(axis=1)
        return self._labels_from_index(index)
