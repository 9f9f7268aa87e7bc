"""Inverse ISP: turn an sRGB photograph into a plausible camera RAW mosaic.

The forward ISP (libraw, see ``seagull.isp``) renders a Bayer mosaic as::

    raw DN → subtract black, scale by (white - black) → × white-balance gains
           → demosaic → camera RGB → sRGB primaries (DNG ColorMatrix1) → output tone curve → 8 bit

``unprocess`` runs those steps backwards on a photograph so that libraw renders the result
back into (almost) the same photograph:

1. **linearise**: invert libraw's default output curve (a power 1/2.222 with a linear toe of
   slope 4.5, the BT.709 curve libraw calls ``gamma=(2.222, 4.5)``), not the sRGB curve, so the
   round trip through ``postprocess`` is faithful;
2. **to camera space**: a camera's colour filters overlap, so camera RGB is a mix of the sRGB
   primaries (``SensorModel.camera_from_srgb``, rows summing to 1 so white stays white); the DNG
   tag ``ColorMatrix1 = camera_from_srgb · srgb_from_xyz`` tells libraw how to undo it;
3. **undo the white balance**: divide each channel by the camera's gains (green = 1); the DNG
   tag ``AsShotNeutral = 1 / gains`` lets ``use_camera_wb=True`` restore it;
4. **mosaic** to the sensor's colour filter array (RGGB, BGGR, GRBG or GBRG);
5. **noise**: photon shot noise (Poisson in electrons, full well = white) plus Gaussian read
   noise, so noise grows with the signal as on a real sensor;
6. **quantise** between the black and the white level of a 12- or 14-bit ADC (the data are
   stored in 16-bit words; the bit depth is the white level, 2**bits - 1).

All randomness comes from the ``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

# XYZ (D65) → linear sRGB, IEC 61966-2-1.
SRGB_FROM_XYZ = np.array([
    [3.2404542, -1.5371385, -0.4985314],
    [-0.9692660, 1.8760108, 0.0415560],
    [0.0556434, -0.2040259, 1.0572252],
])

CFA_LAYOUTS = ("RGGB", "BGGR", "GRBG", "GBRG")
_CHANNEL = {"R": 0, "G": 1, "B": 2}


@lru_cache(maxsize=4)
def _libraw_curve(power: float = 1 / 2.222, toe_slope: float = 4.5) -> tuple[float, float]:
    """Breakpoint and offset of libraw's ``gamma_curve`` for a power with a linear toe.

    libraw solves for the point where the linear toe ``slope·x`` meets the power segment
    ``(1 + offset)·x**power - offset`` with a continuous derivative; this is the same bisection.
    Returns ``(breakpoint, offset)`` in linear units (≈ 0.018 and 0.099 for BT.709).
    """
    lo, hi = 0.0, 1.0
    mid = 0.0
    for _ in range(48):
        mid = (lo + hi) / 2
        if ((mid / toe_slope) ** -power - 1) / power - 1 / mid > -1:
            hi = mid
        else:
            lo = mid
    breakpoint_ = mid / toe_slope
    offset = mid * (1 / power - 1)
    return breakpoint_, offset


def tone_curve(linear: np.ndarray, power: float = 1 / 2.222, toe_slope: float = 4.5) -> np.ndarray:
    """libraw's default output curve: linear [0, 1] → encoded [0, 1]."""
    bp, off = _libraw_curve(power, toe_slope)
    x = np.clip(linear, 0.0, 1.0)
    return np.where(x < bp, x * toe_slope, (1 + off) * np.power(x, power) - off)


def inverse_tone_curve(encoded: np.ndarray, power: float = 1 / 2.222,
                       toe_slope: float = 4.5) -> np.ndarray:
    """Inverse of ``tone_curve``: encoded [0, 1] → linear [0, 1]."""
    bp, off = _libraw_curve(power, toe_slope)
    y = np.clip(encoded, 0.0, 1.0)
    return np.where(y < bp * toe_slope, y / toe_slope, np.power((y + off) / (1 + off), 1 / power))


def cfa_indices(cfa: str) -> np.ndarray:
    """2×2 array of channel indices (0 R, 1 G, 2 B) of a CFA layout name such as ``"RGGB"``."""
    if cfa not in CFA_LAYOUTS:
        raise ValueError(f"CFA layout {cfa!r} is not one of {CFA_LAYOUTS}")
    return np.array([_CHANNEL[c] for c in cfa]).reshape(2, 2)


def mosaic(rgb: np.ndarray, cfa: str) -> np.ndarray:
    """H×W×3 → H×W, keeping at each pixel the channel its colour filter passes."""
    idx = cfa_indices(cfa)
    h, w, _ = rgb.shape
    channel = np.tile(idx, ((h + 1) // 2, (w + 1) // 2))[:h, :w]
    return np.take_along_axis(rgb, channel[..., None], axis=2)[..., 0]


@dataclass(frozen=True)
class SensorModel:
    """A simulated camera: colour filters, white balance, noise and ADC.

    ``wb_gains`` are the multipliers that white-balance the raw channels (R, G, B), green = 1.
    ``full_well`` is the number of electrons at the white level (sensitivity: higher ISO, fewer
    electrons); ``read_noise`` is in electrons.
    """

    cfa: str = "RGGB"
    bits: int = 12
    black_level: int = 256
    wb_gains: tuple[float, float, float] = (2.0, 1.0, 1.6)
    full_well: float = 30000.0
    read_noise: float = 3.0
    camera_from_srgb: tuple[tuple[float, ...], ...] = field(default=(
        (0.82, 0.14, 0.04),
        (0.08, 0.84, 0.08),
        (0.03, 0.15, 0.82),
    ))

    def __post_init__(self) -> None:
        cfa_indices(self.cfa)
        if self.bits not in (10, 12, 14, 16):
            raise ValueError(f"bit depth {self.bits} is not 10, 12, 14 or 16")
        if not 0 <= self.black_level < self.white_level // 4:
            raise ValueError(f"black level {self.black_level} out of range for {self.bits} bits")
        m = np.asarray(self.camera_from_srgb)
        if m.shape != (3, 3) or not np.allclose(m.sum(axis=1), 1.0):
            raise ValueError("camera_from_srgb must be 3×3 with rows summing to 1")
        if min(self.wb_gains) <= 0:
            raise ValueError("white-balance gains must be positive")

    @property
    def white_level(self) -> int:
        return 2**self.bits - 1

    @property
    def as_shot_neutral(self) -> tuple[float, float, float]:
        """The raw values of a white surface relative to green: the DNG ``AsShotNeutral``."""
        return tuple(1.0 / g for g in self.wb_gains)  # type: ignore[return-value]

    @property
    def color_matrix(self) -> np.ndarray:
        """DNG ``ColorMatrix1``: XYZ (D65) → camera RGB."""
        return np.asarray(self.camera_from_srgb) @ SRGB_FROM_XYZ


def unprocess(photo: np.ndarray, sensor: SensorModel, rng: np.random.Generator,
              noise: bool = True) -> np.ndarray:
    """An sRGB photograph (H×W×3 uint8) → a RAW mosaic (H×W uint16) of ``sensor``.

    Values lie between ``sensor.black_level`` (no light, plus read noise that may dip below it)
    and ``sensor.white_level`` (saturation).
    """
    if photo.ndim != 3 or photo.shape[2] != 3 or photo.dtype != np.uint8:
        raise ValueError(f"expected an H×W×3 uint8 photograph, got {photo.dtype} {photo.shape}")
    linear = inverse_tone_curve(photo.astype(np.float64) / 255.0)
    camera = linear @ np.asarray(sensor.camera_from_srgb).T
    raw = camera / np.asarray(sensor.wb_gains)
    signal = mosaic(raw, sensor.cfa)  # fraction of full well, [0, 1]
    if noise:
        electrons = rng.poisson(signal * sensor.full_well).astype(np.float64)
        electrons += rng.normal(0.0, sensor.read_noise, size=signal.shape)
        signal = electrons / sensor.full_well
    span = sensor.white_level - sensor.black_level
    dn = np.rint(sensor.black_level + signal * span)
    return np.clip(dn, 0, sensor.white_level).astype(np.uint16)
