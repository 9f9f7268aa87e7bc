"""The Ray Serve application: Gateway (FastAPI ingress) → ImageStore, Segmenter, Assessor.

    serve run serve/config.yaml            # the production configuration
    seagull serve [--model DIR] [--sam CKPT] [--port P]   # the same, on a small machine

``build_app(args)`` is the application builder the configuration names
(``import_path: serve.app:build_app``); ``compose(settings, options)`` builds the same graph
with per-deployment option overrides (``serve.local``). Request flow for a click:

1. the Gateway parses and validates the request (limits, API key, fields); an inline image is
   decoded and put into the ImageStore, which names it by content hash (its ``image_id``);
2. a point or box goes to the Segmenter, which looks the image up in its cache of SAM image
   embeddings (content hash → state; a miss fetches the pixels from the store and encodes);
3. the mask goes to the Assessor, whose ``@serve.batch`` method gathers regions across
   requests, groups them by image, and answers each group with one batched ``assess`` call on
   cached encoder features and prompt prefix.

Every answer names the model; every error is a 4xx/5xx with ``{"error": {"code", "message"}}``.
``X-Seagull-Cache`` tells whether the Segmenter's and the Assessor's caches were hit.
"""

# No `from __future__ import annotations`: FastAPI reads the route signatures' types at runtime.

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import os
from collections import OrderedDict
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from ray import serve
from starlette.exceptions import HTTPException as StarletteHTTPException

from seagull.errors import ConfigError, InvalidInputError, SeagullError
from seagull.labels.instructions import TASKS
from serve import errors as http_errors
from serve.errors import (
    MalformedRequestError,
    PayloadTooLargeError,
    ServiceTimeoutError,
    UnauthorizedError,
    UnknownImageError,
    UnsupportedMediaError,
)

log = logging.getLogger("serve")

PAGE_DIR = Path(__file__).resolve().parent / "static"
PAGE_FILES = {"app.js": "text/javascript", "style.css": "text/css"}
API_KEY_HEADER = "X-API-Key"
CACHE_HEADER = "X-Seagull-Cache"
MB = 1 << 20


@dataclass(frozen=True)
class ServeSettings:
    """What the application builder takes (``args:`` in serve/config.yaml). Sizes in bytes,
    pixels or entries; times in seconds."""

    model_dir: str | None = None
    preset: str = "small"  # the freshly initialised model when there is no model_dir
    sam_checkpoint: str | None = None
    max_upload_bytes: int = 20 * MB
    max_pixels: int = 40_000_000
    max_prompts: int = 16
    request_timeout_s: float = 120.0
    api_key_env: str = "SEAGULL_API_KEY"  # where the key is read from; unset → no key
    api_key: str | None = None  # set directly (tests); prefer the environment in production
    image_store_bytes: int = 1024 * MB
    image_store_entries: int = 256
    segmenter_cache_entries: int = 32
    segmenter_cache_bytes: int = 1024 * MB
    assessor_cache_entries: int = 32
    assessor_cache_bytes: int = 1024 * MB
    max_batch_size: int = 8
    batch_wait_timeout_s: float = 0.02
    torch_threads: int | None = None  # per model replica; None: torch's default
    device: str = "auto"  # model replicas: "auto" (cuda when the replica has a GPU), "cpu", "cuda"

    @classmethod
    def from_args(cls, args: dict | None) -> "ServeSettings":
        args = dict(args or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(args) - known)
        if unknown:
            raise ConfigError(f"serve args: unknown {unknown}; known: {sorted(known)}")
        settings = cls(**args)
        for name in ("max_upload_bytes", "max_pixels", "max_prompts", "image_store_bytes",
                     "image_store_entries", "segmenter_cache_entries", "segmenter_cache_bytes",
                     "assessor_cache_entries", "assessor_cache_bytes", "max_batch_size"):
            value = getattr(settings, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"serve args: {name} must be a positive integer, got {value!r}")
        if not settings.request_timeout_s > 0:
            raise ConfigError("serve args: request_timeout_s must be positive")
        if settings.device not in ("auto", "cpu", "cuda") and not settings.device.startswith(
                "cuda:"):
            raise ConfigError(f"serve args: device must be auto, cpu or cuda[:N], got "
                              f"{settings.device!r}")
        return settings

    def api_key_digest(self) -> str | None:
        """sha256 of the configured API key (the key itself is not passed to replicas)."""
        key = self.api_key or os.environ.get(self.api_key_env or "", "")
        return hashlib.sha256(key.encode()).hexdigest() if key else None


def _metric_counter(name: str, description: str):
    from ray.serve import metrics

    return metrics.Counter(name, description=description, tag_keys=("result",))


# ---- ImageStore ---------------------------------------------------------------------------

@serve.deployment(name="ImageStore", ray_actor_options={"num_cpus": 0.1}, num_replicas=1,
                  max_ongoing_requests=64)
class ImageStore:
    """The images this service issued ids for: content hash → H×W×3 uint8, LRU-bounded.

    One replica (ids must resolve wherever the Gateway runs); the model deployments fetch
    pixels from here only on a cache miss.
    """

    def __init__(self, max_bytes: int, max_entries: int):
        self.max_bytes, self.max_entries = max_bytes, max_entries
        self.images: OrderedDict[str, np.ndarray] = OrderedDict()
        self.bytes = 0

    def put(self, image: np.ndarray) -> dict:
        from serve.images import image_id

        key = image_id(image)
        if key in self.images:
            self.images.move_to_end(key)
        else:
            self.images[key] = image
            self.bytes += image.nbytes
            while len(self.images) > 1 and (self.bytes > self.max_bytes
                                            or len(self.images) > self.max_entries):
                _, old = self.images.popitem(last=False)
                self.bytes -= old.nbytes
        return {"image_id": key, "height": int(image.shape[0]), "width": int(image.shape[1])}

    def get(self, key: str) -> np.ndarray | None:
        image = self.images.get(key)
        if image is not None:
            self.images.move_to_end(key)
        return image

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

@serve.deployment(name="Segmenter", ray_actor_options={"num_cpus": 1}, max_ongoing_requests=16)
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

@serve.deployment(name="Assessor", ray_actor_options={"num_cpus": 1}, max_ongoing_requests=32)
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


# ---- Gateway (HTTP ingress) ---------------------------------------------------------------

api = FastAPI(
    title="Seagull region quality assessment",
    version="1",
    description="Click a region of an image (or give a box or a mask) and get its quality, "
                "its importance to the whole image, and its distortions. In multipart "
                f"requests the image part is named `image`. When an API key is configured, "
                f"send it in the `{API_KEY_HEADER}` header.",
)


def _error_response(status: int, code: str, message: str, headers=None) -> JSONResponse:
    return JSONResponse(http_errors.error_body(code, message), status_code=status,
                        headers=headers)


@api.exception_handler(RequestValidationError)
async def _validation_error(request: Request, exc: RequestValidationError):
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()))
    return _error_response(422, "invalid_input", f"{where}: {first.get('msg', 'invalid')}")


@api.exception_handler(StarletteHTTPException)
async def _http_error(request: Request, exc: StarletteHTTPException):
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return _error_response(exc.status_code, code, str(exc.detail))


@api.exception_handler(SeagullError)
async def _project_error(request: Request, exc: SeagullError):
    status, code = http_errors.classify(exc) or (500, "internal")
    return _error_response(status, code, http_errors.one_line(exc))


@api.middleware("http")
async def _last_resort(request: Request, call_next):
    """Anything unexpected becomes a JSON 500 (logged); the replica keeps serving."""
    try:
        return await call_next(request)
    except Exception as exc:
        known = http_errors.classify(exc)
        if known is not None:
            return _error_response(known[0], known[1], http_errors.one_line(exc))
        log.exception("unexpected error answering %s %s", request.method, request.url.path)
        return _error_response(500, "internal", "internal error; the service logged it")


_MULTIPART_FIELDS = {
    "image": {"type": "string", "format": "binary", "description": "the image file"},
    "image_id": {"type": "string"},
    "point": {"type": "string", "example": "120,80"},
    "points": {"type": "string", "example": "120,80;40,30"},
    "labels": {"type": "string", "example": "1,0"},
    "box": {"type": "string", "example": "10,10,200,150"},
    "mask": {"type": "string", "description": "COCO RLE as JSON"},
    "prompts": {"type": "string", "description": "JSON list of prompt objects"},
    "tasks": {"type": "string", "example": "quality,importance,distortion"},
    "overlay": {"type": "boolean"},
}
_JSON_FIELDS = {
    "image": {"type": "string", "description": "base64 (or a data: URL)"},
    "image_id": {"type": "string"},
    "point": {"type": "array", "items": {"type": "number"}, "example": [120, 80]},
    "points": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
    "labels": {"type": "array", "items": {"type": "integer"}},
    "box": {"type": "array", "items": {"type": "number"}, "example": [10, 10, 200, 150]},
    "mask": {"type": "object", "properties": {"size": {"type": "array"},
                                              "counts": {"type": "string"}}},
    "prompts": {"type": "array", "items": {"type": "object"}},
    "tasks": {"type": "array", "items": {"type": "string"},
              "example": list(TASKS)},
    "overlay": {"type": "boolean"},
}


def _body_doc(names: tuple[str, ...]) -> dict:
    def pick(table: dict) -> dict:
        return {"type": "object", "properties": {n: table[n] for n in names}}

    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": pick(_JSON_FIELDS)},
        "multipart/form-data": {"schema": pick(_MULTIPART_FIELDS)}}}}


def _errors_doc(*statuses: int) -> dict:
    error = {"content": {"application/json": {"example": http_errors.error_body("code", "…")}}}
    return {s: dict(error, description="error") for s in statuses}


def _overlay_b64(pixels, rle: dict) -> str:
    from seagull.regions.rle import decode
    from serve.images import overlay_png

    return base64.b64encode(overlay_png(pixels, decode(rle))).decode("ascii")


def _cache_header(segmented: list[dict], assessed: list[dict] | None) -> str:
    """``segmenter=hit, assessor=miss``: ``hit`` only when every lookup of that stage hit."""
    def word(results):
        flags = [r.get("cache") for r in results]
        return "hit" if flags and all(f == "hit" for f in flags) else ("miss" if flags else "none")

    parts = [f"segmenter={word(segmented)}"]
    if assessed is not None:
        parts.append(f"assessor={word(assessed)}")
    return ", ".join(parts)


@serve.deployment(name="Gateway", ray_actor_options={"num_cpus": 0.5}, max_ongoing_requests=64)
@serve.ingress(api)
class Gateway:
    """HTTP ingress: validation, limits, API key, composition of the model deployments."""

    def __init__(self, store, segmenter, assessor, settings: dict, api_key_digest: str | None):
        self.settings = ServeSettings.from_args(settings)
        self.api_key_digest = api_key_digest
        self.store, self.segmenter, self.assessor = store, segmenter, assessor
        self._model_info: dict | None = None

    # ---- plumbing -------------------------------------------------------------------------
    def _authorise(self, request: Request) -> None:
        if self.api_key_digest is None:
            return
        given = request.headers.get(API_KEY_HEADER, "")
        digest = hashlib.sha256(given.encode()).hexdigest()
        if not given or not hmac.compare_digest(digest, self.api_key_digest):
            raise UnauthorizedError(f"missing or wrong API key (header {API_KEY_HEADER})")

    async def _call(self, response):
        """Await a deployment response within the request timeout."""
        try:
            return await asyncio.wait_for(response, timeout=self.settings.request_timeout_s)
        except asyncio.TimeoutError:
            response.cancel()
            raise ServiceTimeoutError(f"no answer within {self.settings.request_timeout_s:g} "
                                      f"s") from None

    async def _fields(self, request: Request) -> tuple[dict, bytes | None]:
        """(form or JSON fields, the image bytes if the request carries an image)."""
        s = self.settings
        # The whole request may carry the image as base64 (4/3) plus small fields.
        limit = s.max_upload_bytes * 4 // 3 + 64 * 1024
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            raise PayloadTooLargeError(f"request: {length} bytes is over the limit of "
                                       f"{limit} bytes")
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype in ("multipart/form-data", "application/x-www-form-urlencoded"):
            try:
                form = await request.form(max_files=1, max_fields=32)
            except Exception as exc:  # noqa: BLE001 - starlette raises several kinds
                raise MalformedRequestError(f"request: malformed form body "
                                            f"({http_errors.one_line(exc)})") from None
            values: dict = {}
            data = None
            for key, value in form.multi_items():
                if hasattr(value, "read"):  # an uploaded file
                    if key != "image":
                        raise InvalidInputError(f"{key}: the only file part is 'image'")
                    data = await value.read(s.max_upload_bytes + 1)
                    if len(data) > s.max_upload_bytes:
                        raise PayloadTooLargeError(f"image: over the limit of "
                                                   f"{s.max_upload_bytes} bytes")
                else:
                    values[key] = value
            if data is None and isinstance(values.get("image"), str) and values["image"]:
                raise InvalidInputError("image: send the image as a file part named 'image'")
            values.pop("image", None)
            return values, data
        if ctype in ("application/json", ""):
            body = await request.body()
            if len(body) > limit:
                raise PayloadTooLargeError(f"request: over the limit of {limit} bytes")
            try:
                values = json.loads(body)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise MalformedRequestError(f"request: the body is not valid JSON ({exc})") \
                    from None
            if not isinstance(values, dict):
                raise MalformedRequestError("request: the JSON body must be an object")
            data = None
            if values.get("image") not in (None, ""):
                from serve.images import decode_base64

                data = decode_base64(values.pop("image"), max_bytes=s.max_upload_bytes)
            return values, data
        raise UnsupportedMediaError(f"request: content type {ctype!r}; send application/json "
                                    f"or multipart/form-data")

    async def _resolve_image(self, values: dict, data: bytes | None) -> dict:
        """``{"image_id", "height", "width"}`` of the request's image (stored if inline)."""
        from serve.images import check_image_id, decode_image

        if data is not None and values.get("image_id") not in (None, ""):
            raise InvalidInputError("request: give either image or image_id, not both")
        if data is not None:
            s = self.settings
            image = await asyncio.to_thread(decode_image, data, max_bytes=s.max_upload_bytes,
                                            max_pixels=s.max_pixels)
            return await self._call(self.store.put.remote(image))
        if values.get("image_id") in (None, ""):
            raise InvalidInputError("request: give an image (a part named 'image', or base64 "
                                    "in JSON) or an image_id")
        key = check_image_id(values["image_id"])
        shape = await self._call(self.store.shape.remote(key))
        if shape is None:
            raise UnknownImageError(f"image_id: {key} is not held by this service (upload the "
                                    f"image again)")
        return {"image_id": key, "height": shape[0], "width": shape[1]}

    async def _models(self) -> dict:
        if self._model_info is None:
            assessor, segmenter = await asyncio.gather(
                self._call(self.assessor.info.remote()), self._call(self.segmenter.info.remote()))
            self._model_info = dict(assessor, segmenter=segmenter)
        return self._model_info

    async def _segment(self, image: dict, prompt: dict) -> dict:
        return await self._call(self.segmenter.segment.remote(image["image_id"], prompt))

    # ---- routes ---------------------------------------------------------------------------
    @api.get("/", include_in_schema=False)
    def page(self):
        return FileResponse(PAGE_DIR / "index.html", media_type="text/html")

    @api.get("/static/{name}", include_in_schema=False)
    def page_file(self, name: str):
        if name not in PAGE_FILES:  # clients never name server files: a fixed list
            return _error_response(404, "not_found", f"no page file {name!r}")
        return FileResponse(PAGE_DIR / name, media_type=PAGE_FILES[name])

    @api.get("/healthz", summary="liveness and the models served")
    async def healthz(self):
        return {"status": "ok", "model": await self._models()}

    @api.get("/v1/stats", summary="cache and batch counters of one replica of each deployment")
    async def stats(self, request: Request):
        self._authorise(request)
        seg, ass = await asyncio.gather(self._call(self.segmenter.cache_stats.remote()),
                                        self._call(self.assessor.cache_stats.remote()))
        return {"segmenter": seg, "assessor": ass, "model": await self._models()}

    @api.post("/v1/images", summary="upload an image once; get its image_id",
              openapi_extra=_body_doc(("image",)),
              responses=_errors_doc(400, 401, 413, 415, 422))
    async def upload(self, request: Request):
        self._authorise(request)
        _, data = await self._fields(request)
        if data is None:
            raise InvalidInputError("image: no image in the request (a part named 'image', "
                                    "or base64 in a JSON field 'image')")
        image = await self._resolve_image({}, data)
        return dict(image, model=await self._models())

    @api.post("/v1/segment", summary="points (with labels) or a box → mask (COCO RLE)",
              openapi_extra=_body_doc(("image", "image_id", "point", "points", "labels", "box",
                                       "prompts", "overlay")),
              responses=_errors_doc(400, 401, 404, 413, 415, 422, 504))
    async def segment(self, request: Request):
        from serve.prompts import parse_flag, parse_prompts

        self._authorise(request)
        values, data = await self._fields(request)
        prompts, many = parse_prompts(values, allow_mask=False,
                                      max_prompts=self.settings.max_prompts)
        overlay = parse_flag(values.get("overlay"), "overlay")
        image = await self._resolve_image(values, data)
        results = await asyncio.gather(*(self._segment(image, p) for p in prompts))
        pixels = None
        if overlay:
            pixels = await self._call(self.store.get.remote(image["image_id"]))
            if pixels is None:
                raise UnknownImageError(f"image_id: {image['image_id']} was evicted; upload "
                                        f"it again")
        answers = []
        for result in results:
            answer = {"mask": result["mask"], "score": result["score"], "bbox": result["bbox"],
                      "area": result["area"], "image_id": image["image_id"]}
            if overlay:
                answer["overlay_png"] = await asyncio.to_thread(_overlay_b64, pixels,
                                                                result["mask"])
            answers.append(answer)
        model = await self._models()
        headers = {CACHE_HEADER: _cache_header(results, None)}
        if many:
            return JSONResponse({"results": answers, "model": model["segmenter"]}, headers=headers)
        return JSONResponse(dict(answers[0], model=model["segmenter"]), headers=headers)

    @api.post("/v1/assess",
              summary="a point, a box or a mask (RLE) → quality, importance, distortions",
              openapi_extra=_body_doc(("image", "image_id", "point", "points", "labels", "box",
                                       "mask", "prompts", "tasks")),
              responses=_errors_doc(400, 401, 404, 413, 415, 422, 504))
    async def assess(self, request: Request):
        from serve.prompts import check_mask, parse_prompts, parse_tasks

        self._authorise(request)
        values, data = await self._fields(request)
        prompts, many = parse_prompts(values, allow_mask=True,
                                      max_prompts=self.settings.max_prompts)
        tasks = parse_tasks(values.get("tasks"))
        image = await self._resolve_image(values, data)
        for i, prompt in enumerate(prompts):
            if "mask" in prompt:
                check_mask(prompt["mask"], image["height"], image["width"],
                           name=f"prompts[{i}].mask" if many else "mask")

        async def one(prompt: dict) -> tuple[dict, dict | None]:
            segmented = None
            mask = prompt.get("mask")
            if mask is None:
                segmented = await self._segment(image, prompt)
                mask = segmented["mask"]
            answer = await self._call(self.assessor.assess.remote(image["image_id"], mask, tasks))
            return dict(answer, mask=mask), segmented

        outcomes = await asyncio.gather(*(one(p) for p in prompts))
        headers = {CACHE_HEADER: _cache_header([s for _, s in outcomes if s is not None],
                                               [a for a, _ in outcomes])}
        model = await self._models()
        results = []
        for answer, _ in outcomes:
            answer.pop("cache", None)
            results.append(dict(answer, image_id=image["image_id"], model=model))
        if many:
            return JSONResponse({"results": results, "model": model}, headers=headers)
        return JSONResponse(results[0], headers=headers)


# ---- building the graph -------------------------------------------------------------------

def compose(settings: ServeSettings, options: dict[str, dict] | None = None):
    """The bound application; ``options`` maps a deployment name to ``.options(**…)``."""
    options = options or {}
    s = settings

    def opt(deployment):
        return deployment.options(**options.get(deployment.name, {}))

    store = opt(ImageStore).bind(s.image_store_bytes, s.image_store_entries)
    segmenter = opt(Segmenter).bind(store, s.sam_checkpoint, s.segmenter_cache_entries,
                                    s.segmenter_cache_bytes, s.torch_threads, s.device)
    assessor = opt(Assessor).bind(store, s.model_dir, s.preset, s.assessor_cache_entries,
                                  s.assessor_cache_bytes, s.max_batch_size,
                                  s.batch_wait_timeout_s, s.torch_threads, s.device)
    public = {k: v for k, v in asdict(s).items() if k != "api_key"}
    return opt(Gateway).bind(store, segmenter, assessor, public, s.api_key_digest())


def build_app(args: dict | None = None):
    """Application builder for ``serve run`` / ``serve deploy`` (``args:`` → ServeSettings)."""
    return compose(ServeSettings.from_args(args))
