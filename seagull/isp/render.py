"""The forward ISP: one RAW → the reference render and its distorted renders.

How a RAW is developed (decisions in docs/isp.md):

1. libraw opens and unpacks the file once (``seagull.isp.decode``).
2. One demosaic (AHD, camera white balance, sRGB primaries) to **16-bit linear** output, without
   libraw's auto-brightening and without its tone curve.
3. The auto-brightening gain is computed from that clean render exactly as libraw computes it
   (the level below which 99 % of each channel's pixels lie becomes white) and then **frozen**:
   every variant of the RAW uses the same gain, so an exposure or noise variant is not
   re-normalised by its own histogram. The linear image is scaled so that 1.0 is display white.
4. The optional long-side resize (area averaging in linear light) is applied here, once, and
   identically to every variant.
5. Each variant is the linear image through its distortion and libraw's tone curve, quantised
   to 8 bits with libraw's own rule — so the reference equals libraw's default camera-white-
   balance render (``postprocess(use_camera_wb=True)``) up to rounding.

Noise is the one distortion that acts before demosaicing: each noise level writes a noisy copy
of the mosaic into the open RAW, demosaics it with the same settings, and puts the clean mosaic
back. Compression encodes the 8-bit reference as a real JPEG and keeps the bytes.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from seagull.errors import InvalidArgumentError
from seagull.isp import ops
from seagull.isp.decode import OpenedRaw, Source, open_raw
from seagull.isp.distortions import LEVELS, TABLE, check_level, check_type, distortion_params
from seagull.labels.levels import DISTORTION_TYPES

log = logging.getLogger(__name__)

# Bump when any render changes (it goes into image ids).
ISP_VERSION = "1.1"
DEFAULT_SEED = 20251
GAMMA_POWER = round(1 / ops.GAMMA[0], 6)
# libraw's auto-brightening: the top 1 % of pixels may clip.
AUTO_BRIGHT_THRESHOLD = 0.01
# Correlation area of AHD-demosaiced sensor noise, in pixels: averaging b×b blocks of it lowers
# its variance by b²/c with c = 2.2, 3.0, 3.6 for b = 2, 3, 4 (measured on the samples).
DEMOSAIC_NOISE_AREA = 3.5


@dataclass
class Render:
    """One rendered image of a RAW.

    ``distortion``: ``"reference"`` or one of the six types; ``level``: 0…19 (None for the
    reference); ``image``: H×W×3 uint8 (for compression, the decoded JPEG); ``encoded``: the JPEG
    bytes for compression, else None; ``params``: every parameter used, JSON-ready.
    """

    distortion: str
    level: int | None
    image: np.ndarray
    encoded: bytes | None
    params: dict

    @property
    def name(self) -> str:
        """File stem: ``reference`` or ``<type>_<LL>`` (two-digit level)."""
        return "reference" if self.level is None else f"{self.distortion}_{self.level:02d}"

    @property
    def extension(self) -> str:
        return ".jpg" if self.encoded is not None else ".png"


def _postprocess_args(saturation: int):
    import rawpy

    # Linear 16-bit output: the tone curve and the (frozen) brightening are applied here, so
    # every variant shares them. The saturation level is frozen too (see `saturation_level`).
    # Never noise_thr (it crashes libraw: docs/method.md).
    return {"use_camera_wb": True, "demosaic_algorithm": rawpy.DemosaicAlgorithm.AHD,
            "output_color": rawpy.ColorSpace.sRGB, "output_bps": 16, "gamma": (1, 1),
            "no_auto_bright": True, "bright": 1.0,
            "adjust_maximum_thr": 0.0, "user_sat": saturation}


def saturation_level(raw) -> int:
    """The white level libraw uses for the clean mosaic (above black, in DN).

    By default libraw lowers its white to the data's own maximum when that maximum lies between
    75 % and 100 % of the nominal white (``adjust_maximum_thr``). That depends on the data, so a
    noisy copy of the mosaic (whose maximum is higher) would be rendered up to ~25 % darker or
    brighter than the clean one. The renderer computes libraw's choice once, from the clean
    mosaic, and passes it to every ``postprocess`` as ``user_sat`` with the adjustment off.
    """
    black_levels = np.asarray(raw.black_level_per_channel, dtype=np.int32)
    data = raw.raw_image_visible.astype(np.int32) - black_levels[raw.raw_colors_visible]
    data_max = int(data.max())
    nominal = int(raw.white_level) - int(black_levels.min())
    if nominal * 0.75 < data_max < nominal:
        return data_max
    return nominal


def auto_bright_white(linear16: np.ndarray, threshold: float = AUTO_BRIGHT_THRESHOLD) -> int:
    """libraw's auto-brightening white point of a 16-bit linear render (H×W×3 uint16).

    libraw histograms each channel in 8192 bins (value >> 3), walks down from the top until more
    than ``threshold`` of the pixels lie above, and takes the highest such bin over the channels;
    the render's white is then that bin × 8 (in 16-bit units).
    """
    h, w = linear16.shape[:2]
    allowed = int(h * w * threshold)  # libraw keeps this count in an int
    white_bin = 0
    for c in range(3):
        hist = np.bincount((linear16[..., c] >> 3).ravel(), minlength=0x2000)[:0x2000]
        # Count of pixels at or above each bin; libraw stops at the first bin (from the top,
        # not below 33) where that count exceeds `allowed`.
        above = np.cumsum(hist[::-1])[::-1]
        over = np.nonzero(above[33:] > allowed)[0]
        white_bin = max(white_bin, int(over[-1]) + 33 if over.size else 32)
    return white_bin << 3


def _output_size(width: int, height: int, long_side: int | None) -> tuple[int, int]:
    if long_side is None:
        return width, height
    scale = long_side / max(width, height)
    if width >= height:
        return long_side, max(1, round(height * scale))
    return max(1, round(width * scale)), long_side


class Development:
    """The shared state of one RAW's renders: the open RAW, the frozen brightening, the output
    size and the clean linear image (H×W×3 float32, 1.0 = display white)."""

    def __init__(self, opened: OpenedRaw, long_side: int | None) -> None:
        raw = opened.raw
        self.opened = opened
        self.saturation = saturation_level(raw)
        linear16 = raw.postprocess(**_postprocess_args(self.saturation))
        height, width = linear16.shape[:2]
        self.white = auto_bright_white(linear16)
        self.size = _output_size(width, height, long_side)
        self.linear = self._to_linear(linear16)
        self.params = {
            "isp_version": ISP_VERSION,
            "demosaic": "AHD",
            "white_balance": "camera",
            "camera_wb_multipliers": [round(float(v), 6) for v in raw.camera_whitebalance],
            "output_color": "sRGB",
            "saturation_level": self.saturation,
            "tone_curve": {"power": GAMMA_POWER, "toe_slope": ops.GAMMA[1]},
            "auto_bright": {"threshold": AUTO_BRIGHT_THRESHOLD, "white_16bit": self.white,
                            "gain": round(65536 / self.white, 6), "frozen": True},
            "decoded_size": [width, height],
            "size": list(self.size),
            "long_side": long_side,
            "resize": None if self.size == (width, height) else (
                "box" if self.size[0] <= width else "bicubic"),
        }

    def _to_linear(self, linear16: np.ndarray) -> np.ndarray:
        linear = np.multiply(linear16, np.float32(1.0 / self.white), dtype=np.float32)
        return ops.resize_linear(linear, self.size)

    def render_params(self) -> dict:
        """A copy of the parameters every render of this RAW shares (one per render, so a
        caller editing one render's params leaves the others alone)."""
        return copy.deepcopy(self.params)

    @property
    def noise_area_ratio(self) -> float:
        """How much shrinking to the output size lowers the variance of demosaiced noise (≥ 1).

        Area averaging over ``k`` decoded pixels divides the variance of independent noise by
        ``k``, but demosaicing has already spread each pixel's noise over its neighbours, so
        the variance falls by ``k / DEMOSAIC_NOISE_AREA`` only. The injected noise is scaled up
        by this ratio so that a noise level looks alike at any ``long_side``, as blur levels do.
        """
        width, height = self.params["decoded_size"]
        k = (width * height) / (self.size[0] * self.size[1])
        return max(1.0, k / DEMOSAIC_NOISE_AREA)

    def noise_for_output(self, noise: dict) -> dict:
        """The table's noise parameters (meant at the output size) → those injected into the
        mosaic."""
        k = self.noise_area_ratio
        return {"electrons_at_white": noise["electrons_at_white"] / k,
                "read_noise": noise["read_noise"] * k**0.5}

    def demosaic_noisy(self, noise: dict, seed: int, level: int) -> np.ndarray:
        """The linear image of the RAW with ``noise`` (``electrons_at_white``, ``read_noise``
        as injected) in its mosaic: same settings, same gain, same size as the clean image.
        The clean mosaic is restored afterwards."""
        raw = self.opened.raw
        if not hasattr(self, "_clean_mosaic"):
            self._clean_mosaic = raw.raw_image.copy()
            black = np.asarray(raw.black_level_per_channel, dtype=np.float32)
            self._black_map = black[raw.raw_colors]
        rng = np.random.default_rng([seed, level])
        noisy = ops.inject_noise(self._clean_mosaic, self._black_map, float(raw.white_level),
                                 noise["electrons_at_white"], noise["read_noise"], rng)
        try:
            raw.raw_image[:] = noisy
            linear16 = raw.postprocess(**_postprocess_args(self.saturation))
        finally:
            raw.raw_image[:] = self._clean_mosaic
        return self._to_linear(linear16)


def _check_types(types: Iterable[str] | None) -> list[str]:
    if types is None:
        return list(DISTORTION_TYPES)
    if isinstance(types, str):
        types = [types]
    out: list[str] = []
    for t in types:
        check_type(t)
        if t not in out:
            out.append(t)
    return out


def _check_levels(levels: Iterable[int] | None) -> list[int]:
    if levels is None:
        return list(LEVELS)
    if isinstance(levels, int):
        levels = [levels]
    return sorted({check_level(level) for level in levels})


def _check_long_side(long_side: object) -> int | None:
    if long_side is None:
        return None
    if isinstance(long_side, bool) or not isinstance(long_side, (int, np.integer)) \
            or long_side < 1:
        raise InvalidArgumentError(f"long_side {long_side!r} must be a positive integer")
    return int(long_side)


def _check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise InvalidArgumentError(f"seed {seed!r} must be an integer in 0 … 2**32-1")
    return int(seed)


def render_variants(source: Source, *, types: Iterable[str] | None = None,
                    levels: Iterable[int] | None = None, long_side: int | None = None,
                    seed: int = DEFAULT_SEED) -> Iterator[Render]:
    """Render the reference, then every requested (type, level), of one RAW.

    ``source``: a path or a binary file-like object. ``types`` (default: all six, in
    ``DISTORTION_TYPES`` order) and ``levels`` (default 0…19) select the variants; the
    reference always comes first. ``long_side`` resizes every render identically (pixels).
    ``seed`` drives the noise; a (seed, level) pair always gives the same image, whatever else
    is requested.

    The arguments are checked and the RAW is decoded and demosaiced here, before the iterator is
    returned: a bad source raises ``RawDecodeError``/``UnsupportedSensorError`` (naming the file
    and the reason), a bad argument ``InvalidArgumentError``, before anything is yielded.
    """
    types = _check_types(types)
    levels = _check_levels(levels)
    long_side = _check_long_side(long_side)
    seed = _check_seed(seed)
    opened = open_raw(source)
    try:
        dev = Development(opened, long_side)
    except BaseException:
        opened.close()
        raise
    return _render(dev, types, levels, seed)


def _render(dev: Development, types: list[str], levels: list[int], seed: int
            ) -> Iterator[Render]:
    try:
        if "noise" not in types:
            dev.opened.close()  # nothing else needs the mosaic: free libraw's buffers now
        reference = ops.encode_display(dev.linear, dev.white)
        yield Render("reference", None, reference, None,
                     {"distortion": "reference", "level": None, "render": dev.render_params()})
        oklab = None
        for distortion in types:
            for level in levels:
                p = distortion_params(distortion, level)
                encoded = None
                if distortion == "exposure":
                    image = ops.encode_display(ops.exposure(dev.linear, p["ev"]), dev.white)
                elif distortion == "blur":
                    sigma = p["sigma_fraction"] * max(dev.size)
                    p["sigma_px"] = round(sigma, 4)
                    image = ops.encode_display(ops.gaussian_blur(dev.linear, sigma), dev.white)
                elif distortion == "contrast":
                    display = ops.display_signal(dev.linear, dev.white)
                    image = ops.quantise_display(
                        ops.contrast_curve(display, p["slope"], p.get("sigmoid_gain")))
                elif distortion == "colorfulness":
                    if oklab is None:
                        oklab = ops.oklab_from_linear(dev.linear)
                    image = ops.encode_display(ops.scale_chroma(oklab, p["chroma_scale"]),
                                               dev.white)
                elif distortion == "compression":
                    encoded, image = ops.jpeg_roundtrip(reference, p["quality"])
                elif distortion == "noise":
                    injected = dev.noise_for_output(p)
                    p["seed"] = seed
                    p["area_ratio"] = round(dev.noise_area_ratio, 6)
                    p["injected"] = {k: round(v, 6) for k, v in injected.items()}
                    image = ops.encode_display(dev.demosaic_noisy(injected, seed, level),
                                               dev.white)
                else:  # the table and this dispatch must name the same types
                    raise AssertionError(f"no renderer for {distortion!r}")
                params = {"distortion": distortion, "level": level, **p,
                          "render": dev.render_params()}
                yield Render(distortion, level, image, encoded, params)
    finally:
        dev.opened.close()


def render_reference(source: Source, long_side: int | None = None) -> Render:
    """Only the reference render of a RAW."""
    return next(render_variants(source, types=[], long_side=long_side))


__all__ = [
    "DEFAULT_SEED",
    "ISP_VERSION",
    "TABLE",
    "Render",
    "auto_bright_white",
    "render_reference",
    "render_variants",
]
