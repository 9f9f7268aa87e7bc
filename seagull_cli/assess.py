"""``seagull assess``: the quality, importance and distortions of one region of an image."""

from __future__ import annotations

import argparse


def _xy(text: str) -> tuple[float, float]:
    return _numbers(text, 2, "X,Y")


def _box(text: str) -> tuple[float, float, float, float]:
    return _numbers(text, 4, "X0,Y0,X1,Y1")


def _numbers(text: str, count: int, form: str):
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {form}") from None
    if len(values) != count:
        raise argparse.ArgumentTypeError(f"{text!r} is not {form}")
    return values


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("image", help="the image (PNG, JPEG, … anything Pillow reads)")
    region = p.add_mutually_exclusive_group(required=True)
    region.add_argument("--point", type=_xy, metavar="X,Y",
                        help="a click inside the region (pixels); segmented with SAM")
    region.add_argument("--box", type=_box, metavar="X0,Y0,X1,Y1",
                        help="a box around the region (pixels); segmented with SAM. A value "
                             "starting with '-' needs '=': --box=-5,10,120,90")
    region.add_argument("--mask", metavar="RLE_JSON",
                        help="the region as a COCO RLE JSON file ({\"size\": [h, w], "
                             "\"counts\": …})")
    p.add_argument("--model", metavar="DIR",
                   help="a model folder written by save_pretrained, or a `seagull train` run "
                        "folder (its model/)")
    p.add_argument("--tasks", default="quality,importance,distortion",
                   help="comma list of quality, importance, distortion (default: all)")
    p.add_argument("--sam", "--sam-checkpoint", dest="sam", metavar="CHECKPOINT",
                   help="SAM weights for --point/--box (default: seagull.weights lookup; "
                        "--sam-checkpoint: the old spelling)")
    p.add_argument("--llm", metavar="DIR", help="the LLM folder of a paper-preset model")
    p.add_argument("--encoder-weights", metavar="FILE",
                   help="the ConvNeXt checkpoint of a paper-preset model")


def load_rle_mask(path: str, shape: tuple[int, int]):
    """A COCO RLE JSON file → H×W bool mask, checked against the image's ``shape``."""
    import json

    from seagull.errors import InvalidInputError, MaskShapeError
    from seagull.regions.rle import decode

    try:
        with open(path) as fh:
            rle = json.load(fh)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{path}: not JSON ({exc.msg})") from None
    except OSError as exc:
        raise InvalidInputError(f"{path}: cannot read the mask ({exc.strerror or exc})") \
            from None
    if isinstance(rle, dict) and "segmentation" in rle:
        rle = rle["segmentation"]
    if not (isinstance(rle, dict) and "size" in rle and "counts" in rle):
        raise InvalidInputError(f"{path}: not a COCO RLE ({{\"size\": [h, w], \"counts\": …}})")
    size = rle["size"]
    if isinstance(size, list) and len(size) == 2 and tuple(size) != tuple(shape):
        raise MaskShapeError(f"{path}: mask is {size[1]}×{size[0]} but the image is "
                             f"{shape[1]}×{shape[0]}")
    try:
        mask = decode(rle)  # validated: size, alphabet, runs covering exactly h·w pixels
    except InvalidInputError as exc:
        raise InvalidInputError(f"{path}: {exc}") from None
    if not mask.any():
        raise InvalidInputError(f"{path}: the mask selects no pixel")
    return mask


def run(args: argparse.Namespace) -> int:
    import json

    from seagull.errors import ImageDecodeError, InvalidInputError, WeightsNotFoundError

    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    from seagull.labels.instructions import TASKS as known

    if not tasks or any(t not in known for t in tasks):
        raise InvalidInputError(f"--tasks {args.tasks!r}: choose from {', '.join(known)}")
    if not args.model:
        raise WeightsNotFoundError("no model: pass --model DIR (a folder written by "
                                   "SeagullModel.save_pretrained or `seagull train`)")
    from seagull.image_io import read_image

    image = read_image(args.image)
    if min(image.shape[:2]) < 2:
        raise ImageDecodeError(f"{args.image}: {image.shape[1]}×{image.shape[0]} is too small "
                               "(need at least 2×2 pixels)")
    if args.mask:
        mask = load_rle_mask(args.mask, image.shape[:2])
    else:
        from seagull.regions import build_segmenter

        segmenter = build_segmenter(sam_checkpoint=args.sam)
        segmenter.set_image(image)
        mask = segmenter.predict(point=args.point) if args.point is not None else \
            segmenter.predict(box=args.box)


    from seagull.assessors import resolve_model_dir
    from seagull.model import SeagullModel, SeagullPredictor

    model_dir = resolve_model_dir(args.model)  # a model folder or a training run's
    model = SeagullModel.from_pretrained(model_dir, llm_path=args.llm,
                                         encoder_weights=args.encoder_weights)
    predictor = SeagullPredictor(model)
    predictor.set_image(image)
    result = predictor.assess(mask, tasks=tuple(tasks))
    print(json.dumps(result, indent=2))
    return 0
