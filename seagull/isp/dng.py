"""A minimal DNG writer for Bayer mosaics (uncompressed, one IFD), enough for libraw.

The 12- and 14-bit samples are stored in 16-bit words (``BitsPerSample = 16``) with
``WhiteLevel = 2**bits - 1``: libraw reads the bit depth from the white level, and 16-bit storage
avoids bit packing (which some writers get wrong for 14 bits). Files are byte-identical for
identical inputs: no timestamps are written.
"""

from __future__ import annotations

import io
import os
from fractions import Fraction
from typing import BinaryIO

import numpy as np

from seagull import __version__
from seagull.isp.inverse import SensorModel, cfa_indices

# TIFF/DNG tag numbers.
CFA_REPEAT_PATTERN_DIM = 33421
CFA_PATTERN = 33422
DNG_VERSION = 50706
DNG_BACKWARD_VERSION = 50707
UNIQUE_CAMERA_MODEL = 50708
CFA_PLANE_COLOR = 50710
CFA_LAYOUT = 50711
BLACK_LEVEL_REPEAT_DIM = 50713
BLACK_LEVEL = 50714
WHITE_LEVEL = 50717
COLOR_MATRIX_1 = 50721
AS_SHOT_NEUTRAL = 50728
CALIBRATION_ILLUMINANT_1 = 50778
D65 = 21


def _rationals(values, denominator_limit: int = 1_000_000) -> list[int]:
    out: list[int] = []
    for v in np.asarray(values, dtype=np.float64).ravel():
        f = Fraction(float(v)).limit_denominator(denominator_limit)
        out += [f.numerator, f.denominator]
    return out


def write_dng(target: str | os.PathLike | BinaryIO, raw: np.ndarray, sensor: SensorModel,
              model: str = "Seagull Simulated Sensor") -> None:
    """Write the H×W uint16 mosaic ``raw`` of ``sensor`` as a DNG to a path or a binary file."""
    import tifffile

    if raw.ndim != 2 or raw.dtype != np.uint16:
        raise ValueError(f"expected an H×W uint16 mosaic, got {raw.dtype} {raw.shape}")
    pattern = bytes(int(c) for c in cfa_indices(sensor.cfa).ravel())
    tags = [
        (DNG_VERSION, "B", 4, (1, 4, 0, 0), True),
        (DNG_BACKWARD_VERSION, "B", 4, (1, 1, 0, 0), True),
        (UNIQUE_CAMERA_MODEL, "s", 0, model, True),
        (CFA_REPEAT_PATTERN_DIM, "H", 2, (2, 2), True),
        (CFA_PATTERN, "B", 4, pattern, True),
        (CFA_PLANE_COLOR, "B", 3, (0, 1, 2), True),
        (CFA_LAYOUT, "H", 1, 1, True),
        (BLACK_LEVEL_REPEAT_DIM, "H", 2, (1, 1), True),
        (BLACK_LEVEL, "I", 1, sensor.black_level, True),
        (WHITE_LEVEL, "I", 1, sensor.white_level, True),
        (COLOR_MATRIX_1, "2i", 9, _rationals(sensor.color_matrix), True),
        (AS_SHOT_NEUTRAL, "2I", 3, _rationals(sensor.as_shot_neutral), True),
        (CALIBRATION_ILLUMINANT_1, "H", 1, D65, True),
    ]
    tifffile.imwrite(
        target, raw, photometric=32803, subfiletype=0, planarconfig="contig",
        compression=None, metadata=None, software=f"seagull {__version__}",
        extratags=[(271, "s", 0, "Seagull", True), (272, "s", 0, model, True)] + tags,
    )


def dng_bytes(raw: np.ndarray, sensor: SensorModel, model: str = "Seagull Simulated Sensor"
              ) -> bytes:
    buf = io.BytesIO()
    write_dng(buf, raw, sensor, model)
    return buf.getvalue()
