"""The model side of the service, without Ray: loading, per-image state, one call per prompt.

``SegmenterCore`` and ``AssessorCore`` hold a model, a bounded per-image cache and a lock, and
are what the ``Segmenter`` and ``Assessor`` deployments wrap; they are plain objects so the same
code runs (and is tested) in one process. Image pixels come from an ``image_source``: an async
callable ``image_id → H×W×3 uint8 array or None``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import numpy as np

from serve.cache import BoundedCache
from serve.errors import UnknownImageError
from serve.prompts import TASKS

log = logging.getLogger("serve")

ImageSource = Callable[[str], Awaitable["np.ndarray | None"]]


class _PerImage:
    """A predictor whose ``encode(image)`` returns an image's state, plus a cache of those
    states keyed by image id (bytes: each state's ``nbytes``).

    The predictor itself holds nothing per image: every call is given the state it answers
    from. Model calls run in a worker thread (the replica's event loop stays free to batch and
    answer) one at a time (torch's thread pool is not shared well between calls).
    """

    def __init__(self, predictor, image_source: ImageSource, cache_entries: int,
                 cache_bytes: int):
        self.predictor = predictor
        self.image_source = image_source
        self.cache = BoundedCache(cache_entries, cache_bytes)
        self.lock = asyncio.Lock()

    async def run(self, fn, *args):
        async with self.lock:
            return await asyncio.to_thread(fn, *args)

    async def state(self, image_id: str):
        """(this image's state from the predictor's ``encode``, cache hit?)."""
        async def compute():
            image = await self.image_source(image_id)
            if image is None:
                raise UnknownImageError(f"image_id: {image_id} is not held by this service "
                                        f"(upload it again)")
            return await self.run(self.predictor.encode, image)

        return await self.cache.get_or_compute(image_id, compute)


def predict_scored(segmenter, state, prompt: dict) -> tuple[np.ndarray, float | None]:
    """(H×W bool mask, score or None) for a point/points/box prompt on the image of ``state``
    (the segmenter's ``encode`` result): the segmenter's ``predict_with_score`` (SAM's
    predicted IoU; None where the segmenter has no score)."""
    kwargs = {k: prompt[k] for k in ("point", "points", "labels", "box") if k in prompt}
    mask, score = segmenter.predict_with_score(state, **kwargs)
    return np.asarray(mask, dtype=bool), score


class SegmenterCore(_PerImage):
    """SAM (or the classical fallback) behind a per-image embedding cache."""

    def __init__(self, image_source: ImageSource, *, sam_checkpoint: str | None = None,
                 cache_entries: int = 32, cache_bytes: int = 1 << 30, segmenter=None,
                 device: str = "cpu"):
        if segmenter is None:
            from seagull.regions import build_segmenter

            segmenter = build_segmenter(sam_checkpoint=sam_checkpoint, device=device)
        super().__init__(segmenter, image_source, cache_entries, cache_bytes)

    def info(self) -> dict:
        seg = self.predictor
        return {"name": seg.name, "version": str(seg.version),
                "weights": getattr(seg, "weights_hash", "fallback")}

    async def segment(self, image_id: str, prompt: dict) -> dict:
        """``{"mask": RLE, "score", "bbox": [x, y, w, h], "area", "cache": "hit"|"miss"}``."""
        from seagull.regions.rle import encode, mask_bbox

        state, hit = await self.state(image_id)
        mask, score = await self.run(predict_scored, self.predictor, state, prompt)
        rle = encode(mask)  # EmptyMaskError when the prompt selected nothing
        return {"mask": rle, "score": score, "bbox": mask_bbox(mask), "area": int(mask.sum()),
                "cache": "hit" if hit else "miss"}


def default_model_dir(root: str | Path = "demo") -> Path | None:
    """The newest model the README's main job trained under ``root`` (a ``…/model/`` folder
    written by ``save_pretrained``), or None."""
    from seagull.model.seagull_model import CONFIG_FILE

    candidates = [p.parent for p in Path(root).glob(f"**/model/{CONFIG_FILE}")]
    candidates = [p for p in candidates if p.is_dir()]
    return max(candidates, key=lambda p: p.stat().st_mtime) if candidates else None


def load_model(model_dir: str | None, preset: str = "small"):
    """(SeagullModel in eval mode, where it came from) for ``model_dir``, or a fresh preset.

    Without a model directory a freshly initialised ``preset`` model answers, with a loud
    warning: its assessments are not meaningful.
    """
    from seagull.model import SeagullModel

    if model_dir:
        return SeagullModel.from_pretrained(model_dir).eval(), str(model_dir)
    log.warning("=" * 72)
    log.warning("NO TRAINED MODEL: serving a freshly initialised '%s' Seagull model; its "
                "assessments are random. Pass --model DIR (a trained save_pretrained folder).",
                preset)
    log.warning("=" * 72)
    return SeagullModel.from_preset(preset).eval(), f"fresh:{preset}"


def describe_model(model, source: str) -> dict:
    """``{"name", "version", "source"}`` of a served Seagull model."""
    import seagull

    config = getattr(model, "config", None)
    preset = getattr(config, "preset", None) or "custom"
    version = getattr(model, "version", None) or seagull.__version__
    return {"name": f"seagull-{preset}", "version": str(version), "source": source}


class AssessorCore(_PerImage):
    """Seagull behind a per-image encoder/prefix cache; assesses many masks of one image at once."""

    def __init__(self, image_source: ImageSource, *, model_dir: str | None = None,
                 preset: str = "small", cache_entries: int = 32, cache_bytes: int = 1 << 30,
                 predictor=None, model_info: dict | None = None, device: str = "cpu"):
        if predictor is None:
            from seagull.model import SeagullPredictor

            model, source = load_model(model_dir, preset)
            predictor = SeagullPredictor(model.to(device))
            model_info = describe_model(model, source)
        super().__init__(predictor, image_source, cache_entries, cache_bytes)
        self.model_info = model_info or {"name": "seagull", "version": "unknown"}

    def info(self) -> dict:
        return dict(self.model_info)

    async def assess_many(self, items: Sequence[tuple[str, dict, tuple[str, ...]]]) -> list:
        """One result per ``(image_id, mask RLE, tasks)``: a dict, or the exception it raised.

        Items are grouped by image (one cache lookup, one ``encode`` at most) and by tasks
        (one batched ``assess`` call per group). Each result carries ``"cache": "hit"|"miss"``.
        """
        from seagull.regions.rle import decode

        results: list = [None] * len(items)
        groups: dict[tuple[str, tuple[str, ...]], list[int]] = {}
        for index, (image_id, _, tasks) in enumerate(items):
            groups.setdefault((image_id, tuple(tasks)), []).append(index)
        for (image_id, tasks), indices in groups.items():
            try:
                state, hit = await self.state(image_id)
            except Exception as exc:  # noqa: BLE001 - handed to each caller of this group
                for i in indices:
                    results[i] = exc
                continue
            masks, good = [], []
            for i in indices:
                try:
                    masks.append(decode(items[i][1]))
                    good.append(i)
                except Exception as exc:  # noqa: BLE001
                    results[i] = exc
            if not good:
                continue
            try:
                answers = await self.run(_assess, self.predictor, state, masks, tasks)
            except Exception:  # noqa: BLE001 - one bad mask must not fail its neighbours
                # …so retry the group one mask at a time.
                answers = []
                for mask in masks:
                    try:
                        answers.append((await self.run(_assess, self.predictor, state,
                                                       [mask], tasks))[0])
                    except Exception as exc:  # noqa: BLE001
                        answers.append(exc)
            for i, answer in zip(good, answers):
                if isinstance(answer, dict):
                    answer = dict(answer, cache="hit" if hit else "miss")
                results[i] = answer
        return results


def _assess(predictor, state, masks: list[np.ndarray], tasks: tuple[str, ...]) -> list[dict]:
    answers = predictor.assess(state, masks, tasks=tasks)
    return [_public(a, tasks) for a in answers]


def _public(answer: dict, tasks: tuple[str, ...]) -> dict:
    """The predictor's answer with only the asked tasks' fields, JSON-ready."""
    out: dict = {}
    for task in ("quality", "importance"):
        if task in tasks and task in answer:
            out[task] = _jsonable(answer[task])
    if "distortion" in tasks:
        out["distortions"] = _jsonable(answer.get("distortions", []))
    out["text"] = _jsonable(answer.get("text"))
    return out


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


__all__ = [
    "TASKS",
    "AssessorCore",
    "SegmenterCore",
    "default_model_dir",
    "describe_model",
    "load_model",
    "predict_scored",
]
