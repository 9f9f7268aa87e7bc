"""The image operations of the ISP, as plain numpy functions of arrays.

Conventions: ``linear`` images are H×W×3 float32 linear-light sRGB with 1.0 = display white
(values above 1 are highlights the tone curve clips; below 0 never survive encoding);
``display`` images are the same after the tone curve, on [0, 1]; 8-bit images are H×W×3 uint8.
"""

from __future__ import annotations

import io
import struct
import zlib
from functools import lru_cache

import numpy as np

from seagull.isp.inverse import tone_curve

# libraw's default output curve (BT.709-like: power 1/2.222, linear toe of slope 4.5).
GAMMA = (2.222, 4.5)


@lru_cache(maxsize=8)
def display_lut(white: int) -> tuple[np.ndarray, np.ndarray]:
    """Lookup tables from a 16-bit linear value ``v`` to the display signal, for a render whose
    linear white is ``white`` (libraw's ``imax``: ``v / white`` = 1 is display white).

    Returns ``(lut8, lutf)``: uint8[65536] with libraw's own quantisation
    (``int(0x10000·curve) >> 8``, so a plain render matches libraw's 8-bit output bit for bit),
    and float32[65536], the curve on [0, 1] for operations that act on the display signal.
    """
    r = np.arange(65536, dtype=np.float64) / white
    y = tone_curve(r, 1 / GAMMA[0], GAMMA[1])
    y[r >= 1] = 1.0
    lut8 = (np.minimum(np.floor(y * 65536.0), 65535).astype(np.uint32) >> 8).astype(np.uint8)
    yf = y.astype(np.float32)
    lut8.flags.writeable = yf.flags.writeable = False  # cached: shared by every caller
    return lut8, yf


def linear_index(linear: np.ndarray, white: int) -> np.ndarray:
    """Linear image → uint16 indices into ``display_lut(white)`` (rounded, clipped)."""
    scaled = np.multiply(linear, np.float32(white), dtype=np.float32)
    np.clip(scaled, 0, 65535, out=scaled)
    np.rint(scaled, out=scaled)
    return scaled.astype(np.uint16)


def encode_display(linear: np.ndarray, white: int) -> np.ndarray:
    """Linear image → H×W×3 uint8 through libraw's tone curve."""
    lut8, _ = display_lut(white)
    return lut8[linear_index(linear, white)]


def display_signal(linear: np.ndarray, white: int) -> np.ndarray:
    """Linear image → display signal on [0, 1] (float32)."""
    _, lutf = display_lut(white)
    return lutf[linear_index(linear, white)]


def quantise_display(display: np.ndarray) -> np.ndarray:
    """Display signal on [0, 1] → uint8, with the same floor rule as ``display_lut``."""
    out = np.multiply(display, np.float32(256), dtype=np.float32)
    np.clip(out, 0, 255, out=out)
    return out.astype(np.uint8)


def resize_linear(linear: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a linear image to ``size = (width, height)``: area averaging (box) when
    shrinking, which is what light does on a coarser sensor, bicubic when enlarging."""
    from PIL import Image

    h, w = linear.shape[:2]
    if (w, h) == tuple(size):
        return linear
    method = Image.Resampling.BOX if size[0] <= w and size[1] <= h else Image.Resampling.BICUBIC
    out = np.empty((size[1], size[0], 3), dtype=np.float32)
    for c in range(3):
        plane = Image.fromarray(np.ascontiguousarray(linear[..., c], dtype=np.float32), mode="F")
        out[..., c] = np.asarray(plane.resize(size, method))
    return out


def exposure(linear: np.ndarray, ev: float) -> np.ndarray:
    """Exposure change of ``ev`` stops: a gain of ``2**ev`` in linear light."""
    return np.multiply(linear, np.float32(2.0**ev), dtype=np.float32)


# Above this σ (pixels) the blur runs through the FFT: its cost no longer grows with σ, while a
# direct convolution's grows linearly (a 24 MP render at the top level has σ ≈ 90 px).
FFT_BLUR_SIGMA = 4.0
BLUR_TRUNCATE = 3.5  # the PSF is cut at 3.5 σ (the mass beyond is < 0.05 %)


def gaussian_blur(linear: np.ndarray, sigma_px: float) -> np.ndarray:
    """Optical blur: convolve each channel with a Gaussian PSF of ``sigma_px`` pixels, in linear
    light, with mirror-reflected edges (so the border does not darken).

    Small σ: direct separable convolution. Large σ: the same Gaussian applied as a product in
    the frequency domain on the image padded by 3.5 σ of mirrored border (no wrap-around).
    """
    if sigma_px > FFT_BLUR_SIGMA:
        return _gaussian_blur_fft(linear, sigma_px)
    from scipy.ndimage import gaussian_filter

    out = np.empty_like(linear, dtype=np.float32)
    for c in range(3):
        gaussian_filter(linear[..., c], sigma_px, output=out[..., c], mode="mirror",
                        truncate=BLUR_TRUNCATE)
    return out


def _gaussian_blur_fft(linear: np.ndarray, sigma_px: float) -> np.ndarray:
    from scipy import fft

    h, w = linear.shape[:2]
    pad = int(np.ceil(BLUR_TRUNCATE * sigma_px))
    pad_h, pad_w = min(pad, h - 1), min(pad, w - 1)  # numpy "reflect" == scipy "mirror"
    padded = np.pad(linear.astype(np.float32, copy=False),
                    ((pad_h, pad_h), (pad_w, pad_w), (0, 0)), mode="reflect")
    ph, pw = padded.shape[:2]
    shape = (fft.next_fast_len(ph, real=True), fft.next_fast_len(pw, real=True))
    fy = fft.fftfreq(shape[0]).astype(np.float32)
    fx = fft.rfftfreq(shape[1]).astype(np.float32)
    k = np.float32(-2 * np.pi**2 * sigma_px**2)
    transfer = np.exp(k * fy[:, None] ** 2) * np.exp(k * fx[None, :] ** 2)
    out = np.empty_like(linear, dtype=np.float32)
    for c in range(3):
        spectrum = fft.rfft2(padded[..., c], s=shape)
        spectrum *= transfer
        blurred = fft.irfft2(spectrum, s=shape)
        out[..., c] = blurred[pad_h:pad_h + h, pad_w:pad_w + w]
    return out


def contrast_curve(display: np.ndarray, slope: float, sigmoid_gain: float | None = None
                   ) -> np.ndarray:
    """Contrast on the display signal, pivoting at mid-grey (0.5).

    ``slope < 1``: the straight line ``½ + slope·(y − ½)`` (flatter, greyer).
    ``slope > 1``: the logistic curve of steepness ``sigmoid_gain`` rescaled to keep 0 → 0 and
    1 → 1, whose slope at mid-grey is ``slope`` (deeper shadows, brighter highlights, no hard
    clipping of the whole range).
    """
    y = np.asarray(display, dtype=np.float32)
    if slope <= 1.0:
        return np.float32(0.5) + np.float32(slope) * (y - np.float32(0.5))
    if sigmoid_gain is None:
        raise ValueError("a contrast slope above 1 needs its sigmoid_gain")
    a = float(sigmoid_gain)
    lo = 1.0 / (1.0 + np.exp(a / 2))
    hi = 1.0 / (1.0 + np.exp(-a / 2))
    s = 1.0 / (1.0 + np.exp(np.float32(-a) * (y - np.float32(0.5))))
    return ((s - np.float32(lo)) / np.float32(hi - lo)).astype(np.float32)


# Oklab (Björn Ottosson, 2020): linear sRGB → LMS → cube root → Lab.
_LMS_FROM_RGB = np.array([
    [0.4122214708, 0.5363325363, 0.0514459929],
    [0.2119034982, 0.6806995451, 0.1073969566],
    [0.0883024619, 0.2817188376, 0.6299787005],
], dtype=np.float32)
_LAB_FROM_LMS = np.array([
    [0.2104542553, 0.7936177850, -0.0040720468],
    [1.9779984951, -2.4285922050, 0.4505937099],
    [0.0259040371, 0.7827717662, -0.8086757660],
], dtype=np.float32)
_LMS_FROM_LAB = np.linalg.inv(_LAB_FROM_LMS.astype(np.float64)).astype(np.float32)
_RGB_FROM_LMS = np.linalg.inv(_LMS_FROM_RGB.astype(np.float64)).astype(np.float32)


def oklab_from_linear(linear: np.ndarray) -> np.ndarray:
    """Linear sRGB (H×W×3) → Oklab (H×W×3: L on [0, 1] for [0, 1] input, a, b)."""
    lms = np.cbrt(linear.astype(np.float32, copy=False) @ _LMS_FROM_RGB.T)
    return lms @ _LAB_FROM_LMS.T


def linear_from_oklab(lab: np.ndarray) -> np.ndarray:
    lms = lab @ _LMS_FROM_LAB.T
    return (lms * lms * lms) @ _RGB_FROM_LMS.T


def scale_chroma(lab: np.ndarray, chroma_scale: float) -> np.ndarray:
    """Multiply the Oklab chroma (a, b) by ``chroma_scale``; returns linear sRGB, negative
    values (out of the sRGB gamut) clipped to 0."""
    scaled = lab.copy()
    scaled[..., 1:] *= np.float32(chroma_scale)
    out = linear_from_oklab(scaled)
    np.maximum(out, 0, out=out)
    return out


def jpeg_roundtrip(image: np.ndarray, quality: int) -> tuple[bytes, np.ndarray]:
    """(JPEG bytes at ``quality`` with 4:2:0 chroma, the decoded H×W×3 uint8 image)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=int(quality), subsampling=2,
                                optimize=False, progressive=False)
    data = buf.getvalue()
    with Image.open(io.BytesIO(data)) as im:
        decoded = np.asarray(im.convert("RGB"))
    return data, decoded


def inject_noise(clean: np.ndarray, black: np.ndarray, white: float, electrons_at_white: float,
                 read_noise: float, rng: np.random.Generator) -> np.ndarray:
    """Poisson–Gaussian noise on a raw mosaic (H×W uint16 digital numbers).

    ``black`` is the black level of every pixel (H×W, from the CFA colour of the pixel), ``white``
    the saturation level. The signal above black, as a fraction ``x`` of the range, becomes
    ``Poisson(x·N)/N + 𝒩(0, read_noise²)`` with ``N = electrons_at_white``: shot noise that
    grows with the signal, as on a sensor with a smaller full well (a higher ISO), plus read
    noise. Returns the noisy mosaic (uint16, clipped to [0, white]).
    """
    span = np.float32(white) - black
    x = (clean.astype(np.float32) - black) / span
    signal = np.maximum(x, 0, dtype=np.float32)
    shot = rng.poisson(signal * np.float32(electrons_at_white)).astype(np.float32)
    noisy = shot / np.float32(electrons_at_white) + np.minimum(x, 0)
    noisy += rng.standard_normal(x.shape, dtype=np.float32) * np.float32(read_noise)
    dn = noisy * span + black
    np.rint(dn, out=dn)
    np.clip(dn, 0, white, out=dn)
    return dn.astype(np.uint16)


def _png_chunk(tag: bytes, data) -> bytes:
    crc = zlib.crc32(data, zlib.crc32(tag))
    return struct.pack(">I", len(data)) + tag + bytes(data) + struct.pack(">I", crc)


def encode_png(image: np.ndarray, fast: bool = True) -> bytes:
    """PNG bytes of an H×W×3 uint8 image (lossless; any PNG reader decodes it).

    ``fast=True`` writes the PNG directly: every row with the "Up" filter (the difference to
    the row above, one vectorised subtraction) and zlib at level 1 with Huffman coding only (no
    match search). On photographs that is about 2.5× less CPU than the imaging library's
    fastest setting and 6–10× less than its default, for files ~5–10 % larger than the
    default's. The factory stores its own encoding; this is for speed. ``fast=False`` uses the
    imaging library's default settings (smaller, slower).
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an H×W×3 uint8 image, got {image.dtype} {image.shape}")
    if not fast:
        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(image).save(buf, "PNG")
        return buf.getvalue()
    height, width = image.shape[:2]
    rows = np.ascontiguousarray(image).reshape(height, width * 3)
    filtered = np.empty((height, width * 3 + 1), dtype=np.uint8)
    filtered[:, 0] = 2  # filter type Up; uint8 subtraction wraps modulo 256 as PNG wants
    filtered[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=filtered[1:, 1:])
    deflate = zlib.compressobj(1, zlib.DEFLATED, 15, 9, zlib.Z_HUFFMAN_ONLY)
    idat = deflate.compress(memoryview(filtered).cast("B")) + deflate.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", idat)
            + _png_chunk(b"IEND", b""))
