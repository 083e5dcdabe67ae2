"""HOG: parity with scikit-image, hand-worked block norms, the stand-in, errors and docs."""

import ast
import inspect
import re
import zlib

import numpy as np
import pytest

from histnet.backend import get_backend
from histnet.errors import ConfigError, DataError
from histnet.features.hog import HOG, _normalize_blocks, hog

skimage_feature = pytest.importorskip("skimage.feature")
sk_hog = skimage_feature.hog
fc = get_backend("cupy-standin").xp


def _reference(images, **kw):
    return np.stack([sk_hog(im, **kw) for im in images])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("block_norm", ["L1", "L1-sqrt", "L2", "L2-Hys"])
def test_matches_skimage_on_random_images(dtype, block_norm):
    # a seed that is the same in every process (hash() of a str is salted per process)
    rng = np.random.default_rng(zlib.crc32(f"{np.dtype(dtype).name}/{block_norm}".encode()))
    settings = [((33, 41), 9, (8, 8), (3, 3)), ((40, 57), 7, (6, 5), (2, 2)), ((24, 30), 12, (4, 4), (1, 2))]
    for (h, w), orientations, ppc, cpb in settings:
        x = rng.random((3, h, w)).astype(dtype)
        kw = dict(orientations=orientations, pixels_per_cell=ppc, cells_per_block=cpb, block_norm=block_norm)
        ours = hog(x, **kw)
        ref = _reference(x, **kw)
        assert ours.dtype == dtype and ours.shape == ref.shape
        assert np.abs(ours - ref).max() < 1e-4


def test_matches_skimage_uint8_colour_sqrt_and_unflattened():
    rng = np.random.default_rng(1)
    u8 = rng.integers(0, 256, (3, 50, 45), dtype=np.uint8)
    for orientations in (9, 8):  # 8 bins puts edges at 45 degrees, hit exactly by integer gradients
        np.testing.assert_allclose(hog(u8, orientations=orientations),
                                   _reference(u8, orientations=orientations), atol=1e-4)
    colour = rng.integers(0, 256, (2, 40, 48, 3), dtype=np.uint8)
    np.testing.assert_allclose(hog(colour, channel_axis=-1), _reference(colour, channel_axis=-1), atol=1e-4)
    xf = rng.random((2, 40, 48, 3))
    np.testing.assert_allclose(hog(xf, channel_axis=-1, transform_sqrt=True),
                               _reference(xf, channel_axis=-1, transform_sqrt=True), atol=1e-4)
    unflat = hog(xf[..., 0], feature_vector=False, cells_per_block=(2, 2))
    ref = np.stack([sk_hog(im, feature_vector=False, cells_per_block=(2, 2)) for im in xf[..., 0]])
    assert unflat.shape == ref.shape
    np.testing.assert_allclose(unflat, ref, atol=1e-4)


def test_visualisation_matches_skimage():
    x = np.random.default_rng(2).random((2, 40, 36))
    _, image = hog(x, visualize=True, cells_per_block=(2, 2))
    ref = np.stack([sk_hog(im, visualize=True, cells_per_block=(2, 2))[1] for im in x])
    assert image.shape == (2, 40, 36)
    np.testing.assert_allclose(image, ref, atol=1e-6)


def test_block_norms_worked_by_hand():
    eps = 1e-5
    # a 2 x 2-cell block, 2 orientations: cell (0,0) = (3, 0), cell (0,1) = (0, 4), others 0
    v = np.array([[3.0, 0, 0, 4, 0, 0, 0, 0]])
    # L1: |v|_1 = 7
    np.testing.assert_allclose(_normalize_blocks(v, "L1")[0, [0, 3]], [3 / (7 + eps), 4 / (7 + eps)])
    # L1-sqrt: sqrt(3/7), sqrt(4/7)
    np.testing.assert_allclose(_normalize_blocks(v, "L1-sqrt")[0, [0, 3]], [0.6546536, 0.7559289], rtol=1e-5)
    # L2: |v|_2 = 5 -> 0.6, 0.8
    np.testing.assert_allclose(_normalize_blocks(v, "L2")[0], [0.6, 0, 0, 0.8, 0, 0, 0, 0], atol=1e-9)
    # L2-Hys: 0.6, 0.8 both clip to 0.2, renormalised: 0.2 / sqrt(0.08) = 1/sqrt(2) each
    np.testing.assert_allclose(_normalize_blocks(v, "L2-Hys")[0, [0, 3]], [2 ** -0.5, 2 ** -0.5], rtol=1e-6)
    # L2-Hys with a partial clip: (1, 1, 1, 10) / sqrt(103) = (0.0985, ..., 0.9853);
    # the 10 clips to 0.2; renormalise by sqrt(3 / 103 + 0.04) = sqrt(0.069126) = 0.262919
    w = np.array([[1.0, 1, 1, 10]])
    a = 1 / np.sqrt(103)
    expected = np.array([a, a, a, 0.2]) / np.sqrt(3 * a * a + 0.04)
    np.testing.assert_allclose(_normalize_blocks(w, "L2-Hys")[0], expected, rtol=1e-6)
    np.testing.assert_allclose(expected, [0.374766, 0.374766, 0.374766, 0.760692], rtol=1e-5)


def test_ramp_image_worked_by_hand():
    # I = x: interior columns have g_col = 2, border columns 0; orientation 0 -> bin 0.
    # Each 8x8 cell has 7 voting columns x 8 rows x 2 / 64 = 1.75 in bin 0; every cell of
    # the 2 x 2 block is equal, so L2 gives 0.5 in each cell's bin 0 and 0 elsewhere.
    x = np.tile(np.arange(16.0), (16, 1))[None]
    out = hog(x, cells_per_block=(2, 2), block_norm="L2", feature_vector=False)[0, 0, 0]
    expected = np.zeros((2, 2, 9))
    expected[..., 0] = 1.75 / np.sqrt(4 * 1.75 ** 2 + 1e-10)
    np.testing.assert_allclose(out, expected, atol=1e-9)
    l1 = hog(x, cells_per_block=(2, 2), block_norm="L1", feature_vector=False)[0, 0, 0]
    np.testing.assert_allclose(l1[..., 0], 1.75 / (7 + 1e-5), rtol=1e-7)


@pytest.mark.parametrize("kw", [
    {}, {"block_norm": "L1-sqrt", "cells_per_block": (2, 2)}, {"block_window": True},
    {"interpolation": "trilinear"}, {"block_window": True, "interpolation": "trilinear", "transform_sqrt": True},
])
def test_cupy_standin_matches_numpy(kw):
    rng = np.random.default_rng(3)
    for x in (rng.random((3, 33, 40)).astype(np.float32), rng.integers(0, 256, (3, 33, 40), dtype=np.uint8)):
        ours = hog(x, **kw)
        dev = hog(fc.asarray(x), **kw)
        assert type(dev).__module__ == "histnet.standin.arrays"
        np.testing.assert_allclose(fc.asnumpy(dev), ours, atol=1e-6)
    colour = rng.integers(0, 256, (2, 33, 40, 3), dtype=np.uint8)
    feats, image = hog(fc.asarray(colour), channel_axis=-1, visualize=True, **kw)
    ref_feats, ref_image = hog(colour, channel_axis=-1, visualize=True, **kw)
    np.testing.assert_allclose(fc.asnumpy(feats), ref_feats, atol=1e-6)
    # the drawing's values reach tens: float32 rounding, not 1e-6, where the CPU's angles
    # come from the polynomial (features/_angles.py) and the device's from arctan2
    np.testing.assert_allclose(fc.asnumpy(image), ref_image, rtol=2e-6, atol=1e-6)


def test_paper_options_behave():
    rng = np.random.default_rng(4)
    x = rng.random((2, 32, 32))
    plain = hog(x, cells_per_block=(2, 2))
    assert not np.allclose(hog(x, cells_per_block=(2, 2), block_window=True), plain)
    tri = hog(x, cells_per_block=(2, 2), interpolation="trilinear")
    assert tri.shape == plain.shape and not np.allclose(tri, plain)
    # a gradient field at one angle puts each vote exactly on a bin centre (10 degrees):
    # trilinear orientation voting then fills that bin only, like hard voting
    yy, xx = np.mgrid[0:32, 0:32]
    angle = np.deg2rad(10.0)
    ramp = (np.sin(angle) * yy + np.cos(angle) * xx)[None]
    cells = hog(ramp, interpolation="trilinear", cells_per_block=(1, 1), feature_vector=False,
                block_norm="L1")[0, 1:-1, 1:-1, 0, 0]
    assert np.all(cells[..., 0] > 0.99) and np.all(cells[..., 1:] < 1e-6)


def test_errors_are_one_line_and_name_the_problem():
    with pytest.raises(DataError, match=r"at least 24x24"):
        hog(np.zeros((2, 20, 30)))
    with pytest.raises(DataError, match=r"at least 16x16"):
        hog(np.zeros((1, 15, 64)), cells_per_block=(2, 2))
    with pytest.raises(ConfigError, match="block_norm"):
        hog(np.zeros((1, 32, 32)), block_norm="L3")
    with pytest.raises(ConfigError, match="pixels_per_cell"):
        hog(np.zeros((1, 32, 32)), pixels_per_cell=(0, 8))
    with pytest.raises(DataError, match="channel_axis=-1"):
        hog(np.zeros((1, 32, 32, 3)))
    with pytest.raises(DataError, match="non-negative"):
        hog(-np.ones((1, 32, 32)), transform_sqrt=True)


def test_defaults_in_signature_match_docstring():
    sig = inspect.signature(hog)
    doc = inspect.getdoc(hog)
    for name, param in sig.parameters.items():
        if param.default is inspect.Parameter.empty:
            continue
        m = re.search(rf"^{name} : .*default=(.+)$", doc, re.M)
        assert m, f"{name} has no 'default=' in the docstring"
        assert ast.literal_eval(m.group(1).strip()) == param.default, name
    # and the paper's table, as the Notes state: 9 bins, 8x8 cells, L2-Hys; blocks differ
    assert sig.parameters["orientations"].default == 9
    assert sig.parameters["pixels_per_cell"].default == (8, 8)
    assert sig.parameters["block_norm"].default == "L2-Hys"
    assert sig.parameters["cells_per_block"].default == (3, 3) and "(2, 2)" in doc


def test_transformer_in_a_pipeline():
    from sklearn.base import clone
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.random.default_rng(5).random((4, 32, 32))
    est = HOG(cells_per_block=(2, 2))
    assert clone(est).get_params()["cells_per_block"] == (2, 2)
    out = make_pipeline(est, StandardScaler()).fit_transform(x)
    assert out.shape == (4, 324) and est.n_features_out_ == 324
    np.testing.assert_allclose(HOG(cells_per_block=(2, 2)).fit(x).transform(x), hog(x, cells_per_block=(2, 2)))


# -- the hog-svm method ------------------------------------------------------------------------

def test_hog_svm_learns_fits_saves_and_runs_on_the_standin(monkeypatch, tmp_path):
    from histnet.methods import get_method, make_config
    from test_feature_cache import _stripes

    monkeypatch.setenv("HISTNET_CACHE", str(tmp_path))
    cls = get_method("hog-svm")
    assert cls.year == 2005 and "Dalal" in cls.paper and set(cls.profiles) >= {"quick", "full"}
    config = cls.Config()
    assert (config.orientations, config.pixels_per_cell, config.cells_per_block, config.block_norm) == \
        (9, (8, 8), (2, 2), "L2-Hys")                         # the paper's settings
    train, test = _stripes(12, seed=1), _stripes(6, seed=2)
    model = cls(make_config(cls, profile="quick")).fit(train)
    test_images = test.get_images(np.arange(len(test)))
    scores = model.predict_scores(test_images)
    assert scores.shape == (18, 3) and scores.dtype == np.float32
    assert (scores.argmax(1) == test.labels).mean() >= 0.9
    assert model.describe()["feature_dim"] == 7 * 7 * 2 * 2 * 9   # 32 px, 4x4 cells, 2x2 blocks

    model.save(tmp_path / "m.npz")
    loaded = cls.load(tmp_path / "m.npz")
    np.testing.assert_allclose(loaded.predict_scores(test_images), scores, rtol=1e-5, atol=1e-5)

    dev = cls(make_config(cls, profile="quick"), backend="cupy-standin").fit(train)
    np.testing.assert_allclose(dev.predict_scores(test_images), scores, rtol=1e-3, atol=1e-3)

    with pytest.raises(DataError, match="16x16"):
        cls().fit(_small_dataset())
    with pytest.raises(ConfigError, match="block_norm"):
        cls(make_config(cls, {"block_norm": "L3"})).fit(train)


def _small_dataset():
    from histnet.data import ArrayDataset

    return ArrayDataset("tiny", np.zeros((4, 12, 12, 1), np.uint8), np.array([0, 1, 0, 1]), ["a", "b"],
                        {"checksum": "tiny"})


def test_hog_svm_colour_gradients_and_image_size_check(monkeypatch, tmp_path):
    from histnet.data import ArrayDataset
    from histnet.methods import get_method, make_config
    from test_feature_cache import _stripes

    monkeypatch.setenv("HISTNET_CACHE", str(tmp_path))
    cls = get_method("hog-svm")
    grey = _stripes(4, seed=3)
    rng = np.random.default_rng(8)
    # colour stripes: the pattern only in the red channel, noise elsewhere
    images = np.concatenate([grey.images, rng.integers(0, 40, grey.images.shape[:3] + (2,), dtype=np.uint8)], axis=-1)
    colour = ArrayDataset("colour-stripes", images, grey.labels, grey.class_names, {"checksum": "colour-stripes"})
    best = cls(make_config(cls, {"color": "max"}, profile="quick"))
    luma = cls(make_config(cls, profile="quick"))
    f_max, f_luma = best.extract(images), luma.extract(images)
    assert f_max.shape == f_luma.shape == (12, 1764)
    np.testing.assert_allclose(f_max, hog(images, channel_axis=-1, pixels_per_cell=(4, 4), cells_per_block=(2, 2)),
                               atol=1e-6)
    assert not np.allclose(f_max, f_luma)
    best.fit(colour)
    with pytest.raises(DataError, match="fitted on 32x32"):
        best.predict_scores(np.zeros((2, 40, 40, 3), np.uint8))


def test_chunked_batches_match_one_chunk(monkeypatch):
    import histnet.features.hog as hog_module

    rng = np.random.default_rng(9)
    for x in (rng.integers(0, 256, (7, 24, 32), dtype=np.uint8), rng.random((7, 24, 32))):
        for kw in ({}, {"block_window": True, "interpolation": "trilinear"}):
            whole, whole_image = hog(x, visualize=True, **kw)
            monkeypatch.setattr(hog_module, "_CPU_CHUNK_PIXELS", 3 * 24 * 32)  # chunks of 3, 3, 1
            parts, parts_image = hog(x, visualize=True, **kw)
            monkeypatch.undo()
            np.testing.assert_allclose(parts, whole, atol=1e-6)  # float32 sums in another order
            np.testing.assert_allclose(parts_image, whole_image, atol=1e-6)


def test_quick_hog_cells_follow_the_image_size_and_are_recorded(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from histnet.data.synthetic import oriented_gratings
    from histnet.methods import get_method, make_config
    from histnet_cli.main import cli

    monkeypatch.setenv("HISTNET_CACHE", str(tmp_path / "cache"))
    cls = get_method("hog-svm")
    quick = cls(make_config(cls, profile="quick"))
    # today's 4-px cells on digits, scikit-image's 8-px cells on 64-px photos
    assert [quick.cells((s, s, 1)) for s in (8, 28, 32, 64, 96)] == [(4, 4), (4, 4), (4, 4), (8, 8), (12, 12)]
    assert cls(make_config(cls, profile="full")).cells((64, 64, 3)) == (8, 8)  # the paper's, whatever the size
    m = cls(make_config(cls, profile="quick")).fit(oriented_gratings(40, 64, 4))
    assert m.resolved_settings() == {"pixels_per_cell": [8, 8]} and m.feature_dim() == 7 * 7 * 4 * 9
    res = CliRunner().invoke(cli, ["run", "hog-svm", "-d", "mnist5k", "--n-per-class", "10", "--test-n-per-class", "5",
                                   "--profile", "quick", "--json", "--out", str(tmp_path / "runs")])
    import json
    rec = json.loads(res.output.strip().splitlines()[-1])
    assert rec["settings"] == {"pixels_per_cell": [4, 4]} and rec["describe"]["feature_dim"] == 1296


# -- the paper's options: the fast path against a straightforward reference ------------------

def _paper_reference(images, orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2), block_norm="L2-Hys",
                     transform_sqrt=False, block_window=False, interpolation="none", channel_axis=None):
    """HOG straight from the definitions, image by image and block by block (sums in float64).

    Gradients in the images' precision (uint8 as float32), as hog; then, per image, the
    orientation votes as a dense (H, W, orientations) array, and for every block and
    every cell of it the weight of every pixel from the definitions: linear
    interpolation between cell centres (or the pixel's own cell), times the Gaussian of
    sigma = 0.5 x block width around the block's centre.
    """
    (c_row, c_col), (b_row, b_col), o = pixels_per_cell, cells_per_block, orientations
    work = images.astype(np.float32) if images.dtype == np.uint8 else images
    out = []
    for img in work:
        x = np.sqrt(img) if transform_sqrt else img
        chans = x[..., None] if channel_axis is None else x
        g_row, g_col = np.zeros_like(chans), np.zeros_like(chans)
        g_row[1:-1] = chans[2:] - chans[:-2]
        g_col[:, 1:-1] = chans[:, 2:] - chans[:, :-2]
        best = np.argmax(g_row * g_row + g_col * g_col, axis=-1)[..., None]   # colour: the strongest channel
        g_row = np.take_along_axis(g_row, best, -1)[..., 0].astype(np.float64)
        g_col = np.take_along_axis(g_col, best, -1)[..., 0].astype(np.float64)
        ncr, ncc = g_row.shape[0] // c_row, g_row.shape[1] // c_col
        g_row, g_col = g_row[:ncr * c_row, :ncc * c_col], g_col[:ncr * c_row, :ncc * c_col]
        mag = np.hypot(g_row, g_col)
        t = (np.arctan2(g_row, g_col) % np.pi) * o / np.pi       # unsigned angle, in bins
        votes = np.zeros(mag.shape + (o,))
        rr, cc = np.indices(mag.shape)
        if interpolation == "trilinear":                          # between the two nearest bin centres
            lo = np.floor(t - 0.5)
            frac = t - 0.5 - lo
            np.add.at(votes, (rr, cc, lo.astype(int) % o), mag * (1 - frac))
            np.add.at(votes, (rr, cc, (lo.astype(int) + 1) % o), mag * frac)
        else:
            np.add.at(votes, (rr, cc, np.minimum(t.astype(int), o - 1)), mag)

        def axis(c, n_cells, b):
            """(n_blocks, b, pixels): pixel weights for cell i of each block along one axis."""
            pos = np.arange(n_cells * c) + 0.5                    # pixel centres
            w = np.zeros((n_cells - b + 1, b, len(pos)))
            for start in range(n_cells - b + 1):
                for i in range(b):
                    centre = (start + i + 0.5) * c
                    if interpolation == "trilinear":
                        w[start, i] = np.maximum(0.0, 1 - np.abs(pos - centre) / c)
                    else:
                        w[start, i] = np.abs(pos - centre) < c / 2
                    if block_window:
                        w[start, i] *= np.exp(-0.5 * ((pos - (start + b / 2) * c) / (0.5 * b * c)) ** 2)
            return w

        blocks = np.einsum("aiy,bjx,yxo->abijo", axis(c_row, ncr, b_row), axis(c_col, ncc, b_col), votes)
        v = blocks.reshape(blocks.shape[0], blocks.shape[1], -1) / (c_row * c_col)
        if block_norm in ("L1", "L1-sqrt"):
            v = v / (np.abs(v).sum(-1, keepdims=True) + 1e-5)
            v = np.sqrt(v) if block_norm == "L1-sqrt" else v
        else:
            v = v / np.sqrt((v * v).sum(-1, keepdims=True) + 1e-10)
            if block_norm == "L2-Hys":
                v = np.minimum(v, 0.2)
                v = v / np.sqrt((v * v).sum(-1, keepdims=True) + 1e-10)
        out.append(v.ravel())
    return np.stack(out)


_PAPER = dict(block_window=True, interpolation="trilinear", transform_sqrt=True)


def _assert_matches_reference(ours, x, kw):
    ref = _paper_reference(x, **kw)
    assert ours.shape == ref.shape
    if ours.dtype == np.float64:
        np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-12)
    else:   # float32 sums and angles: float32 rounding
        np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6)


_GEOMETRIES = [((128, 64), (8, 8), (2, 2)), ((32, 32), (8, 8), (2, 2)), ((128, 64), (6, 6), (3, 3)),
               ((32, 32), (6, 6), (3, 3)),
               ((37, 45), (6, 6), (2, 2)), ((40, 33), (8, 6), (3, 2))]   # sizes not a multiple of the cell


@pytest.mark.parametrize("size, cell, block", _GEOMETRIES,
                         ids=[f"{h}x{w}-cell{c[0]}x{c[1]}-block{b[0]}x{b[1]}" for (h, w), c, b in _GEOMETRIES])
@pytest.mark.parametrize("options", [_PAPER, {"interpolation": "trilinear"}, {"block_window": True}],
                         ids=["paper", "trilinear", "window"])
def test_paper_options_match_a_straightforward_reference(size, cell, block, options):
    h, w = size
    rng = np.random.default_rng([h, w, *cell, *block, len(options)])
    kw = dict(pixels_per_cell=cell, cells_per_block=block, **options)
    grey_f32 = rng.random((3, h, w)).astype(np.float32)
    grey_u8 = rng.integers(0, 256, (3, h, w), dtype=np.uint8)
    grey_f64 = rng.random((2, h, w))
    colour = rng.integers(0, 256, (2, h, w, 3), dtype=np.uint8)
    for x, extra in ((grey_f32, {}), (grey_u8, {"block_norm": "L1-sqrt"}), (grey_f64, {"block_norm": "L2"}),
                     (colour, {"channel_axis": -1})):
        _assert_matches_reference(hog(x, **kw, **extra), x, dict(kw, **extra))


@pytest.mark.parametrize("orientations", [1, 2, 8, 12])
def test_paper_options_other_orientations_and_the_wrap_at_180(orientations):
    rng = np.random.default_rng(orientations)
    x = rng.random((2, 40, 48))
    kw = dict(orientations=orientations, pixels_per_cell=(8, 8), cells_per_block=(2, 2), **_PAPER)
    _assert_matches_reference(hog(x, **kw), x, kw)
    # gradients pointing just either side of 0 / 180 degrees: votes split between the first and last bins
    yy, xx = np.mgrid[0:40, 0:48]
    for angle in (1.0, 179.0, 90.0 / orientations):
        a = np.deg2rad(angle)
        ramp = (np.sin(a) * yy + np.cos(a) * xx)[None] + 100.0
        _assert_matches_reference(hog(ramp, **kw), ramp, kw)


def test_paper_options_column_tiles_match_one_tile(monkeypatch):
    # wide images are pooled along the columns in tiles of cells with a one-cell halo
    import histnet.features.hog as hog_module

    rng = np.random.default_rng(11)
    x = rng.random((3, 30, 100)).astype(np.float32)           # 16 cells of 6 px across
    for kw in (dict(pixels_per_cell=(6, 6), cells_per_block=(3, 3), **_PAPER),
               dict(pixels_per_cell=(6, 6), cells_per_block=(2, 2), interpolation="trilinear"),
               dict(pixels_per_cell=(5, 6), cells_per_block=(2, 3), block_window=True)):
        whole = hog(x, **kw)
        for tile in (1, 3, 5):                                # 16 = 3 x 5 + 1, 5 x 3 + 1: a partial last tile
            monkeypatch.setattr(hog_module, "_COL_TILE", tile)
            tiled = hog(x, **kw)
            np.testing.assert_allclose(tiled, whole, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(fc.asnumpy(hog(fc.asarray(x), **kw)), whole, rtol=1e-5, atol=1e-6)
            monkeypatch.undo()
        _assert_matches_reference(whole, x, kw)


def test_paper_options_visualize_draws_the_cells_without_the_window():
    rng = np.random.default_rng(12)
    x = rng.random((2, 32, 40))
    kw = dict(pixels_per_cell=(8, 8), cells_per_block=(2, 2), interpolation="trilinear")
    _, image = hog(x, visualize=True, **kw)
    _, image_windowed = hog(x, visualize=True, block_window=True, **kw)
    np.testing.assert_allclose(image_windowed, image, atol=1e-12)


def test_paper_weights_are_the_dense_definition():
    from histnet.features._hog_weights import axis_weights, tile_weights, window_weights

    for cell, interpolation, block in [(8, "trilinear", 2), (6, "trilinear", 3), (5, "trilinear", None),
                                       (8, "none", 2), (1, "trilinear", 2), (2, "trilinear", 3)]:
        n_cells = 6
        length = n_cells * cell
        offsets = range(block) if block else [0]
        dense = [axis_weights(length, cell, n_cells, interpolation, block, i) for i in offsets]  # (cells, pixels)
        # rows: every cell's window of pixels, the same weights for every cell
        before, after, win = window_weights(cell, interpolation, block)
        for i in offsets:
            for k in range(n_cells):
                lo, hi = k * cell - before, (k + 1) * cell + after
                row = np.zeros(length)
                keep = slice(max(lo, 0), min(hi, length))
                row[keep] = win[i, keep.start - lo:keep.stop - lo]
                np.testing.assert_allclose(row, dense[i][k], atol=1e-15)
        # columns: tiles of 2 cells with a one-cell halo put back together
        tw = tile_weights(cell, interpolation, block, 2, 1)
        padded = np.zeros((len(offsets), n_cells, length + 2 * cell))
        for start in range(0, n_cells, 2):
            for i in offsets:
                cols = tw[:, i * 2:(i + 1) * 2].T                     # (2 cells, 4 cells of pixels)
                padded[i, start:start + 2, start * cell:(start + 4) * cell] += cols
        np.testing.assert_allclose(padded[:, :, cell:-cell], np.stack(dense), atol=1e-15)


def test_paper_options_memory_is_flat_in_the_batch_size():
    import tracemalloc

    rng = np.random.default_rng(13)
    x = rng.integers(0, 256, (96, 128, 64), dtype=np.uint8)
    kw = dict(cells_per_block=(2, 2), **_PAPER)
    hog(x[:2], **kw)                                         # weights and caches built

    def peak(n):
        tracemalloc.start()
        out = hog(x[:n], **kw)
        size = tracemalloc.get_traced_memory()[1] - out.nbytes
        tracemalloc.stop()
        return size

    small, large = peak(24), peak(96)
    # 4x the images: the temporaries are per chunk, so the peak (less the output) hardly grows
    assert large < 1.25 * small, (small, large)


@pytest.mark.parametrize("kw", [{}, {"transform_sqrt": True}, {"block_window": True, "interpolation": "trilinear",
                                                               "transform_sqrt": True}])
def test_hog_is_the_same_with_either_angle(monkeypatch, kw):
    """Whichever way this CPU computes angles (the polynomial where numpy's arctan2 is a
    scalar loop), hard votes land in the same bins (pixels near a bin edge are re-binned in
    float64 either way) and trilinear ones split within float32 rounding."""
    import histnet.features.hog as hog_module

    x = np.random.default_rng(1).random((4, 64, 48)).astype(np.float32)
    x[:, 10:20, 10:20] = 0.5  # flat patches: zero gradients
    out = {}
    for poly in (True, False):
        monkeypatch.setattr(hog_module, "fast_path", lambda g, poly=poly: poly)
        out[poly] = hog(x, cells_per_block=(2, 2), **kw)
    if kw.get("interpolation") == "trilinear":
        np.testing.assert_allclose(out[True], out[False], rtol=1e-5, atol=1e-6)
    else:
        np.testing.assert_array_equal(out[True], out[False])
