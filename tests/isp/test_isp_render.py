"""Rendering the sample RAWs: the reference, alignment, level behaviour, reproducibility."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from seagull.errors import InvalidArgumentError
from seagull.isp import DEFAULT_SEED, Render, ops, render_variants
from seagull.labels.levels import DISTORTION_TYPES


def _luma(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float64) @ np.array([0.2126, 0.7152, 0.0722])


def _chroma(image: np.ndarray) -> float:
    lab = ops.oklab_from_linear((image.astype(np.float32) / 255) ** 2.2)
    return float(np.hypot(lab[..., 1], lab[..., 2]).mean())


def _high_frequency(image: np.ndarray) -> float:
    y = _luma(image)
    return float(np.abs(4 * y[1:-1, 1:-1] - y[:-2, 1:-1] - y[2:, 1:-1]
                        - y[1:-1, :-2] - y[1:-1, 2:]).mean())


@pytest.fixture(scope="module")
def all_renders(sample_raw) -> dict[str, Render]:
    """All 121 renders of the smallest sample at its native size (odd width), by name."""
    renders = list(render_variants(sample_raw))
    return {r.name: r for r in renders}


@pytest.mark.parametrize("name", ["chelsea.dng", "flower.dng", "china.dng"])
def test_reference_matches_rawpy_camera_white_balance_render(sample_dir, name):
    import rawpy

    path = sample_dir / name
    reference = next(render_variants(path, types=[]))
    with rawpy.imread(str(path)) as raw:
        libraw = raw.postprocess(use_camera_wb=True)
        unbrightened = raw.postprocess(use_camera_wb=True, no_auto_bright=True)
    assert reference.image.shape == libraw.shape
    diff = np.abs(reference.image.astype(int) - libraw)
    assert diff.max() <= 1 and diff.mean() < 0.01
    gain = reference.params["render"]["auto_bright"]["gain"]
    if name == "chelsea.dng":
        # Here the match means something: libraw brightens this file a lot, and the renderer
        # reproduces that brightening from its own (frozen) white point.
        assert gain > 1.3
        assert np.abs(unbrightened.astype(int) - libraw).mean() > 10
    else:
        assert gain >= 1.0


def test_all_121_renders_are_aligned(all_renders, sample_raw):
    import rawpy

    with rawpy.imread(str(sample_raw)) as raw:
        shape = raw.postprocess(use_camera_wb=True).shape
    assert shape[0] % 2 == 1 or shape[1] % 2 == 1  # an odd side: nothing cropped to even sizes
    assert len(all_renders) == 121
    names = list(all_renders)
    assert names[0] == "reference"
    assert names[1:] == [f"{t}_{lv:02d}" for t in DISTORTION_TYPES for lv in range(20)]
    for r in all_renders.values():
        assert r.image.shape == shape and r.image.dtype == np.uint8
        assert json.loads(json.dumps(r.params)) == r.params
        assert (r.encoded is not None) == (r.distortion == "compression")
    # Aligned, not shifted: mild variants correlate almost perfectly with the reference.
    ref = _luma(all_renders["reference"].image).ravel()
    for name in ("blur_00", "noise_00", "compression_00", "exposure_00", "contrast_00"):
        assert np.corrcoef(ref, _luma(all_renders[name].image).ravel())[0, 1] > 0.97


def test_one_sided_statistics_move_monotonically(all_renders):
    ref = all_renders["reference"].image.astype(np.float64)
    residual = [np.std(all_renders[f"noise_{lv:02d}"].image - ref) for lv in range(20)]
    assert np.all(np.diff(residual) > 0), residual
    detail = [_high_frequency(all_renders[f"blur_{lv:02d}"].image) for lv in range(20)]
    assert np.all(np.diff(detail) < 0), detail
    assert detail[0] < _high_frequency(all_renders["reference"].image)
    sizes = [len(all_renders[f"compression_{lv:02d}"].encoded) for lv in range(20)]
    assert np.all(np.diff(sizes) < 0), sizes


def test_compression_keeps_the_real_jpeg(all_renders):
    from PIL import Image

    r = all_renders["compression_10"]
    assert r.encoded[:2] == b"\xff\xd8"
    decoded = np.asarray(Image.open(io.BytesIO(r.encoded)).convert("RGB"))
    np.testing.assert_array_equal(decoded, r.image)
    assert r.params["quality"] == 28


def test_two_sided_types_move_both_ways(all_renders):
    ref = all_renders["reference"].image

    def series(distortion, stat):
        return np.array([stat(all_renders[f"{distortion}_{lv:02d}"].image) for lv in range(20)])

    for distortion, stat in [("exposure", lambda im: _luma(im).mean()),
                             ("contrast", lambda im: _luma(im).std()),
                             ("colorfulness", _chroma)]:
        values, neutral = series(distortion, stat), stat(ref)
        low, high = values[:10], values[10:]
        assert np.all(low < neutral) and np.all(high > neutral), (distortion, neutral, values)
        assert np.all(np.diff(low) < 0), (distortion, low)
        assert np.all(np.diff(high) >= 0) and high[-1] > high[0], (distortion, high)


def test_same_seed_same_images_and_levels_independent(sample_raw):
    a = {r.name: r.image for r in render_variants(sample_raw, types=["noise"], levels=[3, 12],
                                                   long_side=200, seed=7)}
    b = {r.name: r.image for r in render_variants(sample_raw, types=["noise"], levels=[12],
                                                   long_side=200, seed=7)}
    c = {r.name: r.image for r in render_variants(sample_raw, types=["noise"], levels=[12],
                                                   long_side=200, seed=8)}
    np.testing.assert_array_equal(a["noise_12"], b["noise_12"])
    np.testing.assert_array_equal(a["reference"], c["reference"])
    assert not np.array_equal(a["noise_12"], c["noise_12"])


def _native_size(path) -> tuple[int, int]:
    import rawpy

    with rawpy.imread(str(path)) as raw:
        height, width = raw.postprocess(use_camera_wb=True, half_size=False).shape[:2]
    return width, height


def test_long_side_resize_applies_to_every_render(sample_raw):
    width, height = _native_size(sample_raw)
    assert width > height  # the sample is landscape
    with open(sample_raw, "rb") as fh:
        renders = list(render_variants(fh, levels=[0, 19], long_side=160))
    assert len(renders) == 13
    short = round(height * 160 / width)
    for r in renders:
        assert r.image.shape == (short, 160, 3)
        assert r.params["render"]["size"] == [160, short]
        assert r.params["render"]["decoded_size"] == [width, height]
    tall = next(render_variants(sample_raw, types=[], long_side=90))
    assert max(tall.image.shape[:2]) == 90


def test_subset_order_and_params(sample_raw):
    renders = list(render_variants(sample_raw, types=["noise", "blur", "noise"],
                                   levels=[19, 0], long_side=96))
    assert [r.name for r in renders] == ["reference", "noise_00", "noise_19", "blur_00", "blur_19"]
    noise = renders[1].params
    assert noise["seed"] == DEFAULT_SEED and noise["electrons_at_white"] == 4000.0
    assert renders[3].params["sigma_px"] == pytest.approx(0.0006 * 96, abs=1e-4)
    assert renders[0].level is None and renders[0].params["render"]["long_side"] == 96


@pytest.mark.parametrize("kwargs,match", [
    ({"types": ["haze"]}, "unknown distortion type"),
    ({"levels": [20]}, "not an integer in 0 … 19"),
    ({"long_side": 0}, "long_side"),
    ({"seed": -1}, "seed"),
])
def test_bad_arguments(sample_raw, kwargs, match):
    with pytest.raises(InvalidArgumentError, match=match):
        render_variants(sample_raw, **kwargs)


def test_noise_level_looks_alike_at_any_long_side(sample_raw):
    """Noise parameters are meant at the output size: shrinking (which averages noise away)
    is compensated, so the residual stays comparable instead of falling with the scale."""
    def residual(long_side):
        ref, noisy = render_variants(sample_raw, types=["noise"], levels=[15],
                                     long_side=long_side)
        return np.std(noisy.image.astype(float) - ref.image), noisy.params

    full, full_params = residual(None)
    small, small_params = residual(224)  # ~3× smaller: ~9× fewer pixels
    assert full_params["area_ratio"] == 1.0
    (width, height), (out_w, out_h) = _native_size(sample_raw), small_params["render"]["size"]
    assert small_params["area_ratio"] == pytest.approx(width * height / (out_w * out_h) / 3.5,
                                                       rel=1e-4)
    injected = small_params["injected"]
    assert injected["electrons_at_white"] == pytest.approx(
        small_params["electrons_at_white"] / small_params["area_ratio"], rel=1e-4)
    # Without the compensation the residual would drop ~2×.
    assert 0.75 < small / full < 1.33, (small, full)


def test_every_sample_layout_renders(sample_dir):
    """All four Bayer layouts, 12- and 14-bit: every type renders, aligned, at a small size."""
    from seagull.samples import SAMPLES

    for spec in SAMPLES:
        renders = list(render_variants(sample_dir / spec.filename, levels=[19], long_side=96))
        assert len(renders) == 7, spec.name
        shapes = {r.image.shape for r in renders}
        assert len(shapes) == 1 and max(shapes.pop()[:2]) == 96, spec.name
        ref = renders[0].image.astype(int)
        for r in renders[1:]:
            assert np.abs(r.image.astype(int) - ref).mean() > 1.0, (spec.name, r.name)


def test_params_of_renders_are_independent(sample_raw):
    ref, blur = render_variants(sample_raw, types=["blur"], levels=[4], long_side=64)
    blur.params["render"]["size"].append(0)
    assert ref.params["render"]["size"] == [64, ref.image.shape[0]]


@pytest.fixture(scope="module")
def bright_raw(sample_dir, tmp_path_factory):
    """The smallest sample with its signal scaled so the data's maximum lies between 75 % and
    100 % of the white level: there libraw adapts its white to the data by default."""
    import rawpy

    from seagull.isp.dng import write_dng
    from seagull.samples import SAMPLES

    spec = next(s for s in SAMPLES if s.name == "chelsea")
    sensor = spec.sensor
    with rawpy.imread(str(sample_dir / spec.filename)) as raw:
        mosaic = raw.raw_image.astype(np.float64)
    span = sensor.white_level - sensor.black_level
    target = 0.88 * span / (mosaic.max() - sensor.black_level)
    bright = sensor.black_level + (mosaic - sensor.black_level) * target
    path = tmp_path_factory.mktemp("bright") / "bright.dng"
    write_dng(path, np.clip(np.rint(bright), 0, sensor.white_level).astype(np.uint16), sensor)
    return path


def test_noise_does_not_move_libraws_white_level(bright_raw):
    import rawpy

    renders = list(render_variants(bright_raw, types=["noise"], levels=[0, 10, 14, 16]))
    reference = renders[0]
    with rawpy.imread(str(bright_raw)) as raw:
        libraw = raw.postprocess(use_camera_wb=True)
        nominal = raw.postprocess(use_camera_wb=True, adjust_maximum_thr=0.0)
        nominal_white = raw.white_level - raw.black_level_per_channel[0]
    # libraw adapts its white on this file, and the reference follows it.
    assert np.abs(nominal.astype(int) - libraw).mean() > 3
    assert np.abs(reference.image.astype(int) - libraw).max() <= 1
    saturation = reference.params["render"]["saturation_level"]
    assert 0.75 * nominal_white < saturation < nominal_white
    # Noise adds no brightness: without the frozen white, libraw would rescale noisy mosaics
    # whose maximum crosses its threshold (up to ~25 % brighter). (The most extreme levels
    # darken a little: strong noise clips at white and averages lower through the tone curve.)
    mean = reference.image.mean()
    for r in renders[1:]:
        assert abs(r.image.mean() / mean - 1) < 0.04, (r.name, r.image.mean(), mean)
