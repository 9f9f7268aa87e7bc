"""``seagull regions IMAGE --out regions.json [--overlay PNG]``: object and component regions.

``regions.json`` is a COCO-style list, one object per region, best first:
``{"segmentation": {"size": [h, w], "counts": "…"}, "bbox": [x, y, w, h], "area": n,
"kind": "object" | "component"}``. The segmenter that made it (name, version, weights hash or
"fallback") and the run's parameters are recorded beside it in ``regions.meta.json``.
"""

from __future__ import annotations

import argparse
import logging

from seagull_cli._args import positive_int, seed

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", help="an RGB image file (PNG, JPEG, TIFF …)")
    parser.add_argument("--out", required=True, help="regions.json to write")
    parser.add_argument("--overlay", help="also write a PNG with the regions drawn on the image")
    parser.add_argument("--points", type=positive_int, default=32,
                        help="random points for component regions (default 32)")
    parser.add_argument("--seed", type=seed, default=0, help="seed of the random points")
    parser.add_argument("--sam", help="SAM checkpoint (ViT-H/L/B .pth); default: configured")
    parser.add_argument("--detector", help="torchvision detector weights; default: configured")
    parser.add_argument("--strict", action="store_true",
                        help="fail instead of using the classical fallback without weights")


def regions_json(regions) -> list[dict]:
    """Regions → the entries of ``regions.json`` (exactly the four COCO-style fields)."""
    return [{"segmentation": r.rle(), "bbox": r.bbox, "area": r.area, "kind": r.kind}
            for r in regions]


def draw_overlay(image, regions):
    """H×W×3 uint8: each region tinted in its own colour; objects outlined in white."""
    import numpy as np

    from seagull.regions.overlay import tint_masks

    rng = np.random.default_rng(0)
    ordered = sorted(regions, key=lambda r: -r.area)  # small regions stay visible on top
    colours = [rng.integers(40, 256, size=3) for _ in ordered]
    outlines = [(255, 255, 255) if r.kind == "object" else c for r, c in zip(ordered, colours)]
    return tint_masks(image, [r.mask for r in ordered], colours, alpha=0.45, outlines=outlines)


def run(args) -> int:
    from seagull.regions import build_segmenter
    from seagull_cli._rgb import read_rgb, sidecar, write_json

    image = read_rgb(args.image)
    segmenter = build_segmenter(args.sam, args.detector, strict=args.strict)
    regions = segmenter.propose(image, n_points=args.points, seed=args.seed)
    out = write_json(args.out, regions_json(regions))
    write_json(sidecar(out), {
        "image": str(args.image), "size": list(image.shape[:2]), "segmenter":
        segmenter.describe(), "points": args.points, "seed": args.seed,
        "regions": len(regions), "objects": sum(r.kind == "object" for r in regions)})
    if args.overlay:
        from PIL import Image

        from seagull.errors import OutputError

        try:
            Image.fromarray(draw_overlay(image, regions)).save(args.overlay, format="PNG")
        except OSError as exc:
            raise OutputError(f"{args.overlay}: cannot write ({exc})") from None
    log.info("%d regions (%d object, %d component) → %s", len(regions),
             sum(r.kind == "object" for r in regions),
             sum(r.kind == "component" for r in regions), out)
    return 0
