"""The distortion table: (type, level) → the parameters of that render. The one home of them.

Six types × 20 levels (0 … 19). Every parameter is in the table as a plain number; the renderer
(``seagull.isp.render``) only reads it. Level order:

- **noise, blur, compression**: one-sided; level 0 is the mildest, 19 the most severe.
- **exposure, contrast, colorfulness**: two-sided; levels 0–9 go one way (under-exposed, lower
  contrast, desaturated) and levels 10–19 the other way (over-exposed, higher contrast,
  oversaturated). Within each half the severity grows with the level, so level ``k`` and
  ``k + 10`` are the same step in opposite directions.

Units
- exposure ``ev``: stops applied as a gain ``2**ev`` in linear light (before the tone curve).
- noise ``electrons_at_white``: the full well of the simulated sensor (fewer electrons, more
  shot noise); ``read_noise``: Gaussian read noise as a fraction of the raw range (white − black).
  Both act on the raw mosaic before demosaicing.
- blur ``sigma_fraction``: the standard deviation of a Gaussian point-spread function as a
  fraction of the rendered image's long side (so a level looks the same at any size), applied in
  linear light.
- contrast ``slope``: the slope of the contrast curve at mid-grey on the display-encoded signal;
  < 1 flattens towards mid-grey (a straight line), > 1 is a sigmoid through mid-grey that keeps
  black and white (``sigmoid_gain`` is its steepness).
- colorfulness ``chroma_scale``: multiplier of the Oklab a/b (chroma) of every pixel, keeping its
  Oklab lightness.
- compression ``quality``: the JPEG quality setting (libjpeg scale 1–100), 4:2:0 chroma.
"""

from __future__ import annotations

import math

from seagull.errors import InvalidArgumentError
from seagull.labels.levels import DISTORTION_TYPES

N_LEVELS = 20
LEVELS: tuple[int, ...] = tuple(range(N_LEVELS))
TWO_SIDED: tuple[str, ...] = ("colorfulness", "contrast", "exposure")
# The direction of each half of a two-sided type: (levels 0–9, levels 10–19).
DIRECTIONS: dict[str, tuple[str, str]] = {
    "exposure": ("under", "over"),
    "contrast": ("lower", "higher"),
    "colorfulness": ("desaturated", "oversaturated"),
}


def _geometric(first: float, last: float, n: int = N_LEVELS) -> list[float]:
    ratio = (last / first) ** (1 / (n - 1))
    return [first * ratio**i for i in range(n)]


def _sigmoid_gain(slope: float) -> float:
    """Steepness ``a`` of the endpoint-normalised logistic curve whose mid-grey slope is ``slope``.

    The curve ``(σ(a(y−½)) − σ(−a/2)) / (σ(a/2) − σ(−a/2))`` has slope ``u / tanh(u)`` at
    y = ½ with u = a/4; this inverts that by bisection.
    """
    lo, hi = 1e-6, 64.0
    for _ in range(80):
        u = (lo + hi) / 2
        if u / math.tanh(u) < slope:
            lo = u
        else:
            hi = u
    return 4 * (lo + hi) / 2


def _build_table() -> dict[str, tuple[dict, ...]]:
    half = range(N_LEVELS // 2)
    exposure = [{"direction": "under", "ev": -round(0.3 * (k + 1), 2)} for k in half]
    exposure += [{"direction": "over", "ev": round(0.3 * (k + 1), 2)} for k in half]

    contrast = [{"direction": "lower", "slope": round(2 ** (-0.25 * (k + 1)), 4)} for k in half]
    for k in half:
        slope = round(2 ** (0.25 * (k + 1)), 4)
        contrast.append({"direction": "higher", "slope": slope,
                         "sigmoid_gain": round(_sigmoid_gain(slope), 6)})

    colorfulness = [{"direction": "desaturated", "chroma_scale": round(1 - 0.095 * (k + 1), 4)}
                    for k in half]
    colorfulness += [{"direction": "oversaturated", "chroma_scale": round(1 + 0.2 * (k + 1), 4)}
                     for k in half]

    noise = [{"electrons_at_white": round(e, 1), "read_noise": round(r, 6)}
             for e, r in zip(_geometric(4000.0, 20.0), _geometric(0.0004, 0.012))]
    blur = [{"psf": "gaussian", "sigma_fraction": round(s, 6)}
            for s in _geometric(0.0006, 0.015)]
    qualities = (92, 85, 78, 71, 64, 57, 50, 44, 38, 33, 28, 24, 20, 16, 13, 10, 8, 6, 4, 2)
    compression = [{"format": "jpeg", "quality": q, "subsampling": "4:2:0"} for q in qualities]

    table = {"blur": blur, "colorfulness": colorfulness, "compression": compression,
             "contrast": contrast, "exposure": exposure, "noise": noise}
    assert set(table) == set(DISTORTION_TYPES)
    assert all(len(v) == N_LEVELS for v in table.values())
    return {t: tuple(table[t]) for t in DISTORTION_TYPES}


TABLE: dict[str, tuple[dict, ...]] = _build_table()


def check_type(distortion: str) -> str:
    if distortion not in TABLE:
        raise InvalidArgumentError(f"unknown distortion type {distortion!r}; "
                                   f"types: {', '.join(DISTORTION_TYPES)}")
    return distortion


def check_level(level: object) -> int:
    if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level < N_LEVELS:
        raise InvalidArgumentError(f"distortion level {level!r} is not an integer "
                                   f"in 0 … {N_LEVELS - 1}")
    return level


def strength(distortion: str, level: int) -> int:
    """How far ``level`` is from the undistorted image, 0 … 19 for a one-sided type and 0 … 9
    for a two-sided one (level ``k`` and ``k + 10`` are the same step, in opposite directions)."""
    level = check_level(level)
    return level % (N_LEVELS // 2) if check_type(distortion) in TWO_SIDED else level


def distortion_params(distortion: str, level: int) -> dict:
    """The parameters of ``(distortion, level)`` as a new JSON-ready dict."""
    return dict(TABLE[check_type(distortion)][check_level(level)])


def table_markdown() -> str:
    """The table as Markdown, one row per level, one column per type (for docs/isp.md)."""
    def cell(t: str, p: dict) -> str:
        if t == "exposure":
            return f"{p['ev']:+.1f} EV"
        if t == "contrast":
            return f"slope {p['slope']:.3f}"
        if t == "colorfulness":
            return f"chroma ×{p['chroma_scale']:.3f}"
        if t == "noise":
            return f"{p['electrons_at_white']:g} e⁻, read {p['read_noise']:.4f}"
        if t == "blur":
            return f"σ {p['sigma_fraction']:.5f}·L"
        return f"q {p['quality']}"

    lines = ["| level | " + " | ".join(DISTORTION_TYPES) + " |",
             "| --- |" + " --- |" * len(DISTORTION_TYPES)]
    for level in LEVELS:
        lines.append(f"| {level} | " + " | ".join(cell(t, TABLE[t][level])
                                                 for t in DISTORTION_TYPES) + " |")
    return "\n".join(lines)
