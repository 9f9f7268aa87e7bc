"""Full-reference region labels of a distorted image (docs/method.md, "Labels").

Per region of a distorted image:

- ``quality``: the FR score of the region's minimum-rectangle crops (distorted against
  reference, both cropped to the mask's bounding box), on [0, 1]. For TOPIQ-FR, pixels outside
  the mask are zeroed (the paper's input); a scorer that ``pools_on_mask`` (GMSD) gets the
  plain crops and the mask, and pools its map over the mask only.
- ``importance``: the region's share of the whole image's quality drop,
  ``(s_ref − s_replaced) / (s_ref − s_distorted)`` clipped to [0, 1], where ``s_replaced`` scores
  the reference with this region pasted from the distorted image, ``s_distorted`` the whole
  distorted image, and ``s_ref`` the reference against itself (all against the reference).
  ``None`` where the whole-image drop is under ``epsilon`` (no visible distortion: undefined).
- ``importance_pair``: ``[s_replaced, s_ref]``, and ``image_pair``: ``[s_distorted, s_ref]``,
  the raw scores, so any other normalisation can be derived without relabelling.
- ``distortions``: ``[]`` when quality > 0.92 ("without distortion"), else one entry
  ``{type, severity, level}`` with the applied type, severity = the quality score, and its
  Eq. 1 word (extreme … trivial).
- ``with_distortion``: ``distortions`` is not empty.

``prepare`` does all the reference-side work once (masks checked, masked reference crops and the
reference prepared for the scorer, ``s_ref``); ``label`` reuses it for every render of a source.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from seagull.errors import EmptyMaskError, InvalidInputError, MaskShapeError
from seagull.labels.levels import CLEAN_QUALITY, DISTORTION_TYPES, level_word

log = logging.getLogger(__name__)

LABELLER_VERSION = "1"
# Whole-image drops below this (on the [0, 1] scale) count as "no visible distortion".
IMPORTANCE_EPSILON = 0.005


def to_tensor(image):
    """H×W×3 uint8 → 1×3×H×W float32 on [0, 1]."""
    import torch

    return (torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float()
            / 255).contiguous()


def _check_image(image, what: str) -> np.ndarray:
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        raise InvalidInputError(f"{what}: expected an H×W×3 uint8 RGB array, got shape "
                                f"{array.shape} and dtype {array.dtype}")
    return array


def region_crops(scorer, image, masks: list, boxes: list) -> list:
    """The crops ``scorer`` scores regions on: plain bounding-box crops where it pools over
    the mask itself, masked (zero outside the mask) ones otherwise."""
    if getattr(scorer, "pools_on_mask", False):
        return [image[:, :, y:y + h, x:x + w].contiguous() for x, y, w, h in boxes]
    return [masked_crop(image, m, b) for m, b in zip(masks, boxes)]


def masked_crop(image, mask: np.ndarray, box) -> object:
    """1×3×h×w tensor: ``image`` (1×3×H×W) cut to ``box`` [x, y, w, h], zero outside ``mask``."""
    x, y, w, h = box
    crop = image[:, :, y:y + h, x:x + w]
    return (crop * _mask_tensor(mask[y:y + h, x:x + w])).contiguous()


def _mask_tensor(mask: np.ndarray):
    import torch

    return torch.from_numpy(np.ascontiguousarray(mask))[None, None].float()


@dataclass
class LabelContext:
    """The reference-side work of one source image, shared by all its renders."""

    reference: object  # 1×3×H×W tensor
    reference_prepared: object  # scorer's prepared full reference
    masks: list  # H×W bool arrays
    boxes: list  # [x, y, w, h] per mask
    crop_references: list  # scorer's prepared masked reference crops (TOPIQ-FR)
    reference_score: float  # s_ref: the reference against itself, on [0, 1]
    regions: object = None  # a scorer that pools on the mask: its regions (GMSDRegions)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.reference.shape[-2:])


class Labeller:
    """Labels regions with a full-reference scorer (``GMSDScorer`` or ``TopiqScorer``).

    ``importance_method``: "window" (the scorer's cheap replaced-image pass; exact for GMSD, a
    bounded approximation for TOPIQ-FR) or "exact" (a full pass per region).

    ``batched`` (GMSD): every region of a render at once — one similarity map pooled by a
    sparse region × cell product, and the replaced images in one gathered pass. ``False`` runs
    the per-region reference path (a window per region); the two agree to 1e-7 on ``quality``
    (the reference path's float32 std) and 1e-9 on ``importance_pair`` (float64 sums grouped
    differently; ``tests/labels/test_labeller.py``). TOPIQ-FR's
    labels do not depend on it.
    """

    def __init__(self, scorer, *, importance_method: str = "window",
                 epsilon: float = IMPORTANCE_EPSILON, batched: bool = True):
        if importance_method not in ("window", "exact"):
            raise InvalidInputError(f"importance_method {importance_method!r}: "
                                    f"use 'window' or 'exact'")
        self.scorer = scorer
        self.importance_method = importance_method
        self.epsilon = epsilon
        self.batched = batched

    @property
    def name(self) -> str:
        return self.scorer.name

    @property
    def version(self) -> str:
        """The labeller's and its scorer's versions (``1.3``: this labeller, GMSD version 3): a
        dataset whose labels another version wrote is not resumed with this one."""
        return f"{LABELLER_VERSION}.{self.scorer.version}"

    @property
    def weights_hash(self) -> str:
        return self.scorer.weights_hash

    @property
    def fallback(self) -> bool:
        return self.scorer.fallback

    def describe(self) -> dict:
        """What to record in a manifest."""
        return {**self.scorer.describe(), "labeller_version": self.version,
                "importance_method": self.importance_method, "importance_epsilon": self.epsilon}

    def prepare(self, reference, masks) -> LabelContext:
        """Reference-side work for ``masks`` (H×W bool each) on ``reference`` (H×W×3 uint8)."""
        from seagull.regions.rle import mask_bbox

        reference = _check_image(reference, "reference")
        h, w = reference.shape[:2]
        checked, boxes = [], []
        for i, mask in enumerate(masks):
            mask = np.asarray(mask)
            if mask.shape != (h, w):
                raise MaskShapeError(f"mask {i}: shape {mask.shape} does not match the "
                                     f"reference's {(h, w)}")
            mask = mask.astype(bool, copy=False)
            if not mask.any():
                raise EmptyMaskError(f"mask {i}: selects no pixel")
            checked.append(mask)
            boxes.append(mask_bbox(mask))
        ref = to_tensor(reference)
        prepared = self.scorer.reference(ref)
        regions = None
        if getattr(self.scorer, "pools_on_mask", False):
            # The render's similarity map pooled over each region's cells (GMSDScorer.regions).
            crops, regions = [], self.scorer.regions(checked, prepared)
        else:
            crops = self.scorer.references(region_crops(self.scorer, ref, checked, boxes))
        reference_score = self.scorer.score(ref, prepared)
        return LabelContext(ref, prepared, checked, boxes, crops, reference_score, regions)

    def label(self, context: LabelContext, distorted, distortion: str) -> list[dict]:
        """One label dict per mask of ``context``, in order (see the module docstring)."""
        return self.label_many(context, [(distorted, distortion)])[0]

    def label_many(self, context: LabelContext, renders) -> list[list[dict]]:
        """``label`` for several renders of the source (``[(distorted, distortion), …]``).

        The same labels as one ``label`` call per render: GMSD pools each render's map over all
        regions at once; TOPIQ-FR scores a region's crops of every render together (they share
        the region's box, so one shape), in batches of the scorer's ``batch_size``.
        """
        dists = []
        for distorted, distortion in renders:
            distorted = _check_image(distorted, "distorted image")
            if distorted.shape[:2] != context.shape:
                raise MaskShapeError(f"distorted image: size {distorted.shape[:2]} does not "
                                     f"match the reference's {context.shape}")
            if distortion not in DISTORTION_TYPES:
                raise InvalidInputError(f"distortion {distortion!r} is not one of "
                                        f"{DISTORTION_TYPES}")
            dists.append(to_tensor(distorted))
        if not dists:
            return []
        s_ref = context.reference_score
        if context.regions is not None:
            whole, qualities, maps = self._pooled_scores(context, dists)
        else:
            maps = [None] * len(dists)
            whole = self.scorer.scores(dists, [context.reference_prepared] * len(dists))
            n = len(context.masks)
            crops = [c for d in dists
                     for c in region_crops(self.scorer, d, context.masks, context.boxes)]
            flat = self.scorer.scores(crops, context.crop_references * len(dists))
            qualities = [flat[k * n:(k + 1) * n] for k in range(len(dists))]
        defined = [s_ref - s_dist >= self.epsilon for s_dist in whole]
        replaced = self._replaced(context, [d for d, ok in zip(dists, defined) if ok],
                                  [m for m, ok in zip(maps, defined) if ok])
        out = []
        for (_, distortion), s_dist, quality, ok in zip(renders, whole, qualities, defined):
            # No visible drop of the whole image: the share is undefined (docs/method.md), and
            # the replaced images are not worth a pass; their score is the reference's.
            rep = replaced.pop(0) if ok else [s_ref] * len(context.masks)
            out.append(self._labels(distortion, quality, rep, s_dist, s_ref, ok))
        return out

    def _replaced(self, context: LabelContext, dists: list, maps: list) -> list[list[float]]:
        """Replaced-image scores of every region, per render of ``dists`` (``maps``: their
        similarity maps, where the scorer pools one)."""
        scorer, prepared = self.scorer, context.reference_prepared
        if not dists:
            return []
        if context.regions is not None and self.batched and self.importance_method == "window":
            return [scorer.replaced_scores_batched(d, prepared, context.regions, sim)
                    for d, sim in zip(dists, maps)]
        if hasattr(scorer, "replaced_scores_many"):
            return scorer.replaced_scores_many(dists, context.reference, prepared, context.boxes,
                                               context.masks, self.importance_method)
        return [scorer.replaced_scores(d, context.reference, prepared, context.boxes,
                                       context.masks, self.importance_method) for d in dists]

    def _pooled_scores(self, context: LabelContext, dists: list) -> tuple[list, list, list]:
        """Whole-render and region scores of a scorer that pools its map over the masks, and
        the renders' maps (batched) for the replaced images."""
        scorer, prepared = self.scorer, context.reference_prepared
        whole, qualities, maps = [], [], []
        for dist in dists:
            sim = None
            if self.batched:
                sim = scorer.similarity_map(dist, prepared)
                whole.append(scorer.to_unit(float(sim.flatten().std())))  # = scorer.score
                raws = scorer.region_raws(sim, context.regions)
            else:
                whole.append(scorer.score(dist, prepared))
                raws = scorer.region_raws_reference(dist, prepared, context.regions)
            qualities.append([scorer.to_unit(float(r)) for r in raws])
            maps.append(sim)
        return whole, qualities, maps

    def _labels(self, distortion, qualities, replaced, s_dist, s_ref, defined) -> list[dict]:
        whole_drop = s_ref - s_dist
        out = []
        for quality, s_rep in zip(qualities, replaced):
            importance = (float(np.clip((s_ref - s_rep) / whole_drop, 0.0, 1.0))
                          if defined else None)
            distortions = [] if quality > CLEAN_QUALITY else [
                {"type": distortion, "severity": quality,
                 "level": level_word("severity", quality)}]
            out.append({"quality": quality, "importance": importance,
                        "importance_pair": [s_rep, s_ref], "image_pair": [s_dist, s_ref],
                        "distortions": distortions, "with_distortion": bool(distortions)})
        return out


def build_labeller(weights=None, *, strict: bool = False, device: str = "cpu",
                   importance_method: str = "window", precision: str | None = None) -> Labeller:
    """The labeller for the configured weights: TOPIQ-FR from a local file, else GMSD.

    ``weights``: a TOPIQ-FR weights file; when None, ``seagull.weights.resolve("topiq_fr")``
    looks it up. Without weights the weight-free GMSD scorer runs (announced on the log);
    ``strict`` makes that an error. ``precision`` (TOPIQ-FR): ``fp32`` or ``bf16``; by default
    bf16 on a GPU and fp32 on the CPU, where fp32 keeps a region's labels bit-identical
    whichever batch it shares.
    """
    from seagull import weights as weights_lookup
    from seagull.labels.fr import GMSDScorer

    path = weights_lookup.resolve("topiq_fr", weights, strict=strict)
    if path is None:
        return Labeller(GMSDScorer(), importance_method=importance_method)
    from seagull.labels.topiq import TopiqScorer, load_cfanet

    net = load_cfanet(path, device=device)
    precision = precision or ("bf16" if str(device).startswith("cuda") else "fp32")
    return Labeller(TopiqScorer(net, weights_lookup.file_sha256(path), precision=precision),
                    importance_method=importance_method)
