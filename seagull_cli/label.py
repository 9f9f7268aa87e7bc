"""``seagull label --reference R --distorted D --regions regions.json --distortion TYPE
--out labels.json``: full-reference labels of each region of a distorted image.

Any COCO-style ``regions.json`` is accepted (a list of objects with a ``segmentation`` RLE;
``kind`` and ``bbox`` are optional). ``labels.json`` is a list in the same order, one object per
region: ``quality``, ``importance`` (null where undefined), ``importance_pair``
(``[replaced, reference]`` scores), ``distortions`` (``[{type, severity, level}]``, empty when
clean) and ``with_distortion``. The labeller and the whole-image score pair are recorded beside
it in ``labels.meta.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

log = logging.getLogger(__name__)

LABEL_FIELDS = ("quality", "importance", "importance_pair", "distortions", "with_distortion")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from seagull.labels.levels import DISTORTION_TYPES

    parser.add_argument("--reference", required=True, help="the reference image file")
    parser.add_argument("--distorted", required=True, help="the distorted image file")
    parser.add_argument("--regions", required=True, help="regions.json (COCO-style RLE list)")
    parser.add_argument("--distortion", required=True, choices=DISTORTION_TYPES,
                        help="the distortion applied to the distorted image")
    parser.add_argument("--out", required=True, help="labels.json to write")
    parser.add_argument("--topiq", help="TOPIQ-FR weights file; default: configured")
    parser.add_argument("--importance", choices=("window", "exact"), default="window",
                        help="replaced-image pass: around the region (default) or in full")
    parser.add_argument("--strict", action="store_true",
                        help="fail instead of using the weight-free fallback metric")


def read_regions(path: str | Path) -> list:
    """The masks (H×W bool) of a ``regions.json``; malformed entries are ``InvalidInputError``."""
    from seagull.errors import InvalidInputError
    from seagull.regions import rle

    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise InvalidInputError(f"{path}: no such regions file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"{path}: not JSON ({exc.__class__.__name__})") from None
    if not isinstance(data, list):
        raise InvalidInputError(f"{path}: expected a JSON list of regions")
    masks = []
    for i, entry in enumerate(data):
        if not isinstance(entry, dict) or "segmentation" not in entry:
            raise InvalidInputError(f"{path}: region {i} has no 'segmentation'")
        try:
            masks.append(rle.decode(entry["segmentation"]))
        except InvalidInputError as exc:
            raise InvalidInputError(f"{path}: region {i}: {exc}") from None
    return masks


def run(args) -> int:
    from seagull.errors import MaskShapeError
    from seagull.labels import build_labeller
    from seagull_cli._rgb import read_rgb, sidecar, write_json

    reference = read_rgb(args.reference)
    distorted = read_rgb(args.distorted)
    masks = read_regions(args.regions)
    for i, mask in enumerate(masks):
        if mask.shape != reference.shape[:2]:
            raise MaskShapeError(f"{args.regions}: region {i} is {mask.shape[1]}×{mask.shape[0]}, "
                                 f"the reference {reference.shape[1]}×{reference.shape[0]}")
    labeller = build_labeller(args.topiq, strict=args.strict, importance_method=args.importance)
    context = labeller.prepare(reference, masks)
    labels = labeller.label(context, distorted, args.distortion)
    out = write_json(args.out, [{k: lab[k] for k in LABEL_FIELDS} for lab in labels])
    write_json(sidecar(out), {
        "reference": str(args.reference), "distorted": str(args.distorted),
        "regions": str(args.regions), "distortion": args.distortion,
        "labeller": labeller.describe(),
        "image_pair": labels[0]["image_pair"] if labels else None})
    log.info("%d regions labelled → %s", len(labels), out)
    return 0
