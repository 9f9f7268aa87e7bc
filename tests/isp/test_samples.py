"""The sample RAWs: decodable, the asked CFA and bit depth, faithful to their photographs."""

from __future__ import annotations

import io
import logging
import sys
from collections import Counter

import numpy as np
import pytest

from seagull import samples
from seagull.data.split import split_by_hash, split_group
from seagull.errors import ConfigError, InvalidArgumentError
from seagull.isp.dng import dng_bytes
from seagull.isp.inverse import (
    SensorModel,
    cfa_indices,
    inverse_tone_curve,
    mosaic,
    tone_curve,
    unprocess,
)
from seagull.samples import SAMPLES, Photo, make_sample, make_samples, source_photo

rawpy = pytest.importorskip("rawpy")

# rawpy colour indices in raw_pattern: 0 R, 1 G, 2 B, 3 second G.
_RAWPY_CHANNEL = {0: "R", 1: "G", 2: "B", 3: "G"}


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


# Every sample: (width, height, CFA, bits, ISO) of its DNG.
EXPECTED = {
    "china": (960, 640, "RGGB", 12, 100),
    "flower": (640, 427, "BGGR", 14, 200),
    "astronaut": (1024, 1024, "GRBG", 12, 200),
    "coffee": (900, 600, "GBRG", 14, 100),
    "chelsea": (671, 446, "RGGB", 14, 400),
    "rocket": (1280, 854, "BGGR", 12, 100),
    "grace_hopper": (1536, 1800, "RGGB", 12, 100),
    "motorcycle_left": (1111, 750, "GRBG", 14, 800),
    "motorcycle_right": (1111, 750, "GRBG", 14, 800),
    "garden": (1729, 1297, "GBRG", 12, 200),
    "sunset": (1067, 800, "BGGR", 14, 100),
    "snow_traffic": (1446, 1613, "RGGB", 12, 400),
    "night_rain": (810, 1080, "GRBG", 12, 1600),
    "hats": (768, 576, "BGGR", 12, 200),
    "portrait": (769, 577, "GBRG", 14, 400),
    "sailboat": (800, 600, "RGGB", 14, 100),
    "houses": (768, 576, "GRBG", 12, 800),
    "lighthouse": (777, 583, "BGGR", 14, 200),
}
# The libraw round trip is checked on a subset (it renders each sample twice): some of each
# package, every layout and ISO, both views of the stereo pair. (All 18 render back at 32–45 dB.)
RENDERED = ("china", "flower", "chelsea", "grace_hopper", "motorcycle_left", "motorcycle_right",
            "sunset", "night_rain", "hats", "portrait", "houses")


def _available(spec):
    if not spec.available():
        pytest.skip(f"the photograph of {spec.name} ({spec.photo.distribution}) is not installed")


def test_the_sample_list_covers_layouts_depths_and_isos():
    """The whole list, from its metadata alone (nothing is loaded)."""
    assert len(SAMPLES) == 18
    names = [s.name for s in SAMPLES]
    assert len(set(names)) == len(names) and len({s.filename for s in SAMPLES}) == len(names)
    assert {n: (s.sensor.cfa, s.sensor.bits, s.iso) for n, s in zip(names, SAMPLES)} == {
        n: e[2:] for n, e in EXPECTED.items()}
    assert {s.sensor.cfa for s in SAMPLES} == {"RGGB", "BGGR", "GRBG", "GBRG"}
    assert {s.sensor.bits for s in SAMPLES} == {12, 14}
    assert Counter(s.iso for s in SAMPLES) == {100: 6, 200: 5, 400: 3, 800: 3, 1600: 1}
    # Noise follows the ISO: the full well shrinks as 100/ISO.
    assert all(s.sensor.full_well == pytest.approx(30000.0 * 100 / s.iso) for s in SAMPLES)
    assert len({s.photo for s in SAMPLES}) == len(SAMPLES)  # no photograph is used twice
    # pyiqa's distorted copies are not among the photographs.
    assert not any("dist_dir" in s.photo.path for s in SAMPLES)
    rendered = [s for s in SAMPLES if s.name in RENDERED]
    assert len(rendered) == len(RENDERED)
    assert {s.sensor.cfa for s in rendered} == {"RGGB", "BGGR", "GRBG", "GBRG"}
    assert {s.iso for s in rendered} == {s.iso for s in SAMPLES}
    assert {s.photo.distribution for s in rendered} == {s.photo.distribution for s in SAMPLES}


def test_only_the_stereo_pair_shares_a_scene_and_a_split_group():
    scenes = Counter(s.scene for s in SAMPLES)
    assert {k: v for k, v in scenes.items() if v > 1} == {"motorcycle": 2}
    for spec in SAMPLES:
        # The file names carry the scene through the naming rule, for any folder.
        assert split_group(spec.filename) == spec.scene
        assert split_group(f"/data/raws/{spec.filename}") == f"/data/raws/{spec.scene}"
    left, right = (next(s for s in SAMPLES if s.name == n)
                   for n in ("motorcycle_left", "motorcycle_right"))
    assert left.sensor == right.sensor  # two cameras of one rig
    assert left.photo.path.endswith("motorcycle_left.png")
    assert right.photo.path.endswith("motorcycle_right.png")


def test_sample_sizes_span_the_range_with_odd_sizes():
    sizes = {}
    for spec in SAMPLES:
        if spec.available():
            h, w = source_photo(spec).shape[:2]
            sizes[spec.name] = (w, h)
    assert sizes == {n: e[:2] for n, e in EXPECTED.items() if n in sizes}
    megapixels = [w * h / 1e6 for w, h in sizes.values()]
    assert min(megapixels) == pytest.approx(0.27, abs=0.01)
    assert max(megapixels) == pytest.approx(2.76, abs=0.01)
    assert sum(bool(w % 2 or h % 2) for w, h in sizes.values()) >= 6, "odd sizes are covered"


@pytest.mark.parametrize("spec", SAMPLES, ids=lambda s: s.name)
def test_sample_decodes_with_its_sensor(sample_dir, spec):
    _available(spec)
    with rawpy.imread(str(sample_dir / spec.filename)) as raw:
        pattern = "".join(_RAWPY_CHANNEL[int(c)] for c in raw.raw_pattern.ravel())
        assert pattern == spec.sensor.cfa
        assert raw.white_level == 2**spec.sensor.bits - 1
        assert list(raw.black_level_per_channel) == [spec.sensor.black_level] * 4
        data = raw.raw_image_visible
        assert data.max() <= 2**spec.sensor.bits - 1
        assert data.mean() > spec.sensor.black_level + 8  # a signal, not black
        width, height = EXPECTED[spec.name][:2]
        assert data.shape == (height, width)
        # Camera white balance comes back from AsShotNeutral.
        wb = np.asarray(raw.camera_whitebalance[:3]) / raw.camera_whitebalance[1]
        np.testing.assert_allclose(wb, spec.sensor.wb_gains, rtol=1e-3)


@pytest.mark.parametrize("spec", [s for s in SAMPLES if s.name in RENDERED],
                         ids=lambda s: s.name)
def test_libraw_renders_the_photograph_back(sample_dir, spec):
    _available(spec)
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


def _colour_histogram(photo: np.ndarray) -> np.ndarray:
    pixels = photo.reshape(-1, 3)
    return np.histogramdd(pixels, bins=8, range=[(0, 256)] * 3)[0] / len(pixels)


def test_only_samples_of_one_scene_are_near_duplicates():
    """Colour histograms (8³ bins, L1 distance 0…2): the stereo views are 0.11 apart, every
    two other photographs at least 0.98 — a near-duplicate added under another scene fails."""
    specs = [s for s in SAMPLES if s.available()]
    hist = {s.name: _colour_histogram(s.load()) for s in specs}
    for i, a in enumerate(specs):
        for b in specs[i + 1:]:
            distance = np.abs(hist[a.name] - hist[b.name]).sum()
            if a.scene == b.scene:
                assert distance < 0.2, (a.name, b.name, distance)
            else:
                assert distance > 0.9, (a.name, b.name, distance)


def test_the_stereo_views_land_in_one_split_for_every_seed(sample_dir):
    left, right = (next(s for s in SAMPLES if s.name == n)
                   for n in ("motorcycle_left", "motorcycle_right"))
    _available(left)
    assert (sample_dir / left.filename).read_bytes() != (sample_dir / right.filename).read_bytes()
    seen = set()
    for seed in range(200):
        splits = {split_by_hash(split_group(str(sample_dir / s.filename)), 0.5, seed)
                  for s in (left, right)}
        assert len(splits) == 1, seed
        seen |= splits
    assert seen == {"train", "test"}


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


def test_photos_are_found_in_the_installation_without_a_fixed_path(tmp_path, monkeypatch):
    chelsea = next(s for s in SAMPLES if s.name == "chelsea")
    _available(chelsea)
    found = chelsea.photo.locate()
    assert found.is_file() and found.parts[-3:] == ("skimage", "data", "chelsea.png")
    assert chelsea.photo.load().shape == (300, 451, 3)
    assert Photo("no-such-distribution", "nothing/here.png").locate() is None
    # A file at the top of a folder on the path is found even without the package's metadata.
    (tmp_path / "Calib").mkdir()
    (tmp_path / "Calib" / "x.bmp").write_bytes(b"BM")
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    assert Photo("no-such-distribution", "Calib/x.bmp").locate() == tmp_path / "Calib" / "x.bmp"


def test_a_missing_package_makes_a_smaller_set_with_a_warning(tmp_path, monkeypatch, caplog):
    chelsea = next(s for s in SAMPLES if s.name == "chelsea")
    _available(chelsea)
    gone = [samples.SampleSpec(name, Photo("pyiqa", f"ResultsCalibra/nowhere/{name}.bmp"), 600,
                               chelsea.sensor, 400) for name in ("gone_a", "gone_b")]
    monkeypatch.setattr(samples, "SAMPLES", (chelsea, *gone))
    with caplog.at_level(logging.WARNING, logger="seagull.samples"):
        paths = make_samples(tmp_path / "out", seed=5)
    assert [p.name for p in paths] == ["chelsea.dng"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["chelsea.dng"]
    assert paths[0].read_bytes() == make_sample(chelsea, 5)[1]  # the others do not change it
    (record,) = [r for r in caplog.records if r.name == "seagull.samples"]
    assert "pyiqa" in record.getMessage() and "2 sample(s) (gone_a, gone_b)" in record.getMessage()
    # Asked for by name, a missing photograph is an error naming it.
    with pytest.raises(InvalidArgumentError, match=r"gone_a \(ResultsCalibra/nowhere/gone_a.bmp "
                                                   r"of pyiqa\)"):
        make_samples(tmp_path / "named", names=["chelsea", "gone_a"])
    monkeypatch.setattr(samples, "SAMPLES", tuple(gone))
    with pytest.raises(ConfigError, match="none of the sample photographs is installed"):
        make_samples(tmp_path / "none")


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
