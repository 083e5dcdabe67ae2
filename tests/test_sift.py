"""Dense SIFT: a direct per-pixel reference, geometric properties, normalisation, OpenCV, the stand-in."""

import ast
import inspect
import re

import numpy as np
import pytest

from histnet.backend import get_backend
from histnet.errors import ConfigError, DataError
from histnet.features.sift import DenseSift, dense_sift, sift_frames

fc = get_backend("cupy-standin").xp


def _smooth_random(n, h, w, seed=0):
    """Random images with some spatial correlation (box-blurred noise), uint8."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, h + 4, w + 4))
    x = sum(x[:, i:i + h, j:j + w] for i in range(5) for j in range(5)) / 25.0
    x = (x - x.min()) / (x.max() - x.min())
    return (x * 255).round().astype(np.uint8)


def _reference_descriptor(img, cy, cx, b, window):
    """The SIFT descriptor of one frame by explicit sums over pixels (slow, obviously right).

    img in [0, 1]; gradients as VLFeat (np.gradient: halved central differences, one-sided
    at the border); angle atan2(-gy, gx) split linearly between the two nearest of 8 bins;
    bin (jy, jx) centred at (cy + (jy - 1.5) b, cx + (jx - 1.5) b) collects each pixel with
    the bilinear weight (1 - |dy|/b)(1 - |dx|/b) times the window. Unnormalised.
    """
    gy, gx = np.gradient(img)
    mag = np.hypot(gx, gy)
    t = np.mod(np.arctan2(-gy, gx), 2 * np.pi) * 8 / (2 * np.pi)
    o0 = np.floor(t).astype(int) % 8
    f = t - np.floor(t)
    votes = np.zeros(img.shape + (8,))
    yy, xx = np.indices(img.shape)
    votes[yy, xx, o0] += mag * (1 - f)
    votes[yy, xx, (o0 + 1) % 8] += mag * f
    sigma = 2.0 * b
    desc = np.zeros((4, 4, 8))
    for jy in range(4):
        for jx in range(4):
            by, bx = cy + (jy - 1.5) * b, cx + (jx - 1.5) * b
            wy = np.clip(1 - np.abs(yy - by) / b, 0, None)
            wx = np.clip(1 - np.abs(xx - bx) / b, 0, None)
            if window == "gaussian":
                win = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma ** 2))
            else:  # the Gaussian's mean over each axis' taps, per bin
                u = np.arange(-(b - 1), b)
                win = (np.exp(-((u + (jy - 1.5) * b) ** 2) / (2 * sigma ** 2)).mean()
                       * np.exp(-((u + (jx - 1.5) * b) ** 2) / (2 * sigma ** 2)).mean())
            desc[jy, jx] = ((wy * wx * win)[..., None] * votes).sum(axis=(0, 1))
    return desc.ravel()


def _sift_normalise(d):
    d = d / np.linalg.norm(d)
    d = np.minimum(d, 0.2)
    return d / np.linalg.norm(d)


@pytest.mark.parametrize("window", ["flat", "gaussian"])
@pytest.mark.parametrize("bin_size,step", [(4, 8), (3, 5), (5, 4)])
def test_matches_a_direct_per_pixel_reference(window, bin_size, step):
    img = _smooth_random(1, 40, 44, seed=bin_size)[0]
    out = dense_sift(img[None], bin_size=bin_size, step=step, window=window, contrast_threshold=0)
    assert isinstance(out, DenseSift)
    assert out.descriptors.dtype == np.float32 and out.frames.dtype == np.float32
    b = bin_size
    checked = 0
    for p, (cy, cx, size) in enumerate(out.frames):
        assert size == b
        reach = 2.5 * b + 1  # the frame's support plus the gradient's one pixel
        if cy - reach < 0 or cx - reach < 0 or cy + reach > 39 or cx + reach > 43:
            continue  # the reference does not reproduce the border padding
        ref = _sift_normalise(_reference_descriptor(img / 255.0, cy, cx, b, window))
        np.testing.assert_allclose(out.descriptors[0, p], ref, atol=2e-5)
        checked += 1
    assert checked >= 2


def test_frames_geometry_and_phow_alignment():
    frames = sift_frames(37, 45, bin_size=4, step=8)
    # first bin centre at pixel 0, so frame centres at 6, 14, ...; last bin centre <= size-1
    assert frames[:, 0].min() == 6 and frames[:, 0].max() == 30 and frames[:, 1].max() == 38
    assert len(frames) == 4 * 5
    phow = sift_frames(64, 64, step=8, sizes=[4, 6, 8, 10])
    first = {s: phow[phow[:, 2] == s][0, :2].tolist() for s in (4, 6, 8, 10)}
    assert len({tuple(v) for v in first.values()}) == 1          # centres aligned across sizes
    out = dense_sift(_smooth_random(2, 64, 64), step=8, sizes=[4, 6, 8, 10])
    assert out.descriptors.shape == (2, len(phow), 128)
    np.testing.assert_array_equal(out.frames, phow)


def test_shift_by_one_step_moves_descriptors_by_one_grid_position():
    big = _smooth_random(1, 80, 64, seed=3)
    step = 8
    a = dense_sift(big[:, 0:64], step=step, contrast_threshold=0)
    b = dense_sift(big[:, step:step + 64], step=step, contrast_threshold=0)
    fa = a.frames.reshape(7, 7, 3)
    da, db = a.descriptors[0].reshape(7, 7, 128), b.descriptors[0].reshape(7, 7, 128)
    # row r of the shifted image is row r + 1 of the original; rows that touch a border differ
    interior = slice(1, 5)
    np.testing.assert_allclose(db[interior, 1:-1], da[1:6][interior, 1:-1], atol=1e-6)
    assert not np.allclose(db[interior], da[interior])
    assert fa[1, 0, 0] - fa[0, 0, 0] == step


def test_rotating_the_image_rotates_bins_and_moves_orientation_energy():
    img = _smooth_random(1, 37, 37, seed=4)
    for window in ("flat", "gaussian"):
        d = dense_sift(img, window=window, contrast_threshold=0)
        r = dense_sift(np.rot90(img, axes=(1, 2)).copy(), window=window, contrast_threshold=0)
        grid = {tuple(f[:2]): i for i, f in enumerate(d.frames)}
        for i, (cy, cx, _) in enumerate(d.frames):
            j = grid[(36 - cx, cy)]  # where rot90 (counter-clockwise) takes the frame centre
            old = d.descriptors[0, i].reshape(4, 4, 8)
            expected = np.roll(np.rot90(old, axes=(0, 1)), 2, axis=2)  # +90 degrees = +2 bins
            np.testing.assert_allclose(r.descriptors[0, j].reshape(4, 4, 8), expected, atol=1e-5)


def test_a_ramp_puts_all_energy_in_its_orientation_bin():
    yy, xx = np.mgrid[0:40, 0:40].astype(np.float64)
    for k in range(8):
        angle = k * np.pi / 4
        ramp = 0.5 + 0.01 * (np.cos(angle) * xx - np.sin(angle) * yy)  # gradient at angle, y up
        d = dense_sift(ramp[None], contrast_threshold=0).descriptors[0].reshape(-1, 4, 4, 8)
        energy = d.sum(axis=(0, 1, 2))
        assert energy.argmax() == k and energy[k] > 0.99 * energy.sum()


def test_flat_images_and_low_contrast_give_zero_descriptors():
    flat = np.full((2, 32, 32), 117, np.uint8)
    assert not dense_sift(flat, contrast_threshold=0).descriptors.any()
    faint = _smooth_random(1, 32, 32, seed=5).astype(np.float32) / 255.0 * 0.001
    assert not dense_sift(faint).descriptors.any()                   # norm below 0.005
    assert dense_sift(faint * 1000).descriptors.any()


def test_normalisation_and_rootsift():
    imgs = _smooth_random(2, 40, 40, seed=6)
    d = dense_sift(imgs, contrast_threshold=0).descriptors
    norms = np.linalg.norm(d, axis=-1)
    np.testing.assert_allclose(norms, 1, atol=1e-5)
    root = dense_sift(imgs, contrast_threshold=0, root=True).descriptors
    np.testing.assert_allclose(root, np.sqrt(d / d.sum(axis=-1, keepdims=True)), atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(root, axis=-1), 1, atol=1e-5)


def test_colour_descriptors():
    rng = np.random.default_rng(7)
    colour = np.stack([_smooth_random(2, 36, 36, seed=s) for s in (8, 9, 10)], axis=-1)
    for color in ("opponent", "hsv"):
        out = dense_sift(colour, color=color, contrast_threshold=0)
        assert out.descriptors.shape == (2, 9, 384)
    grey = np.repeat(_smooth_random(1, 36, 36, seed=11)[..., None], 3, axis=-1)
    opp = dense_sift(grey, color="opponent", contrast_threshold=0).descriptors
    # on a grey image the opponent intensity channel is the image itself
    np.testing.assert_allclose(opp[..., :128], dense_sift(grey[..., 0], contrast_threshold=0).descriptors, atol=1e-4)
    assert dense_sift(colour).descriptors.shape == (2, 9, 128)      # grey from colour
    assert rng is not None


@pytest.mark.parametrize("kw", [
    {}, {"window": "gaussian", "step": 5, "bin_size": 3}, {"sizes": [4, 6]}, {"root": True},
    {"color": "opponent"}, {"color": "hsv", "window": "gaussian"},
])
def test_cupy_standin_matches_numpy(kw):
    imgs = np.stack([_smooth_random(2, 40, 40, seed=s) for s in (12, 13, 14)], axis=-1)
    ours = dense_sift(imgs, **kw)
    dev = dense_sift(fc.asarray(imgs), **kw)
    assert type(dev.descriptors).__module__ == "histnet.standin.arrays"
    assert isinstance(dev.frames, np.ndarray)
    np.testing.assert_allclose(fc.asnumpy(dev.descriptors), ours.descriptors, atol=1e-6)
    np.testing.assert_array_equal(dev.frames, ours.frames)


def test_agreement_with_opencv_sift_descriptor():
    cv2 = pytest.importorskip("cv2")
    img = _smooth_random(1, 96, 96, seed=15)[0]
    # OpenCV describes its base image, blurred to sigma 1.6 from an assumed 0.5
    blurred = cv2.GaussianBlur(img.astype(np.float32), (0, 0), float(np.sqrt(1.6 ** 2 - 0.5 ** 2)))
    ours = dense_sift(blurred[None] / 255.0, bin_size=4, step=8, window="gaussian", contrast_threshold=0)
    keypoints = [cv2.KeyPoint(float(x), float(y), 4 / 1.5, 0) for y, x, _ in ours.frames]
    kept, theirs = cv2.SIFT_create().compute(img, keypoints)
    assert len(kept) == len(keypoints)
    a, b = ours.descriptors[0], theirs.astype(np.float32)
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    assert cos.mean() > 0.99 and cos.min() > 0.9


def test_errors_name_the_problem():
    with pytest.raises(DataError, match=r"at least 13x13"):
        dense_sift(np.zeros((1, 12, 40), np.uint8))
    with pytest.raises(DataError, match=r"at least 31x31"):
        dense_sift(np.zeros((1, 30, 40), np.uint8), sizes=[4, 10])
    with pytest.raises(DataError, match="channels"):
        dense_sift(np.zeros((1, 20, 20, 2), np.uint8))
    with pytest.raises(DataError, match="3-channel"):
        dense_sift(np.zeros((1, 20, 20), np.uint8), color="hsv")
    with pytest.raises(DataError, match="uint8 or float"):
        dense_sift(np.zeros((1, 20, 20), np.int16))
    with pytest.raises(ConfigError, match="window"):
        dense_sift(np.zeros((1, 20, 20), np.uint8), window="box")
    with pytest.raises(ConfigError, match="color"):
        dense_sift(np.zeros((1, 20, 20), np.uint8), color="rgb")
    with pytest.raises(ConfigError, match="step"):
        dense_sift(np.zeros((1, 20, 20), np.uint8), step=0)


def test_defaults_in_signature_match_docstring():
    sig = inspect.signature(dense_sift)
    doc = inspect.getdoc(dense_sift)
    for name, param in sig.parameters.items():
        if param.default is inspect.Parameter.empty:
            continue
        m = re.search(rf"^{name} : .*default=(.+)$", doc, re.M)
        assert m, f"{name} has no 'default=' in the docstring"
        assert ast.literal_eval(m.group(1).strip()) == param.default, name


def test_chunked_batches_match_one_chunk(monkeypatch):
    import histnet.features.sift as sift_module

    imgs = np.stack([_smooth_random(7, 40, 40, seed=s) for s in (16, 17, 18)], axis=-1)
    for kw in ({}, {"window": "gaussian", "sizes": [3, 4]}, {"color": "opponent"}):
        whole = dense_sift(imgs, **kw).descriptors
        monkeypatch.setattr(sift_module, "_CPU_CHUNK_PIXELS", 3 * 40 * 40 * 3)  # chunks of 3, 3, 1 images
        parts = dense_sift(imgs, **kw).descriptors
        monkeypatch.undo()
        np.testing.assert_allclose(parts, whole, atol=1e-6)


def test_descriptors_are_the_same_with_either_angle(monkeypatch):
    """Whichever way this CPU computes angles (the polynomial where numpy's arctan2 is a
    scalar loop), the descriptors agree within float32 rounding."""
    import histnet.features.sift as sift_module

    imgs = _smooth_random(3, 48, 40, seed=5)
    out = {}
    for poly in (True, False):
        monkeypatch.setattr(sift_module, "fast_path", lambda g, poly=poly: poly)
        out[poly] = dense_sift(imgs, bin_size=4, step=6, window="gaussian").descriptors
    np.testing.assert_allclose(out[True], out[False], atol=2e-6)
