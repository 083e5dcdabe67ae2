"""Spatial weights of HOG's paper options, per geometry, computed once on the host.

With Dalal & Triggs' options (trilinear interpolation of the votes, a Gaussian window over
each block) a pixel's weight for a cell is a row weight times a column weight, and each
factor depends only on where the pixel lies relative to the cell and, with the window, on
which cell of its block the cell is (its *offset*): the same for every cell and every
image. So each pass of :func:`histnet.features.hog._pooled_histograms` needs one small
matrix per axis, built here once per geometry (float64, cached) and applied to a whole
batch with matrix products:

* rows: :func:`window_weights`, (offsets, window): the weights of the pixel rows that
  every cell takes votes from (its own, and the nearer halves of its neighbours');
* columns: :func:`tile_weights`, (tile pixels, offsets x tile cells): dense over a tile of
  cells and a one-cell halo, the same for every tile.

Both are read off :func:`axis_weights`, the definition: linear interpolation between cell
centres (:func:`axis_votes`) times the Gaussian block window (:func:`window_weight`).
Everything here is host numpy and independent of the images.
"""

from __future__ import annotations

import functools
from typing import Optional

import numpy as np

__all__ = ["axis_votes", "window_weight", "axis_weights", "axis_stencil", "window_weights", "tile_weights"]


def axis_votes(length: int, cell: int, n_cells: int, interpolation: str):
    """How each pixel along one axis votes into cells: a list of (cell index, weight) pairs.

    Hard binning gives one pair (the pixel's own cell, weight 1). Trilinear gives two: the
    cells whose centres ((i + 0.5) * cell - 0.5) bracket the pixel, with linear weights;
    a vote for a cell beyond the border is dropped. Pixels past the last full cell get
    weight 0.

    Returns
    -------
    list of (index, weight) host numpy pairs, each of shape (length,)
    """
    pos = np.arange(length)
    inside = pos < n_cells * cell
    if interpolation == "none":
        return [(np.minimum(pos // cell, n_cells - 1), inside.astype(np.float64))]
    t = (pos + 0.5) / cell - 0.5
    lo = np.floor(t).astype(np.int64)
    frac = t - lo
    out = []
    for idx, wt in ((lo, 1.0 - frac), (lo + 1, frac)):
        ok = (idx >= 0) & (idx < n_cells) & inside
        out.append((np.clip(idx, 0, n_cells - 1), np.where(ok, wt, 0.0)))
    return out


def window_weight(length: int, cell: int, block: int, offset: int, cell_idx: np.ndarray) -> np.ndarray:
    """Dalal & Triggs' Gaussian block window (sigma = 0.5 x block width) along one axis.

    A pixel at ``pos`` voting for cell ``cell_idx`` as the block's cell ``offset`` belongs
    to the block starting at cell ``cell_idx - offset``; its weight is the Gaussian at its
    pixel centre measured from that block's centre.

    Returns
    -------
    numpy array of shape (length,)
    """
    width = block * cell
    x = np.arange(length) + 0.5 - (cell_idx - offset) * cell - width / 2.0
    return np.exp(-0.5 * (x / (0.5 * width)) ** 2)


def axis_weights(length: int, cell: int, n_cells: int, interpolation: str, block: Optional[int] = None,
                 offset: int = 0) -> np.ndarray:
    """How much each pixel along one axis votes for each cell: a (n_cells, length) matrix.

    Hard or linear (trilinear's spatial part) votes from :func:`axis_votes`, times, with
    ``block``, the Gaussian block window as seen from cell ``offset`` of the block. This
    dense matrix is the definition; :func:`axis_stencil` is its repeating band.
    """
    out = np.zeros((n_cells, length))
    pos = np.arange(length)
    for k, wt in axis_votes(length, cell, n_cells, interpolation):
        if block is not None:
            wt = wt * window_weight(length, cell, block, offset, k)
        np.add.at(out, (k, pos), wt)
    return out


def axis_stencil(cell: int, interpolation: str, block: Optional[int], offset: int) -> np.ndarray:
    """Weights of the pixels of a cell's own and neighbouring cells, along one axis.

    Row ``d + 1`` (d = -1, 0, 1) holds the weights with which the ``cell`` pixels of cell
    k + d vote for cell k: linear interpolation between cell centres (trilinear) or 1 for
    the own cell (hard), times the Gaussian block window seen from cell ``offset`` of the
    block. They do not depend on k (votes for a cell beyond the border are dropped), so
    they are read off the middle cell of a three-cell axis.

    Returns
    -------
    numpy array of shape (3, cell)
    """
    return axis_weights(3 * cell, cell, 3, interpolation, block, offset)[1].reshape(3, cell)


@functools.lru_cache(maxsize=64)
def tile_weights(cell: int, interpolation: str, block: Optional[int], tile: int, halo: int, scale: float = 1.0):
    """The weights of one pooling pass over a tile of cells, as one matrix (cached).

    A tile is ``tile`` consecutive cells plus ``halo`` cells on each side, whose pixels
    vote into the tile's cells too (trilinear votes reach one cell over). Pixel p of the
    tile (from the first halo pixel) votes for tile cell q, seen as cell-in-block offset
    i, with weight ``[p, i * tile + q]``: :func:`axis_weights` of the tile's pixels for
    its inner cells, times ``scale``. The same matrix serves every tile of an image: the
    weights depend only on a pixel's place relative to the cell, and pixels beyond the
    image are zeros in the maps they multiply (so votes from beyond the border count
    nothing; votes for cells beyond it land in columns that are dropped).

    Returns
    -------
    numpy array of shape ((tile + 2 halo) cell, n_offsets tile), float64, read-only
    """
    length, n_cells = (tile + 2 * halo) * cell, tile + 2 * halo
    offsets = range(block) if block is not None else (0,)
    cols = [axis_weights(length, cell, n_cells, interpolation, block, i)[halo:halo + tile] for i in offsets]
    weights = np.concatenate(cols, axis=0).T * scale
    weights.flags.writeable = False
    return weights


@functools.lru_cache(maxsize=64)
def window_weights(cell: int, interpolation: str, block: Optional[int], scale: float = 1.0):
    """The weights of one pooling pass as one window of pixels per cell (cached).

    Cell k takes votes from the pixels of the cell before it from row ``cell - before``
    on, from all its own pixels, and from the first ``after`` pixels of the cell after
    it (trilinear: the halves nearer to it; hard binning: none): a window of
    ``before + cell + after`` consecutive pixels starting ``before`` pixels ahead of the
    cell, the same for every cell. Row i of the weights is the :func:`axis_stencil` of
    cell-in-block offset i over that window, times ``scale``.

    Returns
    -------
    before, after : int
    weights : numpy array of shape (n_offsets, before + cell + after), float64, read-only
    """
    offsets = range(block) if block is not None else (0,)
    stencils = np.stack([axis_stencil(cell, interpolation, block, i) for i in offsets], axis=1)  # (3, n_off, cell)
    prev, nxt = np.nonzero(stencils[0].any(axis=0))[0], np.nonzero(stencils[2].any(axis=0))[0]
    before = cell - int(prev[0]) if prev.size else 0
    after = int(nxt[-1]) + 1 if nxt.size else 0
    weights = np.concatenate([stencils[0][:, cell - before:], stencils[1], stencils[2][:, :after]], axis=1) * scale
    weights.flags.writeable = False
    return before, after, weights
