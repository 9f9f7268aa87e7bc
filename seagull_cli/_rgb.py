"""Reading RGB images and writing JSON for the region and label subcommands."""

from __future__ import annotations

import json
from pathlib import Path

from seagull.errors import OutputError


def read_rgb(path: str | Path):
    """An image file → H×W×3 uint8 RGB array, as ``seagull.image_io.read_image`` reads it
    (EXIF orientation applied, wide bit depths scaled); ``ImageDecodeError`` naming the file."""
    from seagull.image_io import read_image

    return read_image(path)


def write_json(path: str | Path, data) -> Path:
    """Write ``data`` as JSON (atomically: a temporary file renamed into place)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        if isinstance(data, list):  # one entry per line: readable, and diffs stay small
            text = "[\n" + ",\n".join(json.dumps(entry) for entry in data) + "\n]\n"
        else:
            text = json.dumps(data, indent=1) + "\n"
        tmp.write_text(text)
        tmp.replace(path)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc.strerror or exc})") from None
    return path


def sidecar(path: str | Path) -> Path:
    """Where the run's record (segmenter/labeller, weights hash or "fallback") goes:
    ``regions.json`` → ``regions.meta.json``."""
    path = Path(path)
    return path.with_name(f"{path.stem}.meta.json")
