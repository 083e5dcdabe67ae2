"""Histograms of oriented gradients (HOG) for a batch of images, on numpy or cupy.

This reproduces the descriptor of Dalal & Triggs (2005), with scikit-image's parameter
names and, on the same settings, scikit-image's numbers (``skimage.feature.hog``, to 1e-4
largest absolute difference; ``tests/test_hog.py`` checks it in float32 and float64).
N images are computed at once, with no Python loop over images or pixels:

1. (optional) square-root gamma compression of each channel (``transform_sqrt``);
2. gradients by centred differences [-1, 0, 1] (the row gradient is 0 on the first and
   last rows, the column gradient on the first and last columns); for colour, each pixel
   keeps the channel with the largest gradient magnitude (Dalal & Triggs); 8-bit images
   look the magnitude and bin of their integer gradient pair up in a precomputed table;
3. each pixel votes its gradient magnitude into the unsigned orientation bin (0-180
   degrees) of its cell; all cell histograms of the batch come out of one weighted
   ``bincount`` over (image, cell row, cell column, bin) indices. With the paper's
   trilinear votes or block window a vote's spatial weight is a row factor times a
   column factor fixed by the geometry, so the weights are built once per geometry
   (:mod:`._hog_weights`) and applied to the batch as two matrix products over dense
   orientation maps, one along the rows and one along the columns (see
   :func:`_pooled_histograms`);
4. cells are grouped into overlapping blocks (stride one cell), each block normalised
   (L1, L1-sqrt, L2 or L2-Hys);
5. the block vectors are concatenated into one feature vector per image.

Departures from the paper that scikit-image makes, and that are the defaults here too
(each paper behaviour is an option):

* blocks of 3 x 3 cells (``cells_per_block=(3, 3)``); the paper's default is 2 x 2;
* no Gaussian window over a block; the paper weights votes by a Gaussian of sigma =
  0.5 x block width (``block_window=True``);
* each vote goes to one cell and one orientation bin; the paper interpolates it
  trilinearly between the neighbouring cell centres and bin centres
  (``interpolation="trilinear"``).

Left out: the paper's detection machinery (the sliding window, the scale pyramid,
non-maximum suppression) - histnet classifies whole images - and its other variants
(signed 0-360 degree orientations, the circular C-HOG blocks; blocks here are R-HOG).

References
----------
Dalal, N. & Triggs, B. (2005). Histograms of oriented gradients for human detection.
CVPR 2005, 886-893. :DOI:`10.1109/CVPR.2005.177`
Dalal, N. (2006). Finding people in images and videos. PhD thesis, INPG Grenoble.
van der Walt, S. et al. (2014). scikit-image: image processing in Python. PeerJ 2:e453.
:DOI:`10.7717/peerj.453`
"""

from __future__ import annotations

import functools
import math

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from ..backend import FLOAT, get_array_module, is_device_array, to_device
from ..errors import ConfigError, DataError
from ._angles import fast_path, unsigned_angle
from ._hog_weights import tile_weights, window_weights

__all__ = ["hog", "HOG", "hog_output_shape", "BLOCK_NORMS"]

BLOCK_NORMS = ("L1", "L1-sqrt", "L2", "L2-Hys")
INTERPOLATIONS = ("none", "trilinear")
EPS = 1e-5
"""The small constant of the block norms (scikit-image's ``eps``)."""
_CPU_CHUNK_PIXELS = 1 << 17   # pixels per chunk on the CPU: temporaries stay in L2/L3
_GPU_CHUNK_PIXELS = 1 << 23   # on a GPU: enough to fill it (an int64 per pixel is 64 MB)


# -- validation ------------------------------------------------------------------------------

def _pair(value, name: str) -> tuple[int, int]:
    try:
        a, b = value
        a, b = int(a), int(b)
    except (TypeError, ValueError):
        raise ConfigError(f"hog: {name} must be a pair of positive integers, got {value!r}") from None
    if a < 1 or b < 1 or (a, b) != tuple(value):
        raise ConfigError(f"hog: {name} must be a pair of positive integers, got {value!r}")
    return a, b


def _check_params(orientations, pixels_per_cell, cells_per_block, block_norm, interpolation):
    if int(orientations) != orientations or orientations < 1:
        raise ConfigError(f"hog: orientations must be a positive integer, got {orientations!r}")
    cell = _pair(pixels_per_cell, "pixels_per_cell")
    block = _pair(cells_per_block, "cells_per_block")
    if block_norm not in BLOCK_NORMS:
        raise ConfigError(f"hog: block_norm must be one of {', '.join(BLOCK_NORMS)}, got {block_norm!r}")
    if interpolation not in INTERPOLATIONS:
        raise ConfigError(f"hog: interpolation must be one of {', '.join(INTERPOLATIONS)}, got {interpolation!r}")
    return int(orientations), cell, block


def hog_output_shape(image_shape, orientations=9, pixels_per_cell=(8, 8), cells_per_block=(3, 3)):
    """Shape of one image's unflattened HOG: (n_blocks_row, n_blocks_col, b_row, b_col, orientations).

    Parameters
    ----------
    image_shape : tuple
        (H, W) or (H, W, C).

    Raises
    ------
    DataError
        The image is smaller than one block; the message names the minimum size.
    """
    orientations, (c_row, c_col), (b_row, b_col) = _check_params(
        orientations, pixels_per_cell, cells_per_block, "L2-Hys", "none")
    h, w = int(image_shape[0]), int(image_shape[1])
    n_blocks_row = h // c_row - b_row + 1
    n_blocks_col = w // c_col - b_col + 1
    if n_blocks_row <= 0 or n_blocks_col <= 0:
        raise DataError(
            f"hog: images are {h}x{w} pixels, smaller than one block: pixels_per_cell="
            f"({c_row}, {c_col}) x cells_per_block=({b_row}, {b_col}) needs at least "
            f"{b_row * c_row}x{b_col * c_col}")
    return (n_blocks_row, n_blocks_col, b_row, b_col, orientations)


# -- stage 2: gradients ----------------------------------------------------------------------

def _channel_gradients(img):
    """Centred differences of (N, H, W) images along rows and columns, zero on the border.

    Returns
    -------
    g_row, g_col : xp arrays of shape (N, H, W)
    """
    xp = get_array_module(img)
    g_row = xp.empty_like(img)
    g_col = xp.empty_like(img)
    xp.subtract(img[:, 2:, :], img[:, :-2, :], out=g_row[:, 1:-1, :])
    xp.subtract(img[:, :, 2:], img[:, :, :-2], out=g_col[:, :, 1:-1])
    g_row[:, 0, :] = 0   # the borders (empty_like and four thin writes beat zeros_like)
    g_row[:, -1, :] = 0
    g_col[:, :, 0] = 0
    g_col[:, :, -1] = 0
    return g_row, g_col


def _gradients(img, multichannel: bool):
    """Gradients of (N, H, W) or (N, H, W, C); colour keeps the strongest channel per pixel."""
    xp = get_array_module(img)
    if not multichannel:
        return _channel_gradients(img)
    n, h, w, c = img.shape
    chans = xp.moveaxis(img, -1, 1).reshape(n * c, h, w)
    g_row, g_col = _channel_gradients(chans)
    g_row = g_row.reshape(n, c, h, w)
    g_col = g_col.reshape(n, c, h, w)
    magnitude = g_row * g_row + g_col * g_col     # argmax of hypot == argmax of its square
    best = xp.argmax(magnitude, axis=1)[:, None]  # (N, 1, H, W)
    return (xp.take_along_axis(g_row, best, axis=1)[:, 0],
            xp.take_along_axis(g_col, best, axis=1)[:, 0])


# -- stage 3: cell histograms -----------------------------------------------------------------

def _mask(condition, value, dtype):
    """``value`` where ``condition`` holds, else 0, as an array of ``dtype`` (no ``where``)."""
    xp = get_array_module(condition)
    return xp.multiply(condition, value, dtype=dtype)


def _orientation_votes(g_row, g_col, orientations: int, interpolation: str):
    """Unsigned orientation bins of every pixel, as a list of (bin index, weight) pairs.

    The angle is atan2(g_row, g_col) folded into [0, 180) degrees. Hard binning gives
    one pair per pixel (bin floor(angle / width), weight None meaning 1), computed in the
    images' precision; the few pixels within 1e-4 bin of a bin edge are re-binned in
    float64 exactly as scikit-image does (degrees mod 180 against the float32 edges), so
    that rounding never moves a vote to the neighbouring bin. Trilinear gives two pairs:
    the bins whose centres bracket the angle, with linear weights: the lower as int32 bins
    from -1 to ``orientations - 1``, the upper as None, meaning "the bin after" (so its
    index costs nothing). -1 stands for ``orientations - 1`` and ``orientations`` for 0
    (the wrap at 180 degrees), which :func:`_pooled_histograms` folds back after its row
    pass, on data a cell row high rather than per pixel.

    Negative angles are folded by adding ``orientations`` times a 0/1 mask rather than
    with ``where`` (the same numbers; a data-dependent select over random angles is
    several times slower on the CPU than a few arithmetic passes).

    Returns
    -------
    list of (xp int array (N, H, W) or None, xp float array (N, H, W) or None)
    """
    xp = get_array_module(g_row)
    if fast_path(g_row):  # numpy's arctan2 is a scalar loop on this CPU (._angles)
        t = unsigned_angle(g_row, g_col)
        t *= orientations / math.pi                  # bins, in [0, orientations]
    else:
        t = xp.arctan2(g_row, g_col)
        t *= orientations / math.pi                  # bins, in [-orientations, orientations]
        t += _mask(t < 0, orientations, t.dtype)     # ... folded into [0, orientations]
    if interpolation == "trilinear":
        t -= 0.5
        lo = xp.floor(t)                             # in [-1, orientations - 1]
        frac = t - lo
        return [(lo.astype(xp.int32), 1.0 - frac), (None, frac)]
    obin = xp.minimum(t.astype(xp.intp), orientations - 1)
    off = t - obin
    near = xp.nonzero(((off < 1e-4) | (off > 1 - 1e-4)).ravel())[0]
    if near.size:
        gr = g_row.ravel()[near].astype(xp.float64)
        gc = g_col.ravel()[near].astype(xp.float64)
        deg = (xp.arctan2(gr, gc) * (180.0 / math.pi)) % 180.0
        edges = (np.float32(180.0 / orientations) * np.arange(1, orientations, dtype=np.float32))
        fixed = xp.zeros(near.shape, dtype=xp.intp)
        for e in edges.astype(np.float64):  # a loop over the bin edges
            fixed += (deg >= e).astype(xp.intp)
        flat = obin.reshape(-1)
        flat[near] = fixed
    return [(obin, None)]


@functools.lru_cache(maxsize=8)
def _uint8_tables(orientations: int):
    """Magnitude and bin of every gradient of an 8-bit image, as lookup tables.

    Gradients of uint8 images are integer pairs (g_row, g_col) in [-255, 255]^2, so the
    magnitude and the orientation bin of all 511 x 511 of them are computed once, in
    float64 with scikit-image's exact rules (degrees mod 180 against float32 bin edges),
    and looked up per pixel: two gathers instead of arctan2, sqrt and the binning.

    Returns
    -------
    magnitude : numpy array of shape (511 * 511,), float64
        (float64 because ``bincount`` sums in float64: no conversion per pixel)
    bins : numpy array of shape (511 * 511,), uint8
        Index ``(g_row + 255) * 511 + (g_col + 255)``. (uint8 keeps the table in cache.)
    """
    g = np.arange(-255, 256, dtype=np.float64)
    g_row, g_col = np.meshgrid(g, g, indexing="ij")
    deg = np.rad2deg(np.arctan2(g_row, g_col)) % 180.0
    edges = np.float32(180.0 / orientations) * np.arange(1, orientations, dtype=np.float32)
    bins = (deg[..., None] >= edges.astype(np.float64)).sum(axis=-1).astype(np.uint8)
    return np.hypot(g_row, g_col).ravel(), bins.ravel()


def _uint8_votes(x, n_cells, cell, orientations: int, multichannel: bool):
    """Magnitude and orientation bin of (N, H, W[, C]) uint8 images via :func:`_uint8_tables`.

    Returns
    -------
    magnitude : xp float64 array of shape (N, H', W'), H' = n_cells_row * cell_row
    o_votes : [(bins, None)], bins an xp uint8 array of shape (N, H', W')
    """
    xp = get_array_module(x)
    rows, cols = n_cells[0] * cell[0], n_cells[1] * cell[1]
    if multichannel:
        g_row, g_col = _gradients(x.astype(xp.int32), multichannel)
        key = g_row[:, :rows, :cols] * 511 + g_col[:, :rows, :cols]
        key += 255 * 511 + 255
    else:
        # the key built in place; border rows have g_row = 0 and border columns g_col = 0
        xi = x.astype(xp.int32)
        key = xp.full(xi.shape, 255 * 511 + 255, dtype=xp.int32)
        d_row = xi[:, 2:, :] - xi[:, :-2, :]
        d_row *= 511
        key[:, 1:-1, :] += d_row
        key[:, :, 1:-1] += xi[:, :, 2:] - xi[:, :, :-2]
        key = key[:, :rows, :cols]
    key = key.astype(xp.intp)  # once, rather than inside each gather
    mag_table, bin_table = _uint8_tables(orientations)
    magnitude = xp.take(to_device(mag_table, xp), key)
    bins = xp.take(to_device(bin_table, xp), key)
    return magnitude, [(bins, None)]


def _cell_histograms(magnitude, o_votes, orientations: int, cell, n_cells):
    """Orientation histograms of every cell of every image, by one weighted bincount.

    Each pixel votes into its own cell and one orientation bin (scikit-image's scheme).

    Parameters
    ----------
    magnitude : xp array of shape (N, H, W)
        Gradient magnitude, cropped to whole cells (H = n_cells_row * cell_row, ...).
    o_votes : [(bin, None)]
        From :func:`_orientation_votes` or :func:`_uint8_votes`.
    orientations : int
    cell, n_cells : (int, int)
        Pixels per cell and number of cells, (rows, cols).

    Returns
    -------
    xp array of shape (N, n_cells_row, n_cells_col, orientations), float64
        Sums of votes divided by the cell area (as scikit-image).
    """
    xp = get_array_module(magnitude)
    (c_row, c_col), (ncr, ncc) = cell, n_cells
    n, h, w = magnitude.shape
    (o_idx, _), = o_votes
    index = _cell_index(xp, n, h, w, c_row, c_col, ncc, orientations) + o_idx
    hist = xp.bincount(index.ravel(), weights=magnitude.ravel(), minlength=n * ncr * ncc * orientations)
    return (hist / (c_row * c_col)).reshape(n, ncr, ncc, orientations)


# -- stage 3 with the paper's options: separable weights, applied once per batch -------------
#
# With trilinear votes or the block window a pixel votes into up to 2 x 2 cells, with a
# weight that is a row factor times a column factor (with the window, a different pair of
# factors for each cell-in-block offset). The factors depend only on the geometry, so
# they are built once on the host (:mod:`._hog_weights`, cached) and applied to the whole
# batch as matrix products over dense orientation maps: one over the pixel rows of each
# cell's window, one over the pixel columns. Nothing is computed per cell or per block in
# Python.

_COL_TILE = 16   # cells per column tile of the column pass (its matrix is dense over a tile)
_CONST_CACHE: dict = {}


def _device_constant(xp, key: tuple, make):
    """``make()`` (a host array) on the device of ``xp``, cached under ``key``."""
    key = (xp.__name__,) + key
    if key not in _CONST_CACHE:
        if len(_CONST_CACHE) > 32:
            _CONST_CACHE.clear()
        _CONST_CACHE[key] = to_device(make(), xp)
    return _CONST_CACHE[key]


def _map_index(xp, n: int, h: int, w: int, slots: int, pad_rows: tuple, pad_cols: tuple):
    """(N, H, W): the flat index of slot 1 (bin 0) of each pixel in the maps of :func:`_orientation_maps`.

    int32 while the maps have fewer than 2^31 entries (cheaper to offset and convert than
    int64), else intp. Cached per shape.
    """
    def make():
        hp, wp = pad_rows[0] + h + pad_rows[1], pad_cols[0] + w + pad_cols[1]
        rows = np.arange(n)[:, None] * hp + pad_rows[0] + np.arange(h)      # padded row of (i, y)
        index = (rows[:, :, None].astype(np.int64) * slots + 1) * wp + pad_cols[0] + np.arange(w)
        return index.astype(np.int32 if n * hp * slots * wp < 2 ** 31 else np.intp)
    return _device_constant(xp, ("map_index", n, h, w, slots, pad_rows, pad_cols), make)


def _orientation_maps(magnitude, o_votes, orientations: int, pad_rows=(0, 0), pad_cols=(0, 0)):
    """Spread each pixel's orientation votes over dense maps: (N, H, W) -> (N, H', slots, W').

    Pixel (y, x) of image i gives its vote for bin o (its gradient magnitude times its
    orientation weight) to ``maps[i, pad_rows[0] + y, o + 1, pad_cols[0] + x]``. Each
    pixel row of the maps is thus one contiguous (slots, W') matrix: the row pass
    contracts windows of such rows, and the column pass contracts their last axis. The
    zero rows and columns of padding give every cell's window the same shape.

    There are ``orientations + 2`` slots: slot 0 takes trilinear votes for bin -1 and the
    last slot those for bin ``orientations``, both folded back (the wrap at 180 degrees)
    after the row pass of :func:`_pooled_histograms`. A pixel's (at most two) votes go to
    different slots, so the maps are zeros filled by plain assignment at flat indices,
    one scatter per vote: no accumulation, no per-pixel wrapping.

    Parameters
    ----------
    magnitude : xp array of shape (N, H, W)
        Cropped to whole cells.
    o_votes : list of (bins, weights or None)
        From :func:`_orientation_votes` or :func:`_uint8_votes`: bins in [-1,
        orientations - 1], or None for the bin after the previous pair's.
    pad_rows, pad_cols : (int, int)
        Zeros before and after each image's rows and columns.

    Returns
    -------
    xp array of shape (N, pad_rows[0] + H + pad_rows[1], orientations + 2,
    pad_cols[0] + W + pad_cols[1]), in ``magnitude``'s dtype
    """
    xp = get_array_module(magnitude)
    n, h, w = magnitude.shape
    slots = orientations + 2
    wp = pad_cols[0] + w + pad_cols[1]
    maps = xp.zeros((n, pad_rows[0] + h + pad_rows[1], slots, wp), dtype=magnitude.dtype)
    if orientations == 1:  # both trilinear votes land in the one bin: the whole magnitude
        maps[:, pad_rows[0]:pad_rows[0] + h, 1, pad_cols[0]:pad_cols[0] + w] = magnitude
        return maps
    base = _map_index(xp, n, h, w, slots, tuple(pad_rows), tuple(pad_cols))
    flat = maps.reshape(-1)
    key = None
    for o_idx, o_w in o_votes:
        if o_idx is None:   # the bin after the previous vote's: the next slot
            key += wp
        else:
            key = o_idx.astype(base.dtype, copy=False) * wp
            key += base
            if key.dtype != xp.intp:
                key = key.astype(xp.intp)
        vote = magnitude if o_w is None else magnitude * o_w.astype(magnitude.dtype, copy=False)
        flat[key.reshape(-1)] = vote.reshape(-1)
    return maps


def _pooled_histograms(magnitude, o_votes, orientations: int, cell, n_cells, interpolation: str,
                       blocks=(None,)):
    """Cell histograms with the paper's options (trilinear votes and/or the block window).

    Each pixel's weight for a cell is separable, a row factor times a column factor, and
    each factor depends only on the pixel's place relative to the cell and, with the
    window, on the cell's offset in its block. So, for the whole batch at once:

    0. the votes are spread over dense orientation maps (:func:`_orientation_maps`);
    1. rows: every cell takes votes from a window of consecutive pixel rows (its own, and
       the nearer halves of its neighbours' with trilinear votes), the same window for all
       cells, so the windows are one strided view of the maps and the row pass is, per
       cell-in-block offset, one matrix-vector product per cell row:
       (window,) . (window, slots W) (:func:`~._hog_weights.window_weights`);
    2. the two wrap slots are folded into bins ``orientations - 1`` and 0 (pooling is
       linear and per slot, so this can wait until the data is a cell row high);
    3. columns: (rows, tile pixels) x (tile pixels, offsets x tile cells), one matrix
       product per image and tile of at most ``_COL_TILE`` cells, the weights dense over
       the tile and its one-cell halo (:func:`~._hog_weights.tile_weights`, divided by
       the cell area); one tile when the image is that narrow.

    The products are small (per cell row, per image), so BLAS runs each on one thread;
    the work and the temporaries are O(N H W orientations) for a chunk of N images.

    Parameters
    ----------
    magnitude, o_votes
        Per-pixel votes, as for :func:`_orientation_maps` (cropped to whole cells).
    orientations : int
    cell, n_cells : (int, int)
    interpolation : {"none", "trilinear"}
    blocks : sequence of (int, int) or None
        One result per entry, all from the same maps: cells per block for the Gaussian
        block window, or None for no window.

    Returns
    -------
    list of xp arrays of shape (N, n_cells_row, n_off_row, orientations, n_off_col, n_cells_col)
        ``[:, k, i, :, j, l]`` is cell (k, l)'s histogram as cell (i, j) of its block (with
        the window; without, n_off = 1 and i = j = 0), divided by the cell area, as
        scikit-image. (Views of a larger array.)
    """
    xp = get_array_module(magnitude)
    (c_row, c_col), (ncr, ncc) = cell, n_cells
    dtype = np.dtype(magnitude.dtype)
    slots, it = orientations + 2, dtype.itemsize
    tile = min(ncc, _COL_TILE)
    n_tiles = -(-ncc // tile)
    halo = 1 if n_tiles > 1 else 0
    area = 1.0 / (c_row * c_col)

    def const(name, make, *key):
        return _device_constant(xp, (name, dtype.str) + key, lambda: make().astype(dtype))

    windows = [window_weights(c_row, interpolation, None if b is None else b[0]) for b in blocks]
    pad_rows = (max(wn[0] for wn in windows), max(wn[1] for wn in windows))
    pad_cols = (halo * c_col, (n_tiles * tile + halo) * c_col - ncc * c_col)
    maps = _orientation_maps(magnitude, o_votes, orientations, pad_rows, pad_cols)
    n, hp, _, wp = maps.shape
    out = []
    for block, (before, after, _) in zip(blocks, windows):
        b_row, b_col = (None, None) if block is None else block
        # 1. rows: windows (N, ncr, K, slots W') of the maps -> (N, ncr, n_off_r, slots W')
        w_row = const("rows", lambda: window_weights(c_row, interpolation, b_row)[2], c_row, interpolation, b_row)
        k = before + c_row + after
        view = xp.lib.stride_tricks.as_strided(maps[:, pad_rows[0] - before:], shape=(n, ncr, k, slots * wp),
                                               strides=(maps.strides[0], c_row * slots * wp * it, slots * wp * it, it))
        n_off_r = w_row.shape[0]
        rows = xp.empty((n, ncr, n_off_r, slots * wp), dtype=dtype)
        for i in range(n_off_r):  # a loop over the cells of a block (offsets), not over cells
            xp.matmul(w_row[i], view, out=rows[:, :, i])
        # 2. the wrap at 180 degrees: bin -1 is bin O - 1, bin O is bin 0
        if slots > 3:
            by_slot = rows.reshape(n, ncr, n_off_r, slots, wp)
            by_slot[:, :, :, slots - 2] += by_slot[:, :, :, 0]
            by_slot[:, :, :, 1] += by_slot[:, :, :, slots - 1]
        # 3. columns: tiles (N, n_tiles, ncr n_off_r slots, K') of those rows -> (..., n_off_c tile)
        w_col = const("cols", lambda: tile_weights(c_col, interpolation, b_col, tile, halo, area),
                      c_col, interpolation, b_col, tile, halo, area)
        m = ncr * n_off_r * slots
        tiles = xp.lib.stride_tricks.as_strided(rows, shape=(n, n_tiles, m, (tile + 2 * halo) * c_col),
                                                strides=(rows.strides[0], tile * c_col * it, wp * it, it))
        hist = xp.matmul(tiles, w_col)                                   # (N, n_tiles, m, n_off_c tile)
        n_off_c = w_col.shape[1] // tile
        hist = hist.reshape(n, n_tiles, ncr, n_off_r, slots, n_off_c, tile)
        if n_tiles > 1:
            hist = hist.transpose(0, 2, 3, 4, 5, 1, 6).reshape(n, ncr, n_off_r, slots, n_off_c, -1)[..., :ncc]
        else:
            hist = hist.reshape(n, ncr, n_off_r, slots, n_off_c, ncc)
        out.append(hist[:, :, :, 1:slots - 1])   # the wrap slots are folded in
    return out


def _pooled_cells(pooled):
    """Pooled histograms without the window, (N, ncr, 1, O, 1, ncc) -> (N, ncr, ncc, O)."""
    return pooled[:, :, 0, :, 0].transpose(0, 1, 3, 2)


_INDEX_CACHE: dict = {}


def _cell_index(xp, n: int, h: int, w: int, c_row: int, c_col: int, ncc: int, orientations: int):
    """(N, H, W) intp: the histogram slot of orientation 0 of each pixel's cell (cached)."""
    key = (xp.__name__, n, h, w, c_row, c_col, ncc, orientations)
    if key not in _INDEX_CACHE:
        ncr = h // c_row
        cells = (np.arange(h)[:, None] // c_row) * ncc + np.arange(w)[None, :] // c_col
        index = (np.arange(n)[:, None, None] * (ncr * ncc) + cells[None]) * orientations
        if len(_INDEX_CACHE) > 16:
            _INDEX_CACHE.clear()
        _INDEX_CACHE[key] = to_device(index.astype(np.intp), xp)
    return _INDEX_CACHE[key]


# -- stage 4: block normalisation ----------------------------------------------------------

def _normalize_blocks(blocks, method: str, eps: float = EPS):
    """Normalise each block: (..., block_length) rows, each one block's cell histograms.

    ``L1``: v / (|v|_1 + eps); ``L1-sqrt``: sqrt(v / (|v|_1 + eps)); ``L2``:
    v / sqrt(|v|_2^2 + eps^2); ``L2-Hys``: L2, clip at 0.2, L2 again (Lowe 2004).
    Row sums are matrix-vector products and ``einsum`` (no ``sum`` over a short last axis).
    """
    xp = get_array_module(blocks)
    ones = xp.ones(blocks.shape[-1], dtype=blocks.dtype)
    if method in ("L1", "L1-sqrt"):
        out = blocks / (xp.abs(blocks) @ ones + eps)[..., None]
        return xp.sqrt(out) if method == "L1-sqrt" else out
    if method in ("L2", "L2-Hys"):
        out = blocks / xp.sqrt(xp.einsum("...i,...i->...", blocks, blocks) + eps * eps)[..., None]
        if method == "L2-Hys":
            xp.minimum(out, 0.2, out=out)
            out /= xp.sqrt(xp.einsum("...i,...i->...", out, out) + eps * eps)[..., None]
        return out
    raise ConfigError(f"hog: block_norm must be one of {', '.join(BLOCK_NORMS)}, got {method!r}")


def _gather_blocks(hist, block, n_blocks, windowed: bool = False):
    """Cell histograms -> (N, nbr, nbc, b_row, b_col, O) overlapping blocks (stride one cell).

    ``hist`` is either (N, ncr, ncc, O) cell histograms or the (N, ncr, n_off_r, O, n_off_c,
    ncc) of :func:`_pooled_histograms`; from the latter, with ``windowed``, cell (i, j)
    of every block is taken as seen from the block's cell (i, j) (the Gaussian window's
    weights), otherwise from offset (0, 0). A loop over the cells of a block, not over
    blocks.
    """
    xp = get_array_module(hist)
    (b_row, b_col), (nbr, nbc) = block, n_blocks
    pooled = hist.ndim == 6
    orientations = hist.shape[3] if pooled else hist.shape[-1]
    out = xp.empty((hist.shape[0], nbr, nbc, b_row, b_col, orientations), dtype=hist.dtype)
    for i in range(b_row):
        for j in range(b_col):
            if not pooled:
                out[:, :, :, i, j] = hist[:, i:i + nbr, j:j + nbc]
            else:
                oi, oj = (i, j) if windowed else (0, 0)
                out[:, :, :, i, j] = hist[:, i:i + nbr, oi, :, oj, j:j + nbc].transpose(0, 1, 3, 2)
    return out


# -- visualisation ---------------------------------------------------------------------------

def _line(r0: int, c0: int, r1: int, c1: int):
    """Pixels of the segment (r0, c0)-(r1, c1) by Bresenham's algorithm (host ints)."""
    dr, dc = abs(r1 - r0), abs(c1 - c0)
    sr = 1 if r1 - r0 > 0 else -1
    sc = 1 if c1 - c0 > 0 else -1
    steep = dr > dc
    r, c = r0, c0
    if steep:
        r, c, dr, dc, sr, sc = c, r, dc, dr, sc, sr
    d = 2 * dr - dc
    rr, cc = [], []
    for _ in range(dc):
        rr.append(c if steep else r)
        cc.append(r if steep else c)
        while d >= 0:
            r += sr
            d -= 2 * dc
        c += sc
        d += 2 * dr
    rr.append(r1)
    cc.append(c1)
    return np.array(rr, dtype=np.int64), np.array(cc, dtype=np.int64)


def _hog_image(hist, image_hw, cell, orientations: int, dtype):
    """Draw each cell's histogram as line segments, one per orientation bin.

    Each segment is centred on the cell, perpendicular to the middle of its bin's angle
    range, with intensity equal to the bin's (unnormalised) value, as scikit-image draws.

    Returns
    -------
    xp array of shape (N, H, W)
    """
    xp = get_array_module(hist)
    n, ncr, ncc, _ = hist.shape
    c_row, c_col = cell
    radius = min(c_row, c_col) // 2 - 1
    mid = np.pi * (np.arange(orientations) + 0.5) / orientations
    image = xp.zeros((n,) + tuple(image_hw), dtype=dtype)
    cr, cc = np.meshgrid(np.arange(ncr), np.arange(ncc), indexing="ij")
    cr, cc = cr.ravel(), cc.ravel()
    for o in range(orientations):  # segments of one orientation never overlap each other
        dr, dc = radius * math.sin(mid[o]), radius * math.cos(mid[o])
        centre_r = cr * c_row + c_row // 2
        centre_c = cc * c_col + c_col // 2
        # the segment's shape depends only on the integer rounding of its end points
        seg = {}
        rows_all, cols_all, cell_all = [], [], []
        for k in range(len(cr)):
            ends = (int(centre_r[k] - dc), int(centre_c[k] + dr), int(centre_r[k] + dc), int(centre_c[k] - dr))
            rel = (ends[0] - centre_r[k], ends[1] - centre_c[k], ends[2] - centre_r[k], ends[3] - centre_c[k])
            if rel not in seg:
                seg[rel] = _line(*rel)
            lr, lc = seg[rel]
            rows_all.append(lr + centre_r[k])
            cols_all.append(lc + centre_c[k])
            cell_all.append(np.full(len(lr), k))
        rows = to_device(np.concatenate(rows_all), xp)
        cols = to_device(np.concatenate(cols_all), xp)
        cells = to_device(np.concatenate(cell_all), xp)
        values = hist[:, :, :, o].reshape(n, ncr * ncc)[:, cells].astype(dtype)
        image[:, rows, cols] += values
    return image


# -- the function --------------------------------------------------------------------------

def hog(images, orientations=9, pixels_per_cell=(8, 8), cells_per_block=(3, 3),
        block_norm="L2-Hys", visualize=False, transform_sqrt=False, feature_vector=True, *,
        channel_axis=None, block_window=False, interpolation="none"):
    """Histogram of oriented gradients of N images at once (Dalal & Triggs 2005).

    Cost: O(N H W) for gradients and votes (one bincount), plus
    O(N n_blocks b_row b_col orientations) for the block normalisation. With
    ``block_window`` or ``interpolation="trilinear"``: O(N H W orientations b), b the
    block width in cells (one matrix-vector product per cell row and block offset over
    dense orientation maps, then one matrix product per image along the columns), with
    the weights built once per geometry; memory stays a few times one chunk's maps
    whatever N.

    Parameters
    ----------
    images : xp array of shape (N, H, W), or (N, H, W, C) with ``channel_axis=-1``
        float32 and float64 are kept; integer images are converted to float32 (values
        unchanged). Computed on the array's device (numpy, cupy or the stand-in).
    orientations : int, default=9
        Number of orientation bins over the unsigned range 0-180 degrees (the paper's 9
        bins of 20 degrees).
    pixels_per_cell : (int, int), default=(8, 8)
        Cell size (rows, cols) in pixels; the paper's 8 x 8 for 64 x 128 windows.
    cells_per_block : (int, int), default=(3, 3)
        Cells per normalisation block; scikit-image's default. The paper uses (2, 2).
    block_norm : {"L1", "L1-sqrt", "L2", "L2-Hys"}, default="L2-Hys"
        Block normalisation, v the block's cell histograms concatenated: ``L1``
        v / (|v|_1 + eps); ``L1-sqrt`` sqrt(v / (|v|_1 + eps)); ``L2``
        v / sqrt(|v|_2^2 + eps^2); ``L2-Hys`` L2, then clip at 0.2 and L2 again (the
        paper's choice, after Lowe 2004). eps = 1e-5.
    visualize : bool, default=False
        Also return ``hog_image``: each cell's histogram (before any block window and
        normalisation) drawn as line segments perpendicular to its bins' middle angles, as
        scikit-image's ``visualize=True``.
    transform_sqrt : bool, default=False
        Square-root gamma compression of each channel before the gradients (the paper's
        "sqrt gamma"). Images must not be negative.
    feature_vector : bool, default=True
        Return (N, D) vectors; otherwise (N, n_blocks_row, n_blocks_col, b_row, b_col,
        orientations).
    channel_axis : {None, -1}, default=None
        None: grey images (N, H, W) (an (N, H, W, 1) array is accepted too). -1: colour
        (N, H, W, C), each pixel using the channel of largest gradient magnitude.
    block_window : bool, default=False
        Weight votes by the paper's Gaussian window over each block (sigma = 0.5 x block
        width). Not in scikit-image.
    interpolation : {"none", "trilinear"}, default="none"
        ``"trilinear"``: split each vote between the two nearest orientation bin centres
        and the 2 x 2 nearest cell centres, as the paper. Not in scikit-image.

    Returns
    -------
    features : xp array of shape (N, D) or (N, n_blocks_row, n_blocks_col, b_row, b_col, orientations)
        D = n_blocks_row n_blocks_col b_row b_col orientations, n_blocks = H // cell - block + 1.
    hog_image : xp array of shape (N, H, W), only with ``visualize=True``

    Raises
    ------
    DataError
        Images of the wrong shape, negative values with ``transform_sqrt``, or images
        smaller than one block (the message names the minimum size).
    ConfigError
        An invalid parameter.

    Notes
    -----
    With the defaults this matches ``skimage.feature.hog`` on the same settings (tested to
    1e-4, float32 and float64). Departures from the paper, as in scikit-image: 3 x 3-cell
    blocks by default (paper: 2 x 2), no Gaussian block window (``block_window``), votes
    to one cell and bin (``interpolation="trilinear"`` for the paper's). With
    ``interpolation="trilinear"`` a vote for a cell beyond the image border is dropped.

    References
    ----------
    Dalal, N. & Triggs, B. (2005). Histograms of oriented gradients for human detection.
    CVPR. :DOI:`10.1109/CVPR.2005.177`

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).random((2, 64, 128), dtype=np.float32)
    >>> hog(x, cells_per_block=(2, 2)).shape
    (2, 3780)
    """
    orientations, cell, block = _check_params(orientations, pixels_per_cell, cells_per_block,
                                              block_norm, interpolation)
    xp = get_array_module(images)
    if channel_axis not in (None, -1, 3):
        raise ConfigError(f"hog: channel_axis must be None (grey) or -1 (last axis), got {channel_axis!r}")
    multichannel = channel_axis is not None
    if images.ndim == 4 and not multichannel and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != (4 if multichannel else 3):
        want = "N x H x W x C with channel_axis=-1" if multichannel else "N x H x W (or pass channel_axis=-1 for colour)"
        raise DataError(f"hog: images must be {want}, got shape {tuple(images.shape)}")
    if len(images) == 0:
        raise DataError("hog: got no images (N = 0)")
    dtype = np.dtype(images.dtype)
    if dtype.kind not in "uif" or dtype.itemsize > 8:
        raise DataError(f"hog: images must be numeric, got {images.dtype}")
    img = images
    out_dtype = dtype if dtype in (np.dtype(np.float32), np.dtype(np.float64)) else np.dtype(FLOAT)
    # 8-bit images take the lookup-table path (same numbers, fewer passes over the pixels)
    lookup = dtype == np.uint8 and not transform_sqrt and interpolation == "none"
    shape = hog_output_shape(img.shape[1:3], orientations, cell, block)
    if transform_sqrt and bool((img < 0).any()):
        raise DataError("hog: transform_sqrt needs non-negative images, got negative values")
    n, h, w = img.shape[:3]
    n_cells = (h // cell[0], w // cell[1])
    # Images go through in chunks that keep the per-pixel temporaries in the CPU cache
    # (on a GPU, in chunks large enough to fill it); each stage is batched over the chunk.
    # With the paper's options the orientation maps (orientations + 2 values per pixel)
    # come on top: half the pixels per chunk.
    pooled_path = block_window or interpolation != "none"
    per_image = h * w * (img.shape[3] if multichannel else 1)
    chunk_pixels = (_GPU_CHUNK_PIXELS if xp is not np else _CPU_CHUNK_PIXELS) // (2 if pooled_path else 1)
    chunk = max(1, chunk_pixels // per_image)
    features = xp.empty((n, int(np.prod(shape))), dtype=out_dtype)
    hists = xp.empty((n,) + n_cells + (orientations,), dtype=out_dtype) if visualize else None
    for start in range(0, n, chunk):
        x = img[start:start + chunk]
        if lookup:
            # 2-3. 8-bit images: gradient magnitude and bin from lookup tables
            magnitude, o_votes = _uint8_votes(x, n_cells, cell, orientations, multichannel)
        else:
            # 1. gamma compression
            if x.dtype != out_dtype:
                x = x.astype(out_dtype)
                if transform_sqrt:
                    xp.sqrt(x, out=x)   # our own copy: in place
            elif transform_sqrt:
                x = xp.sqrt(x)
            # 2. gradients, then only the pixels of whole cells
            g_row, g_col = _gradients(x, multichannel)
            g_row = g_row[:, :n_cells[0] * cell[0], :n_cells[1] * cell[1]]
            g_col = g_col[:, :n_cells[0] * cell[0], :n_cells[1] * cell[1]]
            # 3. orientation votes into cell histograms
            magnitude = g_row * g_row
            magnitude += g_col * g_col
            xp.sqrt(magnitude, out=magnitude)
            o_votes = _orientation_votes(g_row, g_col, orientations, interpolation)
        if pooled_path:
            # 3'. the paper's options: dense orientation maps, pooled by separable weights
            # (with the window and visualize, also the cell histograms without it)
            blocks_for = [block if block_window else None] + ([None] if visualize and block_window else [])
            pooled = _pooled_histograms(magnitude, o_votes, orientations, cell, n_cells, interpolation, blocks_for)
            pooled = [p.astype(out_dtype, copy=False) for p in pooled]
            hist = pooled[0]
        else:
            pooled = None
            hist = _cell_histograms(magnitude, o_votes, orientations, cell, n_cells).astype(out_dtype)
        blocks = _gather_blocks(hist, block, shape[:2], windowed=block_window)
        # 4. block normalisation, 5. one vector per image
        m = len(x)
        features[start:start + m] = _normalize_blocks(blocks.reshape(m, -1, block[0] * block[1] * orientations),
                                                      block_norm).reshape(m, -1)
        if visualize:  # the cell histograms without the window
            hists[start:start + m] = hist if pooled is None else _pooled_cells(pooled[-1])
    if not feature_vector:
        features = features.reshape((n,) + shape)
    if visualize:
        return features, _hog_image(hists, (h, w), cell, orientations, out_dtype)
    return features


class HOG(TransformerMixin, BaseEstimator):
    """scikit-learn transformer: images -> HOG feature vectors (see :func:`hog`).

    Parameters are :func:`hog`'s, stored unchanged. ``fit`` only checks them (HOG learns
    nothing); ``transform`` takes (N, H, W) or (N, H, W, C) images, numpy or device
    arrays, and returns (N, D) on the same device.

    Attributes
    ----------
    n_features_out_ : int
        D, set by ``fit`` from the images' size.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> x = np.random.default_rng(0).random((4, 32, 32))
    >>> make_pipeline(HOG(cells_per_block=(2, 2)), StandardScaler()).fit_transform(x).shape
    (4, 324)
    """

    def __init__(self, orientations=9, pixels_per_cell=(8, 8), cells_per_block=(3, 3),
                 block_norm="L2-Hys", transform_sqrt=False, channel_axis=None,
                 block_window=False, interpolation="none"):
        self.orientations = orientations
        self.pixels_per_cell = pixels_per_cell
        self.cells_per_block = cells_per_block
        self.block_norm = block_norm
        self.transform_sqrt = transform_sqrt
        self.channel_axis = channel_axis
        self.block_window = block_window
        self.interpolation = interpolation

    def _kwargs(self):
        return dict(orientations=self.orientations, pixels_per_cell=self.pixels_per_cell,
                    cells_per_block=self.cells_per_block, block_norm=self.block_norm,
                    transform_sqrt=self.transform_sqrt, channel_axis=self.channel_axis,
                    block_window=self.block_window, interpolation=self.interpolation)

    def fit(self, X, y=None):
        """Check the parameters against the images' size; returns self."""
        _check_params(self.orientations, self.pixels_per_cell, self.cells_per_block,
                      self.block_norm, self.interpolation)
        shape = hog_output_shape(X.shape[1:3], self.orientations, self.pixels_per_cell, self.cells_per_block)
        self.n_features_out_ = int(np.prod(shape))
        return self

    def transform(self, X):
        """HOG vectors of images X: (N, H, W[, C]) -> (N, D), on X's device."""
        if not is_device_array(X):
            X = np.asarray(X)
        return hog(X, feature_vector=True, **self._kwargs())
