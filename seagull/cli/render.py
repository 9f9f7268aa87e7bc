"""``seagull render RAW_FILE --out DIR``: the reference and the distorted renders of one RAW.

Writes ``DIR/reference.png``, ``DIR/<type>_<LL>.png`` (``.jpg`` for compression: the real JPEG
bytes), ``DIR/params.json`` with every parameter used, and with ``--contact-sheet``
``DIR/contact_sheet.png``.
"""

from __future__ import annotations

import argparse

from seagull.cli._args import int_list, positive_int, seed, str_list

# Renders waiting for the writer thread; bounds memory when encoding is slower than rendering.
MAX_PENDING_WRITES = 8


def add_arguments(p: argparse.ArgumentParser) -> None:
    from seagull.isp.render import DEFAULT_SEED

    p.add_argument("raw_file", metavar="RAW_FILE", help="any RAW libraw reads (DNG, NEF, CR2 …)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created)")
    p.add_argument("--long-side", type=positive_int, default=None, metavar="N",
                   help="resize every render to this long side in pixels (default: native)")
    p.add_argument("--types", type=str_list, default=None, metavar="TYPES",
                   help="comma list of distortion types (default: all six)")
    p.add_argument("--levels", type=int_list, default=None, metavar="LEVELS",
                   help="comma list of levels 0…19 (default: all)")
    p.add_argument("--seed", type=seed, default=DEFAULT_SEED,
                   help=f"noise seed (default {DEFAULT_SEED}); same seed, same images")
    p.add_argument("--contact-sheet", action="store_true",
                   help="also write contact_sheet.png, a grid of every render")


def run(args: argparse.Namespace) -> int:
    import json
    import sys
    from concurrent.futures import ThreadPoolExecutor
    from pathlib import Path

    from tqdm import tqdm

    from seagull.errors import OutputError
    from seagull.isp import ISP_VERSION, encode_png, render_variants
    from seagull.isp.contact_sheet import ContactSheet
    from seagull.isp.decode import source_name

    renders = render_variants(args.raw_file, types=args.types, levels=args.levels,
                              long_side=args.long_side, seed=args.seed)
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out}: cannot create the output folder ({exc.strerror})") from None

    def write(path: Path, data: bytes | None, image) -> None:
        try:
            path.write_bytes(data if data is not None else encode_png(image))
        except OSError as exc:
            raise OutputError(f"{path}: cannot write ({exc.strerror})") from None

    sheet = ContactSheet() if args.contact_sheet else None
    images: list[dict] = []
    render_params = None
    n_total = 1 + len(args.types or range(6)) * len(set(args.levels or range(20)))
    # PNG encoding releases the GIL: one writer thread overlaps it with the next render.
    with ThreadPoolExecutor(max_workers=1) as writer:
        pending = []
        for r in tqdm(renders, total=n_total, unit="image", disable=not sys.stderr.isatty()):
            filename = r.name + r.extension
            pending.append(writer.submit(write, out / filename, r.encoded, r.image))
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
        "source": source_name(args.raw_file),
        "isp_version": ISP_VERSION,
        "seed": args.seed,
        "render": render_params,
        "images": images,
    }
    try:
        (out / "params.json").write_text(json.dumps(manifest, indent=1) + "\n")
        if sheet is not None:
            (out / "contact_sheet.png").write_bytes(encode_png(sheet.image()))
    except OSError as exc:
        raise OutputError(f"{out}: cannot write ({exc.strerror})") from None
    print(f"wrote {len(images)} images{' and a contact sheet' if sheet else ''} "
          f"and params.json to {out}")
    return 0
