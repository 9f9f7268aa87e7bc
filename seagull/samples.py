"""Sample RAW files for tests, demos and benchmarks, made from photographs shipped in packages.

``make_samples(out_dir, seed)`` writes one DNG per entry of ``SAMPLES``: the photograph is
resized to the entry's long side (upsampled where the source is small), then passed through the
inverse ISP (``seagull.isp.inverse``) of a simulated sensor. The photographs are every natural
colour photograph that ships inside the project's dependencies (scikit-learn, scikit-image,
matplotlib and pyiqa; ``docs/samples.md`` lists them and what was left out). They are found on
disk through the packages' installation metadata, without importing the packages; a sample
whose photograph is not installed is left out with a warning.
The set covers the four Bayer layouts, 12- and 14-bit data, odd image sizes, sizes from 0.3 MP
to 2.8 MP and ISO 100–1600. Photographs are upsampled at least 1.5× where they are small or
detailed: at their native resolution, JPEG detail at the pixel pitch aliases in the Bayer mosaic
(a real camera's optical low-pass filter prevents that), and the demosaiced round trip would lose
~10 dB to it; only soft photographs (``flower``, ``sunset``, ``night_rain``) keep their size.
The two views of the stereo pair share a ``scene`` and are named so that
``seagull.data.split.split_group`` puts them in one split group.
The same seed gives byte-identical files.
"""

from __future__ import annotations

import logging
import os
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seagull.errors import ConfigError, InvalidArgumentError, OutputError
from seagull.isp.inverse import SensorModel, unprocess

log = logging.getLogger(__name__)

DEFAULT_SEED = 20240


@dataclass(frozen=True)
class Photo:
    """A photograph file that ships inside an installed distribution.

    ``path`` is relative to where the distribution is installed (its site-packages folder):
    ``sklearn/datasets/images/china.jpg``, or ``ResultsCalibra/ref_dir/I03.bmp`` for the files
    pyiqa installs at the top of site-packages.
    """

    distribution: str
    path: str

    def locate(self) -> Path | None:
        """The installed file, or None where the distribution (or this file of it) is absent."""
        from importlib import metadata

        candidates = []
        try:
            candidates.append(Path(metadata.distribution(self.distribution).locate_file(self.path)))
        except metadata.PackageNotFoundError:
            pass
        # Any other installation on the path (a second site-packages, a vendored copy).
        candidates += [Path(entry) / self.path for entry in sys.path if entry]
        return next((c for c in candidates if c.is_file()), None)

    def load(self) -> np.ndarray:
        """The photograph as H×W×3 uint8 RGB."""
        from PIL import Image

        path = self.locate()
        if path is None:
            raise FileNotFoundError(f"{self.path} of the package {self.distribution} is not "
                                    "installed")
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))


@dataclass(frozen=True)
class SampleSpec:
    """One sample RAW: its photograph, size and simulated sensor.

    ``scene`` names the scene the photograph shows; samples of one scene (the two views of the
    stereo pair) are near-duplicates. Their names follow the stereo naming rule of
    ``seagull.data.split.split_group`` (``<scene>_left``, ``<scene>_right``), so the sample
    files of one scene always share a train/test split; a test checks that the rule gives every
    sample's ``scene`` back.
    """

    name: str
    photo: Photo
    long_side: int | None  # None: the photograph's own size
    sensor: SensorModel
    iso: int
    scene: str = ""  # "": the sample's name

    def __post_init__(self) -> None:
        if not self.scene:
            object.__setattr__(self, "scene", self.name)

    @property
    def filename(self) -> str:
        return f"{self.name}.dng"

    def available(self) -> bool:
        """Whether the photograph is installed."""
        return self.photo.locate() is not None

    def load(self) -> np.ndarray:
        return self.photo.load()


def _sensor(cfa: str, bits: int, iso: int, gains: tuple[float, float, float]) -> SensorModel:
    black = 256 if bits == 12 else 1024
    return SensorModel(cfa=cfa, bits=bits, black_level=black, wb_gains=gains,
                       full_well=30000.0 * 100 / iso, read_noise=3.0)


def _spec(name: str, photo: Photo, long_side: int | None, cfa: str, bits: int, iso: int,
          gains: tuple[float, float, float], scene: str = "") -> SampleSpec:
    return SampleSpec(name, photo, long_side, _sensor(cfa, bits, iso, gains), iso, scene)


_SKLEARN = "scikit-learn", "sklearn/datasets/images/"
_SKIMAGE = "scikit-image", "skimage/data/"
_MATPLOTLIB = "matplotlib", "matplotlib/mpl-data/sample_data/"
_PYIQA_PHOTOS = "pyiqa", "tests/test_efficiency_img_dir/"
_PYIQA_REFERENCES = "pyiqa", "ResultsCalibra/ref_dir/"  # not dist_dir: distorted copies


def _photo(where: tuple[str, str], file: str) -> Photo:
    return Photo(where[0], where[1] + file)


# Every colour photograph found in the project's dependencies (docs/samples.md lists what was
# left out and why). Long sides upsample every photograph at least 1.5× except those that
# render back faithfully at their own size (see the module docstring).
SAMPLES: tuple[SampleSpec, ...] = (
    _spec("china", _photo(_SKLEARN, "china.jpg"), 960, "RGGB", 12, 100, (2.1, 1.0, 1.5)),
    _spec("flower", _photo(_SKLEARN, "flower.jpg"), None, "BGGR", 14, 200, (1.9, 1.0, 1.7)),
    _spec("astronaut", _photo(_SKIMAGE, "astronaut.png"), 1024, "GRBG", 12, 200,
          (2.3, 1.0, 1.4)),
    _spec("coffee", _photo(_SKIMAGE, "coffee.png"), 900, "GBRG", 14, 100, (1.8, 1.0, 1.9)),
    _spec("chelsea", _photo(_SKIMAGE, "chelsea.png"), 671, "RGGB", 14, 400, (2.0, 1.0, 1.6)),
    _spec("rocket", _photo(_SKIMAGE, "rocket.jpg"), 1280, "BGGR", 12, 100, (2.2, 1.0, 1.3)),
    _spec("grace_hopper", _photo(_MATPLOTLIB, "grace_hopper.jpg"), 1800, "RGGB", 12, 100,
          (1.95, 1.0, 1.55)),
    # A stereo pair: one scene, two cameras of one rig (same sensor).
    _spec("motorcycle_left", _photo(_SKIMAGE, "motorcycle_left.png"), 1111, "GRBG", 14, 800,
          (2.05, 1.0, 1.45), scene="motorcycle"),
    _spec("motorcycle_right", _photo(_SKIMAGE, "motorcycle_right.png"), 1111, "GRBG", 14, 800,
          (2.05, 1.0, 1.45), scene="motorcycle"),
    _spec("garden", _photo(_PYIQA_PHOTOS, "frame_4wrwr48cdk6rbcjl.jpg"), 1729, "GBRG", 12, 200,
          (2.15, 1.0, 1.6)),
    _spec("sunset", _photo(_PYIQA_PHOTOS, "frame_7gzdcz9sif0ekg31.jpg"), None, "BGGR", 14, 100,
          (1.85, 1.0, 1.75)),
    _spec("snow_traffic", _photo(_PYIQA_PHOTOS, "frame_9ogwhvvy7gfj6jzh.jpg"), 1613, "RGGB", 12,
          400, (2.25, 1.0, 1.35)),
    _spec("night_rain", _photo(_PYIQA_PHOTOS, "SPAQ_10241.jpg"), None, "GRBG", 12, 1600,
          (2.0, 1.0, 1.5)),
    _spec("hats", _photo(_PYIQA_REFERENCES, "I03.bmp"), 768, "BGGR", 12, 200, (2.1, 1.0, 1.45)),
    _spec("portrait", _photo(_PYIQA_REFERENCES, "I04.bmp"), 769, "GBRG", 14, 400,
          (1.9, 1.0, 1.65)),
    _spec("sailboat", _photo(_PYIQA_REFERENCES, "I06.bmp"), 800, "RGGB", 14, 100,
          (2.2, 1.0, 1.5)),
    _spec("houses", _photo(_PYIQA_REFERENCES, "I08.bmp"), 768, "GRBG", 12, 800, (2.0, 1.0, 1.7)),
    _spec("lighthouse", _photo(_PYIQA_REFERENCES, "I19.bmp"), 777, "BGGR", 14, 200,
          (1.95, 1.0, 1.4)),
)


def available_samples(names: list[str] | None = None) -> list[SampleSpec]:
    """The samples (of ``names``, or all) whose photographs are installed, in ``SAMPLES`` order."""
    return [s for s in SAMPLES if (names is None or s.name in names) and s.available()]


def source_photo(spec: SampleSpec) -> np.ndarray:
    """The photograph a sample is made from, at the sample's size (H×W×3 uint8)."""
    from PIL import Image

    photo = np.ascontiguousarray(spec.load()[..., :3], dtype=np.uint8)
    if spec.long_side is None:
        return photo
    h, w = photo.shape[:2]
    scale = spec.long_side / max(h, w)
    size = (round(w * scale), round(h * scale))
    return np.asarray(Image.fromarray(photo).resize(size, Image.Resampling.LANCZOS))


def make_sample(spec: SampleSpec, seed: int) -> tuple[np.ndarray, bytes]:
    """(source photograph, DNG bytes) of one sample."""
    from seagull.isp.dng import dng_bytes

    photo = source_photo(spec)
    # One stream per sample, so adding a sample does not change the others.
    rng = np.random.default_rng([seed, zlib.crc32(spec.name.encode())])
    raw = unprocess(photo, spec.sensor, rng)
    return photo, dng_bytes(raw, spec.sensor, model=f"Seagull Sim {spec.sensor.cfa} "
                                                   f"{spec.sensor.bits}-bit ISO{spec.iso}")


def check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise InvalidArgumentError(f"seed {seed!r} must be an integer in 0 … 2**32-1")
    return int(seed)


def make_samples(out_dir: str | os.PathLike, seed: int = DEFAULT_SEED,
                 names: list[str] | None = None, progress: bool = False) -> list[Path]:
    """Write the sample DNGs into ``out_dir`` (created if needed); return their paths.

    All samples by default: those whose photograph is not installed are left out, with one
    warning per package. A sample asked for by name must have its photograph installed.
    """
    seed = check_seed(seed)
    specs = list(SAMPLES)
    if names:
        unknown = sorted(set(names) - {s.name for s in SAMPLES})
        if unknown:
            raise InvalidArgumentError(f"unknown sample(s) {unknown}; "
                                       f"known: {[s.name for s in SAMPLES]}")
        specs = [s for s in SAMPLES if s.name in names]
    missing = [s for s in specs if not s.available()]
    if missing and names:
        raise InvalidArgumentError(
            "the photograph of sample(s) " + ", ".join(
                f"{s.name} ({s.photo.path} of {s.photo.distribution})" for s in missing)
            + " is not installed")
    for package in dict.fromkeys(s.photo.distribution for s in missing):
        left_out = [s.name for s in missing if s.photo.distribution == package]
        log.warning("%s does not have the photograph(s) of %d sample(s) (%s): making the "
                    "other samples only", package, len(left_out), ", ".join(left_out))
    specs = [s for s in specs if s not in missing]
    if not specs:
        raise ConfigError("none of the sample photographs is installed (they ship with "
                          "scikit-learn, scikit-image, matplotlib and pyiqa)")
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out}: cannot create the output folder ({exc.strerror})") from None
    if not os.access(out, os.W_OK):
        raise OutputError(f"{out}: the output folder is not writable")
    paths = []
    for i, spec in enumerate(specs, 1):
        _, data = make_sample(spec, seed)
        path = out / spec.filename
        tmp = out / f".{spec.filename}.tmp"
        try:
            tmp.write_bytes(data)
            tmp.replace(path)  # never leave a half-written DNG under the real name
        except OSError as exc:
            raise OutputError(f"{path}: cannot write ({exc.strerror})") from None
        if progress:
            s = spec.sensor
            print(f"[{i}/{len(specs)}] {path}  {s.cfa} {s.bits}-bit ISO{spec.iso}", flush=True)
        paths.append(path)
    return paths
