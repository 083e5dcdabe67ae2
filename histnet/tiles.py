"""Tile many small images into one grid image: the filter and sample figures.

Every figure of learned filters in histnet (RBM and DBN weights, AlexNet's conv1, DBN
samples) is one picture made of small tiles, and :func:`tile_images` is the one function
that builds it, so the pictures agree on layout, scaling and padding. Model code returns
the grid as an array (``visualize``, :meth:`histnet.dbn.DBN.filters`); drawing it on
matplotlib axes is the job of :mod:`histnet.report`.

Pure numpy on host arrays: move device arrays first (:func:`histnet.backend.to_host`).
What it leaves out: colour maps, per-channel scaling (a colour tile is scaled as one
block, all channels together), and sorting the tiles.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import ConfigError

__all__ = ["tile_images"]

NORMALISE = ("tile", "global", None)
"""Values of ``normalise`` in :func:`tile_images`."""


def tile_images(images, image_shape=None, *, n_cols=None, pad=1, pad_value=None, normalise="tile",
                trailing_pad=False):
    """Lay small images out in a grid, row by row, in one float32 image.

    Parameters
    ----------
    images : ndarray
        Host array of one of these shapes:

        * ``(n, h * w)`` or ``(n, h * w * c)``: flattened images, each row one image (the
          rows of a weight matrix such as ``RBM.components_``); needs ``image_shape``.
        * ``(n, h, w)``: grey images.
        * ``(n, h, w, c)``: images with ``c`` channels (conv filters in NHWC order).
    image_shape : tuple (h, w) or (h, w, c), optional
        Shape of one image; required for flattened rows, and checked against the array
        otherwise.
    n_cols : int, optional
        Tiles per row of the grid; default ``ceil(sqrt(n))``. The number of rows is
        ``ceil(n / n_cols)``; cells after the last image are left at ``pad_value``.
    pad : int, default=1
        Pixels of background between neighbouring tiles.
    pad_value : float, optional
        Background value; default 0.5 when normalising (mid grey between the tiles'
        0 and 1) and 0 when not.
    normalise : {"tile", "global", None}, default="tile"
        ``"tile"`` maps each image's own minimum and maximum to 0 and 1 (as filter
        figures in the RBM papers do); ``"global"`` maps the minimum and maximum of all
        the images to 0 and 1, so tiles keep their relative contrast (AlexNet's conv1
        figure); None copies the values unchanged. A tile, or a set, whose values are
        all equal maps to 0.
    trailing_pad : bool, default=False
        Also leave ``pad`` pixels of background after the last row and the last column
        of tiles (the grid is then ``n_rows * (h + pad)`` by ``n_cols * (w + pad)``).

    Returns
    -------
    ndarray, float32
        ``(n_rows * (h + pad) - pad, n_cols * (w + pad) - pad)`` for grey images (the
        ``- pad`` terms drop out with ``trailing_pad``), with a trailing channel axis of
        length ``c`` when the images have channels (a 4-d input, or a 3-tuple
        ``image_shape``).

    Raises
    ------
    ConfigError
        The array's shape does not fit ``image_shape``, it is not 2-, 3- or 4-d, it holds
        no image, or an option is out of range.

    Examples
    --------
    >>> W = np.arange(12, dtype=np.float32).reshape(3, 4)
    >>> tile_images(W, (2, 2), normalise=None).shape
    (5, 5)
    """
    a = np.asarray(images, dtype=np.float32)
    tiles = _as_tiles(a, image_shape)
    if normalise not in NORMALISE:
        raise ConfigError(f"tile_images: normalise={normalise!r}; use 'tile', 'global' or None")
    n, h, w, c = tiles.shape
    if n == 0:
        raise ConfigError("tile_images: got no images to tile")
    n_cols = int(n_cols) if n_cols else math.ceil(math.sqrt(n))
    pad = int(pad)
    if n_cols < 1 or pad < 0:
        raise ConfigError(f"tile_images: n_cols={n_cols} must be >= 1 and pad={pad} >= 0")
    n_rows = math.ceil(n / n_cols)
    if normalise == "tile":
        lo = tiles.min(axis=(1, 2, 3), keepdims=True)
        span = tiles.max(axis=(1, 2, 3), keepdims=True) - lo
        tiles = (tiles - lo) / np.where(span > 0, span, np.float32(1))
    elif normalise == "global":
        lo = tiles.min()
        span = tiles.max() - lo
        tiles = (tiles - lo) / (span if span > 0 else np.float32(1))
    if pad_value is None:
        pad_value = 0.5 if normalise else 0.0
    end = 0 if trailing_pad else pad
    grid = np.full((n_rows * (h + pad) - end, n_cols * (w + pad) - end, c), pad_value, np.float32)
    for k in range(n):  # a loop over tiles (at most a few hundred), not over pixels
        r, q = divmod(k, n_cols)
        grid[r * (h + pad):r * (h + pad) + h, q * (w + pad):q * (w + pad) + w] = tiles[k]
    coloured = a.ndim == 4 or (image_shape is not None and len(image_shape) == 3)
    return grid if coloured else grid[..., 0]


def _as_tiles(a, image_shape):
    """``a`` as (n, h, w, c), checked against ``image_shape``."""
    if image_shape is not None:
        shape = tuple(int(s) for s in image_shape)
        if len(shape) not in (2, 3):
            raise ConfigError(f"tile_images: image_shape={image_shape!r} must be (h, w) or (h, w, c)")
        if len(shape) == 2:
            shape += (1,)
    if a.ndim == 2:
        if image_shape is None:
            raise ConfigError(f"tile_images: rows of shape {a.shape} need image_shape=(h, w) to be images")
        if a.shape[1] != math.prod(shape):
            raise ConfigError(f"tile_images: images have shape {a.shape}, expected (n, {math.prod(shape)}) "
                              f"for image_shape {tuple(image_shape)}")
        return a.reshape(a.shape[0], *shape)
    if a.ndim in (3, 4):
        tiles = a[..., None] if a.ndim == 3 else a
        if image_shape is not None and tiles.shape[1:] != shape:
            raise ConfigError(f"tile_images: images have shape {a.shape}, which does not match "
                              f"image_shape {tuple(image_shape)}")
        return tiles
    raise ConfigError(f"tile_images: expected (n, h*w), (n, h, w) or (n, h, w, c) images, got shape {a.shape}")
