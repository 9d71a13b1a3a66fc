"""Tests of cs231n_lib.vis with the non-interactive Agg backend."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cs231n_lib.vis import image_grid, plot_mean_std, to_displayable  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def image_axes(fig):
    return [ax for ax in fig.axes if ax.images]


# --- to_displayable ----------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(8, 8), (6, 5, 3)])
def test_to_displayable_range_is_0_to_1(rng, shape):
    img = to_displayable(rng.normal(50, 20, size=shape))
    assert img.shape == shape
    assert img.min() == 0.0 and img.max() == 1.0


def test_to_displayable_is_an_affine_rescale(rng):
    raw = rng.normal(size=(4, 4))
    img = to_displayable(raw)
    np.testing.assert_allclose(img, (raw - raw.min()) / (raw.max() - raw.min()))


def test_to_displayable_reshapes_a_row(rng):
    row = rng.normal(size=64)
    assert to_displayable(row).shape == (8, 8)
    assert to_displayable(rng.normal(size=12), shape=(3, 4)).shape == (3, 4)
    np.testing.assert_allclose(to_displayable(row), to_displayable(row.reshape(8, 8)))


def test_to_displayable_constant_image_is_zeros_without_warning():
    with np.errstate(all="raise"):
        img = to_displayable(np.full((3, 3), 7.0))
    assert np.array_equal(img, np.zeros((3, 3)))


def test_to_displayable_bad_shapes():
    with pytest.raises(ValueError, match="12 pixels.*shape=\\(H, W\\)"):
        to_displayable(np.zeros(12))
    with pytest.raises(ValueError):
        to_displayable(np.zeros(12), shape=(5, 5))


def test_to_displayable_rejects_channels_first_and_4d():
    for bad in (np.zeros((3, 8, 8)), np.zeros((2, 8, 8, 3)), np.zeros((8, 8, 2))):
        with pytest.raises(ValueError):
            to_displayable(bad)


# --- image_grid --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("images_shape", "ncols", "grid"),
    [((7, 8, 8), 3, (3, 3)), ((4, 64), 10, (1, 4)), ((5, 6, 6, 3), 5, (1, 5))],
)
def test_image_grid_shows_one_image_per_axis(rng, images_shape, ncols, grid):
    images = rng.random(images_shape)
    fig = image_grid(images, ncols=ncols)
    n = images_shape[0]
    assert len(fig.axes) == grid[0] * grid[1]
    shown = image_axes(fig)
    assert len(shown) == n
    assert all(len(ax.images) == 1 for ax in shown)
    # the grid fills row by row: the first n axes hold the images
    assert shown == fig.axes[:n]
    assert all(not ax.axison for ax in fig.axes)


def test_image_grid_titles_shape_and_colour(rng):
    fig = image_grid(rng.random((3, 12)), titles=["a", "b", "c"], shape=(3, 4), suptitle="S")
    axes = image_axes(fig)
    assert [ax.get_title() for ax in axes] == ["a", "b", "c"]
    assert axes[0].images[0].get_array().shape == (3, 4)
    assert axes[0].images[0].get_cmap().name == "gray"
    assert fig._suptitle.get_text() == "S"
    colour = image_grid(rng.random((2, 4, 4, 3)))
    assert image_axes(colour)[0].images[0].get_array().shape == (4, 4, 3)


def test_image_grid_bad_arguments(rng):
    with pytest.raises(ValueError, match="no images"):
        image_grid(np.zeros((0, 8, 8)))
    with pytest.raises(ValueError, match="2 titles for 3 images"):
        image_grid(rng.random((3, 8, 8)), titles=["a", "b"])


# --- plot_mean_std -----------------------------------------------------------------------


def test_plot_mean_std_draws_mean_and_band(rng):
    x = [1, 3, 5, 7]
    values = rng.random((4, 5))
    ax = plot_mean_std(x, values, xlabel="k", ylabel="accuracy", title="cross-validation")
    assert ax.get_xlabel() == "k" and ax.get_ylabel() == "accuracy"
    assert ax.get_title() == "cross-validation"
    (errorbar,) = ax.containers
    mean_line, caplines, _ = errorbar.lines
    mean, std = values.mean(axis=1), values.std(axis=1)
    np.testing.assert_allclose(np.asarray(mean_line.get_xdata(), dtype=float), x)
    np.testing.assert_allclose(np.asarray(mean_line.get_ydata(), dtype=float), mean)
    caps = sorted(np.asarray(c.get_ydata(), dtype=float).tolist() for c in caplines)
    np.testing.assert_allclose(caps, sorted([(mean - std).tolist(), (mean + std).tolist()]))
    assert len(ax.collections) >= 4  # one scatter of the repeats per x (plus error bars)


def test_plot_mean_std_uses_given_axes(rng):
    _, ax = plt.subplots()
    assert plot_mean_std([0, 1], rng.random((2, 3)), "x", "y", ax=ax) is ax


@pytest.mark.parametrize("shape", [(3, 5), (4,), (4, 5, 1)])
def test_plot_mean_std_rejects_bad_shapes(rng, shape):
    with pytest.raises(ValueError, match=r"\(4, repeats\)"):
        plot_mean_std([1, 2, 3, 4], rng.random(shape), "x", "y")
