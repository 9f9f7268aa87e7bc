"""The Seagull-100w factory's stages, one source at a time, without Ray.

``pipelines/build_100w.py`` runs these stages on Ray Data; each is also callable from a plain
Python shell (``build_source`` runs them all for one RAW). A row passed between stages is a dict
of plain values (strings, numbers, bytes, lists, dicts), so Ray Data can move it as Arrow:

1. ``render_reference(source_row)`` decodes the RAW and renders the reference (PNG bytes).
2. ``SegmentStage(row)`` proposes regions on the reference (models loaded once per instance).
3. ``render_distorted(row)`` renders the distortions and yields one *part* per distortion type
   (plus one part for the reference), each with the reference and the masks.
4. ``LabelStage(part)`` labels every region of every render of the part and writes the part's
   ``images``/``rois`` rows to the dataset's staging area (``seagull.data.store``); it returns a
   small status row.
5. When all ``n_parts`` parts of a source are staged, ``DatasetLayout.finalise_source`` merges
   them into the source's shards.

A failure of any stage on a source turns the row into an *error row* (``status`` "error" with
stage, type and message) that later stages pass on unchanged; the source ends as one
``errors`` row.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from seagull.data.ids import image_id as make_image_id
from seagull.data.ids import roi_id as make_roi_id
from seagull.data.ids import unit_interval
from seagull.data.schema import REFERENCE, to_table
from seagull.data.split import DEFAULT_TEST_FRACTION_100W, split_by_hash, split_group
from seagull.errors import InvalidArgumentError, SeagullError

log = logging.getLogger(__name__)

DATASET_100W = "seagull-100w"
DEFAULT_LONG_SIDE = 1024
DEFAULT_POINTS = 32
DEFAULT_SEED = 0


SOURCE_IDS = "sha256"  # a source's id is a hash of its bytes (seagull.data.ids.source_id)


@dataclass(frozen=True)
class FactoryParams:
    """What determines the rows of a build (anything else is resources, not data).

    ``types``/``levels`` None mean all six types / all 20 levels (the ISP's defaults).
    """

    types: tuple[str, ...] | None = None
    levels: tuple[int, ...] | None = None
    long_side: int | None = DEFAULT_LONG_SIDE
    points: int = DEFAULT_POINTS
    seed: int = DEFAULT_SEED
    test_fraction: float = DEFAULT_TEST_FRACTION_100W

    def __post_init__(self) -> None:
        from seagull.isp.distortions import N_LEVELS
        from seagull.labels.levels import DISTORTION_TYPES

        if self.types is not None:
            unknown = sorted(set(self.types) - set(DISTORTION_TYPES))
            if unknown or not self.types:
                raise InvalidArgumentError(
                    f"unknown distortion type(s) {unknown}; types: {', '.join(DISTORTION_TYPES)}")
            object.__setattr__(self, "types", tuple(self.types))
        if self.levels is not None:
            bad = [lv for lv in self.levels if not 0 <= int(lv) < N_LEVELS]
            if bad or not self.levels:
                raise InvalidArgumentError(f"levels must be in 0…{N_LEVELS - 1}, got "
                                           f"{list(self.levels)}")
            object.__setattr__(self, "levels", tuple(int(lv) for lv in self.levels))
        if self.long_side is not None and self.long_side <= 0:
            raise InvalidArgumentError(f"long side must be positive, got {self.long_side}")
        if self.points <= 0:
            raise InvalidArgumentError(f"points must be positive, got {self.points}")
        if not 0.0 <= self.test_fraction <= 1.0:
            raise InvalidArgumentError(f"test fraction {self.test_fraction} is outside [0, 1]")

    def as_dict(self, isp_version: str) -> dict[str, Any]:
        """The manifest's ``params``: these fields plus the ISP version and how source ids are
        made (content hashes since ids stopped following locations: a dataset of the older ids
        is another dataset, so resuming it is refused rather than built twice)."""
        d = asdict(self)
        d["types"] = list(self.types) if self.types is not None else None
        d["levels"] = list(self.levels) if self.levels is not None else None
        d["isp_version"] = isp_version
        d["source_ids"] = SOURCE_IDS
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FactoryParams:
        return cls(types=tuple(d["types"]) if d.get("types") is not None else None,
                   levels=tuple(d["levels"]) if d.get("levels") is not None else None,
                   long_side=d.get("long_side"), points=d["points"], seed=d["seed"],
                   test_fraction=d["test_fraction"])

    def n_types(self) -> int:
        from seagull.labels.levels import DISTORTION_TYPES

        return len(self.types) if self.types is not None else len(DISTORTION_TYPES)

    def n_levels(self) -> int:
        return len(self.levels) if self.levels is not None else 20

    def n_parts(self) -> int:
        """Parts per good source: the reference, then one per distortion type."""
        return 1 + self.n_types()


@dataclass
class Components:
    """Where each stage's implementation comes from (the real modules by default).

    Tests may pass other callables with the same signatures; pipelines never do.
    """

    render_variants: Callable | None = None
    encode_png: Callable | None = None
    isp_version: str | None = None
    build_segmenter: Callable | None = None
    build_labeller: Callable | None = None
    extra: dict = field(default_factory=dict)

    def resolved(self) -> Components:
        if self.render_variants is None or self.encode_png is None or self.isp_version is None:
            from seagull import isp

            self.render_variants = self.render_variants or isp.render_variants
            self.encode_png = self.encode_png or isp.encode_png
            self.isp_version = self.isp_version or isp.ISP_VERSION
        if self.build_segmenter is None:
            from seagull.regions import build_segmenter

            self.build_segmenter = build_segmenter
        if self.build_labeller is None:
            from seagull.labels import build_labeller

            self.build_labeller = build_labeller
        return self


def actor_device() -> str:
    """The device a stage's models run on: the GPU this worker was given, if any (Ray shows a
    stage only the GPUs it reserved, ``--gpus-per-actor``), else the CPU."""
    try:
        import torch
    except ImportError:
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


def build_on_device(build: Callable):
    """``build(device=…)`` on ``actor_device()``; on the CPU, ``build()`` (the stand-ins of the
    tests take no device)."""
    device = actor_device()
    return build(device=device) if device != "cpu" else build()


def source_row(location: str, sid: str, params: FactoryParams, name: str | None = None) -> dict:
    """The first row of a source in the pipeline. Its split follows the split group of ``name``
    (the source's path relative to the folder, list or pattern that found it; by default its
    location), so near-duplicates share a split and moving the folder changes none."""
    key = split_group(name if name is not None else location)
    return {"source": location, "source_id": sid,
            "split": split_by_hash(key, params.test_fraction, params.seed),
            "status": "ok", "error_stage": "", "error_type": "", "error_message": ""}


def error_row(row: dict, stage: str, exc: BaseException) -> dict:
    """``row`` turned into an error row: only what the ``errors`` table needs survives."""
    return {"source": row["source"], "source_id": row["source_id"], "split": row["split"],
            "status": "error", "error_stage": stage, "error_type": type(exc).__name__,
            "error_message": str(exc).splitlines()[0] if str(exc) else type(exc).__name__}


def errors_table_row(row: dict) -> dict:
    return {"source": row["source"], "source_id": row["source_id"], "stage": row["error_stage"],
            "error": row["error_type"], "message": row["error_message"]}


def _render_seed(params: FactoryParams, sid: str) -> int:
    """The noise seed of a source: from the build's seed and the source, not from run order."""
    return int(unit_interval("render", params.seed, sid) * 2**31)


def _point_seed(params: FactoryParams, sid: str) -> int:
    return int(unit_interval("points", params.seed, sid) * 2**31)


def _json_params(params: dict) -> str:
    from seagull.data.ids import canonical_json

    return canonical_json(params)


def _variants(row: dict, params: FactoryParams, comps: Components) -> Iterator:
    from seagull.data.sources import read_source_bytes

    location = row["source"]
    if "://" in location:  # remote: bytes in memory, named so errors still say which file
        source = io.BytesIO(read_source_bytes(location))
        source.name = location
    else:
        source = location
    return iter(comps.render_variants(source, types=params.types, levels=params.levels,
                                      long_side=params.long_side,
                                      seed=_render_seed(params, row["source_id"])))


def _image_fields(render, sid: str, params: FactoryParams, comps: Components,
                  encoded: bytes | None = None) -> dict:
    """Catalogue fields of one render (``encoded``: the bytes as stored)."""
    is_reference = render.distortion == REFERENCE
    level = None if is_reference else int(render.level)
    render_params = dict(render.params or {})
    render_params.update(long_side=params.long_side)
    h, w = render.image.shape[:2]
    if encoded is None:
        encoded = render.encoded if render.encoded is not None else comps.encode_png(render.image)
    fmt = "jpeg" if render.encoded is not None else "png"
    return {"image_id": make_image_id(sid, render.distortion, level, render_params,
                                      comps.isp_version),
            "distortion": render.distortion, "level": level,
            "isp_params": _json_params(render_params), "width": int(w), "height": int(h),
            "format": fmt, "encoded": encoded}


def render_reference(row: dict, params: FactoryParams, comps: Components) -> dict:
    """Stage 1: decode the source and render its reference (``reference`` field)."""
    if row["status"] != "ok":
        return row
    try:
        variants = _variants(row, params, comps)
        reference = next(variants)
        if reference.distortion != REFERENCE:
            raise RuntimeError(f"the renderer yielded {reference.distortion!r} before the reference")
        out = dict(row)
        out["reference"] = _image_fields(reference, row["source_id"], params, comps)
        return out
    except (SeagullError, OSError, ValueError, StopIteration) as exc:
        return error_row(row, "render", exc)


def decode_image(encoded: bytes) -> np.ndarray:
    """PNG or JPEG bytes → H×W×3 uint8 (RGB)."""
    from PIL import Image

    with Image.open(io.BytesIO(encoded)) as im:
        return np.asarray(im.convert("RGB"))


def decode_mask(mask: dict) -> np.ndarray:
    """COCO RLE ``{size: [h, w], counts: str}`` → H×W bool."""
    from pycocotools import mask as mask_utils

    counts = mask["counts"]
    rle = {"size": [int(v) for v in mask["size"]],
           "counts": counts.encode() if isinstance(counts, str) else counts}
    return mask_utils.decode(rle).astype(bool)


def producer_of(component) -> dict:
    from seagull.data.store import producer

    return producer(component.name, component.version, getattr(component, "weights_hash", None))


class SegmentStage:
    """Stage 2: regions on the reference. One instance loads the segmenter once."""

    def __init__(self, params: FactoryParams, comps: Components | None = None) -> None:
        self.params = params
        self.comps = (comps or Components()).resolved()
        self.segmenter = build_on_device(self.comps.build_segmenter)
        self.producer = json.dumps(producer_of(self.segmenter), sort_keys=True)

    def __call__(self, row: dict) -> dict:
        if row["status"] != "ok":
            return row
        try:
            image = decode_image(row["reference"]["encoded"])
            regions = self.segmenter.propose(image, n_points=self.params.points,
                                             seed=_point_seed(self.params, row["source_id"]))
            masks = []
            for region in regions:
                rle = region.rle()
                counts = rle["counts"]
                masks.append({
                    "kind": str(region.kind),
                    "mask": {"size": [int(v) for v in rle["size"]],
                             "counts": counts.decode() if isinstance(counts, bytes) else counts},
                    "bbox": [float(v) for v in region.bbox],
                    "area": int(region.area),
                })
        except (SeagullError, OSError, ValueError) as exc:
            return error_row(row, "segment", exc)
        out = dict(row)
        out["regions"] = masks
        out["segmenter"] = self.producer
        return out


def render_distorted(row: dict, params: FactoryParams, comps: Components) -> list[dict]:
    """Stage 3: the source's parts — the reference, then one per distortion type (in render
    order), each carrying the reference and the masks."""
    if row["status"] != "ok":
        return [row]
    reference = row["reference"]
    common = {k: row[k] for k in ("source", "source_id", "split", "status", "error_stage",
                                  "error_type", "error_message", "regions", "segmenter")}
    common["n_parts"] = params.n_parts()
    common["reference"] = reference
    parts: dict[str, list[dict]] = {}
    try:
        variants = _variants(row, params, comps)
        next(variants)  # the reference: already rendered, segmented and encoded
        for render in variants:
            fields = _image_fields(render, row["source_id"], params, comps)
            parts.setdefault(render.distortion, []).append(fields)
    except (SeagullError, OSError, ValueError) as exc:
        return [error_row(row, "render", exc)]
    if len(parts) != params.n_types():
        return [error_row(row, "render", RuntimeError(
            f"the renderer yielded types {sorted(parts)}, expected {params.n_types()}"))]
    out = [dict(common, part=REFERENCE, renders=[])]
    out += [dict(common, part=dist, renders=renders) for dist, renders in parts.items()]
    return out


class LabelStage:
    """Stage 4: label every region of every render of a part, then stage its rows.

    One instance loads the labeller once; ``prepare`` (the reference's share of the work) runs
    once per part, i.e. once per distortion type of a source, and ``label_many`` labels all
    the part's renders (its levels) together.
    """

    def __init__(self, out_uri: str, comps: Components | None = None) -> None:
        from seagull.data.store import DatasetLayout

        self.layout = DatasetLayout.open(out_uri)
        self.comps = (comps or Components()).resolved()
        self.labeller = build_on_device(self.comps.build_labeller)
        self.producer = json.dumps(producer_of(self.labeller), sort_keys=True)

    def __call__(self, part: dict) -> dict:
        status = {"source": part["source"], "source_id": part["source_id"],
                  "part": part.get("part", "error"), "n_parts": int(part.get("n_parts", 1)),
                  "n_images": 0, "n_regions": 0, "segmenter": part.get("segmenter", ""),
                  "labeller": self.producer}
        if part["status"] != "ok":
            return dict(status, **errors_table_row(part), status="error")
        try:
            tables = self.label_part(part)
        except (SeagullError, OSError, ValueError) as exc:
            err = error_row(part, "label", exc)
            return dict(status, **errors_table_row(err), status="error")
        self.layout.stage_part(part["source_id"], part["part"], tables)
        n_regions = sum(len(r) for r in tables["rois"].column("regions").to_pylist()) \
            if "rois" in tables else 0
        return dict(status, status="ok", stage="", error="", message="",
                    n_images=tables["images"].num_rows, n_regions=n_regions)

    def label_part(self, part: dict) -> dict:
        """The part's ``images`` (and, for distortion parts, ``rois``) tables."""
        reference = part["reference"]
        base = {"source_id": part["source_id"], "source": part["source"], "split": part["split"]}
        if part["part"] == REFERENCE:
            return {"images": to_table([dict(base, **reference)], "images")}
        regions = part["regions"]
        ref_image = decode_image(reference["encoded"])
        ctx = None
        if regions:
            masks = [decode_mask(r["mask"]) for r in regions]
            ctx = self.labeller.prepare(ref_image, masks)
        images, rois = [], []
        all_labels = self._label_renders(ctx, part["renders"]) if regions else None
        for k, render in enumerate(part["renders"]):
            images.append({**base, **render, "encoded": None})
            labelled = []
            if regions:
                labels = all_labels[k]
                if len(labels) != len(regions):
                    raise ValueError(f"labeller returned {len(labels)} labels for "
                                     f"{len(regions)} regions")
                for index, (region, label) in enumerate(zip(regions, labels)):
                    labelled.append(region_row(render["image_id"], index, region, label))
            rois.append({"image_id": render["image_id"], "reference_id": reference["image_id"],
                         "source_id": part["source_id"], "split": part["split"],
                         "distortion": render["distortion"], "level": render["level"],
                         "width": render["width"], "height": render["height"],
                         "format": render["format"], "encoded": render["encoded"],
                         "regions": labelled})
        return {"images": to_table(images, "images"), "rois": to_table(rois, "rois")}

    def _label_renders(self, ctx, renders: list) -> list[list[dict]]:
        """Labels of every render of the part: in one ``label_many`` call where the labeller
        has it (a region's crops of all renders batched), else one ``label`` per render."""
        pairs = [(decode_image(r["encoded"]), r["distortion"]) for r in renders]
        if hasattr(self.labeller, "label_many"):
            return self.labeller.label_many(ctx, pairs)
        return [self.labeller.label(ctx, image, distortion) for image, distortion in pairs]


def _pair(value) -> list[float] | None:
    if value is None:
        return None
    if isinstance(value, dict):
        value = list(value.values())
    return [float(v) for v in value]


def region_row(image_id: str, index: int, region: dict, label: dict) -> dict:
    """One element of a ``rois`` row's ``regions``: the mask fields and the labels."""
    importance = label.get("importance")
    return {
        "roi_id": make_roi_id(image_id, index, region["mask"]["counts"]),
        "kind": region["kind"], "mask": region["mask"], "bbox": region["bbox"],
        "area": region["area"], "quality": float(label["quality"]),
        "importance": None if importance is None else float(importance),
        "importance_pair": _pair(label.get("importance_pair")),
        "distortions": [{"type": d["type"], "severity": float(d["severity"]),
                         "level": d["level"]} for d in label.get("distortions", [])],
    }


def build_source(location: str, out_uri: str, params: FactoryParams,
                 comps: Components | None = None) -> dict[str, int]:
    """All stages for one source in this process; returns the rows written per table."""
    import posixpath

    from seagull.data.ids import source_id
    from seagull.data.sources import file_sha256
    from seagull.data.store import DatasetLayout

    comps = (comps or Components()).resolved()
    sid = source_id(file_sha256(location))
    row = source_row(location, sid, params, posixpath.basename(location))
    row = SegmentStage(params, comps)(render_reference(row, params, comps))
    labeller = LabelStage(out_uri, comps)
    statuses = [labeller(p) for p in render_distorted(row, params, comps)]
    layout = DatasetLayout.open(out_uri)
    bad = next((s for s in statuses if s["status"] == "error"), None)
    return layout.finalise_source(sid, None if bad is None else {
        k: bad[k] for k in ("source", "source_id", "stage", "error", "message")})
