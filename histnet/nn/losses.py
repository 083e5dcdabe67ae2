"""Softmax and the softmax cross-entropy loss (the multinomial logistic regression
objective AlexNet maximises, Krizhevsky et al. 2012, section 4).

    p_nk = exp(z_nk) / sum_j exp(z_nj)
    L = -(1/N) sum_n log p_{n, y_n}
    dL/dz_nk = (p_nk - [k == y_n]) / N

Logits are shifted by their row maximum before ``exp`` so nothing overflows.
"""

from __future__ import annotations

from ..backend import get_array_module
from ..errors import ConfigError


def log_softmax(logits):
    """Row-wise log-softmax of (N, K) logits, stable."""
    xp = get_array_module(logits)
    z = logits - logits.max(axis=1, keepdims=True)
    return z - xp.log(xp.exp(z).sum(axis=1, keepdims=True))


def softmax(logits):
    """Row-wise softmax of (N, K) logits, stable; rows sum to 1."""
    xp = get_array_module(logits)
    z = logits - logits.max(axis=1, keepdims=True)
    e = xp.exp(z)
    e /= e.sum(axis=1, keepdims=True)
    return e


def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy of softmax(logits) against integer labels, and its gradient.

    Parameters
    ----------
    logits : xp array (N, K), float
    labels : xp array (N,), int in [0, K), on the same device as ``logits``

    Returns
    -------
    loss : float
        Mean over the batch (a host float: one device->host sync per call).
    dlogits : xp array (N, K), dtype of ``logits``
        dL/dlogits.
    """
    xp = get_array_module(logits)
    if logits.ndim != 2 or labels.shape != (logits.shape[0],):
        raise ConfigError(f"softmax_cross_entropy: logits (N, K) and labels (N,) expected, "
                          f"got {tuple(logits.shape)} and {tuple(labels.shape)}")
    n = logits.shape[0]
    logp = log_softmax(logits)
    rows = xp.arange(n)
    loss = -float(logp[rows, labels].sum()) / n
    d = xp.exp(logp)
    d[rows, labels] -= 1
    d *= 1.0 / n
    return loss, d.astype(logits.dtype, copy=False)
