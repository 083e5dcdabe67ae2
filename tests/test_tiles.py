"""histnet.tiles.tile_images: the grids of the RBM/DBN filter figures and of AlexNet's conv1.

The references below state each layout pixel by pixel; they were checked equal, array for
array, to ``histnet.rbm.tile_filters`` and to ``AlexNet.visualize`` as they were before
both moved onto ``tile_images``, so these tests pin the figures those produced.
"""

import numpy as np
import pytest

from histnet.errors import ConfigError
from histnet.tiles import tile_images


def rbm_reference(W, h, w, n_cols=None, pad=1, normalise=True):
    """The RBM figure: rows of W scaled to [0, 1] each, 0.5 (or 0) between tiles, none after."""
    n = len(W)
    n_cols = n_cols or int(np.ceil(np.sqrt(n)))
    n_rows = -(-n // n_cols)
    out = np.full((n_rows * (h + pad) - pad, n_cols * (w + pad) - pad), 0.5 if normalise else 0.0, np.float32)
    for k in range(n):
        t = W[k].astype(np.float32)
        if normalise:
            span = t.max() - t.min()
            t = (t - t.min()) / (span if span > 0 else 1)
        for p in range(h * w):
            y, x = divmod(p, w)
            out[(k // n_cols) * (h + pad) + y, (k % n_cols) * (w + pad) + x] = t[p]
    return out


def alexnet_reference(W):
    """AlexNet's conv1 figure: one global min/max scaling, white (1.0) after every tile,
    ceil(sqrt(F)) columns; the first channel only unless there are three."""
    f, k, _, c = W.shape
    scaled = (W - W.min()) / max(float(W.max() - W.min()), 1e-12)
    cols = int(np.ceil(np.sqrt(f)))
    grid = np.ones((-(-f // cols) * (k + 1), cols * (k + 1), c), np.float32)
    for i in range(f):
        for y in range(k):
            for x in range(k):
                grid[(i // cols) * (k + 1) + y, (i % cols) * (k + 1) + x] = scaled[i, y, x]
    return grid if c == 3 else grid[..., 0]


@pytest.mark.parametrize("n,h,w,n_cols,pad,normalise", [
    (10, 4, 5, None, 1, True), (7, 3, 3, 2, 1, True), (9, 6, 6, None, 2, False), (16, 8, 8, None, 1, True),
    (5, 2, 3, 5, 0, False), (1, 3, 3, None, 1, True),
])
def test_rows_as_images_match_the_rbm_figure(n, h, w, n_cols, pad, normalise):
    W = np.random.default_rng(n).standard_normal((n, h * w)).astype(np.float32)
    W[0] = 0.7  # a constant filter maps to 0
    got = tile_images(W, (h, w), n_cols=n_cols, pad=pad, normalise="tile" if normalise else None)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, rbm_reference(W, h, w, n_cols, pad, normalise))


@pytest.mark.parametrize("f,k,c", [(12, 5, 3), (10, 3, 1), (7, 4, 2), (96, 11, 3), (1, 3, 3)])
def test_conv_filters_match_the_alexnet_figure(f, k, c):
    W = (np.random.default_rng(f).standard_normal((f, k, k, c)) * 0.1).astype(np.float32)
    grid = tile_images(W, normalise="global", pad_value=1.0, trailing_pad=True)
    np.testing.assert_array_equal(grid if c == 3 else grid[..., 0], alexnet_reference(W))


def test_the_three_input_forms_give_one_grid():
    rng = np.random.default_rng(0)
    imgs = rng.random((5, 3, 4)).astype(np.float32)
    flat = tile_images(imgs.reshape(5, 12), (3, 4))
    np.testing.assert_array_equal(tile_images(imgs), flat)
    np.testing.assert_array_equal(tile_images(imgs[..., None])[..., 0], flat)
    colour = rng.random((5, 3, 4, 3)).astype(np.float32)
    np.testing.assert_array_equal(tile_images(colour.reshape(5, -1), (3, 4, 3)), tile_images(colour))
    assert tile_images(colour).shape == (2 * 4 - 1, 3 * 5 - 1, 3)


def test_global_scaling_keeps_relative_contrast_and_none_copies():
    imgs = np.stack([np.zeros((2, 2)), np.full((2, 2), 2.0), np.full((2, 2), 4.0)])
    g = tile_images(imgs, n_cols=3, pad=0, normalise="global")
    np.testing.assert_array_equal(g, np.repeat([0.0, 0.5, 1.0], 2)[None].repeat(2, 0))
    t = tile_images(imgs, n_cols=3, pad=0, normalise="tile")
    np.testing.assert_array_equal(t, 0)  # each tile is constant
    n = tile_images(imgs, n_cols=2, normalise=None)
    assert n[0, 2] == 0.0 and n[3, 3] == 0.0 and n[3, 0] == 4.0  # background 0, last cell empty


def test_bad_shapes_and_options_are_config_errors():
    W = np.zeros((4, 6), np.float32)
    with pytest.raises(ConfigError, match=r"expected \(n, 9\)"):
        tile_images(W, (3, 3))
    with pytest.raises(ConfigError, match="need image_shape"):
        tile_images(W)
    with pytest.raises(ConfigError, match="does not match"):
        tile_images(np.zeros((4, 2, 3)), (3, 2))
    with pytest.raises(ConfigError, match="normalise"):
        tile_images(W, (2, 3), normalise=True)
    with pytest.raises(ConfigError, match="no images"):
        tile_images(np.zeros((0, 6)), (2, 3))
