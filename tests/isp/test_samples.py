"""The sample RAWs: decodable, the asked CFA and bit depth, faithful to their photographs."""

from __future__ import annotations

import io

import numpy as np
import pytest

from seagull.isp.dng import dng_bytes
from seagull.isp.inverse import (
    SensorModel,
    cfa_indices,
    inverse_tone_curve,
    mosaic,
    tone_curve,
    unprocess,
)
from seagull.samples import SAMPLES, make_sample, make_samples, source_photo

rawpy = pytest.importorskip("rawpy")

# rawpy colour indices in raw_pattern: 0 R, 1 G, 2 B, 3 second G.
_RAWPY_CHANNEL = {0: "R", 1: "G", 2: "B", 3: "G"}


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


def test_samples_cover_layouts_depths_and_sizes():
    layouts = {s.sensor.cfa for s in SAMPLES}
    assert {"RGGB", "BGGR"} <= layouts
    assert {s.sensor.bits for s in SAMPLES} == {12, 14}
    sizes = [source_photo(s).shape[:2] for s in SAMPLES]
    megapixels = [h * w / 1e6 for h, w in sizes]
    assert min(megapixels) == pytest.approx(0.3, abs=0.05)
    assert max(megapixels) >= 2.0
    assert any(w % 2 or h % 2 for h, w in sizes), "an odd size is covered"


@pytest.mark.parametrize("spec", SAMPLES, ids=lambda s: s.name)
def test_sample_decodes_with_its_sensor(sample_dir, spec):
    with rawpy.imread(str(sample_dir / spec.filename)) as raw:
        pattern = "".join(_RAWPY_CHANNEL[int(c)] for c in raw.raw_pattern.ravel())
        assert pattern == spec.sensor.cfa
        assert raw.white_level == 2**spec.sensor.bits - 1
        assert list(raw.black_level_per_channel) == [spec.sensor.black_level] * 4
        data = raw.raw_image_visible
        assert data.max() <= 2**spec.sensor.bits - 1
        assert data.shape == source_photo(spec).shape[:2]
        # Camera white balance comes back from AsShotNeutral.
        wb = np.asarray(raw.camera_whitebalance[:3]) / raw.camera_whitebalance[1]
        np.testing.assert_allclose(wb, spec.sensor.wb_gains, rtol=1e-3)


@pytest.mark.parametrize("spec", SAMPLES, ids=lambda s: s.name)
def test_libraw_renders_the_photograph_back(sample_dir, spec):
    photo = source_photo(spec)
    with rawpy.imread(str(sample_dir / spec.filename)) as raw:
        # Fixed exposure: libraw neither auto-brightens nor re-estimates the white level.
        fixed = raw.postprocess(use_camera_wb=True, no_auto_bright=True, adjust_maximum_thr=0.0)
        default = raw.postprocess(use_camera_wb=True)
    h, w = photo.shape[:2]
    assert fixed.shape == default.shape == (h, w, 3)
    assert psnr(fixed, photo) >= 30.0
    # The default render auto-brightens (one global gain in linear light): align it, then compare.
    lin_d, lin_p = inverse_tone_curve(default / 255.0), inverse_tone_curve(photo / 255.0)
    gain = float((lin_d * lin_p).sum() / (lin_d**2).sum())
    aligned = np.rint(tone_curve(lin_d * gain) * 255.0)
    assert psnr(aligned, photo) >= 30.0


def test_same_seed_same_bytes_other_seed_other_noise(tmp_path):
    spec = next(s for s in SAMPLES if s.name == "chelsea")
    _, first = make_sample(spec, seed=7)
    _, again = make_sample(spec, seed=7)
    _, other = make_sample(spec, seed=8)
    assert first == again
    assert first != other
    a = make_samples(tmp_path / "a", seed=3, names=["chelsea", "flower"])
    b = make_samples(tmp_path / "b", seed=3, names=["chelsea", "flower"])
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["chelsea.dng", "flower.dng"]


def test_tone_curve_inverts_and_matches_bt709_constants():
    x = np.linspace(0, 1, 1001)
    np.testing.assert_allclose(inverse_tone_curve(tone_curve(x)), x, atol=1e-9)
    # libraw's (2.222, 4.5) curve is BT.709: toe below 0.018, offset 0.099.
    assert tone_curve(np.array([0.01]))[0] == pytest.approx(0.045)
    assert tone_curve(np.array([0.5]))[0] == pytest.approx(1.099 * 0.5**0.45 - 0.099, abs=2e-3)


@pytest.mark.parametrize("cfa", ["RGGB", "BGGR", "GRBG", "GBRG"])
def test_mosaic_keeps_the_filter_channel(cfa):
    rgb = np.stack([np.full((5, 7), c, dtype=np.float64) for c in (10.0, 20.0, 30.0)], axis=-1)
    m = mosaic(rgb, cfa)
    idx = cfa_indices(cfa)
    assert m.shape == (5, 7)
    for y in range(5):
        for x in range(7):
            assert m[y, x] == (10.0, 20.0, 30.0)[idx[y % 2, x % 2]]


def test_noise_is_signal_dependent():
    sensor = SensorModel(cfa="RGGB", bits=14, black_level=1024, wb_gains=(1.0, 1.0, 1.0),
                         camera_from_srgb=((1, 0, 0), (0, 1, 0), (0, 0, 1)), full_well=5000.0)
    dark = np.full((200, 200, 3), 40, np.uint8)
    bright = np.full((200, 200, 3), 220, np.uint8)
    rng = np.random.default_rng(0)
    sd_dark = unprocess(dark, sensor, rng).astype(float).std()
    sd_bright = unprocess(bright, sensor, rng).astype(float).std()
    clean = unprocess(bright, sensor, rng, noise=False).astype(float).std()
    assert clean == 0.0
    # Shot noise: the standard deviation grows like the square root of the signal.
    sig = lambda v: inverse_tone_curve(np.array([v / 255]))[0]
    assert sd_bright / sd_dark == pytest.approx(np.sqrt(sig(220) / sig(40)), rel=0.15)


def test_sensor_model_rejects_bad_values():
    with pytest.raises(ValueError, match="CFA"):
        SensorModel(cfa="RGBG")
    with pytest.raises(ValueError, match="bit depth"):
        SensorModel(bits=13)
    with pytest.raises(ValueError, match="rows summing"):
        SensorModel(camera_from_srgb=((1, 0, 0), (0, 2, 0), (0, 0, 1)))


def test_dng_round_trip_is_exact_for_any_mosaic():
    sensor = SensorModel(cfa="GBRG", bits=12)
    rng = np.random.default_rng(1)
    raw = rng.integers(0, 4096, size=(33, 51), dtype=np.uint16)
    with rawpy.imread(io.BytesIO(dng_bytes(raw, sensor))) as decoded:
        np.testing.assert_array_equal(decoded.raw_image_visible, raw)
