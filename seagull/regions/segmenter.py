"""Segmenters: SAM with object boxes from a detector, or the weight-free classical fallback.

``state = segmenter.encode(image)`` does the expensive per-image work once (SAM's image
embedding; the classical label maps) and returns it as an explicit ``SegmenterState``; then
``predict(state, point=…)`` answers any number of point and box prompts from it without
changing the segmenter, so one segmenter serves many cached images. ``set_image(image)`` keeps
the ``SamPredictor`` pattern on top of that: it stores ``encode``'s state, and ``predict`` /
``predict_with_score`` without a state use the stored one. ``propose`` returns the filtered
object- and component-level regions of an image. Coordinates are pixels of the encoded image:
points ``(x, y)``, boxes ``(x0, y0, x1, y1)`` with x1 > x0 and y1 > y0.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from seagull.errors import InvalidInputError
from seagull.memory import nbytes
from seagull.regions.filtering import DEDUP_IOU, MIN_REGION_AREA, filter_regions

log = logging.getLogger(__name__)

SEGMENTER_VERSION = "1"


def check_image(image) -> np.ndarray:
    """An H×W×3 uint8 RGB image, or ``InvalidInputError``."""
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        raise InvalidInputError(f"image: expected an H×W×3 uint8 RGB array, got shape "
                                f"{array.shape} and dtype {array.dtype}")
    if array.shape[0] < 2 or array.shape[1] < 2:
        raise InvalidInputError(f"image: size {array.shape[:2]} is too small")
    return np.ascontiguousarray(array)


def random_points(height: int, width: int, n_points: int, seed: int) -> np.ndarray:
    """``n_points`` × 2 (x, y) pixel centres drawn uniformly (reproducible for a seed)."""
    rng = np.random.default_rng(seed)
    xs = rng.integers(0, width, size=n_points)
    ys = rng.integers(0, height, size=n_points)
    return np.stack([xs, ys], axis=1)


@dataclass(frozen=True, eq=False)
class SegmenterState:
    """What a segmenter computed for one image (``Segmenter.encode``); read, never changed.

    ``image``: the H×W×3 uint8 RGB image. Subclasses add what their segmenter computed;
    ``nbytes`` counts the bytes of every array and tensor the state holds (what a cache of
    states pays for it; model weights are the segmenter's, not the state's).
    """

    image: np.ndarray

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of the image."""
        return int(self.image.shape[0]), int(self.image.shape[1])

    @property
    def nbytes(self) -> int:
        return nbytes(self.image)


@dataclass(frozen=True, eq=False)
class ClassicalState(SegmenterState):
    """The classical segmentation of one image: H×W label maps at the two scales."""

    fine: np.ndarray
    coarse: np.ndarray

    @property
    def nbytes(self) -> int:
        return nbytes(self.image, self.fine, self.coarse)


@dataclass(frozen=True, eq=False)
class SamState(SegmenterState):
    """SAM's encoding of one image: ``features``, the image embedding (1×C×h×w tensor);
    ``input_size``, the (h, w) of the resized image the encoder saw; ``boxes``, the classical
    segmentation whose segments give the object boxes when there is no detector (else None)."""

    features: Any  # torch.Tensor; torch is imported only where SAM runs
    input_size: tuple[int, int]
    boxes: ClassicalState | None = None

    @property
    def nbytes(self) -> int:
        extra = self.boxes.nbytes - nbytes(self.boxes.image) if self.boxes is not None else 0
        return nbytes(self.image, self.features) + extra  # the image counted once


class Segmenter:
    """Common prompt checking and region proposal; subclasses encode an image and segment.

    Attributes: ``name`` (what segments), ``version``, ``weights_hash`` (sha256 of the weights,
    or "fallback"), ``fallback`` (True when no weights are used).

    Subclasses implement ``_encode(image) → SegmenterState``, ``_predict(state, coords,
    labels, box)`` and ``_object_masks(state)``; none of them changes the segmenter.
    """

    name: str = "segmenter"
    version: str = SEGMENTER_VERSION
    weights_hash: str = "fallback"
    fallback: bool = True
    scores_masks: bool = False  # whether _predict's score says anything about the mask

    def __init__(self):
        self._state: SegmenterState | None = None

    # ---- per image -----------------------------------------------------------------------
    def encode(self, image) -> SegmenterState:
        """Do the per-image work once (H×W×3 uint8 RGB) and return it; the segmenter is left
        as it was, so states of many images can be kept and prompted in any order."""
        return self._encode(check_image(image))

    def _encode(self, image: np.ndarray) -> SegmenterState:
        raise NotImplementedError

    def set_image(self, image) -> None:
        """``encode(image)``, kept as the state that prompts without a state of their own use."""
        self._state = self.encode(image)

    @property
    def state(self) -> SegmenterState:
        """The state ``set_image`` stored (``InvalidInputError`` before any image was set)."""
        if self._state is None:
            raise InvalidInputError("no image set: call set_image(image) first")
        return self._state

    @property
    def image_size(self) -> tuple[int, int]:
        """(height, width) of the image ``set_image`` was given."""
        return self.state.size

    # ---- prompts ---------------------------------------------------------------------------
    def predict(self, state=None, point=None, *, points=None, labels=None,
                box=None) -> np.ndarray:
        """The mask (H×W bool) for a prompt: one ``point`` (x, y); or ``points`` with ``labels``
        (1 foreground, 0 background); and/or a ``box`` (x0, y0, x1, y1). Pixel coordinates.

        ``state``: an ``encode`` result; without one, the state ``set_image`` stored (then the
        point may come first: ``predict((x, y))``)."""
        return self.predict_with_score(state, point, points=points, labels=labels, box=box)[0]

    def predict_with_score(self, state=None, point=None, *, points=None, labels=None, box=None
                           ) -> tuple[np.ndarray, float | None]:
        """``predict``'s mask and the segmenter's confidence in it (SAM's predicted IoU), or
        None for a segmenter that has none (``scores_masks`` False: the classical fallback)."""
        if state is not None and not isinstance(state, SegmenterState):
            if point is not None:
                raise InvalidInputError("prompt: give either point or a state and a point")
            state, point = None, state  # predict_with_score((x, y)): the set_image form
        if state is None:
            state = self.state
        h, w = state.size
        coords, point_labels = self._check_points(point, points, labels, h, w)
        box_array = self._check_box(box, h, w) if box is not None else None
        if coords is None and box_array is None:
            raise InvalidInputError("prompt: give a point, points with labels, or a box")
        mask, score = self._predict(state, coords, point_labels, box_array)
        return mask, (float(score) if self.scores_masks else None)

    @staticmethod
    def _check_points(point, points, labels, h, w):
        if point is not None and points is not None:
            raise InvalidInputError("prompt: give either point or points, not both")
        if point is not None:
            points, labels = [point], [1]
        if points is None:
            return None, None
        coords = np.asarray(points, dtype=np.float64)
        if coords.ndim != 2 or coords.shape[1] != 2 or len(coords) == 0:
            raise InvalidInputError(f"prompt: points must be a non-empty list of (x, y), "
                                    f"got shape {coords.shape}")
        if labels is None:
            labels = [1] * len(coords)
        label_array = np.asarray(labels, dtype=np.int64)
        if label_array.shape != (len(coords),) or not np.isin(label_array, (0, 1)).all():
            raise InvalidInputError("prompt: labels must be one 0 or 1 per point")
        if not label_array.any():
            raise InvalidInputError("prompt: at least one point must be foreground (label 1)")
        if not np.isfinite(coords).all():
            raise InvalidInputError("prompt: point coordinates must be finite")
        outside = (coords[:, 0] < 0) | (coords[:, 0] >= w) | (coords[:, 1] < 0) | (coords[:, 1] >= h)
        if outside.any():
            x, y = coords[np.flatnonzero(outside)[0]]
            raise InvalidInputError(f"prompt: point ({x:g}, {y:g}) is outside the "
                                    f"{w}×{h} image")
        return coords, label_array

    @staticmethod
    def _check_box(box, h, w) -> np.ndarray:
        array = np.asarray(box, dtype=np.float64)
        if array.shape != (4,) or not np.isfinite(array).all():
            raise InvalidInputError(f"prompt: box must be (x0, y0, x1, y1), got {box!r}")
        x0, y0, x1, y1 = array
        if x1 <= x0 or y1 <= y0:
            raise InvalidInputError(f"prompt: box {_fmt(array)} has no area (need x1 > x0, y1 > y0)")
        if x1 <= 0 or y1 <= 0 or x0 >= w or y0 >= h:
            raise InvalidInputError(f"prompt: box {_fmt(array)} is outside the {w}×{h} image")
        return np.array([max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)])

    def _predict(self, state, coords, labels, box) -> tuple[np.ndarray, float]:
        """(H×W bool mask, score) for validated prompts on the image of ``state``."""
        raise NotImplementedError

    # ---- proposals -------------------------------------------------------------------------
    def propose(self, image, n_points: int = 32, seed: int = 0, *,
                min_area: int = MIN_REGION_AREA, iou_threshold: float = DEDUP_IOU) -> list:
        """Object- and component-level regions of ``image`` (H×W×3 uint8), filtered.

        Objects: the detector's boxes prompted into the segmenter. Components: the segmenter
        prompted with ``n_points`` random points drawn with ``seed``. Regions under ``min_area``
        pixels and near-duplicates (mask IoU > ``iou_threshold``) are dropped. The image's
        state is kept as ``set_image`` keeps it.
        """
        from seagull.regions import Region

        if n_points < 0:
            raise InvalidInputError(f"n_points must be ≥ 0, got {n_points}")
        self.set_image(image)
        state = self.state
        h, w = state.size
        regions = [Region(mask, "object", score) for mask, score in self._object_masks(state)]
        for x, y in random_points(h, w, n_points, seed):
            mask, score = self._component(state, int(x), int(y))
            regions.append(Region(mask, "component", score))
        return filter_regions(regions, min_area=min_area, iou_threshold=iou_threshold)

    def _component(self, state, x: int, y: int) -> tuple[np.ndarray, float]:
        """The component-level (mask, score) at pixel (x, y): a single foreground click."""
        return self._predict(state, np.array([[x + 0.5, y + 0.5]]), np.array([1]), None)

    def _object_masks(self, state):
        """Object-level (mask, score) pairs of the image of ``state``."""
        raise NotImplementedError

    def describe(self) -> dict:
        """What to record in a manifest."""
        return {"name": self.name, "version": self.version, "weights_hash": self.weights_hash,
                "fallback": self.fallback}


# ---- the classical fallback ----------------------------------------------------------------

class ClassicalSegmenter(Segmenter):
    """Weight-free segmentation: Felzenszwalb–Huttenlocher graph segments at two scales.

    The fine scale gives component-level regions (the segment under each random point); the
    coarse scale gives object-level regions (every coarse segment) and answers clicks. A point
    prompt returns the coarse segment under it (segments under background points removed); a
    box returns the coarse segments at least half inside it, clipped to the box. The label maps
    are computed once per image at a working size of at most ``work_side`` pixels and scaled
    back with nearest-neighbour sampling. An optional ``detector`` replaces the coarse segments
    as the source of object regions (its boxes are prompted as above).
    """

    name = "classical-felzenszwalb"
    fallback = True

    def __init__(self, *, detector=None, work_side: int = 512,
                 fine_scale: float = 100.0, coarse_scale: float = 800.0, sigma: float = 0.8):
        super().__init__()
        self.detector = detector
        self.work_side = work_side
        self.fine_scale, self.coarse_scale, self.sigma = fine_scale, coarse_scale, sigma
        self.weights_hash = detector.weights_hash if detector is not None else "fallback"
        if detector is not None:
            self.name = f"{self.name}+{detector.name}"

    def _encode(self, image: np.ndarray) -> ClassicalState:
        from skimage.segmentation import felzenszwalb
        from skimage.transform import resize

        h, w = image.shape[:2]
        factor = min(1.0, self.work_side / max(h, w))
        small = image
        if factor < 1.0:
            small = (resize(image, (max(2, round(h * factor)), max(2, round(w * factor))),
                            anti_aliasing=True) * 255).astype(np.uint8)
        area = small.shape[0] * small.shape[1]
        # Minimum segment sizes scale with the working area so both scales mean the same at
        # any resolution: fine ≈ 1/1000 of the image, coarse ≈ 1/80.
        fine = felzenszwalb(small, scale=self.fine_scale, sigma=self.sigma,
                            min_size=max(10, area // 1000))
        coarse = felzenszwalb(small, scale=self.coarse_scale, sigma=self.sigma,
                              min_size=max(20, area // 80))
        if factor < 1.0:
            rows = np.minimum((np.arange(h) + 0.5) * small.shape[0] / h, small.shape[0] - 1)
            cols = np.minimum((np.arange(w) + 0.5) * small.shape[1] / w, small.shape[1] - 1)
            rows, cols = rows.astype(np.int64), cols.astype(np.int64)
            fine, coarse = fine[rows][:, cols], coarse[rows][:, cols]
        return ClassicalState(image, fine, coarse)

    def _segments_in_box(self, labels: np.ndarray, box: np.ndarray) -> np.ndarray:
        x0, y0, x1, y1 = (round(float(v)) for v in box)
        inside = np.zeros(labels.shape, dtype=bool)
        inside[y0:y1, x0:x1] = True
        counts_all = np.bincount(labels.ravel())
        counts_in = np.bincount(labels[inside], minlength=counts_all.size)
        chosen = np.flatnonzero(counts_in * 2 >= counts_all)
        return np.isin(labels, chosen) & inside

    def _predict(self, state: ClassicalState, coords, labels, box):
        coarse = state.coarse
        mask = np.zeros(coarse.shape, dtype=bool)
        if box is not None:
            mask = self._segments_in_box(coarse, box)
            if not mask.any():
                mask = self._segments_in_box(state.fine, box)
            if not mask.any():  # a box smaller than every segment: the box itself
                x0, y0, x1, y1 = (round(float(v)) for v in box)
                mask[y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)] = True
        if coords is not None:
            ids = coarse[coords[:, 1].astype(np.int64), coords[:, 0].astype(np.int64)]
            mask |= np.isin(coarse, ids[labels == 1])
            negative = ids[labels == 0]
            if negative.size:
                mask &= ~np.isin(coarse, negative)
        return mask, 1.0

    def _component(self, state: ClassicalState, x: int, y: int):
        # Components come from the fine scale, not from the click rule.
        return state.fine == state.fine[y, x], 1.0

    def _object_masks(self, state: ClassicalState):
        if self.detector is not None:
            for box, score in self.detector.detect(state.image):
                box = np.asarray(box, dtype=np.float64)
                yield self._predict(state, None, None, box)[0], score
            return
        for label in np.unique(state.coarse):
            yield state.coarse == label, 1.0


# ---- SAM --------------------------------------------------------------------------------------

class SamSegmenter(Segmenter):
    """SAM (segment-anything) from a local checkpoint, objects from a detector's boxes.

    Without a detector, object boxes come from the coarse classical segmentation (the detector
    component's fallback), each prompted into SAM.
    """

    fallback = False
    scores_masks = True  # SAM predicts each mask's IoU

    def __init__(self, sam, variant: str, sam_hash: str, detector=None):
        super().__init__()
        from segment_anything.utils.transforms import ResizeLongestSide

        self.sam = sam.eval()
        self.transform = ResizeLongestSide(sam.image_encoder.img_size)
        self.variant = variant
        self.detector = detector
        det_name = detector.name if detector is not None else "classical-boxes"
        self.name = f"sam-{variant}+{det_name}"
        if detector is not None and detector.weights_hash != "fallback":
            combined = f"sam:{sam_hash};detector:{detector.weights_hash}"
            self.weights_hash = hashlib.sha256(combined.encode()).hexdigest()
        else:
            self.weights_hash = sam_hash
        self.sam_hash = sam_hash
        self._boxes_fallback = ClassicalSegmenter() if detector is None else None

    # SAM's image encoding and prompt decoding, as segment-anything's ``SamPredictor`` does
    # them (``set_image``, ``predict``), with the image's state passed in and out instead of
    # kept on a predictor object.
    def _encode(self, image: np.ndarray) -> SamState:
        import torch

        sam = self.sam
        pixels = image if sam.image_format == "RGB" else image[..., ::-1]
        with torch.inference_mode():
            resized = torch.as_tensor(self.transform.apply_image(pixels), device=sam.device)
            resized = resized.permute(2, 0, 1).contiguous()[None, :, :, :]
            features = sam.image_encoder(sam.preprocess(resized))
        boxes = None
        if self._boxes_fallback is not None:
            boxes = self._boxes_fallback._encode(image)
        return SamState(image, features, tuple(int(v) for v in resized.shape[-2:]), boxes)

    def _predict(self, state: SamState, coords, labels, box):
        import torch

        sam, device, size = self.sam, self.sam.device, state.size
        single_point = box is None and coords is not None and len(coords) == 1
        with torch.inference_mode():
            points = boxes = None
            if coords is not None:
                points = (torch.as_tensor(self.transform.apply_coords(coords, size),
                                          dtype=torch.float, device=device)[None, :, :],
                          torch.as_tensor(labels, dtype=torch.int, device=device)[None, :])
            if box is not None:
                boxes = torch.as_tensor(self.transform.apply_boxes(box, size),
                                        dtype=torch.float, device=device)[None, :]
            sparse, dense = sam.prompt_encoder(points=points, boxes=boxes, masks=None)
            low_res, iou = sam.mask_decoder(
                image_embeddings=state.features, image_pe=sam.prompt_encoder.get_dense_pe(),
                sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense,
                multimask_output=single_point)  # one ambiguous click: SAM's three candidates
            masks = sam.postprocess_masks(low_res, state.input_size, size) > sam.mask_threshold
        masks, scores = masks[0].cpu().numpy(), iou[0].cpu().numpy()
        best = int(np.argmax(scores))
        return masks[best].astype(bool), float(scores[best])

    def _object_masks(self, state: SamState):
        if self.detector is not None:
            boxes = self.detector.detect(state.image)
        else:
            boxes = [(_mask_box(m), 1.0)
                     for m, _ in self._boxes_fallback._object_masks(state.boxes)]
        for box, det_score in boxes:
            mask, iou = self._predict(state, None, None, np.asarray(box, dtype=np.float64))
            yield mask, iou * float(det_score)


def _mask_box(mask: np.ndarray) -> tuple[float, float, float, float]:
    """A mask's box as SAM's box prompt wants it: (x0, y0, x1, y1) floats, x1/y1 exclusive."""
    from seagull.regions.rle import mask_bbox

    x, y, w, h = mask_bbox(mask)
    return float(x), float(y), float(x + w), float(y + h)


def build_segmenter(sam_checkpoint=None, detector_weights=None, *, strict: bool = False,
                    device: str = "cpu") -> Segmenter:
    """The segmenter for the configured weights.

    ``sam_checkpoint`` / ``detector_weights``: local paths; when None, ``seagull.weights``
    looks them up (environment, config, weights folder). Without SAM weights the classical
    fallback runs (announced on the log); ``strict`` makes a missing weight an error.
    """
    from seagull import weights
    from seagull.regions.detector import load_detector

    sam_path = weights.resolve("sam", sam_checkpoint, strict=strict)
    det_path = weights.resolve("detector", detector_weights, strict=strict)
    detector = load_detector(det_path, device=device) if det_path is not None else None
    if sam_path is None:
        return ClassicalSegmenter(detector=detector)
    from seagull.regions.sam import load_sam

    sam, variant = load_sam(sam_path, device=device)
    return SamSegmenter(sam, variant, weights.file_sha256(sam_path), detector=detector)


def _fmt(values) -> str:
    """``(10, 10, 10, 50)``: coordinates as a person wrote them, for error messages."""
    return "(" + ", ".join(f"{float(v):g}" for v in values) + ")"
