"""Restricted Boltzmann machines: Bernoulli-Bernoulli and Gaussian-Bernoulli, trained by CD-k / PCD.

What this file is
-----------------
One scikit-learn style estimator, :class:`RBM`, written against ``xp`` (numpy, cupy or the
CPU stand-in for cupy), plus the monitors that tell whether an RBM is learning: one-step
reconstruction error, the free energy of training versus held-out data, the stochastic
pseudo-likelihood (scikit-learn's formula) and, for models small enough to enumerate, the
exact log-likelihood. Its parameter and input checks are :mod:`histnet.validation`'s; bad
data raise ``InputError`` (this module's name for :class:`histnet.errors.InvalidInputError`)
or :class:`~histnet.errors.InputRangeError`. Filter figures: :func:`histnet.tiles.tile_images`.

The model (Hinton 2002; Hinton, Osindero & Teh 2006). Binary hidden units ``h`` (H of them),
visible units ``v`` (V of them), weights ``W`` of shape (H, V) (``components_``), visible
biases ``a`` (``intercept_visible_``), hidden biases ``b`` (``intercept_hidden_``).

* Bernoulli visibles: ``E(v, h) = -a.v - b.h - h.W.v``;
  ``P(h_j = 1 | v) = sigm(b_j + W_j.v)``, ``P(v_i = 1 | h) = sigm(a_i + h.W_:i)``;
  free energy ``F(v) = -a.v - sum_j softplus(b_j + W_j.v)``.
* Gaussian visibles (Hinton 2010, section 13.2; Cho, Ilin & Raiko 2011 for learning the
  variances): ``E(v, h) = sum_i (v_i - a_i)^2 / (2 s_i^2) - b.h - sum_ij h_j W_ji v_i / s_i``;
  ``P(h_j = 1 | v) = sigm(b_j + W_j.(v / s))``, ``v | h ~ N(a + s * (h.W), s^2)``;
  ``F(v) = sum_i (v_i - a_i)^2 / (2 s_i^2) - sum_j softplus(b_j + W_j.(v / s))``.
  With ``learn_sigma=False`` (the usual recipe) ``s = 1`` and the data must be standardised
  (zero mean, unit variance per pixel); with ``learn_sigma=True`` the log-variances
  ``z = log s^2`` (``log_variance_``) are learned as Cho et al. 2011 propose.

Learning follows the log-likelihood gradient ``<-dF/dtheta>_data - <-dF/dtheta>_model``,
the model term estimated by contrastive divergence (CD-k, Hinton 2002) from k Gibbs steps
started at the data, or by persistent CD (Tieleman 2008) from chains kept across updates.
The recipe of Hinton's practical guide (2010): mini-batches, momentum 0.5 rising to 0.9
after ``momentum_switch`` epochs, L2 weight decay on the weights (not the biases), small
random initial weights (std 0.01), hidden probabilities (not samples) for the statistics,
an optional sparsity target (section 11: ``q <- decay q + (1 - decay) mean(p)``, the hidden
biases and weights pushed by ``cost * (target - q)``), and a learning rate
``learning_rate / (1 + learning_rate_decay * epoch)``. Everything computes in float32.

What it leaves out: the "fast weights" of fast PCD, parallel tempering, annealed importance
sampling (the exact log-likelihood needs ``2**min(V, H)`` states, so it is for toy models),
softmax/multinomial visible groups, and learning variances with a separate learning rate.

References
----------
Hinton, G. E. (2002). Training products of experts by minimizing contrastive divergence.
    Neural Computation 14(8), 1771-1800. doi:10.1162/089976602760128018
Hinton, G. E., Osindero, S. & Teh, Y. W. (2006). A fast learning algorithm for deep belief
    nets. Neural Computation 18(7), 1527-1554. doi:10.1162/neco.2006.18.7.1527
Tieleman, T. (2008). Training restricted Boltzmann machines using approximations to the
    likelihood gradient. ICML 2008. doi:10.1145/1390156.1390290
Hinton, G. E. (2010). A practical guide to training restricted Boltzmann machines.
    UTML TR 2010-003, University of Toronto.
Cho, K., Ilin, A. & Raiko, T. (2011). Improved learning of Gaussian-Bernoulli restricted
    Boltzmann machines. ICANN 2011. doi:10.1007/978-3-642-21735-7_2
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state

from .backend import FLOAT, get_array_module, get_backend, is_device_array, to_device, to_host
from .errors import ConfigError, DivergenceError, InputRangeError
from .errors import InvalidInputError as InputError
from .nn.core import sigmoid
from .progress import ProgressEvent
from .validation import RANDOM_STATE, Interval, check_estimator_input, check_fitted, check_params

__all__ = ["RBM", "InputError", "InputRangeError", "sigmoid", "softplus"]

_MAX_ENUMERATION_BITS = 20


# -- elementwise helpers (xp only) ---------------------------------------------------------

def softplus(x):
    """``log(1 + exp(x))`` without overflow: ``max(x, 0) + log1p(exp(-|x|))``."""
    xp = get_array_module(x)
    return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))


# -- the estimator ---------------------------------------------------------------------------

class RBM(TransformerMixin, BaseEstimator):
    """Restricted Boltzmann machine with binary hidden units, trained by CD-k or PCD.

    One update costs ``O(batch * V * H * (2k + 3))`` (GEMMs); ``transform`` costs
    ``O(n * V * H)``. See the module docstring for the energy functions.

    Parameters
    ----------
    n_components : int, default=256
        Number of binary hidden units H.
    visible : {"bernoulli", "gaussian"}, default="bernoulli"
        Bernoulli visibles take data in [0, 1] (probabilities, e.g. pixels / 255);
        Gaussian visibles take real-valued, standardised data.
    learning_rate : float, default=0.1
        Step size epsilon for weights and biases (Hinton 2010, section 5: 0.1 for binary
        data; use about 0.001-0.01 for Gaussian visibles).
    learning_rate_decay : float, default=0.0
        Schedule ``lr_t = learning_rate / (1 + learning_rate_decay * t)``, t the epoch.
    batch_size : int, default=100
        Examples per mini-batch (section 4: 10-100).
    n_iter : int, default=10
        Epochs of ``fit``.
    k : int, default=1
        Gibbs steps per update (CD-k / PCD-k).
    persistent : bool, default=False
        Persistent CD (Tieleman 2008): the negative chains carry over between updates.
    initial_momentum, final_momentum : float, default=0.5, 0.9
        Momentum alpha before and after ``momentum_switch`` epochs (section 9).
    momentum_switch : int, default=5
        Epoch at which momentum rises.
    weight_decay : float, default=2e-4
        L2 penalty coefficient on the weights (section 10: 1e-2 to 1e-5).
    sparsity_target : float or None, default=None
        Target mean activation p of each hidden unit (section 11, e.g. 0.05); None: off.
    sparsity_cost : float, default=0.1
        Weight of the sparsity penalty.
    sparsity_decay : float, default=0.95
        Decay of the running estimate q of each unit's activation.
    learn_sigma : bool, default=False
        Gaussian visibles only: learn the per-pixel log-variances (Cho et al. 2011).
    sample_visible : bool, default=False
        Sample the visible reconstruction instead of using its mean (the guide, section
        3.2, recommends the mean; scikit-learn's BernoulliRBM samples).
    init_std : float, default=0.01
        Standard deviation of the initial Gaussian weights (section 8).
    device : {"cpu", "gpu", "auto", "cupy-standin"}, default="cpu"
        Array backend (:func:`histnet.backend.get_backend`).
    random_state : int, RandomState or None, default=None
        Seeds the initial weights and the Gibbs sampler (one generator per ``fit``).
    progress : callable or None, default=None
        Receives a :class:`histnet.progress.ProgressEvent` after each epoch.
    name : str, default="RBM"
        Layer name used in progress lines and error messages.

    Attributes
    ----------
    components_ : array of shape (n_components, n_features)
        Weights W (on the chosen device).
    intercept_hidden_ : array of shape (n_components,)
    intercept_visible_ : array of shape (n_features,)
    log_variance_ : array of shape (n_features,)
        Gaussian visibles: log s^2 (zeros unless ``learn_sigma``); Bernoulli: zeros.
    h_samples_ : array of shape (batch_size, n_components)
        Persistent chains' hidden states (PCD; random at start).
    n_features_in_ : int
    n_epochs_ : int
        Epochs trained so far (``fit`` resets it).
    history_ : list of dict
        Per epoch: ``epoch``, ``hidden_activity`` (mean P(h=1|v) on 256 rows; a warning says
        when it saturates), ``reconstruction_error``, ``free_energy_train`` and, with
        held-out data, ``free_energy_val`` and ``free_energy_gap`` (val - train; a gap
        that keeps growing means overfitting, Hinton 2010 section 6), ``seconds``.

    References
    ----------
    See the module docstring: Hinton 2002, Hinton et al. 2006, Tieleman 2008, Hinton 2010,
    Cho et al. 2011.

    Examples
    --------
    >>> import numpy as np
    >>> X = (np.random.default_rng(0).random((50, 6)) > 0.5).astype(np.float32)
    >>> rbm = RBM(n_components=4, n_iter=2, random_state=0).fit(X)
    >>> rbm.transform(X).shape
    (50, 4)
    """

    # The parameters' rules, checked by ``fit`` (histnet.validation.check_params).
    _param_rules: dict = {
        "n_components": Interval(int, 1, None),
        "visible": {"bernoulli", "gaussian"},
        "learning_rate": Interval(float, 0, None, closed="neither"),
        "learning_rate_decay": Interval(float, 0, None),
        "batch_size": Interval(int, 1, None),
        "n_iter": Interval(int, 0, None),
        "k": Interval(int, 1, None),
        "persistent": bool,
        "initial_momentum": Interval(float, 0, 1, closed="left"),
        "final_momentum": Interval(float, 0, 1, closed="left"),
        "momentum_switch": Interval(int, 0, None),
        "weight_decay": Interval(float, 0, None),
        "sparsity_target": (None, Interval(float, 0, 1, closed="neither")),
        "sparsity_cost": Interval(float, 0, None),
        "sparsity_decay": Interval(float, 0, 1),
        "learn_sigma": bool,
        "sample_visible": bool,
        "init_std": Interval(float, 0, None, closed="neither"),
        "device": str,
        "random_state": RANDOM_STATE,
        "progress": (None, callable),
        "name": str,
    }

    def __init__(self, n_components=256, *, visible="bernoulli", learning_rate=0.1,
                 learning_rate_decay=0.0, batch_size=100, n_iter=10, k=1, persistent=False,
                 initial_momentum=0.5, final_momentum=0.9, momentum_switch=5, weight_decay=2e-4,
                 sparsity_target=None, sparsity_cost=0.1, sparsity_decay=0.95, learn_sigma=False,
                 sample_visible=False, init_std=0.01, device="cpu", random_state=None,
                 progress=None, name="RBM"):
        self.n_components = n_components
        self.visible = visible
        self.learning_rate = learning_rate
        self.learning_rate_decay = learning_rate_decay
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.k = k
        self.persistent = persistent
        self.initial_momentum = initial_momentum
        self.final_momentum = final_momentum
        self.momentum_switch = momentum_switch
        self.weight_decay = weight_decay
        self.sparsity_target = sparsity_target
        self.sparsity_cost = sparsity_cost
        self.sparsity_decay = sparsity_decay
        self.learn_sigma = learn_sigma
        self.sample_visible = sample_visible
        self.init_std = init_std
        self.device = device
        self.random_state = random_state
        self.progress = progress
        self.name = name

    # -- scikit-learn plumbing ----------------------------------------------------------------
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = self.visible == "bernoulli"
        tags.transformer_tags.preserves_dtype = ["float32"]
        # Bernoulli: score_samples flips a random bit per sample (stochastic pseudo-likelihood)
        tags.non_deterministic = self.visible == "bernoulli"
        return tags

    @property
    def _xp(self):
        return get_array_module(self.components_)

    @property
    def _gaussian(self) -> bool:
        return self.visible == "gaussian"

    def _check_input(self, X, reset: bool):
        """Boundary validation (:func:`histnet.validation.check_estimator_input`): host data
        through scikit-learn's ``validate_data``, device data by shape and values.

        Returns the data as a float32 array on the estimator's device.
        """
        if reset:
            xp = get_backend(self.device).xp
        else:
            check_fitted(self, "components_", call="fit(X)")
            xp = self._xp
        X = check_estimator_input(self, X, self.name, reset=reset)
        Xd = X if is_device_array(X) else to_device(X, xp, dtype=FLOAT)
        if Xd.dtype != FLOAT:
            Xd = Xd.astype(FLOAT)
        if self.visible == "bernoulli":
            lo, hi = float(Xd.min()), float(Xd.max())
            if lo < 0.0 or hi > 1.0:
                raise InputRangeError(
                    f"{self.name}: Bernoulli visible units need data in [0, 1], got values in [{lo:.4g}, {hi:.4g}]; "
                    "scale pixels by 1/255 or use visible='gaussian' on standardised data")
        return Xd

    def _warn_unstandardised(self, X):
        if self.learn_sigma or X.shape[0] < 2:
            return
        xp = get_array_module(X)
        mean = float(xp.abs(X.mean(axis=0)).mean())
        std = float(X.std(axis=0).mean())
        if mean > 0.25 or not 0.5 < std < 2.0:
            warnings.warn(
                f"{self.name}: Gaussian visible units with unit variance expect standardised data "
                f"(per-feature mean 0, std 1), got mean |mu| {mean:.3g}, mean std {std:.3g}; "
                "standardise first (e.g. sklearn.preprocessing.StandardScaler) or set learn_sigma=True",
                UserWarning, stacklevel=3)

    # -- initialisation -------------------------------------------------------------------------
    def _initialise(self, n_features, xp):
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        host = np.random.default_rng(seed)
        H, V = int(self.n_components), int(n_features)
        self.components_ = to_device(self.init_std * host.standard_normal((H, V)), xp, dtype=FLOAT)
        self.intercept_hidden_ = xp.zeros(H, dtype=FLOAT)
        self.intercept_visible_ = xp.zeros(V, dtype=FLOAT)
        self.log_variance_ = xp.zeros(V, dtype=FLOAT)
        self.rng_ = xp.random.default_rng(seed + 1)
        self.h_samples_ = xp.zeros((int(self.batch_size), H), dtype=FLOAT)
        self._velocity = [xp.zeros_like(self.components_), xp.zeros(V, dtype=FLOAT), xp.zeros(H, dtype=FLOAT),
                          xp.zeros(V, dtype=FLOAT)]
        self._q = xp.zeros(H, dtype=FLOAT)
        self.n_epochs_ = 0
        self.history_ = []

    def _init_visible_bias(self, X):
        """Visible biases from the data (Hinton 2010, section 8): log(p / (1 - p)) or the mean."""
        xp = get_array_module(X)
        if self._gaussian:
            self.intercept_visible_ = X.mean(axis=0).astype(FLOAT)
        else:
            p = xp.clip(X.mean(axis=0), 0.01, 0.99)
            self.intercept_visible_ = xp.log(p / (1 - p)).astype(FLOAT)

    # -- conditionals ----------------------------------------------------------------------------
    def _sigma(self):
        xp = self._xp
        return xp.exp(0.5 * self.log_variance_)

    def _scaled_visible(self, v):
        """``v / s`` for Gaussian visibles with learned variances, else ``v``."""
        if self._gaussian and self.learn_sigma:
            return v / self._sigma()
        return v

    def _mean_hiddens(self, v, out=None):
        """``P(h = 1 | v) = sigm(b + (v / s) W^T)``, shape (n_samples, n_components)."""
        xp = get_array_module(v)
        p = xp.matmul(self._scaled_visible(v), self.components_.T, out=out)
        p += self.intercept_hidden_
        return sigmoid(p, out=p)

    def _mean_visibles(self, h, out=None):
        """Mean of ``v | h``: ``sigm(a + h W)`` (Bernoulli) or ``a + s (h W)`` (Gaussian)."""
        xp = get_array_module(h)
        m = xp.matmul(h, self.components_, out=out)
        if self._gaussian:
            if self.learn_sigma:
                m *= self._sigma()
            m += self.intercept_visible_
            return m
        m += self.intercept_visible_
        return sigmoid(m, out=m)

    def _sample_hiddens(self, p, rng):
        """Bernoulli samples with probabilities ``p``."""
        xp = get_array_module(p)
        u = rng.random(p.shape, dtype=xp.float32)
        if xp is np:  # the comparison written over the uniforms: no bool temporary, same numbers
            return np.less(u, p, out=u, casting="unsafe")
        return (u < p).astype(FLOAT)

    def _sample_visibles(self, mean, rng):
        xp = get_array_module(mean)
        if self._gaussian:
            noise = rng.standard_normal(mean.shape, dtype=xp.float32)
            if self.learn_sigma:
                noise *= self._sigma()
            return mean + noise
        return (rng.random(mean.shape, dtype=xp.float32) < mean).astype(FLOAT)

    def gibbs(self, v, rng=None):
        """One Gibbs step ``v -> h ~ P(h|v) -> v' ~ P(v|h)``; returns the sampled ``v'``.

        Parameters
        ----------
        v : array of shape (n_samples, n_features), on the estimator's device
        rng : generator on that device, optional (default: the fitted ``rng_``)
        """
        check_fitted(self, "components_", call="fit(X)")
        rng = self.rng_ if rng is None else rng
        h = self._sample_hiddens(self._mean_hiddens(v), rng)
        return self._sample_visibles(self._mean_visibles(h), rng)

    def sample(self, n, n_steps=1000, rng=None, init=None):
        """Draw ``n`` samples from the model by block Gibbs sampling.

        Parameters
        ----------
        n : int
            Number of independent chains.
        n_steps : int, default=1000
            Gibbs steps per chain.
        rng : int or device generator, optional
            Seed or generator for the chains (default: seed 0).
        init : array of shape (n, n_features), optional
            Start of the chains (e.g. data); default random visibles.

        Returns
        -------
        ndarray of shape (n, n_features), host float32
            The mean of ``v | h`` at the last step (probabilities for Bernoulli visibles),
            which is what sample figures show.
        """
        check_fitted(self, "components_", call="fit(X)")
        xp = self._xp
        if rng is None or isinstance(rng, (int, np.integer)):
            rng = xp.random.default_rng(0 if rng is None else int(rng))
        V = self.components_.shape[1]
        if init is not None:
            v = to_device(to_host(init), xp, dtype=FLOAT)
        elif self._gaussian:
            v = rng.standard_normal((n, V), dtype=xp.float32) + self.intercept_visible_
        else:
            v = (rng.random((n, V), dtype=xp.float32) < 0.5).astype(FLOAT)
        mean = v
        for _ in range(int(n_steps)):
            h = self._sample_hiddens(self._mean_hiddens(v), rng)
            mean = self._mean_visibles(h)
            v = self._sample_visibles(mean, rng)
        return to_host(mean).astype(np.float32)

    # -- energies and monitors -------------------------------------------------------------------
    def _free_energy(self, v):
        """``F(v)`` (see module docstring), shape (n_samples,), on the device."""
        xp = get_array_module(v)
        pre = xp.matmul(self._scaled_visible(v), self.components_.T) + self.intercept_hidden_
        hidden_term = softplus(pre).sum(axis=1)
        if self._gaussian:
            d = v - self.intercept_visible_
            quad = (d * d * xp.exp(-self.log_variance_)).sum(axis=1) * 0.5
            return quad - hidden_term
        return -xp.matmul(v, self.intercept_visible_) - hidden_term

    def free_energy(self, X):
        """Free energy ``F(v)`` of each row, ``-log sum_h exp(-E(v, h))``.

        Returns
        -------
        ndarray of shape (n_samples,), host float32
        """
        return to_host(self._free_energy(self._check_input(X, reset=False)))

    def reconstruction_error(self, X):
        """Mean squared error of the one-step mean-field reconstruction ``E[v | P(h|v)]``.

        Not the objective (Hinton 2010, section 5 warns it is a poor measure of progress) but
        the cheapest sign that learning works.
        """
        v = self._check_input(X, reset=False)
        r = self._mean_visibles(self._mean_hiddens(v))
        return float(((r - v) ** 2).mean())

    def score_samples(self, X):
        """Stochastic pseudo-likelihood of each row (Bernoulli), or ``-F(v)`` (Gaussian).

        Bernoulli visibles: ``V * log sigm(F(v~) - F(v))`` where ``v~`` is ``v`` with one
        randomly chosen component flipped to ``1 - v_i``, as
        ``sklearn.neural_network.BernoulliRBM`` computes it (so the two numbers compare).
        Gaussian visibles: the unnormalised log-density ``-F(v)`` (the log-likelihood up to
        the constant ``log Z``; :meth:`log_likelihood` gives it exactly for toy models).

        Notes
        -----
        Not deterministic for Bernoulli visibles: the flipped components are drawn from the
        fitted generator.

        Returns
        -------
        ndarray of shape (n_samples,), host float32
        """
        v = self._check_input(X, reset=False)
        if self._gaussian:
            return to_host(-self._free_energy(v))
        xp = get_array_module(v)
        n, V = v.shape
        idx = self.rng_.integers(0, V, size=n)
        rows = xp.arange(n)
        v_flip = v.copy()
        v_flip[rows, idx] = 1 - v_flip[rows, idx]
        diff = self._free_energy(v_flip) - self._free_energy(v)
        return to_host(-V * softplus(-diff))

    def score(self, X, y=None):
        """Mean of :meth:`score_samples` (the pseudo-likelihood for Bernoulli visibles)."""
        return float(np.mean(self.score_samples(X)))

    def log_partition(self):
        """Exact ``log Z``, enumerating ``2**min(V, H)`` states (toy models only).

        Bernoulli: ``log Z = logsumexp_v -F(v)`` over all ``2**V`` visible states, or the
        dual sum over hidden states. Gaussian: the integral over ``v`` is Gaussian, so
        ``Z = sum_h exp(b.h) prod_i sqrt(2 pi) s_i exp(a_i m_i / s_i + m_i^2 / 2)`` with
        ``m = h W``. Computed in float64 on the host.
        """
        check_fitted(self, "components_", call="fit(X)")
        W = to_host(self.components_).astype(np.float64)
        a = to_host(self.intercept_visible_).astype(np.float64)
        b = to_host(self.intercept_hidden_).astype(np.float64)
        H, V = W.shape
        def logsumexp(x):
            m = x.max()
            return float(m + np.log(np.exp(x - m).sum()))
        enum_hidden = self._gaussian or H <= V
        bits = H if enum_hidden else V
        if bits > _MAX_ENUMERATION_BITS:
            raise ConfigError(f"{self.name}: exact log-likelihood needs 2**{bits} states; only for toy models "
                              f"(min(n_features, n_components) <= {_MAX_ENUMERATION_BITS})")
        states = ((np.arange(2 ** bits)[:, None] >> np.arange(bits)[None, :]) & 1).astype(np.float64)
        if self._gaussian:
            s = np.exp(0.5 * to_host(self.log_variance_).astype(np.float64))
            m = states @ W
            terms = states @ b + (a * m / s + 0.5 * m * m).sum(axis=1) + np.log(np.sqrt(2 * np.pi) * s).sum()
            return logsumexp(terms)
        if enum_hidden:  # sum_h exp(b.h) prod_i (1 + exp(a_i + (hW)_i))
            pre = states @ W + a
            terms = states @ b + np.logaddexp(0, pre).sum(axis=1)
        else:
            pre = states @ W.T + b
            terms = states @ a + np.logaddexp(0, pre).sum(axis=1)
        return logsumexp(terms)

    def log_likelihood(self, X):
        """Exact mean log-likelihood ``mean(-F(v)) - log Z`` (log-density for Gaussian visibles).

        Toy models only (see :meth:`log_partition`); the tests use it to show that training
        raises the likelihood of a small distribution.
        """
        Xh = to_host(self._check_input(X, reset=False)).astype(np.float64)
        W = to_host(self.components_).astype(np.float64)
        a = to_host(self.intercept_visible_).astype(np.float64)
        b = to_host(self.intercept_hidden_).astype(np.float64)
        if self._gaussian:
            s2 = np.exp(to_host(self.log_variance_).astype(np.float64))
            pre = (Xh / np.sqrt(s2)) @ W.T + b
            F = (0.5 * (Xh - a) ** 2 / s2).sum(axis=1) - np.logaddexp(0, pre).sum(axis=1)
        else:
            F = -Xh @ a - np.logaddexp(0, Xh @ W.T + b).sum(axis=1)
        return float(np.mean(-F) - self.log_partition())

    # -- learning ----------------------------------------------------------------------------------
    def _free_energy_grads(self, v, p, with_weights=True):
        """Sums over the batch of ``-dF/dtheta`` given ``v`` and ``p = P(h=1|v)``.

        Returns ``[dW (H, V), da (V,), db (H,), dz (V,) or None]``; the log-likelihood gradient
        is the data value minus the model value of these.
        """
        xp = get_array_module(v)
        vs = self._scaled_visible(v)
        dW = xp.matmul(p.T, vs) if with_weights else None
        db = p.sum(axis=0)
        if self._gaussian:
            s2 = xp.exp(self.log_variance_)
            d = v - self.intercept_visible_
            da = (d / s2).sum(axis=0)
            dz = None
            if self.learn_sigma:
                # -dF/dz_i = (v_i - a_i)^2 / (2 s_i^2) - (v_i / (2 s_i)) sum_j p_j W_ji
                dz = (0.5 * d * d / s2).sum(axis=0) - 0.5 * (vs * xp.matmul(p, self.components_)).sum(axis=0)
            return [dW, da, db, dz]
        return [dW, v.sum(axis=0), db, None]

    def _negative_phase(self, v0, h0_prob, rng, v_out=None, p_out=None):
        """Run the k Gibbs steps; returns (v_k, P(h|v_k)) for the model statistics.

        CD-k starts from ``h ~ P(h|v0)``; PCD from the persistent chains ``h_samples_``
        (a mini-batch of another size, the last one of an epoch, falls back to CD).
        ``v_out``/``p_out``, if given, receive the last step's visibles and hidden
        probabilities (preallocated buffers of the update).
        """
        k = int(self.k)
        chains = self.persistent and self.h_samples_.shape[0] == v0.shape[0]
        h = self.h_samples_ if chains else self._sample_hiddens(h0_prob, rng)
        for step in range(k):
            last = step == k - 1
            v = self._mean_visibles(h, out=v_out if last else None)
            if self.sample_visible or self.persistent:
                sampled = self._sample_visibles(v, rng)
                v[...] = sampled
            p = self._mean_hiddens(v, out=p_out if last else None)
            if not last or chains:
                h = self._sample_hiddens(p, rng)
        if chains:
            self.h_samples_ = h
        return v, p

    def _momentum(self, epoch):
        return self.initial_momentum if epoch < self.momentum_switch else self.final_momentum

    def _learning_rate(self, epoch):
        return self.learning_rate / (1.0 + self.learning_rate_decay * epoch)

    def _buffers(self, n, xp):
        """Work arrays of one update, reused across mini-batches of the same size.

        ``hcat`` (2n, H) holds ``[P(h|v0); P(h|vk)]``, ``vcat`` (2n, V) holds ``[v0; vk]``,
        so both weight statistics come from one GEMM ``hcat^T vcat``; ``G`` (H, V) receives it.
        """
        H, V = self.components_.shape
        buf = getattr(self, "_buf", None)
        if buf is None or buf[0].shape[0] != 2 * n or buf[2].shape != (H, V) or get_array_module(buf[2]) is not xp:
            buf = (xp.empty((2 * n, H), dtype=FLOAT), xp.empty((2 * n, V), dtype=FLOAT), xp.empty((H, V), dtype=FLOAT))
            self._buf = buf
        return buf

    def _update(self, v0, rng, epoch, staged=False):
        """One mini-batch update of all parameters (the rule ``fit`` and ``partial_fit`` share).

        ``theta <- theta + u``, ``u <- momentum u + lr (<-dF/dtheta>_data - <-dF/dtheta>_model
        - weight_decay W) [+ sparsity push]``, the statistics averaged over the mini-batch.
        ``staged``: ``v0`` already is the first half of the ``vcat`` work array (``_fit_epoch``
        gathers the mini-batch there directly).
        """
        xp = get_array_module(v0)
        n = v0.shape[0]
        lr = self._learning_rate(epoch)
        mom = self._momentum(epoch)
        scale = lr / n
        hcat, vcat, G = self._buffers(n, xp)
        p0, pk, vk = hcat[:n], hcat[n:], vcat[n:]
        if not staged:
            vcat[:n] = v0
        self._mean_hiddens(v0, out=p0)
        self._negative_phase(v0, p0, rng, v_out=vk, p_out=pk)
        if self.sparsity_target is not None:
            self._q *= self.sparsity_decay
            self._q += (1 - self.sparsity_decay) * p0.mean(axis=0)
            v_mean = self._scaled_visible(v0).mean(axis=0)  # before vcat (maybe v0) is rescaled
        if self._gaussian:
            pos = self._free_energy_grads(v0, p0, with_weights=False)
            neg = self._free_energy_grads(vk, pk, with_weights=False)
            grads = [None] + [None if g is None else (g - h) * scale for g, h in zip(pos[1:], neg[1:])]
        else:
            grads = [None, (v0.sum(axis=0) - vk.sum(axis=0)) * scale, (p0.sum(axis=0) - pk.sum(axis=0)) * scale, None]
        # Weight statistics in one GEMM: lr/n ([p0; -pk]^T [v0/s; vk/s]).
        p0 *= scale
        pk *= -scale
        if self._gaussian and self.learn_sigma:
            vcat /= self._sigma()
        W, vel = self.components_, self._velocity[0]
        if mom:
            vel *= mom
        else:
            vel[...] = 0
        if self.weight_decay:
            xp.multiply(W, lr * self.weight_decay, out=G)
            vel -= G
        xp.matmul(hcat.T, vcat, out=G)
        vel += G
        if self.sparsity_target is not None:
            push = (lr * self.sparsity_cost) * (self.sparsity_target - self._q)
            grads[2] += push
            vel += push[:, None] * v_mean[None, :]
        W += vel
        params = [None, self.intercept_visible_, self.intercept_hidden_, self.log_variance_]
        for i in (1, 2, 3):
            if grads[i] is None:
                continue
            u = self._velocity[i]
            u *= mom
            u += grads[i]
            params[i] += u

    def _check_finite(self, epoch):
        xp = self._xp
        total = float(xp.abs(self.components_).sum() + xp.abs(self.intercept_hidden_).sum()
                      + xp.abs(self.intercept_visible_).sum() + xp.abs(self.log_variance_).sum())
        if not math.isfinite(total):
            raise DivergenceError(
                f"{self.name}: weights became NaN or inf in epoch {epoch + 1}; lower learning_rate "
                f"(now {self.learning_rate}) or standardise the data")

    def fit(self, X, y=None, *, X_val=None, deadline=None):
        """Train for ``n_iter`` epochs from a fresh initialisation.

        Parameters
        ----------
        X : array of shape (n_samples, n_features)
            Host numpy or a device array of the chosen backend. Left unchanged.
        y : ignored
        X_val : array of shape (n_val, n_features), optional
            Held-out data for the free-energy overfitting monitor in ``history_``.
        deadline : float, optional
            A ``time.perf_counter()`` value (a time budget): after each epoch, training stops
            if another epoch as long as the last would end after it (the first always runs);
            ``n_epochs_`` says how many ran.

        Returns
        -------
        self

        Raises
        ------
        InputRangeError
            Bernoulli visibles given data outside [0, 1].
        DivergenceError
            Weights became NaN/inf; names the layer and the epoch.
        """
        check_params(self, self._param_rules)
        Xd = self._check_input(X, reset=True)
        if self._gaussian:
            self._warn_unstandardised(Xd)
        xp = get_array_module(Xd)
        self._initialise(Xd.shape[1], xp)
        self._init_visible_bias(Xd)
        Xv = self._check_input(X_val, reset=False) if X_val is not None else None
        for _ in range(int(self.n_iter)):
            t0 = time.perf_counter()
            self._fit_epoch(Xd, Xv)
            if deadline is not None and time.perf_counter() + (time.perf_counter() - t0) > deadline:
                break
        return self

    def _fit_epoch(self, Xd, Xv=None):
        """One epoch over ``Xd`` (device float32) in shuffled mini-batches, then monitors."""
        epoch = self.n_epochs_
        t0 = time.perf_counter()
        n = Xd.shape[0]
        order = self.rng_.permutation(n)
        B = int(self.batch_size)
        xp = get_array_module(Xd)
        for start in range(0, n, B):
            rows = order[start:start + B]
            if xp is np:  # gather the mini-batch straight into the update's work array
                v0 = self._buffers(len(rows), xp)[1][:len(rows)]
                np.take(Xd, rows, axis=0, out=v0)
                self._update(v0, self.rng_, epoch, staged=True)
            else:
                self._update(Xd[rows], self.rng_, epoch)
        self._check_finite(epoch)
        self.n_epochs_ = epoch + 1
        rec = {"epoch": epoch + 1, "seconds": time.perf_counter() - t0}
        # Dead hidden units (every P(h|v) ~ 0 or ~ 1) stop CD learning for good; a step too
        # large for dense inputs causes it (Hinton 2010, section 5). Checked on 256 rows.
        activity = float(self._mean_hiddens(Xd[:256]).mean())
        rec["hidden_activity"] = activity
        if (activity < 1e-3 or activity > 1 - 1e-3) and not getattr(self, "_warned_dead", False):
            self._warned_dead = True
            warnings.warn(
                f"{self.name}: hidden units have saturated (mean P(h=1|v) {activity:.2g} after epoch {epoch + 1}); "
                f"lower learning_rate (now {self.learning_rate}) or set a sparsity_target", UserWarning, stacklevel=3)
        if self.progress is not None or Xv is not None:
            m = min(n, 1000)
            sub = Xd[:m]
            r = self._mean_visibles(self._mean_hiddens(sub))
            rec["reconstruction_error"] = float(((r - sub) ** 2).mean())
            rec["free_energy_train"] = float(self._free_energy(sub).mean())
            if Xv is not None:
                rec["free_energy_val"] = float(self._free_energy(Xv[:m]).mean())
                rec["free_energy_gap"] = rec["free_energy_val"] - rec["free_energy_train"]
            if not math.isfinite(rec["free_energy_train"]):
                raise DivergenceError(f"{self.name}: free energy became NaN or inf in epoch {epoch + 1}")
        self.history_.append(rec)
        if self.progress is not None:
            msg = f"reconstruction error {rec['reconstruction_error']:.4g}"
            if "free_energy_gap" in rec:
                msg += f", free energy gap {rec['free_energy_gap']:.3g}"
            self.progress(ProgressEvent(self.name, epoch + 1, int(self.n_iter) or None, msg, rec["seconds"]))

    def partial_fit(self, X, y=None):
        """One mini-batch update on ``X`` (initialising the model on the first call).

        Uses the schedules of the current epoch ``n_epochs_`` (which it does not advance).
        """
        first = not hasattr(self, "components_")
        if first:
            check_params(self, self._param_rules)
        Xd = self._check_input(X, reset=first)
        if first:
            self._initialise(Xd.shape[1], get_array_module(Xd))
            self._init_visible_bias(Xd)
        self._update(Xd, self.rng_, self.n_epochs_)
        self._check_finite(self.n_epochs_)
        return self

    def transform(self, X):
        """Hidden probabilities ``P(h = 1 | v)``, the features a DBN stacks.

        Parameters
        ----------
        X : array of shape (n_samples, n_features), host or device

        Returns
        -------
        array of shape (n_samples, n_components), float32
            On the device when ``X`` was a device array, else a host numpy array.
        """
        on_device = is_device_array(X)
        out = self._mean_hiddens(self._check_input(X, reset=False))
        return out if on_device else to_host(out)
