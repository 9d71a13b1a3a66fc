"""Tests of cs231n_lib.augmentation (invariants, closed forms, scipy) and of its torch twin
cs231n_lib.blocks.augmentation."""

import numpy as np
import pytest
import torch
from scipy import ndimage

from cs231n_lib import augmentation as aug
from cs231n_lib.blocks import augmentation as aug_torch


@pytest.fixture
def rng():
    return np.random.default_rng(231)


@pytest.fixture
def images(rng):
    return rng.uniform(0.0, 1.0, size=(5, 9, 7, 3))


def assert_close(actual, expected, name, rtol=1e-7, atol=1e-10):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{name}: shape {actual.shape} vs {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=name)


def to_nchw(images):
    return torch.tensor(images).permute(0, 3, 1, 2)


def from_nchw(tensor):
    return tensor.permute(0, 2, 3, 1).numpy()


# --- crop ------------------------------------------------------------------------------------


def test_crop_keeps_the_shape_and_is_seeded(images):
    out = aug.random_crop(images, 3, np.random.default_rng(0))
    again = aug.random_crop(images, 3, np.random.default_rng(0))
    assert out.shape == images.shape
    np.testing.assert_array_equal(out, again)


def test_crop_at_the_padding_offset_is_identity(images):
    out = aug.crop_with_padding(images, np.full(5, 2), np.full(5, 2), padding=2)
    np.testing.assert_array_equal(out, images)
    np.testing.assert_array_equal(aug.random_crop(images, 0, np.random.default_rng(1)), images)


def test_crop_shifts_each_image_by_its_own_offset(images):
    tops, lefts, padding = np.array([0, 4, 2, 1, 3]), np.array([4, 0, 2, 3, 1]), 2
    out = aug.crop_with_padding(images, tops, lefts, padding, fill=0.5)
    for i in range(len(images)):
        dy, dx = padding - tops[i], padding - lefts[i]  # content moves down by dy, right by dx
        expected = ndimage.shift(images[i], (dy, dx, 0), order=0, mode="constant", cval=0.5)
        assert_close(out[i], expected, f"image {i}")


def test_crop_offsets_cover_all_positions():
    image = np.zeros((1, 9, 7, 1))
    image[0, 4, 3, 0] = 1.0  # a marker: where it lands tells the shift
    rng = np.random.default_rng(2)
    shifts = set()
    for _ in range(60):
        out = aug.random_crop(image, 1, rng)
        row, col = np.argwhere(out[0, :, :, 0] == 1.0)[0]
        shifts.add((int(row) - 4, int(col) - 3))
    assert shifts == {(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)}, shifts


def test_crop_rejects_bad_input(images):
    with pytest.raises(ValueError, match="padding"):
        aug.crop_with_padding(images, 0, 0, padding=-1)
    with pytest.raises(ValueError, match="tops"):
        aug.crop_with_padding(images, 5, 0, padding=2)
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
        aug.random_crop(images[0], 2, np.random.default_rng(0))
    with pytest.raises(TypeError, match="floats"):
        aug.random_crop(images.astype(np.uint8), 2, np.random.default_rng(0))


# --- flip ------------------------------------------------------------------------------------


def test_flip_twice_is_identity(images):
    np.testing.assert_array_equal(aug.horizontal_flip(aug.horizontal_flip(images)), images)


def test_flip_mirrors_the_columns_of_chosen_images(images):
    flip = np.array([True, False, True, False, False])
    out = aug.horizontal_flip(images, flip)
    np.testing.assert_array_equal(out[0], np.fliplr(images[0]))
    np.testing.assert_array_equal(out[1], images[1])
    assert not np.shares_memory(out, images)


def test_random_flip_probability(rng):
    images = np.arange(4.0)[None, None, :, None].repeat(2000, axis=0)  # each row 0, 1, 2, 3
    out = aug.random_horizontal_flip(images, rng, p=0.3)
    flipped = out[:, 0, 0, 0] == 3
    assert abs(flipped.mean() - 0.3) < 0.04, flipped.mean()
    np.testing.assert_array_equal(aug.random_horizontal_flip(images, rng, p=0.0), images)


# --- colour jitter ---------------------------------------------------------------------------


def test_jitter_with_zero_strength_is_identity(images):
    out = aug.color_jitter(images, np.random.default_rng(0))
    assert_close(out, images, "jitter with zero strength", atol=1e-12)


def test_brightness_scales_and_clips(images):
    assert_close(aug.adjust_brightness(images, 0.5), images * 0.5, "darker")
    assert_close(aug.adjust_brightness(images, 2.0), np.minimum(images * 2, 1), "brighter")
    factors = np.array([0.0, 1.0, 0.2, 0.4, 0.9])
    assert_close(aug.adjust_brightness(images, factors)[2], images[2] * 0.2, "per image")


def test_contrast_keeps_the_mean_grey_and_scales_deviations(images):
    grey_mean = (images @ aug.LUMA_WEIGHTS).mean(axis=(1, 2))  # (N,)
    flat = aug.adjust_contrast(images, 0.0)
    assert_close(flat, np.broadcast_to(grey_mean[:, None, None, None], images.shape), "flat")
    low = aug.adjust_contrast(images, 0.5)
    expected = grey_mean[:, None, None, None] + 0.5 * (images - grey_mean[:, None, None, None])
    assert_close(low, expected, "half contrast")


def test_saturation_zero_gives_grey_pixels(images):
    out = aug.adjust_saturation(images, 0.0)
    grey = images @ aug.LUMA_WEIGHTS
    for c in range(3):
        assert_close(out[..., c], grey, f"channel {c}")
    grey_images = images[..., :1]
    assert_close(aug.adjust_saturation(grey_images, 0.3), grey_images, "C = 1 has no colour")


def test_jitter_stays_in_range_and_varies_per_image(rng):
    images = rng.uniform(size=(50, 4, 4, 3))
    out = aug.color_jitter(images, rng, brightness=0.8, contrast=0.8, saturation=0.8)
    assert out.min() >= 0 and out.max() <= 1
    dim = rng.uniform(0.1, 0.5, size=(200, 4, 4, 3))  # never clipped by factors <= 1.5
    ratios = aug.color_jitter(dim, rng, brightness=0.5).mean(axis=(1, 2, 3)) / dim.mean(
        axis=(1, 2, 3)
    )
    # brightness factors are uniform on [0.5, 1.5]
    assert ratios.min() >= 0.5 and ratios.max() <= 1.5, (ratios.min(), ratios.max())
    assert ratios.min() < 0.6 and ratios.max() > 1.4, (ratios.min(), ratios.max())
    assert abs(ratios.mean() - 1) < 0.06, ratios.mean()


def test_jitter_rejects_negative_strength_and_bad_channels(images):
    with pytest.raises(ValueError, match="brightness"):
        aug.color_jitter(images, np.random.default_rng(0), brightness=-0.1)
    with pytest.raises(ValueError, match="C = 1 or C = 3"):
        aug.adjust_saturation(images[..., :2], 0.5)


# --- rotation --------------------------------------------------------------------------------


@pytest.mark.parametrize("angle", [0.0, 360.0, -720.0])
def test_rotation_by_full_turns_is_identity(images, angle):
    assert_close(aug.rotate(images, angle), images, f"rotate by {angle}", atol=1e-12)


def test_rotation_by_90_degrees_is_rot90_counterclockwise(rng):
    square = rng.uniform(size=(3, 6, 6, 2))
    assert_close(aug.rotate(square, 90.0), np.rot90(square, 1, axes=(1, 2)), "90", atol=1e-12)
    assert_close(aug.rotate(square, -90.0), np.rot90(square, -1, axes=(1, 2)), "-90", atol=1e-12)
    assert_close(aug.rotate(square, 180.0), square[:, ::-1, ::-1], "180", atol=1e-12)


@pytest.mark.parametrize("angle", [17.0, -33.0, 125.0])
def test_rotation_matches_scipy_bilinear(images, angle):
    out = aug.rotate(images, angle, fill=0.25)
    for i in (0, 3):
        expected = ndimage.rotate(
            images[i], angle, axes=(1, 0), reshape=False, order=1, mode="grid-constant", cval=0.25
        )
        assert_close(out[i], expected, f"image {i} by {angle}", atol=1e-9)


def test_rotation_is_about_the_centre(rng):
    image = np.zeros((1, 9, 9, 1))
    image[0, 4, 4, 0] = 1.0  # the centre pixel stays where it is under any rotation
    for angle in (10.0, 45.0, 133.0):
        out = aug.rotate(image, angle)
        assert abs(out[0, 4, 4, 0] - 1.0) < 1e-12, (angle, out[0, 4, 4, 0])


def test_rotation_angles_per_image(images):
    angles = np.array([0.0, 90.0, 0.0, 10.0, 5.0])
    out = aug.rotate(images[:, :7, :7], angles)
    assert_close(out[1], np.rot90(images[1, :7, :7]), "image 1 by 90", atol=1e-12)
    assert_close(out[0], images[0, :7, :7], "image 0 by 0", atol=1e-12)


def test_random_rotation_is_seeded_and_bounded(images):
    a = aug.random_rotation(images, np.random.default_rng(4), 30.0)
    b = aug.random_rotation(images, np.random.default_rng(4), 30.0)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="max_degrees"):
        aug.random_rotation(images, np.random.default_rng(4), -5.0)


def test_augment_chains_and_does_nothing_at_zero_strength(images):
    assert_close(aug.augment(images, np.random.default_rng(0)), images, "no augmentation")
    out = aug.augment(
        images, np.random.default_rng(0), padding=2, flip=True, brightness=0.3, max_degrees=15
    )
    assert out.shape == images.shape and not np.allclose(out, images)


# --- torch versions --------------------------------------------------------------------------


def test_torch_versions_match_numpy_for_the_same_seed(images):
    settings = dict(padding=2, flip=True, brightness=0.4, contrast=0.4, saturation=0.4)
    for extra in ({}, {"max_degrees": 25.0}):
        ours = aug.augment(images, np.random.default_rng(9), **settings, **extra)
        theirs = aug_torch.augment_torch(
            to_nchw(images), np.random.default_rng(9), **settings, **extra
        )
        assert_close(from_nchw(theirs), ours, f"augment {extra}", atol=1e-9)


def test_torch_deterministic_cores_match_numpy(images):
    tops, lefts = np.array([0, 1, 2, 3, 4]), np.array([4, 3, 2, 1, 0])
    assert_close(
        from_nchw(aug_torch.crop_with_padding_torch(to_nchw(images), tops, lefts, 2, fill=0.3)),
        aug.crop_with_padding(images, tops, lefts, 2, fill=0.3),
        "crop",
    )
    flip = np.array([True, False, False, True, True])
    assert_close(
        from_nchw(aug_torch.horizontal_flip_torch(to_nchw(images), flip)),
        aug.horizontal_flip(images, flip),
        "flip",
    )
    angles = np.array([0.0, 30.0, -45.0, 90.0, 200.0])
    assert_close(
        from_nchw(aug_torch.rotate_torch(to_nchw(images), angles, fill=0.1)),
        aug.rotate(images, angles, fill=0.1),
        "rotate",
        atol=1e-9,
    )


def test_torch_versions_reject_numpy_input(images):
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        aug_torch.rotate_torch(images, 10.0)
