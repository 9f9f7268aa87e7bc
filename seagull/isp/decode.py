"""Open a RAW file once, with typed errors for every way it can be bad.

``open_raw(source)`` takes a path or a binary file-like object, reads its bytes, and hands them to
libraw (rawpy). Whatever libraw cannot use becomes a ``RawDecodeError`` (or, for a RAW whose
sensor layout the ISP does not render, ``UnsupportedSensorError``) naming the file and the
reason, so that a dataset build can record one ``errors`` row and move on.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from seagull.errors import RawDecodeError, UnsupportedSensorError

Source = str | os.PathLike | BinaryIO


@dataclass
class OpenedRaw:
    """A decoded RAW: ``raw`` is the open ``rawpy.RawPy`` (mosaic unpacked), ``name`` the file
    name used in messages, ``size_bytes`` the length of the file."""

    name: str
    raw: Any
    size_bytes: int

    def close(self) -> None:
        self.raw.close()


def source_name(source: Source) -> str:
    """A short name for messages: the file name of a path, or the ``name`` of a file object."""
    if isinstance(source, (str, os.PathLike)):
        return Path(source).name or str(source)
    name = getattr(source, "name", None)
    if isinstance(name, (str, os.PathLike)):
        return Path(name).name
    return f"<{type(source).__name__}>"


def read_source(source: Source) -> tuple[str, bytes]:
    """(name, all the bytes) of a path or a binary file-like object."""
    name = source_name(source)
    if isinstance(source, (str, os.PathLike)):
        try:
            data = Path(source).read_bytes()
        except FileNotFoundError:
            raise RawDecodeError(f"{name}: no such file") from None
        except IsADirectoryError:
            raise RawDecodeError(f"{name}: is a directory, not a RAW file") from None
        except OSError as exc:
            raise RawDecodeError(f"{name}: cannot be read ({exc.strerror})") from None
        return name, data
    read = getattr(source, "read", None)
    if read is None:
        raise RawDecodeError(f"{name}: expected a path or a binary file object, "
                             f"got {type(source).__name__}")
    data = read()
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise RawDecodeError(f"{name}: the file object is not opened in binary mode")
    return name, bytes(data)


def open_raw(source: Source) -> OpenedRaw:
    """Read ``source`` and decode its mosaic with libraw.

    Raises ``RawDecodeError`` for an empty file, a file that is not a RAW, a truncated or
    corrupt RAW (libraw hits the end of its data) and corrupt sensor levels (``check_levels``);
    ``UnsupportedSensorError`` for a RAW that is
    not a single-plane colour filter mosaic (linear/demosaiced DNGs, monochrome sensors).
    A file cut within its very last bytes can still decode (libraw fills what is missing).
    """
    import rawpy

    name, data = read_source(source)
    if not data:
        raise RawDecodeError(f"{name}: the file is empty (zero bytes)")
    try:
        raw = rawpy.imread(io.BytesIO(data))
        _ = raw.raw_image  # unpack now: truncation shows here, not at the first render
    except rawpy.LibRawFileUnsupportedError:
        raise RawDecodeError(f"{name}: not a RAW file libraw can read "
                             f"({len(data)} bytes, starts {data[:8]!r})") from None
    except rawpy.LibRawIOError:
        raise RawDecodeError(f"{name}: truncated or corrupt RAW: libraw ran out of data "
                             f"({len(data)} bytes)") from None
    except rawpy.LibRawError as exc:
        raise RawDecodeError(f"{name}: libraw cannot decode it ({_libraw_message(exc)})") from None
    try:
        check_layout(name, raw)
        check_levels(name, data, raw)
    except RawDecodeError:
        raw.close()
        raise
    return OpenedRaw(name=name, raw=raw, size_bytes=len(data))


def _libraw_message(exc: Exception) -> str:
    msg = exc.args[0] if exc.args else type(exc).__name__
    return msg.decode(errors="replace") if isinstance(msg, bytes) else str(msg)


def check_layout(name: str, raw: Any) -> None:
    """Accept only what the renderer handles: one mosaic plane behind a colour filter array
    (Bayer 2×2 or any other pattern libraw demosaics, e.g. X-Trans) with three colours."""
    import rawpy

    if raw.raw_type != rawpy.RawType.Flat or raw.raw_image.ndim != 2:
        raise UnsupportedSensorError(
            f"{name}: unsupported sensor layout: the RAW holds {raw.raw_image.ndim - 1 or 1} "
            f"planes per pixel ({raw.raw_type.name}: linear or already demosaiced data), "
            f"not a colour filter mosaic")
    if raw.raw_pattern is None or raw.num_colors < 3:
        raise UnsupportedSensorError(
            f"{name}: unsupported sensor layout: {raw.num_colors} colour(s) and no colour "
            f"filter pattern (monochrome sensor)")


# TIFF/DNG tags of the sensor levels (DNG 1.4 specification).
_DNG_VERSION, _BLACK_LEVEL, _WHITE_LEVEL = 50706, 50714, 50717


def _dng_levels(data: bytes) -> list[tuple[list[float], list[float]]]:
    """(black levels, white levels) as written in each image directory of a DNG that has them;
    [] for any other file. libraw replaces a white level of 0 by the container's maximum, so
    only the tags themselves show it."""
    if data[:2] not in (b"II", b"MM"):
        return []
    import tifffile

    def values(tag) -> list[float]:
        v = tag.value
        v = v if isinstance(v, (tuple, list)) or hasattr(v, "tolist") else [v]
        v = v.tolist() if hasattr(v, "tolist") else list(v)
        return [float(x[0]) / x[1] if isinstance(x, tuple) else float(x) for x in
                (zip(v[0::2], v[1::2]) if tag.dtype_name in ("RATIONAL", "SRATIONAL") else v)]

    out = []
    try:
        with tifffile.TiffFile(io.BytesIO(data)) as tif:
            if _DNG_VERSION not in tif.pages.first.tags:
                return []
            todo = list(tif.pages)
            while todo:
                page = todo.pop()
                todo.extend(getattr(page, "pages", None) or [])
                tags = page.tags
                if _WHITE_LEVEL in tags:
                    black = values(tags[_BLACK_LEVEL]) if _BLACK_LEVEL in tags else [0.0]
                    out.append((black, values(tags[_WHITE_LEVEL])))
    except Exception:  # noqa: BLE001 - libraw decoded it; an odd directory is not our check
        return []
    return out


def check_levels(name: str, data: bytes, raw: Any) -> None:
    """Refuse a RAW whose sensor levels cannot describe its data: a white (saturation) level of
    0, or a black level at or above the white level. Rendered anyway, such a file gives an image
    of nothing but clipped or negative values, labelled as if it were a photograph."""
    import numpy as np

    for black, white in _dng_levels(data):
        if min(white) <= 0:
            raise RawDecodeError(f"{name}: corrupt sensor metadata: white level "
                                 f"{min(white):g} (must be above 0)")
        if max(black) >= min(white):
            raise RawDecodeError(f"{name}: corrupt sensor metadata: black level {max(black):g} "
                                 f"is not below the white level {min(white):g}")
    black = int(np.max(raw.black_level_per_channel))
    white = int(raw.white_level)
    if white <= 0 or black >= white:
        raise RawDecodeError(f"{name}: corrupt sensor metadata: black level {black} is not "
                             f"below the white level {white}")
