"""Data augmentation and test-time cropping for the CNNs (AlexNet, Krizhevsky et al. 2012).

Section 4.1 of the paper, "Data Augmentation":

1. **Translations and reflections**: random 224x224 patches (227 in practice) and
   their horizontal reflections from the 256x256 images; at test time "five 224x224
   patches (the four corner patches and the center patch) as well as their horizontal
   reflections (hence ten patches in all)", softmax predictions averaged. For 32-px
   CIFAR images the usual form is padding by 4 (reflect) and cropping back to 32.
2. **PCA colour noise**: to each image add ``[p1, p2, p3] [a1 l1, a2 l2, a3 l3]^T``,
   with p_i the eigenvectors of the 3x3 covariance of RGB pixel values over the training
   set and a_i ~ N(0, 0.1), drawn once per image. ``l_i`` is read as the standard
   deviation of the pixels along p_i (the square root of the eigenvalue), see
   :func:`pca_color_noise` for why.

Plus the pre-processing the paper describes in section 2 ("subtracting the mean
activity over the training set from each pixel"); here per channel, optionally
divided by the channel's standard deviation.

Every function works on a whole batch (N, H, W, C) with an ``rng`` passed in and no
loop over images or pixels; the array functions take numpy or device arrays
(``xp = get_array_module(images)``). What is left out: the paper's resizing of
ILSVRC images to 256 px on the short side (a loader's job).
"""

from __future__ import annotations

import numpy as np

from ..backend import get_array_module
from ..errors import ConfigError, DataError


def _check_nhwc(images, what):
    if images.ndim != 4:
        raise DataError(f"{what}: images must be N x H x W x C, got shape {tuple(images.shape)}")


def pad_images(images, pad: int, mode: str = "reflect"):
    """Pad H and W by ``pad`` on each side (``mode`` as ``numpy.pad``: reflect, constant, edge)."""
    if pad == 0:
        return images
    xp = get_array_module(images)
    return xp.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode=mode)


def random_crop(images, size: int, rng, pad: int = 0, pad_mode: str = "reflect"):
    """One random ``size`` x ``size`` crop per image, after optional padding.

    Parameters
    ----------
    images : array (N, H, W, C)
    size : int
        Crop side (227 for AlexNet from 256-px images; 32 for CIFAR after ``pad=4``).
    rng : numpy.random.Generator
        Host generator for the offsets.
    pad : int, default=0
    pad_mode : str, default="reflect"

    Returns
    -------
    crops : array (N, size, size, C), same dtype and device as ``images``
    """
    _check_nhwc(images, "random_crop")
    xp = get_array_module(images)
    x = pad_images(images, pad, pad_mode)
    n, h, w, c = x.shape
    if size > h or size > w:
        raise ConfigError(f"random_crop: crop size {size} is larger than the (padded) image {h}x{w}")
    oy = rng.integers(0, h - size + 1, n)
    ox = rng.integers(0, w - size + 1, n)
    win = xp.lib.stride_tricks.sliding_window_view(x, (size, size), axis=(1, 2))  # (N, h', w', C, s, s)
    out = win[xp.arange(n), xp.asarray(oy), xp.asarray(ox)]  # (N, C, s, s)
    return xp.ascontiguousarray(out.transpose(0, 2, 3, 1))


def random_flip(images, rng, p: float = 0.5):
    """Mirror each image left-right with probability ``p`` (host ``rng``)."""
    _check_nhwc(images, "random_flip")
    xp = get_array_module(images)
    flip = xp.asarray(rng.random(len(images)) < p)
    return xp.where(flip[:, None, None, None], images[:, :, ::-1], images)


def center_crop(images, size: int):
    """The central ``size`` x ``size`` patch of every image."""
    _check_nhwc(images, "center_crop")
    _, h, w, _ = images.shape
    if size > h or size > w:
        raise ConfigError(f"center_crop: crop size {size} is larger than the image {h}x{w}")
    top, left = (h - size) // 2, (w - size) // 2
    return images[:, top:top + size, left:left + size, :]


def ten_crops(images, size: int):
    """The paper's ten test patches: four corners and the centre, and their mirrors.

    Returns
    -------
    crops : array (10, N, size, size, C)
        Order: top-left, top-right, bottom-left, bottom-right, centre, then the same
        five mirrored.
    """
    _check_nhwc(images, "ten_crops")
    xp = get_array_module(images)
    _, h, w, _ = images.shape
    if size > h or size > w:
        raise ConfigError(f"ten_crops: crop size {size} is larger than the image {h}x{w}")
    five = [images[:, :size, :size], images[:, :size, w - size:], images[:, h - size:, :size],
            images[:, h - size:, w - size:], center_crop(images, size)]
    five += [c[:, :, ::-1] for c in five]
    return xp.stack(five)


def channel_statistics(dataset, batch_size: int = 1024):
    """Per-channel mean, standard deviation and the (C, C) pixel covariance of a dataset.

    Streams ``dataset.batches`` and accumulates in float64, so memory does not grow
    with the data set. Pixel values are in the images' own units (0..255).

    Returns
    -------
    mean : ndarray (C,), std : ndarray (C,), cov : ndarray (C, C)
    """
    s = ss = None
    count = 0
    for images, _ in dataset.batches(batch_size):
        px = images.reshape(-1, images.shape[-1]).astype(np.float64)
        s = px.sum(0) if s is None else s + px.sum(0)
        ss = px.T @ px if ss is None else ss + px.T @ px
        count += len(px)
    if count == 0:
        raise DataError(f"{getattr(dataset, 'name', 'dataset')}: no images to compute channel statistics from")
    mean = s / count
    cov = ss / count - np.outer(mean, mean)
    return mean, np.sqrt(np.maximum(np.diag(cov), 1e-12)), cov


def pca_color_basis(cov):
    """Eigenvalues (3,) and eigenvectors (3, 3) (columns) of the RGB covariance.

    The eigenvalues are variances in the covariance's units; :func:`pca_color_noise`
    scales its shift by their square roots.
    """
    cov = np.asarray(cov, np.float64)
    if cov.shape != (3, 3):
        raise ConfigError(f"PCA colour noise needs RGB images (a 3x3 covariance), got {cov.shape}")
    vals, vecs = np.linalg.eigh(cov)
    return np.maximum(vals, 0.0), vecs


def pca_color_noise(images, eigvals, eigvecs, rng, std: float = 0.1):
    """Add the paper's PCA colour shift to float images (same units as the covariance).

    Each image n gets ``eigvecs @ (a_n * sqrt(eigvals))`` added to every pixel,
    a_n ~ N(0, std^2) (3 numbers per image, drawn from the host ``rng``).

    The scale. Krizhevsky et al. (2012, section 4.1) write the shift as
    ``[p1, p2, p3][a1 l1, a2 l2, a3 l3]^T`` with ``l_i`` "the eigenvalues" of the RGB
    covariance, without saying in which pixel units. Taken literally in 0-255 units the
    shift grows with the square of the units: on a ten-class ImageNet subset the first
    eigenvalue was 11,552, a shift of about 1,155 grey levels (std) against a pixel std of
    about 65, and ``alexnet-64`` sat at chance for nine epochs. histnet reads ``l_i`` as the
    standard deviation of the pixels along ``p_i`` (the square root of the eigenvalue), the
    reading of the widely used ImageNet training code, whose constants 0.2175, 0.0188 and
    0.0045 are exactly these square roots for ImageNet pixels scaled to [0, 1]. Then the
    shift is ``std`` (0.1) of the colour spread along each principal axis: about 5.5 grey
    levels along the first axis on ImageNet, the "few grey levels" of the paper's intent,
    and in the images' own units whatever they are (multiply the pixels by k and the shift
    is multiplied by k), so it is always a small fraction of the pixel standard deviation.

    Parameters
    ----------
    images : float array (N, H, W, 3)
    eigvals : (3,), eigvecs : (3, 3)
        From :func:`pca_color_basis`: eigenvalues (variances) of the covariance and its
        eigenvectors as columns.
    rng : numpy.random.Generator
    std : float, default=0.1
        Standard deviation of the coefficients a_i (the paper's 0.1).
    """
    _check_nhwc(images, "pca_color_noise")
    xp = get_array_module(images)
    a = rng.normal(0.0, std, size=(len(images), 3))
    scale = np.sqrt(np.maximum(np.asarray(eigvals, np.float64), 0.0))
    shift = (a * scale[None, :]) @ np.asarray(eigvecs).T  # (N, 3)
    return images + xp.asarray(shift.astype(images.dtype))[:, None, None, :]


def normalize(images, mean, std=None, dtype=np.float32):
    """``(images - mean) / std`` per channel as float (``std=None``: mean subtraction only)."""
    xp = get_array_module(images)
    x = images.astype(dtype)
    x -= xp.asarray(np.asarray(mean, dtype))
    if std is not None:
        x *= xp.asarray((1.0 / np.asarray(std, np.float64)).astype(dtype))
    return x
