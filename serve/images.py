"""Decoding uploaded images under limits, and the content hash that names them.

An upload is bytes of any format Pillow reads (PNG, JPEG, WebP, TIFF …). The byte limit is
checked before decoding and the pixel limit from the header, before any pixel is decoded, so
a small file that expands to a huge image (a decompression bomb) costs nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import re

import numpy as np

from seagull.errors import ImageDecodeError, InvalidInputError
from serve.errors import PayloadTooLargeError

_ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")


def decode_image(data: bytes, *, max_bytes: int, max_pixels: int, name: str = "image") -> np.ndarray:
    """Encoded image bytes → H×W×3 uint8 RGB.

    Raises ``PayloadTooLargeError`` over ``max_bytes`` bytes or ``max_pixels`` pixels, and
    ``ImageDecodeError`` for bytes that are not a complete image (empty, not an image,
    truncated).
    """
    from PIL import Image

    from seagull.image_io import to_rgb8

    if len(data) > max_bytes:
        raise PayloadTooLargeError(f"{name}: {len(data)} bytes is over the limit of "
                                   f"{max_bytes} bytes")
    if not data:
        raise ImageDecodeError(f"{name}: the upload is empty")
    try:
        with Image.open(io.BytesIO(data)) as opened:
            width, height = opened.size
            if width * height > max_pixels:
                raise PayloadTooLargeError(f"{name}: {width}×{height} = {width * height} pixels "
                                           f"is over the limit of {max_pixels} pixels")
            opened.load()  # a truncated file fails here, not later
            array = to_rgb8(opened)  # EXIF orientation, wide bit depths scaled, alpha dropped
    except PayloadTooLargeError:
        raise
    except Image.DecompressionBombError as exc:
        raise PayloadTooLargeError(f"{name}: {exc}") from None
    except Image.UnidentifiedImageError:
        raise ImageDecodeError(f"{name}: not an image in a format this service reads "
                               "(PNG, JPEG, WebP, TIFF, …)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageDecodeError(f"{name}: not a decodable image ({exc.__class__.__name__}: "
                               f"{str(exc)[:120]})") from None
    if array.shape[0] < 2 or array.shape[1] < 2:
        raise ImageDecodeError(f"{name}: {array.shape[1]}×{array.shape[0]} is too small "
                               f"(need at least 2×2 pixels)")
    return np.ascontiguousarray(array)


def decode_base64(text, *, max_bytes: int, name: str = "image") -> bytes:
    """A base64 string (optionally a ``data:…;base64,`` URL) → bytes, under ``max_bytes``."""
    if not isinstance(text, str):
        raise InvalidInputError(f"{name}: expected a base64 string, got {type(text).__name__}")
    if text.startswith("data:"):
        _, _, text = text.partition(",")
    # base64 is 4/3 of the payload: refuse before decoding anything bigger than the limit.
    if len(text) > (max_bytes * 4) // 3 + 8:
        raise PayloadTooLargeError(f"{name}: the base64 text is over the limit of {max_bytes} "
                                   f"bytes")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ImageDecodeError(f"{name}: not valid base64") from None


def image_id(image: np.ndarray) -> str:
    """The content hash naming an image: 32 hex digits of sha256 over its shape and pixels.

    The same pixels give the same id whatever file format they were uploaded in.
    """
    digest = hashlib.sha256()
    digest.update(repr(tuple(image.shape)).encode())
    digest.update(np.ascontiguousarray(image).data)
    return digest.hexdigest()[:32]


def check_image_id(value) -> str:
    """A well-formed image id, or ``InvalidInputError`` (unknown ids are the store's 404)."""
    if not isinstance(value, str) or not _ID_PATTERN.match(value):
        raise InvalidInputError(f"image_id: {value!r} is not an image id this service issues "
                                f"(32 lowercase hex digits)")
    return value


def overlay_png(image: np.ndarray, mask: np.ndarray, *, colour=(255, 64, 32),
                alpha: float = 0.5) -> bytes:
    """PNG bytes of ``image`` (H×W×3 uint8) with ``mask`` (H×W bool) tinted and outlined."""
    from PIL import Image

    from seagull.regions.overlay import tint_masks

    buffer = io.BytesIO()
    Image.fromarray(tint_masks(image, [mask], [colour], alpha=alpha)).save(buffer, format="PNG")
    return buffer.getvalue()
