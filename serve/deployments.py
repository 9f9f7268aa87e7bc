"""The model-side deployments: ImageStore (the images this service issued ids for), Segmenter
(SAM or the fallback) and Assessor (Seagull), each a thin Serve shell around its core in
``serve.models``. Replica resources are set in YAML only: serve/config.yaml (production) and
serve/local.yaml (a local run, ``serve.local``); replica counts in serve/config.yaml."""

from __future__ import annotations

import numpy as np
from ray import serve


def _metric_counter(name: str, description: str):
    from ray.serve import metrics

    return metrics.Counter(name, description=description, tag_keys=("result",))


# ---- ImageStore ---------------------------------------------------------------------------

@serve.deployment(name="ImageStore", num_replicas=1, max_ongoing_requests=64)
class ImageStore:
    """The images this service issued ids for: content hash → H×W×3 uint8, LRU-bounded.

    One replica (ids must resolve wherever the Gateway runs); the model deployments fetch
    pixels from here only on a cache miss.
    """

    def __init__(self, max_bytes: int, max_entries: int):
        from serve.cache import BoundedCache

        self.images = BoundedCache(max_entries, max_bytes, sizeof=lambda image: image.nbytes)

    def put(self, image: np.ndarray) -> dict:
        from serve.images import image_id

        key = image_id(image)
        if self.images.get(key) is None:
            self.images.put(key, image)
        return {"image_id": key, "height": int(image.shape[0]), "width": int(image.shape[1])}

    def get(self, key: str) -> np.ndarray | None:
        return self.images.get(key)

    def shape(self, key: str) -> tuple[int, int] | None:
        image = self.images.get(key)
        return None if image is None else (int(image.shape[0]), int(image.shape[1]))


def _set_threads(count: int | None) -> None:
    if count:
        import torch

        torch.set_num_threads(int(count))


def _device(setting: str) -> str:
    """The torch device of a model replica: with "auto", cuda where Ray gave it a GPU."""
    if setting != "auto":
        return setting
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


# ---- Segmenter ----------------------------------------------------------------------------

@serve.deployment(name="Segmenter", max_ongoing_requests=16)
class Segmenter:
    """SAM (or the classical fallback) with a per-image embedding cache (``SegmenterCore``)."""

    def __init__(self, store, sam_checkpoint: str | None, cache_entries: int, cache_bytes: int,
                 torch_threads: int | None = None, device: str = "auto"):
        from serve.models import SegmenterCore

        _set_threads(torch_threads)
        self.store = store
        self.core = SegmenterCore(self._image, sam_checkpoint=sam_checkpoint,
                                  cache_entries=cache_entries, cache_bytes=cache_bytes,
                                  device=_device(device))
        self.cache_counter = _metric_counter("seagull_segmenter_cache",
                                             "Segmenter per-image cache lookups")

    async def _image(self, image_id: str):
        return await self.store.get.remote(image_id)

    def info(self) -> dict:
        return self.core.info()

    def cache_stats(self) -> dict:
        return self.core.cache.stats()

    async def segment(self, image_id: str, prompt: dict) -> dict:
        result = await self.core.segment(image_id, prompt)
        self.cache_counter.inc(tags={"result": result["cache"]})
        return result


# ---- Assessor -----------------------------------------------------------------------------

@serve.deployment(name="Assessor", max_ongoing_requests=32)
class Assessor:
    """Seagull with a per-image cache (``AssessorCore``); regions batched across requests."""

    def __init__(self, store, model_dir: str | None, preset: str, cache_entries: int,
                 cache_bytes: int, max_batch_size: int, batch_wait_timeout_s: float,
                 torch_threads: int | None = None, device: str = "auto"):
        from serve.models import AssessorCore

        _set_threads(torch_threads)
        self.store = store
        self.core = AssessorCore(self._image, model_dir=model_dir, preset=preset,
                                 cache_entries=cache_entries, cache_bytes=cache_bytes,
                                 device=_device(device))
        self.assess_batch.set_max_batch_size(max_batch_size)
        self.assess_batch.set_batch_wait_timeout_s(batch_wait_timeout_s)
        self.cache_counter = _metric_counter("seagull_assessor_cache",
                                             "Assessor per-image cache lookups")
        self.batch_sizes: list[int] = []

    async def _image(self, image_id: str):
        return await self.store.get.remote(image_id)

    def info(self) -> dict:
        return self.core.info()

    def cache_stats(self) -> dict:
        return dict(self.core.cache.stats(), batches=len(self.batch_sizes),
                    largest_batch=max(self.batch_sizes, default=0))

    async def assess(self, image_id: str, mask: dict, tasks: tuple[str, ...]) -> dict:
        outcome = await self.assess_batch((image_id, mask, tuple(tasks)))
        if isinstance(outcome, BaseException):
            raise outcome
        self.cache_counter.inc(tags={"result": outcome["cache"]})
        return outcome

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.02)
    async def assess_batch(self, items: list[tuple[str, dict, tuple[str, ...]]]) -> list:
        self.batch_sizes = (self.batch_sizes + [len(items)])[-1000:]
        return await self.core.assess_many(items)
