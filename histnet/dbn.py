"""Deep belief nets: greedy layer-wise RBM pretraining, then supervised fine-tuning by backprop.

What this file is
-----------------
:class:`DBN`, a scikit-learn style classifier built from :class:`histnet.rbm.RBM` layers and
:mod:`histnet.nn` (the fine-tuning engine), and :class:`UpDownDBN`. :meth:`DBN.filters`
returns the first-layer filters as one grid image (:func:`histnet.tiles.tile_images`);
drawing it, and samples, on matplotlib axes is :mod:`histnet.report`'s job
(``draw_filters``, ``draw_samples``), not this module's.

The recipe (Hinton, Osindero & Teh 2006; Hinton & Salakhutdinov 2006):

1. **Greedy layer-wise pretraining.** An RBM is trained on the data; its hidden
   probabilities ``P(h|v)`` become the data of the next RBM, and so on up the list of layer
   sizes (784-500-500-2000 for MNIST in both papers). Each added layer raises a variational
   lower bound on the log-likelihood of the data (Hinton et al. 2006, section 4). For
   colour images the first layer has Gaussian visible units on standardised pixels
   (Hinton 2010, section 13.2; Krizhevsky 2009).
2. **Supervised fine-tuning.** The stack becomes a sigmoid MLP (each RBM's weights and
   hidden biases initialise one ``Linear`` layer) with a softmax output layer on top,
   trained by backprop with momentum SGD (:class:`histnet.nn.Trainer`). This is the
   discriminative fine-tuning of Hinton & Salakhutdinov 2006 (1.2% MNIST test error) and
   of the pretraining studies (Bengio et al. 2007; Erhan et al. 2010).
3. **The ablation** that made DBNs famous is one flag: ``pretrain=False`` trains the same
   network from a random (Glorot) initialisation.

4. **Up-down** (:class:`UpDownDBN`): the 2006 paper's own fine-tuning, contrastive wake-sleep
   of a generative DBN whose top RBM joins softmax label units to the penultimate layer
   (the 1.25% result), with untied recognition and generative weights below.

What it leaves out: Hinton & Salakhutdinov fine-tuned with conjugate gradients where this
uses momentum SGD; the up-down runs a fixed learning rate and ``k_top`` (the paper raised CD
from 3 to 10 steps over 300 epochs). Samples from the model
(:meth:`DBN.sample`) run Gibbs sampling in the top RBM and a top-down pass through the
pretrained generative weights, which backprop fine-tuning does not change.

References
----------
Hinton, G. E., Osindero, S. & Teh, Y. W. (2006). A fast learning algorithm for deep belief
    nets. Neural Computation 18(7), 1527-1554. doi:10.1162/neco.2006.18.7.1527
Hinton, G. E. & Salakhutdinov, R. R. (2006). Reducing the dimensionality of data with neural
    networks. Science 313(5786), 504-507. doi:10.1126/science.1127647
Bengio, Y., Lamblin, P., Popovici, D. & Larochelle, H. (2007). Greedy layer-wise training of
    deep networks. NIPS 19.
Erhan, D., Bengio, Y., Courville, A., Manzagol, P.-A., Vincent, P. & Bengio, S. (2010). Why
    does unsupervised pre-training help deep learning? JMLR 11, 625-660.
Glorot, X. & Bengio, Y. (2010). Understanding the difficulty of training deep feedforward
    neural networks. AISTATS 2010.
Hinton, G. E. (2010). A practical guide to training restricted Boltzmann machines. UTML TR 2010-003.
"""

from __future__ import annotations

import math
import time

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state

from .backend import FLOAT, get_array_module, get_backend, is_device_array, to_device, to_host
from .errors import ConfigError, DataError, DivergenceError
from .nn import SGD
from .rbm import RBM, sigmoid, softplus
from .tiles import tile_images
from .validation import Interval, check_estimator_input, check_fitted, check_params

__all__ = ["DBN", "UpDownDBN", "build_mlp"]

_LAYER_SIZES = (list, tuple, np.ndarray)
"""The rule for ``hidden_layer_sizes``: a sequence of ints (checked further by ``_sizes``)."""


def build_mlp(layer_sizes, n_classes, rbms=None, *, xp=np, seed=0):
    """The fine-tuning network: ``Linear -> Sigmoid`` per hidden layer, then ``Linear`` to logits.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``[n_features, h1, h2, ...]``.
    n_classes : int
    rbms : list of RBM, optional
        Pretrained layers; layer i's ``Linear`` gets ``W = components_.T`` (scaled by 1/s for a
        Gaussian layer with learned variances) and ``b = intercept_hidden_``. Without them the
        hidden layers start from Glorot's initialisation (the no-pretraining baseline).
    xp : module
        Array module of the parameters.
    seed : int
        Seed of the random initial weights (output layer always; hidden layers without rbms).

    Returns
    -------
    histnet.nn.Sequential
    """
    from .nn import Linear, Sequential, Sigmoid

    rng = np.random.default_rng(seed)
    layers = []
    for i, (d, f) in enumerate(zip(layer_sizes[:-1], layer_sizes[1:])):
        lin = Linear(d, f, init="glorot", rng=rng, xp=xp, name=f"hidden{i + 1}")
        if rbms is not None:
            rbm = rbms[i]
            W = to_host(rbm.components_).astype(np.float32)  # (H, V)
            if rbm.visible == "gaussian" and rbm.learn_sigma:
                W = W / np.exp(0.5 * to_host(rbm.log_variance_))[None, :]
            lin.params["W"][...] = to_device(W.T, xp)
            lin.params["b"][...] = to_device(to_host(rbm.intercept_hidden_), xp)
        layers += [lin, Sigmoid(name=f"sigmoid{i + 1}")]
    layers.append(Linear(layer_sizes[-1], n_classes, init="normal", std=0.01, rng=rng, xp=xp, name="output"))
    return Sequential(layers)


class DBN(ClassifierMixin, BaseEstimator):
    """Deep belief net classifier: greedy RBM pretraining + backprop fine-tuning.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(500, 500, 2000)
        Hidden layers bottom to top; the papers' MNIST network is 784-500-500-2000.
    visible : {"bernoulli", "gaussian"}, default="bernoulli"
        First layer's visible units: Bernoulli for data in [0, 1] (grey pixels / 255),
        Gaussian for standardised real data (colour pixels). Higher layers are Bernoulli.
    pretrain : bool, default=True
        Greedy RBM pretraining; False trains the same MLP from a random initialisation.
    rbm_epochs : int, default=10
        Epochs per RBM (Hinton et al. 2006 used 30 sweeps per layer).
    rbm_learning_rate : float, default=0.1
        CD learning rate of a Bernoulli first layer (Hinton 2010, section 5: 0.1 for pixels).
    upper_learning_rate : float, default=0.05
        CD learning rate of the layers above the first. Their data are dense hidden
        probabilities (hundreds of inputs on at once); without a sparsity target, 0.1 drives
        every hidden unit of the 500 -> 2000 layer to zero within an epoch on MNIST.
    gaussian_learning_rate : float, default=0.01
        Learning rate of a Gaussian first layer (Hinton 2010, section 13.2: one or two orders
        of magnitude smaller).
    rbm_batch_size : int, default=100
    k : int, default=1
        CD-k Gibbs steps.
    persistent : bool, default=False
        PCD instead of CD.
    rbm_weight_decay : float, default=2e-4
    sparsity_target : float or None, default=0.1
        Target mean activity of every RBM's hidden units (Hinton 2010, section 11; Lee et al.
        2008). It keeps units alive and the features sparse; sparse top-layer features also
        let the fine-tuning use a large rate (mnist5k, 500-500-2000, 8 epochs: 6.3% test error
        with it, 79% with dense features at the same rate).
    finetune_epochs : int, default=20
    finetune_learning_rate : float, default=0.5
        SGD rate on the batch-mean cross-entropy.
    finetune_momentum : float, default=0.9
    finetune_weight_decay : float, default=1e-5
    finetune_batch_size : int, default=100
    schedule : {"constant", "step", "cosine", "plateau"}, default="cosine"
        Learning-rate schedule of the fine-tuning (:func:`histnet.nn.make_schedule`).
    device : str, default="cpu"
    random_state : int or None, default=None
    progress : callable or None, default=None
        Receives the RBMs' per-epoch events (stage ``"RBM i"``) and the Trainer's.

    Attributes
    ----------
    rbms_ : list of RBM
        The pretrained layers (empty without pretraining).
    mlp_ : histnet.nn.Sequential
        The fine-tuned network.
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    pretrain_history_ : list of list of dict
        Each RBM's ``history_``.
    history_ : list of dict
        The fine-tuning learning curve (:meth:`histnet.nn.Trainer.fit`).
    """

    # The parameters' rules, checked by ``fit`` (histnet.validation.check_params).
    _param_rules: dict = {
        "hidden_layer_sizes": _LAYER_SIZES,
        "visible": {"bernoulli", "gaussian"},
        "pretrain": bool,
        "rbm_epochs": Interval(int, 0, None),
        "rbm_learning_rate": Interval(float, 0, None, closed="neither"),
        "upper_learning_rate": Interval(float, 0, None, closed="neither"),
        "gaussian_learning_rate": Interval(float, 0, None, closed="neither"),
        "rbm_batch_size": Interval(int, 1, None),
        "k": Interval(int, 1, None),
        "persistent": bool,
        "rbm_weight_decay": Interval(float, 0, None),
        "sparsity_target": (None, Interval(float, 0, 1, closed="neither")),
        "finetune_epochs": Interval(int, 0, None),
        "finetune_learning_rate": Interval(float, 0, None),
        "finetune_momentum": Interval(float, 0, 1, closed="left"),
        "finetune_weight_decay": Interval(float, 0, None),
        "finetune_batch_size": Interval(int, 1, None),
        "schedule": {"constant", "step", "cosine", "plateau"},
        "device": str,
        "random_state": (None, Interval(int, 0, None)),
        "progress": (None, callable),
    }

    def __init__(self, hidden_layer_sizes=(500, 500, 2000), *, visible="bernoulli", pretrain=True,
                 rbm_epochs=10, rbm_learning_rate=0.1, upper_learning_rate=0.05, gaussian_learning_rate=0.01,
                 rbm_batch_size=100,
                 k=1, persistent=False, rbm_weight_decay=2e-4, sparsity_target=0.1, finetune_epochs=20,
                 finetune_learning_rate=0.5, finetune_momentum=0.9, finetune_weight_decay=1e-5,
                 finetune_batch_size=100, schedule="cosine", device="cpu", random_state=None, progress=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.visible = visible
        self.pretrain = pretrain
        self.rbm_epochs = rbm_epochs
        self.rbm_learning_rate = rbm_learning_rate
        self.upper_learning_rate = upper_learning_rate
        self.gaussian_learning_rate = gaussian_learning_rate
        self.rbm_batch_size = rbm_batch_size
        self.k = k
        self.persistent = persistent
        self.rbm_weight_decay = rbm_weight_decay
        self.sparsity_target = sparsity_target
        self.finetune_epochs = finetune_epochs
        self.finetune_learning_rate = finetune_learning_rate
        self.finetune_momentum = finetune_momentum
        self.finetune_weight_decay = finetune_weight_decay
        self.finetune_batch_size = finetune_batch_size
        self.schedule = schedule
        self.device = device
        self.random_state = random_state
        self.progress = progress

    # -- helpers ----------------------------------------------------------------------------------
    def _sizes(self):
        sizes = [int(s) for s in np.atleast_1d(self.hidden_layer_sizes)]
        if not sizes or min(sizes) < 1:
            raise ConfigError(f"DBN: hidden_layer_sizes={self.hidden_layer_sizes!r} must be a non-empty list of positive ints")
        return sizes

    def _seed(self):
        return int(self.random_state) if self.random_state is not None else int(
            check_random_state(None).randint(2 ** 31 - 1))

    def make_rbm(self, i, n_hidden, seed):
        """The RBM of layer ``i`` (0 = bottom) with this DBN's hyper-parameters."""
        gaussian = i == 0 and self.visible == "gaussian"
        return RBM(n_hidden, visible="gaussian" if gaussian else "bernoulli",
                   learning_rate=(self.gaussian_learning_rate if gaussian else
                                  self.rbm_learning_rate if i == 0 else self.upper_learning_rate),
                   batch_size=self.rbm_batch_size, n_iter=self.rbm_epochs, k=self.k, persistent=self.persistent,
                   weight_decay=self.rbm_weight_decay, sparsity_target=self.sparsity_target,
                   device=self.device, random_state=seed + i, progress=self.progress, name=f"RBM {i + 1}")

    # -- training ---------------------------------------------------------------------------------
    def pretrain_layers(self, X, X_val=None, *, seed=None, start=None, n_layers=None, deadlines=None):
        """Greedy layer-wise pretraining (Hinton et al. 2006, section 4).

        Parameters
        ----------
        X : array of shape (n_samples, n_features)
            Host or device float data (in [0, 1] for Bernoulli, standardised for Gaussian).
        X_val : array of shape (n_val, n_features), optional
            Held-out data for each RBM's free-energy monitor.
        seed : int, optional
        start : list of RBM, optional
            Layers already trained (resuming); training continues above them.
        n_layers : int, optional
            Stop after this many layers (default: all of ``hidden_layer_sizes``), so a
            caller can checkpoint between layers.
        deadlines : list of float, optional
            A ``time.perf_counter()`` deadline per layer (:meth:`RBM.fit`'s ``deadline``).

        Returns
        -------
        list of RBM
        """
        backend = get_backend(self.device)
        seed = self._seed() if seed is None else seed
        def on_device(a):
            return a if a is None or is_device_array(a) else to_device(np.asarray(a, dtype=FLOAT), backend.xp)

        h, hv = on_device(X), on_device(X_val)
        rbms = list(start or [])
        for rbm in rbms:  # propagate through the layers already trained
            h = rbm.transform(h)
            hv = None if hv is None else rbm.transform(hv)
        sizes = self._sizes()
        n_layers = len(sizes) if n_layers is None else min(int(n_layers), len(sizes))
        for i, n_hidden in enumerate(sizes[:n_layers]):
            if i < len(rbms):
                continue
            rbm = self.make_rbm(i, n_hidden, seed).fit(h, X_val=hv,
                                                       deadline=None if deadlines is None else deadlines[i])
            rbms.append(rbm)
            if i + 1 < n_layers:
                h = rbm.transform(h)
                hv = None if hv is None else rbm.transform(hv)
        return rbms

    def fit(self, X, y, *, X_val=None, y_val=None, rbms=None, checkpoint_path=None, resume=False,
            deadline=None):
        """Pretrain (unless ``pretrain=False``) and fine-tune.

        Parameters
        ----------
        X : array of shape (n_samples, n_features)
        y : array of shape (n_samples,)
        X_val, y_val : optional
            Held-out data: free-energy monitor in pretraining, error per fine-tuning epoch.
        rbms : list of RBM, optional
            Use these pretrained layers (all of them) instead of pretraining again.
        checkpoint_path, resume :
            Passed to :meth:`histnet.nn.Trainer.fit` for the fine-tuning.
        deadline : float, optional
            A ``time.perf_counter()`` value (a time budget): the time left is shared among
            the RBMs still to train and the fine-tuning in proportion to their planned
            multiply-adds (:meth:`stage_costs`); each RBM stops its epochs at its share
            (at least one epoch), the fine-tuning's schedule fits the rest
            (:meth:`histnet.nn.Trainer.fit`).

        Returns
        -------
        self
        """
        from .nn import Trainer, make_schedule

        check_params(self, self._param_rules)
        X, y = check_estimator_input(self, X, "DBN", reset=True, y=y, allow_device=False)
        if len(X) < 2:
            raise DataError(f"DBN: need at least 2 samples to train, got n_samples = {len(X)}")
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        backend = get_backend(self.device)
        seed = self._seed()
        sizes = self._sizes()
        X = X.astype(FLOAT, copy=False)
        Xv = None if X_val is None else np.asarray(X_val, dtype=FLOAT)
        if self.pretrain:
            done = list(rbms or [])
            deadlines = self.stage_deadlines(X.shape[1], len(done), deadline) if deadline is not None else None
            self.rbms_ = done if len(done) == len(sizes) else self.pretrain_layers(
                X, Xv, seed=seed, start=rbms, deadlines=deadlines)
        else:
            self.rbms_ = []
        self.pretrain_history_ = [list(r.history_) for r in self.rbms_]
        self.mlp_ = build_mlp([X.shape[1]] + sizes, len(self.classes_), self.rbms_ or None, xp=backend.xp,
                              seed=seed + 1000)
        self.history_ = []
        if self.finetune_epochs > 0:
            opt = SGD(self.mlp_, lr=self.finetune_learning_rate, momentum=self.finetune_momentum,
                      weight_decay=self.finetune_weight_decay)
            kw = {"factor": 0.1} if self.schedule == "plateau" else {}
            sched = make_schedule(self.schedule, self.finetune_learning_rate, **kw)
            val = None
            if X_val is not None and y_val is not None:
                val = (Xv, np.searchsorted(self.classes_, np.asarray(y_val)))
            trainer = Trainer(self.mlp_, opt, sched, xp=backend.xp, progress=self.progress, name="fine-tune")
            self.finetune_trainer_ = trainer
            self.history_ = trainer.fit((X, y_idx), val, epochs=int(self.finetune_epochs),
                                        batch_size=int(self.finetune_batch_size), seed=seed,
                                        checkpoint_path=checkpoint_path, resume=resume, deadline=deadline)
        return self

    def stage_costs(self, n_features: int) -> list:
        """Planned multiply-adds of each RBM's pretraining and of the fine-tuning, per sample.

        CD-1 costs about three products with each RBM's weights a batch (up, down, up again)
        and one more for the update; backprop three with every layer's (forward, two
        backward). Epochs as configured; the last entry is the fine-tuning.
        """
        dims = [int(n_features)] + self._sizes()
        pairs = list(zip(dims[:-1], dims[1:]))
        rbm = [4 * a * b * int(self.rbm_epochs) for a, b in pairs] if self.pretrain else []
        tune = 3 * sum(a * b for a, b in pairs + [(dims[-1], max(2, len(getattr(self, "classes_", [0, 1]))))])
        return rbm + [tune * int(self.finetune_epochs)]

    def stage_deadlines(self, n_features: int, n_done: int, deadline: float) -> list:
        """Each RBM's ``time.perf_counter()`` deadline (None for the ``n_done`` already
        trained): the time left before ``deadline`` shared among the RBMs still to train and
        the fine-tuning in proportion to :meth:`stage_costs`."""
        costs = self.stage_costs(n_features)
        now = time.perf_counter()
        left = sum(costs[n_done:])
        out, t = [None] * n_done, now
        for c in costs[n_done:-1]:
            t += (deadline - now) * c / max(left, 1)
            out.append(t)
        return out

    # -- prediction ---------------------------------------------------------------------------------
    def decision_function(self, X, batch_size=1000):
        """Logits of the fine-tuned network, shape (n_samples, n_classes), host float32."""
        check_fitted(self, "mlp_")
        X = check_estimator_input(self, X, "DBN", reset=False, allow_device=False)
        xp = get_backend(self.device).xp
        out = [to_host(self.mlp_.forward(to_device(X[s:s + batch_size], xp, dtype=FLOAT), train=False))
               for s in range(0, len(X), batch_size)]
        return np.concatenate(out) if out else np.zeros((0, len(self.classes_)), FLOAT)

    def predict_proba(self, X):
        """Softmax of :meth:`decision_function`, shape (n_samples, n_classes)."""
        z = self.decision_function(X).astype(np.float64)
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X):
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]

    # -- the generative model ----------------------------------------------------------------------
    def sample(self, n, n_steps=1000, rng=None):
        """Samples of the pretrained DBN: Gibbs sampling in the top RBM, then one top-down pass.

        Hinton et al. 2006, section 2/figure 8: the top two layers form an associative memory
        (an RBM); the layers below are a directed net, so a sample of the visible units is
        the top-down mean-field pass ``P(v|h)`` through each lower RBM's generative weights.

        Parameters
        ----------
        n : int
        n_steps : int, default=1000
            Alternating Gibbs steps in the top RBM.
        rng : int, optional
            Seed of the chains.

        Returns
        -------
        ndarray of shape (n, n_features), host float32
            Means of the visible units (probabilities for Bernoulli visibles).
        """
        check_fitted(self, "mlp_")
        if not self.rbms_:
            raise ConfigError("DBN.sample: this DBN was trained with pretrain=False, so it has no generative model")
        top = self.rbms_[-1]
        xp = top._xp
        g = xp.random.default_rng(0 if rng is None else int(rng))
        h = to_device(top.sample(n, n_steps, rng=g), xp, dtype=FLOAT)  # mean of the top RBM's visibles
        for rbm in reversed(self.rbms_[:-1]):
            h = rbm._mean_visibles(rbm._sample_hiddens(h, g))
        return to_host(h).astype(np.float32)

    def filters(self, image_shape, n=None):
        """First-layer filters tiled as one image (:func:`histnet.tiles.tile_images`, each
        filter scaled to [0, 1] on its own).

        Uses the pretrained RBM's weights if there are any, else the fine-tuned first layer.
        ``image_shape`` is (h, w) or (h, w, c); colour filters are shown per channel mean.
        """
        check_fitted(self, "mlp_")
        W = to_host(self.rbms_[0].components_) if self.rbms_ else to_host(self.mlp_.layers[0].params["W"]).T
        if len(image_shape) == 3 and image_shape[2] > 1:
            W = W.reshape(W.shape[0], *image_shape).mean(axis=3).reshape(W.shape[0], -1)
        W = W[:n] if n else W
        return tile_images(W, image_shape[:2])


# -- up-down (contrastive wake-sleep) fine-tuning, Hinton, Osindero & Teh 2006 ------------------

class UpDownDBN(ClassifierMixin, BaseEstimator):
    """A generative DBN with label units, fine-tuned by the up-down algorithm.

    Hinton, Osindero & Teh (2006), section 5 and appendix B: the lower layers are a directed
    belief net with separate recognition (``R``, up) and generative (``G``, down) weights,
    both initialised from the greedily trained RBMs; the top two layers are an RBM whose
    visible layer is the penultimate layer joined with softmax label units. Each mini-batch
    does a stochastic up-pass (wake), CD-``k_top`` in the top RBM, a stochastic down-pass
    (sleep) from the top RBM's negative state, and updates: generative weights by the
    wake-phase delta rule, the top RBM by CD, recognition weights by the sleep-phase delta
    rule. A digit is classified by the free energy of the top RBM for each label given the
    penultimate layer's probabilities (the paper's deterministic up-pass variant).

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(500, 500, 2000)
        At least two; the last is the top RBM's hidden layer.
    rbm_epochs : int, default=10
    rbm_learning_rate, upper_learning_rate, sparsity_target :
        As :class:`DBN` (greedy stage; the top RBM sees the labels as extra visible units,
        Bernoulli during this stage).
    updown_epochs : int, default=10
        The paper ran 300 epochs of up-down on MNIST.
    updown_learning_rate : float, default=0.01
    k_top : int, default=3
        Gibbs steps in the top RBM per update (the paper raised it from 3 to 10).
    batch_size : int, default=100
    device : str, default="cpu"
    random_state : int or None, default=None

    Attributes
    ----------
    R_, G_ : list of arrays
        Recognition (V, H) and generative (H, V) weights of the lower layers.
    rec_bias_, gen_bias_ : list of arrays
    W_top_ : array (n_pen + n_classes, n_top)
        Top RBM weights; its last ``n_classes`` rows connect the label units.
    b_top_, a_top_ : arrays (n_top,), (n_pen + n_classes,)
    classes_ : ndarray
    history_ : list of dict
        Per up-down epoch: ``epoch``, ``train_error`` (by the deterministic up-pass), ``seconds``.

    Notes
    -----
    Departures: no "fast" learning-rate schedule of the paper's 300 epochs; labels are
    Bernoulli units while the top RBM is pretrained and softmax units in the up-down.
    """

    # The parameters' rules, checked by ``fit`` (histnet.validation.check_params).
    _param_rules: dict = {
        "hidden_layer_sizes": _LAYER_SIZES,
        "rbm_epochs": Interval(int, 0, None),
        "rbm_learning_rate": Interval(float, 0, None, closed="neither"),
        "upper_learning_rate": Interval(float, 0, None, closed="neither"),
        "sparsity_target": (None, Interval(float, 0, 1, closed="neither")),
        "updown_epochs": Interval(int, 0, None),
        "updown_learning_rate": Interval(float, 0, None, closed="neither"),
        "k_top": Interval(int, 1, None),
        "batch_size": Interval(int, 1, None),
        "device": str,
        "random_state": (None, Interval(int, 0, None)),
    }

    def __init__(self, hidden_layer_sizes=(500, 500, 2000), *, rbm_epochs=10, rbm_learning_rate=0.1,
                 upper_learning_rate=0.05, sparsity_target=0.1, updown_epochs=10, updown_learning_rate=0.01,
                 k_top=3, batch_size=100, device="cpu", random_state=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.rbm_epochs = rbm_epochs
        self.rbm_learning_rate = rbm_learning_rate
        self.upper_learning_rate = upper_learning_rate
        self.sparsity_target = sparsity_target
        self.updown_epochs = updown_epochs
        self.updown_learning_rate = updown_learning_rate
        self.k_top = k_top
        self.batch_size = batch_size
        self.device = device
        self.random_state = random_state

    def fit(self, X, y):
        """Greedy pretraining (top RBM with labels), then ``updown_epochs`` of up-down.

        Parameters
        ----------
        X : array (n_samples, n_features) in [0, 1]
        y : array (n_samples,)
        """
        check_params(self, self._param_rules)
        X, y = check_estimator_input(self, X, "UpDownDBN", reset=True, y=y, allow_device=False)
        sizes = [int(s) for s in np.atleast_1d(self.hidden_layer_sizes)]
        if len(sizes) < 2:
            raise ConfigError(f"UpDownDBN: hidden_layer_sizes={self.hidden_layer_sizes!r} needs at least two "
                              "layers (a directed part and the top RBM)")
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        n_cls = len(self.classes_)
        xp = get_backend(self.device).xp
        seed = int(self.random_state) if self.random_state is not None else int(
            check_random_state(None).randint(2 ** 31 - 1))
        Xd = to_device(X.astype(FLOAT), xp)
        T = to_device(np.eye(n_cls, dtype=FLOAT)[y_idx], xp)
        lower = DBN(tuple(sizes[:-1]), rbm_epochs=self.rbm_epochs, rbm_learning_rate=self.rbm_learning_rate,
                    upper_learning_rate=self.upper_learning_rate, rbm_batch_size=self.batch_size,
                    sparsity_target=self.sparsity_target, device=self.device)
        rbms = lower.pretrain_layers(Xd, seed=seed)
        pen = Xd
        for r in rbms:
            pen = r.transform(pen)
        top = RBM(sizes[-1], learning_rate=self.upper_learning_rate, batch_size=self.batch_size,
                  n_iter=self.rbm_epochs, sparsity_target=self.sparsity_target, device=self.device,
                  random_state=seed + len(rbms), name=f"RBM {len(rbms) + 1} (with labels)")
        top.fit(xp.concatenate([pen, T], axis=1))
        # untie the directed layers: recognition R (V, H) and generative G (H, V)
        self.R_ = [r.components_.T.copy() for r in rbms]
        self.G_ = [r.components_.copy() for r in rbms]
        self.rec_bias_ = [r.intercept_hidden_.copy() for r in rbms]
        self.gen_bias_ = [r.intercept_visible_.copy() for r in rbms]
        self.W_top_ = top.components_.T.copy()
        self.b_top_ = top.intercept_hidden_.copy()
        self.a_top_ = top.intercept_visible_.copy()
        self.n_features_in_ = X.shape[1]
        self.history_ = []
        rng = xp.random.default_rng(seed + 7919)
        order_rng = np.random.default_rng(seed)
        for epoch in range(int(self.updown_epochs)):
            t0 = time.perf_counter()
            order = order_rng.permutation(len(X))
            for s in range(0, len(X), int(self.batch_size)):
                idx = to_device(order[s:s + int(self.batch_size)], xp)
                self._up_down_step(Xd[idx], T[idx], rng)
            err = float(np.mean(self.predict(X) != y))
            if not math.isfinite(float(xp.abs(self.W_top_).sum())):
                raise DivergenceError(f"UpDownDBN: weights became NaN or inf in up-down epoch {epoch + 1}")
            self.history_.append({"epoch": epoch + 1, "train_error": err, "seconds": time.perf_counter() - t0})
        return self

    def _up_down_step(self, v, t, rng):
        """One mini-batch of contrastive wake-sleep (Hinton et al. 2006, appendix B)."""
        xp = get_array_module(v)
        n = v.shape[0]
        r = self.updown_learning_rate / n

        def sample(p):
            return (rng.random(p.shape, dtype=xp.float32) < p).astype(FLOAT)

        # up-pass (wake): stochastic states through the recognition weights
        wake = [v]
        for R, b in zip(self.R_, self.rec_bias_):
            wake.append(sample(sigmoid(wake[-1] @ R + b)))
        pen = wake[-1]
        n_pen = pen.shape[1]
        Wp, Wl = self.W_top_[:n_pen], self.W_top_[n_pen:]
        top_p = sigmoid(pen @ Wp + t @ Wl + self.b_top_)
        pos_v = xp.concatenate([pen, t], axis=1)
        pos = pos_v.T @ top_p
        # CD-k in the top RBM; labels are a softmax group
        top_s = sample(top_p)
        for _ in range(int(self.k_top)):
            pen_neg = sample(sigmoid(top_s @ Wp.T + self.a_top_[:n_pen]))
            z = top_s @ Wl.T + self.a_top_[n_pen:]
            z = z - z.max(axis=1, keepdims=True)
            lab_neg = xp.exp(z)
            lab_neg /= lab_neg.sum(axis=1, keepdims=True)
            top_neg_p = sigmoid(pen_neg @ Wp + lab_neg @ Wl + self.b_top_)
            top_s = sample(top_neg_p)
        neg_v = xp.concatenate([pen_neg, lab_neg], axis=1)
        neg = neg_v.T @ top_neg_p
        # down-pass (sleep) from the top RBM's negative state
        sleep = [pen_neg]
        for G, a in zip(reversed(self.G_), reversed(self.gen_bias_)):
            p = sigmoid(sleep[-1] @ G + a)
            sleep.append(sample(p) if len(sleep) < len(self.G_) else p)
        sleep = sleep[::-1]  # sleep[0] = visible probabilities, sleep[-1] = penultimate states
        # generative (wake) updates: predict each layer from the one above
        for i in range(len(self.G_)):
            pred = sigmoid(wake[i + 1] @ self.G_[i] + self.gen_bias_[i])
            d = wake[i] - pred
            self.G_[i] += r * (wake[i + 1].T @ d)
            self.gen_bias_[i] += r * d.sum(axis=0)
        # top RBM by CD
        self.W_top_ += r * (pos - neg)
        self.a_top_ += r * (pos_v.sum(axis=0) - neg_v.sum(axis=0))
        self.b_top_ += r * (top_p.sum(axis=0) - top_neg_p.sum(axis=0))
        # recognition (sleep) updates: predict each layer's sleep state from the one below
        for i in range(len(self.R_)):
            pred = sigmoid(sleep[i] @ self.R_[i] + self.rec_bias_[i])
            d = sleep[i + 1] - pred
            self.R_[i] += r * (sleep[i].T @ d)
            self.rec_bias_[i] += r * d.sum(axis=0)

    def decision_function(self, X):
        """``-F(pen, label)`` of the top RBM for every label, (n_samples, n_classes), host.

        ``pen`` is the deterministic up-pass (probabilities through the recognition weights).
        """
        check_fitted(self, "W_top_")
        X = check_estimator_input(self, X, "UpDownDBN", reset=False, allow_device=False)
        xp = get_array_module(self.W_top_)
        h = to_device(X.astype(FLOAT), xp)
        for R, b in zip(self.R_, self.rec_bias_):
            h = sigmoid(h @ R + b)
        n_pen = h.shape[1]
        base = h @ self.W_top_[:n_pen] + self.b_top_  # (n, n_top)
        scores = []
        for c in range(len(self.classes_)):
            pre = base + self.W_top_[n_pen + c]
            scores.append(self.a_top_[n_pen + c] + softplus(pre).sum(axis=1))
        return to_host(xp.stack(scores, axis=1)).astype(np.float32)

    def predict(self, X):
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]
