"""The ISP's array operations, on small synthetic arrays."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from seagull.isp import encode_png, ops


def _random_linear(shape=(24, 32, 3), seed=0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.0, 1.0, shape).astype(np.float32)


def test_display_lut_is_monotone_and_spans_the_range():
    lut8, lutf = ops.display_lut(40000)
    assert lut8[0] == 0 and lut8[40000] == 255 and lut8[65535] == 255
    assert np.all(np.diff(lut8.astype(int)) >= 0) and np.all(np.diff(lutf) >= 0)
    # Mid-grey (18 % linear) lands near the middle of the 8-bit range through this curve.
    assert 100 < lut8[int(0.18 * 40000)] < 130
    np.testing.assert_array_equal(ops.quantise_display(lutf), lut8)


def test_encode_display_clips_and_rounds():
    linear = np.array([[[-0.5, 0.0, 2.0]]], dtype=np.float32)
    assert ops.encode_display(linear, 40000).tolist() == [[[0, 0, 255]]]


def test_exposure_is_a_linear_gain():
    linear = _random_linear()
    np.testing.assert_allclose(ops.exposure(linear, -1.0), linear / 2, rtol=1e-6)


def test_blur_keeps_the_mean_and_removes_detail():
    linear = _random_linear((64, 64, 3))
    blurred = ops.gaussian_blur(linear, 2.0)
    assert blurred.mean() == pytest.approx(linear.mean(), rel=1e-3)
    assert np.abs(np.diff(blurred, axis=1)).mean() < 0.2 * np.abs(np.diff(linear, axis=1)).mean()


def test_contrast_curves():
    y = np.linspace(0, 1, 11, dtype=np.float32)
    flat = ops.contrast_curve(y, 0.5)
    np.testing.assert_allclose(flat, 0.5 + 0.5 * (y - 0.5), atol=1e-6)
    steep = ops.contrast_curve(y, 3.0, 12.0)
    assert steep[0] == pytest.approx(0, abs=1e-6) and steep[-1] == pytest.approx(1, abs=1e-6)
    assert steep[5] == pytest.approx(0.5, abs=1e-6)
    assert steep[2] < y[2] and steep[8] > y[8]
    with pytest.raises(ValueError):
        ops.contrast_curve(y, 2.0)


def test_oklab_round_trip_and_chroma_scaling():
    linear = _random_linear()
    lab = ops.oklab_from_linear(linear)
    np.testing.assert_allclose(ops.linear_from_oklab(lab), linear, atol=2e-5)
    # White has no chroma and lightness 1.
    np.testing.assert_allclose(ops.oklab_from_linear(np.ones((1, 1, 3), np.float32)),
                               [[[1, 0, 0]]], atol=1e-4)
    np.testing.assert_allclose(ops.scale_chroma(lab, 1.0), linear, atol=2e-5)
    grey = ops.scale_chroma(lab, 0.0)
    np.testing.assert_allclose(grey[..., 0], grey[..., 1], atol=1e-5)
    np.testing.assert_allclose(grey[..., 1], grey[..., 2], atol=1e-5)
    vivid = ops.oklab_from_linear(ops.scale_chroma(lab, 1.5))
    assert np.hypot(vivid[..., 1], vivid[..., 2]).mean() > np.hypot(lab[..., 1], lab[..., 2]).mean()


def test_noise_is_signal_dependent_poisson_gaussian():
    black, white, n_e, read = 512.0, 16383.0, 200.0, 0.002
    span = white - black
    levels = np.array([0.05, 0.5])
    clean = np.rint(black + np.repeat(levels, 20000) * span).astype(np.uint16).reshape(2, -1)
    black_map = np.full(clean.shape, black, dtype=np.float32)
    noisy = ops.inject_noise(clean, black_map, white, n_e, read, np.random.default_rng(1))
    x = (noisy.astype(np.float64) - black) / span
    for row, level in enumerate(levels):
        assert x[row].mean() == pytest.approx(level, abs=3e-3)
        expected_var = level / n_e + read**2
        assert x[row].var() == pytest.approx(expected_var, rel=0.05)
    again = ops.inject_noise(clean, black_map, white, n_e, read, np.random.default_rng(1))
    np.testing.assert_array_equal(noisy, again)
    assert noisy.dtype == np.uint16 and noisy.max() <= white


def test_jpeg_roundtrip_gives_real_jpeg_bytes():
    image = (_random_linear((32, 48, 3)) * 255).astype(np.uint8)
    data, decoded = ops.jpeg_roundtrip(image, 50)
    assert data[:2] == b"\xff\xd8"
    assert decoded.shape == image.shape and decoded.dtype == np.uint8
    small, _ = ops.jpeg_roundtrip(image, 5)
    assert len(small) < len(data)


@pytest.mark.parametrize("fast", [True, False])
def test_encode_png_is_lossless(fast):
    image = (_random_linear((20, 30, 3)) * 255).astype(np.uint8)
    data = encode_png(image, fast=fast)
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(data))), image)


def test_resize_linear_averages_area():
    linear = np.zeros((4, 4, 3), np.float32)
    linear[:2, :2] = 1.0
    small = ops.resize_linear(linear, (2, 2))
    np.testing.assert_allclose(small[..., 0], [[1, 0], [0, 0]], atol=1e-6)
    assert ops.resize_linear(linear, (4, 4)) is linear


def test_fast_png_of_a_photo_sized_image_and_odd_width():
    rng = np.random.default_rng(3)
    image = np.cumsum(rng.integers(0, 3, (37, 51, 3)), axis=1).astype(np.uint8)
    data = encode_png(image)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    decoded = Image.open(io.BytesIO(data))
    decoded.load()  # checks the chunks' CRCs and the zlib stream
    assert decoded.mode == "RGB" and decoded.size == (51, 37)
    np.testing.assert_array_equal(np.asarray(decoded), image)
    with pytest.raises(ValueError):
        encode_png(image[..., 0])


def test_fft_blur_equals_direct_convolution():
    from scipy.ndimage import gaussian_filter

    linear = _random_linear((70, 90, 3), seed=5)
    sigma = ops.FFT_BLUR_SIGMA + 2.0
    direct = np.stack([gaussian_filter(linear[..., c], sigma, mode="mirror", truncate=8.0)
                       for c in range(3)], axis=-1)
    np.testing.assert_allclose(ops.gaussian_blur(linear, sigma), direct, atol=5e-4)
    # Where the two paths meet, a slightly larger σ still blurs more.
    below = ops.gaussian_blur(linear, ops.FFT_BLUR_SIGMA)
    above = ops.gaussian_blur(linear, ops.FFT_BLUR_SIGMA * 1.01)
    assert np.abs(np.diff(above, axis=1)).mean() < np.abs(np.diff(below, axis=1)).mean()
