"""Decoded images → the H×W×3 uint8 RGB arrays every part of the system works on.

One conversion for the command line, the service and the Python API, so a photo gives the same
pixels (and the same coordinates) wherever it enters:

- **orientation**: the EXIF orientation tag is applied, as photo viewers and browsers do; points,
  boxes and masks refer to the image as it is shown;
- **bit depth**: 16-bit, 32-bit integer and floating-point grey images are scaled to 8 bits
  (Pillow's own ``convert("RGB")`` clips them instead, which turns a 16-bit photo white).
  Integers are read as 16-bit (÷257) unless their values exceed 16 bits (then by their maximum);
  floats as 0–1 when their maximum is at most 1, else as 0–255; NaN becomes 0. (Pillow reads
  16-bit colour PNGs as 8-bit RGB itself.);
- **alpha** is dropped: transparent pixels are assessed with the colours they store (a region
  under full transparency still has pixels; nothing is composited over a background);
- every other mode (palette, grey, CMYK, YCbCr …) through Pillow's conversion.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from seagull.errors import ImageDecodeError

WIDE_INTEGER_MODES = ("I", "I;16", "I;16L", "I;16B", "I;16N")


def to_rgb8(image) -> np.ndarray:
    """A Pillow image → H×W×3 uint8 RGB (see the module doc for what is converted how)."""
    from PIL import ImageOps

    try:
        image = ImageOps.exif_transpose(image)
    except (SyntaxError, ValueError, TypeError, KeyError, OSError):
        pass  # unreadable EXIF: the pixels as stored, rather than no image at all
    if image.mode in WIDE_INTEGER_MODES or image.mode == "F":
        grey = _to_8bit(np.asarray(image))
        return np.ascontiguousarray(np.repeat(grey[..., None], 3, axis=2))
    return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))


def _to_8bit(values: np.ndarray) -> np.ndarray:
    """Wide integers (16-bit, or 32-bit holding 16-bit data as older Pillow reads 16-bit PNGs)
    ÷257; wider values by their maximum; floats 0–1 (or 0–255 when above 1) to 0–255."""
    if values.dtype.kind == "f":
        values = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        peak = float(values.max()) if values.size else 0.0
        scaled = values * 255.0 if peak <= 1.0 else values
        return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    values = values.astype(np.int64)
    peak = int(values.max()) if values.size else 0
    divisor = 257.0 if peak <= 65535 else peak / 255.0
    return np.clip(np.rint(values / divisor), 0, 255).astype(np.uint8)


def read_image(path: str | Path) -> np.ndarray:
    """An image file → H×W×3 uint8 RGB; ``ImageDecodeError`` naming the file otherwise."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if path.is_dir():
        raise ImageDecodeError(f"{path}: a folder, not an image file")
    if not path.is_file():
        raise ImageDecodeError(f"{path}: no such image file")
    try:
        with Image.open(path) as image:
            image.load()  # a truncated file fails here
            return to_rgb8(image)
    except Image.DecompressionBombError as exc:
        raise ImageDecodeError(f"{path}: too large to decode ({exc})") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        kind = "not an image" if isinstance(exc, UnidentifiedImageError) else \
            f"not a decodable image ({exc.__class__.__name__})"
        raise ImageDecodeError(f"{path}: {kind}") from None
