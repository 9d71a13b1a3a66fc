"""Tests of cs231n_lib.vis with the non-interactive Agg backend."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cs231n_lib.vis import (  # noqa: E402
    image_grid,
    plot_mean_std,
    point_clouds,
    to_displayable,
    training_curves,
    voxel_grids,
)


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


# --- value ranges ------------------------------------------------------------------------


def test_image_grid_shared_range_keeps_brightness_differences():
    dark, bright = np.full((4, 4), 0.2), np.full((4, 4), 0.8)
    dark[0, 0], bright[0, 0] = 0.0, 1.0  # each image alone spans [0, 1] ... almost
    dark[1, 1] = 0.4
    own = [ax.images[0].get_array() for ax in image_axes(image_grid(np.stack([dark, bright])))]
    shared = image_grid(np.stack([dark, bright]), value_range="shared")
    fixed = image_grid(np.stack([dark, bright]), value_range=(0.0, 2.0))
    shared_arrays = [ax.images[0].get_array() for ax in image_axes(shared)]
    fixed_arrays = [ax.images[0].get_array() for ax in image_axes(fixed)]
    np.testing.assert_allclose(own[0][2, 2], 0.5)  # own range: 0.2 of [0, 0.4]
    np.testing.assert_allclose(shared_arrays[0][2, 2], 0.2)
    np.testing.assert_allclose(shared_arrays[1][2, 2], 0.8)
    np.testing.assert_allclose(fixed_arrays[1][2, 2], 0.4)
    # imshow must not stretch a grey image again: 0 is black and 1 white in every image.
    assert all(ax.images[0].get_clim() == (0.0, 1.0) for ax in image_axes(shared))
    with pytest.raises(ValueError, match="value_range"):
        image_grid(np.stack([dark, bright]), value_range="own")
    with pytest.raises(ValueError, match="hi > lo"):
        to_displayable(dark, value_range=(1.0, 1.0))


def test_to_displayable_drops_a_single_channel(rng):
    image = rng.random((5, 6, 1))
    np.testing.assert_allclose(to_displayable(image), to_displayable(image[..., 0]))


# --- training_curves ---------------------------------------------------------------------


class FakeSolver:
    loss_history = [2.0, 1.5, 1.2, 1.0]
    train_acc_history = [0.1, 0.6, 0.8]
    val_acc_history = [0.1, 0.5, 0.7]


def test_training_curves_of_a_solver():
    fig = training_curves(FakeSolver(), title="run")
    loss_ax, acc_ax = fig.axes
    np.testing.assert_allclose(loss_ax.lines[0].get_ydata(), FakeSolver.loss_history)
    accuracies = sorted(tuple(line.get_ydata()) for line in acc_ax.lines)
    assert accuracies == sorted(
        [tuple(FakeSolver.train_acc_history), tuple(FakeSolver.val_acc_history)]
    )
    assert fig._suptitle.get_text() == "run"


def test_training_curves_compare_runs_and_smooth():
    runs = {
        "sgd": {"train_loss": [3.0, 1.0, 2.0, 0.0], "val_acc": [0.2, 0.4]},
        "adam": [1.0, 1.0, 1.0],
    }
    fig = training_curves(runs, smooth=2)
    loss_ax, acc_ax = fig.axes
    np.testing.assert_allclose(loss_ax.lines[0].get_ydata(), [2.0, 1.5, 1.0])
    assert [t.get_text() for t in loss_ax.get_legend().get_texts()] == ["sgd", "adam"]
    assert len(acc_ax.lines) == 1 and acc_ax.lines[0].get_label() == "sgd val"


def test_training_curves_losses_only_and_bad_input():
    assert len(training_curves([3.0, 2.0, 1.0]).axes) == 1
    with pytest.raises(ValueError, match="found no curves"):
        training_curves({"a": {"accuracy": [1]}})
    with pytest.raises(ValueError, match="smooth"):
        training_curves([1.0, 2.0], smooth=0)


# --- point_clouds and voxel_grids --------------------------------------------------------


def test_point_clouds_one_3d_axes_per_cloud_with_its_points(rng):
    clouds = [rng.normal(size=(50, 3)), rng.normal(size=(20, 3)), rng.normal(size=(5, 3))]
    fig = point_clouds(
        clouds, titles=["a", "b", "c"], colors=[None, "red", np.arange(5.0)], ncols=2
    )
    assert len(fig.axes) == 3
    assert all(ax.name == "3d" for ax in fig.axes)
    assert [ax.get_title() for ax in fig.axes] == ["a", "b", "c"]
    for ax, cloud in zip(fig.axes, clouds, strict=True):
        xs, ys, zs = ax.collections[0]._offsets3d
        np.testing.assert_allclose(np.c_[xs, ys, zs], cloud)
        assert ax.get_xlim() == (-1.0, 1.0)


def test_point_clouds_bad_arguments(rng):
    with pytest.raises(ValueError, match="no clouds"):
        point_clouds([])
    with pytest.raises(ValueError, match=r"\(P, 3\)"):
        point_clouds([rng.normal(size=(10, 2))])
    with pytest.raises(ValueError, match="2 titles for 1 clouds"):
        point_clouds([rng.normal(size=(10, 3))], titles=["a", "b"])


def test_voxel_grids_draws_the_occupied_voxels(rng):
    grid = np.zeros((4, 4, 4))
    grid[1, 2, 3] = grid[0, 0, 0] = 1
    fig = voxel_grids([grid, np.ones((2, 2, 2))], titles=["two", "all"])
    assert [ax.get_title() for ax in fig.axes] == ["two", "all"]
    # ax.voxels returns one Poly3DCollection per occupied voxel
    assert len(fig.axes[0].collections) == 2
    assert len(fig.axes[1].collections) == 8
    with pytest.raises(ValueError, match=r"\(R, R, R\)"):
        voxel_grids([np.zeros((4, 4))])
