"""Sample RAW files for tests, demos and benchmarks, made from photographs shipped in packages.

``make_samples(out_dir, seed)`` writes one DNG per entry of ``SAMPLES``: the photograph is
resized to the entry's long side (upsampled where the source is small), then passed through the
inverse ISP (``seagull.isp.inverse``) of a simulated sensor. The set covers the four Bayer
layouts, 12- and 14-bit data, odd image sizes, sizes from 0.3 MP to 2.8 MP and ISO 100–400.
Photographs are upsampled at least 1.5× where they are small: at their native resolution, JPEG
detail at the pixel pitch aliases in the Bayer mosaic (a real camera's optical low-pass filter
prevents that), and the demosaiced round trip would lose ~10 dB to it.
The same seed gives byte-identical files.
"""

from __future__ import annotations

import logging
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seagull.errors import InvalidArgumentError, OutputError
from seagull.isp.inverse import SensorModel, unprocess

log = logging.getLogger(__name__)

DEFAULT_SEED = 20240


def _sklearn(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_image

        return load_sample_image(name)
    return load


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from skimage import data

        return getattr(data, name)()
    return load


def _matplotlib(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from matplotlib import cbook
        from PIL import Image

        with cbook.get_sample_data(name) as fh:
            return np.asarray(Image.open(fh).convert("RGB"))
    return load


@dataclass(frozen=True)
class SampleSpec:
    name: str
    load: Callable[[], np.ndarray]
    long_side: int | None  # None: the photograph's own size
    sensor: SensorModel
    iso: int

    @property
    def filename(self) -> str:
        return f"{self.name}.dng"


def _sensor(cfa: str, bits: int, iso: int, gains: tuple[float, float, float]) -> SensorModel:
    black = 256 if bits == 12 else 1024
    return SensorModel(cfa=cfa, bits=bits, black_level=black, wb_gains=gains,
                       full_well=30000.0 * 100 / iso, read_noise=3.0)


SAMPLES: tuple[SampleSpec, ...] = (
    SampleSpec("china", _sklearn("china.jpg"), 960, _sensor("RGGB", 12, 100, (2.1, 1.0, 1.5)), 100),
    SampleSpec("flower", _sklearn("flower.jpg"), None, _sensor("BGGR", 14, 200, (1.9, 1.0, 1.7)), 200),
    SampleSpec("astronaut", _skimage("astronaut"), 1024, _sensor("GRBG", 12, 200, (2.3, 1.0, 1.4)), 200),
    SampleSpec("coffee", _skimage("coffee"), 900, _sensor("GBRG", 14, 100, (1.8, 1.0, 1.9)), 100),
    SampleSpec("chelsea", _skimage("chelsea"), 671, _sensor("RGGB", 14, 400, (2.0, 1.0, 1.6)), 400),
    SampleSpec("rocket", _skimage("rocket"), 1280, _sensor("BGGR", 12, 100, (2.2, 1.0, 1.3)), 100),
    SampleSpec("grace_hopper", _matplotlib("grace_hopper.jpg"), 1800,
               _sensor("RGGB", 12, 100, (1.95, 1.0, 1.55)), 100),
)


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
    """Write the sample DNGs into ``out_dir`` (created if needed); return their paths."""
    seed = check_seed(seed)
    specs = list(SAMPLES)
    if names:
        unknown = sorted(set(names) - {s.name for s in SAMPLES})
        if unknown:
            raise InvalidArgumentError(f"unknown sample(s) {unknown}; "
                                       f"known: {[s.name for s in SAMPLES]}")
        specs = [s for s in SAMPLES if s.name in names]
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
