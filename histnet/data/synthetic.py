"""Generated images with structure a classifier can learn: for fast tests of whole recipes.

:func:`oriented_gratings` draws one sinusoidal grating per image whose orientation and
colour tint depend on the class, at a random phase, plus Gaussian noise. The pixel
statistics are those of natural photos (mean about 120 grey levels, spread about 45,
colour channels correlated), so colour augmentation, normalisation and initialisation
meet the magnitudes they meet on real data, and a net that learns anything gets far
below chance in a few hundred steps. It is not a benchmark: real comparisons use real
data (:mod:`histnet.data.loaders`).
"""

from __future__ import annotations

import numpy as np

from .base import ArrayDataset

_TINTS = np.array([[1.0, 0.6, 0.3], [0.3, 1.0, 0.6], [0.6, 0.3, 1.0], [0.8, 0.8, 0.8],
                   [1.0, 1.0, 0.3], [0.3, 1.0, 1.0], [1.0, 0.3, 1.0], [0.5, 0.9, 0.4],
                   [0.9, 0.5, 0.4], [0.4, 0.5, 0.9]])


def oriented_gratings(n: int, size: int, n_classes: int = 4, *, channels: int = 3, seed: int = 0,
                      noise: float = 20.0, name: str = "gratings") -> ArrayDataset:
    """``n`` uint8 images ``size`` x ``size`` x ``channels``, balanced over ``n_classes`` (at most 10).

    Class k's grating is at angle ``pi k / n_classes`` with three cycles across the image
    and the tint ``_TINTS[k]`` (grey images: the tint's mean), so both texture and colour
    tell the classes apart.
    """
    if not 2 <= n_classes <= len(_TINTS):
        raise ValueError(f"n_classes must be 2..{len(_TINTS)}")
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    yy, xx = np.mgrid[0:size, 0:size] / size
    angle = np.pi * y / n_classes
    phase = rng.uniform(0, 2 * np.pi, n)
    g = np.sin(2 * np.pi * 3.0 * (np.cos(angle)[:, None, None] * xx + np.sin(angle)[:, None, None] * yy)
               + phase[:, None, None])
    tint = _TINTS[y]
    if channels == 1:
        tint = tint.mean(1, keepdims=True)
    img = 120 + 60 * g[..., None] * tint[:, None, None, :] + rng.normal(0, noise, (n, size, size, channels))
    return ArrayDataset(name, np.clip(np.rint(img), 0, 255).astype(np.uint8), y,
                        [f"class{k}" for k in range(n_classes)], {"generator": "oriented_gratings", "seed": seed})
