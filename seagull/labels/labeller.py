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
    crop_references: list  # scorer's prepared masked reference crops
    reference_score: float  # s_ref: the reference against itself, on [0, 1]

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.reference.shape[-2:])


class Labeller:
    """Labels regions with a full-reference scorer (``GMSDScorer`` or ``TopiqScorer``).

    ``importance_method``: "window" (the scorer's cheap replaced-image pass; exact for GMSD, a
    bounded approximation for TOPIQ-FR) or "exact" (a full pass per region).
    """

    version = LABELLER_VERSION

    def __init__(self, scorer, *, importance_method: str = "window",
                 epsilon: float = IMPORTANCE_EPSILON):
        if importance_method not in ("window", "exact"):
            raise InvalidInputError(f"importance_method {importance_method!r}: "
                                    f"use 'window' or 'exact'")
        self.scorer = scorer
        self.importance_method = importance_method
        self.epsilon = epsilon

    @property
    def name(self) -> str:
        return self.scorer.name

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
        crops = region_crops(self.scorer, ref, checked, boxes)
        if getattr(self.scorer, "pools_on_mask", False):
            crops = self.scorer.references(crops, [m[y:y + h, x:x + w] for m, (x, y, w, h)
                                                   in zip(checked, boxes)])
        else:
            crops = self.scorer.references(crops)
        reference_score = self.scorer.score(ref, prepared)
        return LabelContext(ref, prepared, checked, boxes, crops, reference_score)

    def label(self, context: LabelContext, distorted, distortion: str) -> list[dict]:
        """One label dict per mask of ``context``, in order (see the module docstring)."""
        distorted = _check_image(distorted, "distorted image")
        if distorted.shape[:2] != context.shape:
            raise MaskShapeError(f"distorted image: size {distorted.shape[:2]} does not match "
                                 f"the reference's {context.shape}")
        if distortion not in DISTORTION_TYPES:
            raise InvalidInputError(f"distortion {distortion!r} is not one of {DISTORTION_TYPES}")
        dist = to_tensor(distorted)
        s_ref = context.reference_score
        s_dist = self.scorer.score(dist, context.reference_prepared)
        qualities = self.scorer.scores(region_crops(self.scorer, dist, context.masks,
                                                    context.boxes), context.crop_references)
        whole_drop = s_ref - s_dist
        defined = whole_drop >= self.epsilon
        if defined:
            replaced = self.scorer.replaced_scores(dist, context.reference,
                                                   context.reference_prepared, context.boxes,
                                                   context.masks, self.importance_method)
        else:
            # No visible drop of the whole image: the share is undefined (docs/method.md), and the
            # replaced images are not worth a pass; their score is the reference's.
            replaced = [s_ref] * len(context.masks)
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
