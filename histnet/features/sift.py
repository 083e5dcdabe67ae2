"""Dense SIFT descriptors for a batch of images, on numpy or cupy.

This reproduces the descriptor of Lowe (2004), computed densely on a regular grid as in
VLFeat's ``vl_dsift`` / ``vl_phow`` (Vedaldi & Fulkerson 2010; the PHOW recipe of Bosch,
Zisserman & Munoz 2007): every frame is a 4 x 4 grid of spatial bins of ``bin_size``
pixels, each bin an 8-bin histogram of gradient orientation, so a descriptor has
4 x 4 x 8 = 128 values. It is the local feature under the ILSVRC 2010 (NEC/UIUC, LLC) and
2011 (XRCE, Fisher vectors) winners.

The computation, for N images at once:

1. (PHOW, when ``sizes`` is given) smooth the image for each bin size with a Gaussian of
   sigma = sqrt((size / magnif)**2 - 0.25), magnif = 6, as ``vl_phow`` does.
2. Gradients by central differences (one-sided at the border), magnitude and angle.
3. Each pixel votes its magnitude into the two nearest of 8 orientation bins (linear
   interpolation in angle), giving 8 orientation maps.
4. Spatial binning: a bin collects the orientation maps through a triangular (bilinear)
   kernel of half-width ``bin_size`` centred on the bin. The kernel is separable: it is
   applied along the rows, only at the rows the grid's bins sit on, then along the
   columns, only at the grid's columns, each as a loop over the kernel's 2 bin_size - 1
   taps of strided slices (:func:`_pool_axis`). With the flat window and a step that is a
   multiple of the bin size, all bins lie on one lattice of spacing ``bin_size``, which is
   pooled once and then gathered into frames.
5. Window: ``"gaussian"`` weights every pixel by a Gaussian of sigma = 2 bins centred on
   the frame (Lowe's window, and OpenCV's); ``"flat"`` is VLFeat's fast approximation
   that multiplies each bin by the mean of that Gaussian over the bin instead.
6. Contrast threshold on the norm before normalisation (VLFeat's ``norm``), then the SIFT
   normalisation: L2, clip at 0.2, L2 again; optionally RootSIFT (Arandjelovic &
   Zisserman 2012): L1-normalise and take the square root.

Conventions: orientations are measured counter-clockwise with the y axis pointing *up*
(as OpenCV), bin 0 centred on angle 0 (gradient pointing right); a descriptor is laid
out (bin row top to bottom, bin column left to right, orientation), which is OpenCV's
layout. Frames of one bin size are placed so that the first bin centre of the first frame
is at pixel 0 (VLFeat's bounds); with several sizes the frame centres of all sizes are
aligned as in ``vl_phow`` (offset floor(1.5 (max size - size))).

Agreement with OpenCV (``cv2.SIFT.compute`` on the same keypoints, keypoint size =
bin_size / 1.5 since OpenCV's bin is 1.5 x the size, angle 0; our input blurred by sigma
1.52 as OpenCV's base image is), mean cosine similarity of the 729 descriptors of a 224 x 224
image with 4-pixel bins: 0.999 for ``skimage.data.camera()`` with ``window="gaussian"``
(``benchmarks/speed_sift.py``), 0.997 with the flat window; 0.996 / 0.993 on the smooth
random images of ``tests/test_sift.py`` (which asserts > 0.99). The remainder is OpenCV's
rounding of descriptors to bytes and of the keypoint to a whole pixel. Without the blur the
cosine drops to about 0.89: OpenCV never describes the raw image.

Left out: keypoint detection and orientation assignment (frames are upright, as in dense
SIFT for classification); VLFeat's uint8 descriptor quantisation (descriptors stay float);
VLFeat's "continuity" padding of orientation maps is reproduced, its transposed MATLAB
descriptor layout is not.

References
----------
Lowe, D. G. (2004). Distinctive image features from scale-invariant keypoints. IJCV 60, 91-110.
:DOI:`10.1023/B:VISI.0000029664.99615.94`
Vedaldi, A. & Fulkerson, B. (2010). VLFeat: an open and portable library of computer vision
algorithms. ACM Multimedia. :DOI:`10.1145/1873951.1874249`
Bosch, A., Zisserman, A. & Munoz, X. (2007). Image classification using random forests and
ferns. ICCV. :DOI:`10.1109/ICCV.2007.4409066`
Arandjelovic, R. & Zisserman, A. (2012). Three things everyone should know to improve object
retrieval. CVPR. :DOI:`10.1109/CVPR.2012.6248018`
van de Sande, K., Gevers, T. & Snoek, C. (2010). Evaluating color descriptors for object and
scene recognition. TPAMI 32(9). :DOI:`10.1109/TPAMI.2009.154`
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple, Optional, Sequence

import numpy as np

from ..backend import FLOAT, get_array_module, to_device
from ..errors import ConfigError, DataError
from ._angles import fast_path, signed_angle

__all__ = ["DenseSift", "dense_sift", "sift_frames", "N_BINS", "N_ORIENTATIONS"]

N_BINS = 4
"""Spatial bins along each axis of a descriptor (4 x 4)."""
N_ORIENTATIONS = 8
"""Orientation bins per spatial bin."""
WINDOW_SIZE = 2.0
"""Sigma of the Gaussian window, in bins (Lowe 2004: half the descriptor width)."""
MAGNIF = 6.0
"""PHOW: bin size / smoothing sigma (``vl_phow``'s ``Magnif``)."""
COLORS = ("grey", "opponent", "hsv")
WINDOWS = ("flat", "gaussian")
_CPU_CHUNK_PIXELS = 1 << 17   # image pixels per chunk on the CPU: the orientation maps stay in cache
_GPU_CHUNK_PIXELS = 1 << 22   # on a GPU: enough to fill it (the orientation maps are 128 MB)


class DenseSift(NamedTuple):
    """Dense SIFT descriptors of a batch of images and the frames they were taken at.

    Attributes
    ----------
    descriptors : xp array of shape (N, P, 128), float32
        (N, P, 384) for colour: the three channels' descriptors side by side.
    frames : numpy array of shape (P, 3), float32
        One row per frame, ``(y_center, x_center, bin_size)`` in pixels; the same for
        every image. Frames of all sizes are concatenated, smallest size first.
    """

    descriptors: Any
    frames: np.ndarray


# -- geometry --------------------------------------------------------------------------------

def _frame_offsets(sizes: Sequence[int]) -> list[int]:
    """First-bin-centre offset per size so that frame centres align across sizes (vl_phow)."""
    largest = max(sizes)
    return [int(math.floor(1.5 * (largest - s))) for s in sizes]


def _n_frames(length: int, offset: int, bin_size: int, step: int) -> int:
    """Frames along one axis: first bin centre at offset + k*step, last bin centre inside."""
    span = (N_BINS - 1) * bin_size
    return max(0, (length - 1 - span - offset) // step + 1)


def sift_frames(height: int, width: int, bin_size: int = 4, step: int = 8, sizes=None) -> np.ndarray:
    """The frames :func:`dense_sift` uses for images of ``height`` x ``width``.

    Returns
    -------
    numpy array of shape (P, 3), float32
        ``(y_center, x_center, bin_size)`` per frame, sizes in order, rows then columns.
    """
    sizes = _check_sizes(bin_size, sizes)
    out = []
    for s, off in zip(sizes, _frame_offsets(sizes)):
        fy, fx = _n_frames(height, off, s, step), _n_frames(width, off, s, step)
        cy = off + step * np.arange(fy) + 1.5 * s
        cx = off + step * np.arange(fx) + 1.5 * s
        yy, xx = np.meshgrid(cy, cx, indexing="ij")
        out.append(np.stack([yy.ravel(), xx.ravel(), np.full(yy.size, s)], axis=1))
    return np.concatenate(out).astype(np.float32)


def _axis_taps(bin_size: int, window: str) -> np.ndarray:
    """Taps of the spatial-bin kernel along one axis, one row per bin of the 4.

    Row ``j`` is the triangular (bilinear) kernel ``1 - |u| / bin_size`` for
    u = -(bin_size - 1) .. bin_size - 1, times the window along this axis: a Gaussian of
    sigma ``WINDOW_SIZE * bin_size`` about the frame centre for ``"gaussian"``, or, for
    ``"flat"``, that Gaussian's mean over the kernel's taps (VLFeat's fast approximation).

    Returns
    -------
    numpy array of shape (4, 2 * bin_size - 1), float64
    """
    b = bin_size
    u = np.arange(-(b - 1), b, dtype=np.float64)
    tri = 1.0 - np.abs(u) / b
    delta = b * (np.arange(N_BINS) - 0.5 * (N_BINS - 1))          # bin centre - frame centre
    gauss = np.exp(-0.5 * ((u[None, :] + delta[:, None]) / (WINDOW_SIZE * b)) ** 2)  # (4, U)
    if window == "gaussian":
        return tri[None, :] * gauss
    return tri[None, :] * gauss.mean(axis=1, keepdims=True)


def _pool_axis(x, axis: int, start: int, count: int, stride: int, taps: np.ndarray):
    """Weighted sums of ``x`` along ``axis`` at ``count`` centres ``start + k * stride``.

    ``out[k] = sum_u taps[u] x[start + k * stride + u - (len(taps) - 1) // 2]``: a 1-d
    convolution evaluated only where the grid needs it, as a loop over the kernel's taps
    (strided slices, never a loop over pixels). ``x`` must be padded so every index is in
    range.
    """
    half = (len(taps) - 1) // 2
    out = None
    for i, tap in enumerate(taps):
        first = start + i - half
        index = [slice(None)] * x.ndim
        index[axis] = slice(first, first + (count - 1) * stride + 1, stride)
        term = x[tuple(index)] * FLOAT(tap)
        if out is None:
            out = term
        else:
            out += term
    return out


def _pad_edge(x, axis: int, pad: int):
    """Replicate the first and last slices of ``axis`` ``pad`` times (VLFeat's continuity)."""
    xp = get_array_module(x)
    if pad == 0:
        return x
    widths = [(0, 0)] * x.ndim
    widths[axis] = (pad, pad)
    return xp.pad(x, widths, mode="edge")


# -- image preparation ----------------------------------------------------------------------

def _to_float_channels(images, color: str):
    """uint8 or float (N, H, W[, C]) -> float32 (N, K, H, W) channels for ``color``.

    uint8 is scaled to [0, 1]; float images are taken as they are (expected in [0, 1],
    the scale the contrast threshold is set for).
    """
    xp = get_array_module(images)
    if images.ndim not in (3, 4):
        raise DataError(f"dense_sift: images must be N x H x W or N x H x W x C, got shape {tuple(images.shape)}")
    kind = np.dtype(images.dtype).kind
    if kind == "u" and np.dtype(images.dtype) == np.uint8:
        x = images.astype(FLOAT) * FLOAT(1.0 / 255.0)
    elif kind == "f":
        x = images.astype(FLOAT, copy=False)
    else:
        raise DataError(f"dense_sift: images must be uint8 or float, got {images.dtype}")
    if x.ndim == 3:
        x = x[..., None]
    c = x.shape[-1]
    if c not in (1, 3):
        raise DataError(f"dense_sift: images must have 1 or 3 channels, got {c}")
    if color == "grey":
        if c == 3:  # ITU-R BT.601 luma, as MATLAB's rgb2gray used by vl_phow
            x = x[..., 0] * FLOAT(0.2989) + x[..., 1] * FLOAT(0.5870) + x[..., 2] * FLOAT(0.1140)
        else:
            x = x[..., 0]
        return x[:, None]
    if c != 3:
        raise DataError(f"dense_sift: color={color!r} needs 3-channel images, got {c} channel(s)")
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    if color == "opponent":
        # vl_phow's opponent space: intensity first (it carries the contrast threshold),
        # and a little intensity added to the two colour channels for grey regions.
        mu = r * FLOAT(0.3) + g * FLOAT(0.59) + b * FLOAT(0.11)
        alpha = FLOAT(0.01)
        o1 = (r - g) * FLOAT(1 / math.sqrt(2)) + mu * alpha
        o2 = (r + g - b * FLOAT(2)) * FLOAT(1 / math.sqrt(6)) + mu * alpha
        return xp.stack([mu, o1, o2], axis=1)
    # HSV (hue in [0, 1), saturation, value), as MATLAB's rgb2hsv.
    v = xp.maximum(xp.maximum(r, g), b)
    mn = xp.minimum(xp.minimum(r, g), b)
    d = v - mn
    safe_d = xp.where(d > 0, d, FLOAT(1))
    h = xp.where(v == r, (g - b) / safe_d, xp.where(v == g, (b - r) / safe_d + FLOAT(2), (r - g) / safe_d + FLOAT(4)))
    h = xp.where(d > 0, (h / FLOAT(6)) % FLOAT(1), FLOAT(0))
    s = xp.where(v > 0, d / xp.where(v > 0, v, FLOAT(1)), FLOAT(0))
    return xp.stack([h.astype(FLOAT), s.astype(FLOAT), v], axis=1)


def _gaussian_smooth(x, sigma: float):
    """Separable Gaussian blur of (..., H, W) with edge replication, radius ceil(4 sigma)."""
    xp = get_array_module(x)
    if sigma <= 0:
        return x
    radius = max(1, int(math.ceil(4.0 * sigma)))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps = (taps / taps.sum()).astype(np.float32)
    h, w = x.shape[-2:]
    pad = [(0, 0)] * (x.ndim - 2)
    xpad = xp.pad(x, pad + [(radius, radius), (0, 0)], mode="edge")
    out = xpad[..., 0:h, :] * FLOAT(taps[0])
    for k in range(1, 2 * radius + 1):
        out += xpad[..., k:k + h, :] * FLOAT(taps[k])
    xpad = xp.pad(out, pad + [(0, 0), (radius, radius)], mode="edge")
    out = xpad[..., :, 0:w] * FLOAT(taps[0])
    for k in range(1, 2 * radius + 1):
        out += xpad[..., :, k:k + w] * FLOAT(taps[k])
    return out


def _orientation_maps(img, pad: int, out=None):
    """Gradient orientation maps of (M, H, W) float32 images, padded by ``pad`` rows.

    Gradients are central differences halved (one-sided at the border), as VLFeat's; the
    angle is atan2(-gy, gx) (y up); each pixel's magnitude is split linearly between the
    two orientation bins around its angle. The two votes of every pixel are written with
    one scatter each into a zeroed (M, H + 2 pad, W, 8) array (orientation last keeps the
    writes of a pixel together); the ``pad`` rows above and below repeat the border rows.

    Parameters
    ----------
    img : xp array of shape (M, H, W), float32
    pad : int
    out : xp array of shape (>= M, H + 2 pad, W, 8), float32, optional
        A buffer to reuse (its first M entries are overwritten); reusing one buffer across
        batches avoids the page faults of a fresh allocation each time.

    Returns
    -------
    xp array of shape (M, H + 2 * pad, W, 8), float32
    """
    xp = get_array_module(img)
    m, h, w = img.shape
    gx = xp.empty_like(img)
    gy = xp.empty_like(img)
    gx[..., 1:-1] = img[..., 2:] - img[..., :-2]
    gx[..., 1:-1] *= FLOAT(0.5)
    gx[..., 0] = img[..., 1] - img[..., 0]
    gx[..., -1] = img[..., -1] - img[..., -2]
    gy[..., 1:-1, :] = img[..., 2:, :] - img[..., :-2, :]
    gy[..., 1:-1, :] *= FLOAT(0.5)
    gy[..., 0, :] = img[..., 1, :] - img[..., 0, :]
    gy[..., -1, :] = img[..., -1, :] - img[..., -2, :]
    t = signed_angle(-gy, gx) if fast_path(gx) else xp.arctan2(-gy, gx)  # ._angles: no scalar arctan2
    t *= FLOAT(N_ORIENTATIONS / (2 * math.pi))                  # in [-4, 4]
    t += FLOAT(N_ORIENTATIONS)                                  # in [4, 12]: floor = truncation
    gx *= gx
    gy *= gy
    gx += gy
    mag = xp.sqrt(gx, out=gx)
    lo = xp.floor(t)
    t -= lo
    t *= mag
    w1 = t                                                      # mag * fraction, to bin o0 + 1
    w0 = mag - w1                                               # mag * (1 - fraction), to bin o0
    o0 = lo.astype(xp.int64)
    o0 &= N_ORIENTATIONS - 1
    if out is None:
        out = xp.zeros((m, h + 2 * pad, w, N_ORIENTATIONS), dtype=FLOAT)
    else:
        out = out[:m]
        out.fill(0)
    index = _vote_index(xp, m, h, w, pad)                       # (M, H, W) first cell of the pixel
    flat = out.reshape(-1)
    o0 += index
    flat[o0.ravel()] = w0.ravel()
    o0 -= index
    o0 += 1
    o0 &= N_ORIENTATIONS - 1
    o0 += index
    flat[o0.ravel()] = w1.ravel()
    if pad:
        out[:, :pad] = out[:, pad:pad + 1]
        out[:, pad + h:] = out[:, pad + h - 1:pad + h]
    return out


_INDEX_CACHE: dict = {}


def _vote_index(xp, m: int, h: int, w: int, pad: int):
    """Flat index of orientation 0 of every pixel in an (M, H + 2 pad, W, 8) array (cached)."""
    key = (xp.__name__, m, h, w, pad)
    if key not in _INDEX_CACHE:
        rows = np.arange(m)[:, None] * (h + 2 * pad) + pad + np.arange(h)[None, :]     # (M, H)
        index = (rows[:, :, None] * w + np.arange(w)) * N_ORIENTATIONS
        if len(_INDEX_CACHE) > 16:
            _INDEX_CACHE.clear()
        _INDEX_CACHE[key] = to_device(index.astype(np.int64), xp)
    return _INDEX_CACHE[key]


def _check_sizes(bin_size, sizes) -> list[int]:
    sizes = [bin_size] if sizes is None else list(sizes)
    if not sizes:
        raise ConfigError("dense_sift: sizes must list at least one bin size")
    for s in sizes:
        if int(s) != s or s < 1:
            raise ConfigError(f"dense_sift: bin sizes must be positive integers, got {s!r}")
    return [int(s) for s in sizes]


def _sift_normalize(d, contrast_threshold: float, root: bool, contrast_channel: int = 0):
    """SIFT normalisation of (M, K, P, 128) raw descriptors: L2, clip 0.2, L2; optional RootSIFT.

    Descriptors whose raw L2 norm in channel ``contrast_channel`` (of the K channels) is
    below ``contrast_threshold`` become zero in every channel. Squared norms by ``einsum``
    (no temporary, much faster than ``sum`` over a short last axis).
    """
    xp = get_array_module(d)
    eps = FLOAT(1e-12)
    norm = xp.sqrt(xp.einsum("...i,...i->...", d, d))[..., None]    # (M, K, P, 1)
    contrast = norm[:, contrast_channel:contrast_channel + 1]         # (M, 1, P, 1)
    d = d / (norm + eps)
    d = xp.minimum(d, FLOAT(0.2))
    d /= xp.sqrt(xp.einsum("...i,...i->...", d, d))[..., None] + eps
    if contrast_threshold > 0:
        d = xp.where(contrast < FLOAT(contrast_threshold), FLOAT(0), d)
    if root:
        d = xp.sqrt(d / (d @ xp.ones((d.shape[-1], 1), dtype=FLOAT) + eps))
    return d.astype(FLOAT, copy=False)


def dense_sift(images, bin_size: int = 4, step: int = 8, sizes: Optional[Sequence[int]] = None,
               window: str = "flat", contrast_threshold: float = 0.005, root: bool = False,
               color: str = "grey") -> DenseSift:
    """Dense SIFT descriptors on a regular grid, for a batch of images.

    Cost: O(N H W) for the gradients and orientation maps, plus
    O(N W 8 (2 bin_size - 1) R) for the row pass, R the grid's bin rows, and less for the
    column pass.

    Parameters
    ----------
    images : xp array of shape (N, H, W) or (N, H, W, C), uint8 or float
        uint8 is scaled to [0, 1]; float is used as given (the contrast threshold assumes
        [0, 1]). Computed on the array's device (numpy, cupy or the stand-in).
    bin_size : int, default=4
        Width of a spatial bin in pixels (a descriptor covers 4 x bin_size pixels square).
        Ignored when ``sizes`` is given.
    step : int, default=8
        Grid step between frames, pixels.
    sizes : list of int, default=None
        Several bin sizes (PHOW: ``[4, 6, 8, 10]``). Each size smooths the image by
        sigma = sqrt((size / 6)**2 - 0.25) first and frame centres align across sizes;
        the frames of all sizes are concatenated. Without ``sizes`` the image is not
        smoothed (``vl_dsift``).
    window : {"flat", "gaussian"}, default="flat"
        ``"gaussian"``: each pixel weighted by a Gaussian of sigma 2 bins about the frame
        centre (Lowe 2004). ``"flat"``: VLFeat's fast variant, each bin weighted by that
        Gaussian's mean over the bin.
    contrast_threshold : float, default=0.005
        Descriptors whose norm before normalisation is below this become zero (VLFeat
        PHOW's ``ContrastThreshold``); 0 keeps all.
    root : bool, default=False
        RootSIFT: L1-normalise the SIFT descriptor and take its square root, so that a
        Euclidean distance compares like the Hellinger kernel.
    color : {"grey", "opponent", "hsv"}, default="grey"
        ``"grey"``: luma of colour images. ``"opponent"``, ``"hsv"``: one descriptor per
        channel of that colour space (van de Sande et al. 2010; ``vl_phow``'s ``Color``),
        concatenated to 384 values; the contrast threshold uses the intensity channel
        (opponent's first, HSV's value).

    Returns
    -------
    DenseSift
        ``descriptors`` xp float32 (N, P, 128) or (N, P, 384); ``frames`` host numpy
        float32 (P, 3) of ``(y_center, x_center, bin_size)``.

    Raises
    ------
    DataError
        Images of the wrong shape or dtype, or smaller than one descriptor
        (3 * max(sizes) + 1 pixels on each side).
    ConfigError
        An invalid parameter.

    Notes
    -----
    Frames are upright (no orientation assignment) and the image is not upsampled or
    pre-smoothed beyond PHOW's per-size smoothing. With ``window="gaussian"`` the
    descriptor agrees with OpenCV's on the same keypoints to a mean cosine of 0.996-0.999
    (module docstring); that of VLFeat's fast mode is ``window="flat"``.
    """
    sizes_l = _check_sizes(bin_size, sizes)
    if int(step) != step or step < 1:
        raise ConfigError(f"dense_sift: step must be a positive integer, got {step!r}")
    if window not in WINDOWS:
        raise ConfigError(f"dense_sift: window must be one of {', '.join(WINDOWS)}, got {window!r}")
    if color not in COLORS:
        raise ConfigError(f"dense_sift: color must be one of {', '.join(COLORS)}, got {color!r}")
    if contrast_threshold < 0:
        raise ConfigError(f"dense_sift: contrast_threshold must be >= 0, got {contrast_threshold!r}")
    step = int(step)
    xp = get_array_module(images)
    chans = _to_float_channels(images, color)          # (N, K, H, W)
    n, k, h, w = chans.shape
    need = 3 * max(sizes_l) + 1
    if h < need or w < need:
        raise DataError(f"dense_sift: images are {h}x{w} pixels, smaller than one descriptor: "
                        f"bin size {max(sizes_l)} needs at least {need}x{need}")
    contrast_channel = {"grey": 0, "opponent": 0, "hsv": 2}[color]
    frames = sift_frames(h, w, step=step, sizes=sizes_l)
    n_desc = N_BINS * N_BINS * N_ORIENTATIONS
    out = xp.empty((n, len(frames), k * n_desc), dtype=FLOAT)
    chunk = max(1, (_GPU_CHUNK_PIXELS if xp is not np else _CPU_CHUNK_PIXELS) // (k * h * w))
    p0 = 0
    buffers: dict = {}  # one orientation-map buffer per bin size, reused by every chunk
    for s, off in zip(sizes_l, _frame_offsets(sizes_l)):
        fy, fx = _n_frames(h, off, s, step), _n_frames(w, off, s, step)
        taps = _axis_taps(s, window)
        pad = s - 1
        sigma = math.sqrt(max((s / MAGNIF) ** 2 - 0.25, 0.0)) if sizes is not None else 0.0
        # With the flat window and a step that is a multiple of the bin size, the bins of
        # all frames sit on one lattice of spacing bin_size: pool once on the lattice, then
        # pick each frame's 4 x 4 bins and apply the window's per-bin weights.
        lattice = window == "flat" and step % s == 0
        for start in range(0, n, chunk):  # image batches bound the memory, not a per-image loop
            x = chans[start:start + chunk].reshape(-1, h, w)               # (m*K, H, W)
            if sigma > 0:
                x = _gaussian_smooth(x, sigma)
            maps = _orientation_maps(x, pad, buffers.get(s))               # (m*K, H+2p, W, 8)
            buffers.setdefault(s, maps)  # the first chunk is the largest
            m = maps.shape[0]
            if lattice:
                every = step // s
                ky, kx = (fy - 1) * every + N_BINS, (fx - 1) * every + N_BINS
                tri = taps[0] / taps[0, s - 1]                             # unit-height triangle
                rows = _pad_edge(_pool_axis(maps, 1, pad + off, ky, s, tri), 2, pad)   # (m, ky, W+2p, 8)
                grid = _pool_axis(rows, 2, pad + off, kx, s, tri)                       # (m, ky, kx, 8)
                iy = to_device(every * np.arange(fy)[:, None] + np.arange(N_BINS), xp)   # (fy, 4)
                ix = to_device(every * np.arange(fx)[:, None] + np.arange(N_BINS), xp)   # (fx, 4)
                bins = grid[:, iy[:, :, None, None], ix[None, None, :, :]]               # (m, fy, 4, fx, 4, 8)
                weight = to_device((taps[:, s - 1][:, None] * taps[:, s - 1][None, :]).astype(np.float32), xp)
                raw = bins.transpose(0, 1, 3, 2, 4, 5) * weight[:, :, None]              # (m, fy, fx, 4, 4, 8)
            else:
                raw = xp.empty((m, fy, fx, N_BINS, N_BINS, N_ORIENTATIONS), dtype=FLOAT)
                for jy in range(N_BINS):  # a loop over the 4 bin rows and 4 bin columns
                    rows = _pad_edge(_pool_axis(maps, 1, pad + off + jy * s, fy, step, taps[jy]), 2, pad)
                    for jx in range(N_BINS):
                        raw[:, :, :, jy, jx] = _pool_axis(rows, 2, pad + off + jx * s, fx, step, taps[jx])
            raw = raw.reshape(-1, k, fy * fx, n_desc)                      # (m, K, P_s, 128)
            d = _sift_normalize(raw, contrast_threshold, root, contrast_channel)
            out[start:start + chunk, p0:p0 + fy * fx] = d.transpose(0, 2, 1, 3).reshape(-1, fy * fx, k * n_desc)
        p0 += fy * fx
    return DenseSift(out, frames)
