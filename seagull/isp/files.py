"""Write the renders of one RAW to a folder: images, ``params.json`` and a contact sheet.

The ``seagull render`` command and the demo call ``write_renders``; the dataset factory stores
renders in Parquet instead and uses ``render_variants`` directly.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from seagull.errors import OutputError
from seagull.isp.decode import Source, source_name
from seagull.isp.ops import encode_png
from seagull.isp.render import DEFAULT_SEED, ISP_VERSION, render_variants

# Renders waiting for the writer thread; bounds memory when encoding is slower than rendering.
MAX_PENDING_WRITES = 8
CONTACT_SHEET = "contact_sheet.png"
PARAMS = "params.json"


def _write(path: Path, data: bytes | None, image: np.ndarray) -> None:
    try:
        path.write_bytes(data if data is not None else encode_png(image))
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc.strerror})") from None


def write_renders(source: Source, out_dir: str | os.PathLike, *,
                  types: Iterable[str] | None = None, levels: Iterable[int] | None = None,
                  long_side: int | None = None, seed: int = DEFAULT_SEED,
                  contact_sheet: bool = False, progress=None) -> dict:
    """Render ``source`` (see ``render_variants``) into ``out_dir`` and return the manifest
    written to ``params.json``.

    Files: ``reference.png``, ``<type>_<LL>.png`` (``.jpg`` for compression: the real JPEG
    bytes), ``params.json`` and, with ``contact_sheet``, ``contact_sheet.png``. ``progress``,
    if given, wraps the iterator of renders (e.g. a tqdm factory taking the iterable and a
    ``total``). A bad source raises before the folder is created.
    """
    from seagull.isp.contact_sheet import ContactSheet

    types = list(types) if types is not None else None
    levels = list(levels) if levels is not None else None
    renders = render_variants(source, types=types, levels=levels, long_side=long_side,
                              seed=seed)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out}: cannot create the output folder ({exc.strerror})") from None

    earlier = _earlier_files(out)
    sheet = ContactSheet() if contact_sheet else None
    images: list[dict] = []
    render_params = None
    if progress is not None:
        n_types = 6 if types is None else len(set(types))
        n_levels = 20 if levels is None else len(set(levels))
        renders = progress(renders, total=1 + n_types * n_levels)
    # PNG encoding (zlib) releases the GIL: one writer thread overlaps it with the next render.
    with ThreadPoolExecutor(max_workers=1) as writer:
        pending = []
        for r in renders:
            filename = r.name + r.extension
            pending.append(writer.submit(_write, out / filename, r.encoded, r.image))
            params = dict(r.params)
            render_params = params.pop("render")
            images.append({"file": filename, **params})
            if sheet is not None:
                sheet.add(r)
            if len(pending) >= MAX_PENDING_WRITES:
                pending.pop(0).result()
        for f in pending:
            f.result()
    manifest = {
        "source": source_name(source),
        "isp_version": ISP_VERSION,
        "seed": seed,
        "render": render_params,
        "images": images,
    }
    try:
        (out / PARAMS).write_text(json.dumps(manifest, indent=1) + "\n")
        if sheet is not None:
            (out / CONTACT_SHEET).write_bytes(encode_png(sheet.image()))
    except OSError as exc:
        raise OutputError(f"{out}: cannot write ({exc.strerror})") from None
    # A rerun into the same folder: what the earlier run wrote and this one did not goes, so
    # the folder holds exactly what params.json lists (files it never listed are left alone).
    kept = {entry["file"] for entry in images} | {PARAMS}
    if sheet is not None:
        kept.add(CONTACT_SHEET)
    for name in earlier - kept:
        (out / name).unlink(missing_ok=True)
    return manifest


def _earlier_files(out: Path) -> set[str]:
    """The files an earlier ``write_renders`` into ``out`` wrote, from its ``params.json``."""
    try:
        manifest = json.loads((out / PARAMS).read_text())
        names = {entry["file"] for entry in manifest["images"]} | {CONTACT_SHEET}
    except (OSError, ValueError, KeyError, TypeError):
        return set()
    return {n for n in names if isinstance(n, str) and n == Path(n).name}
