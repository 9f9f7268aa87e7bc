"""The HTTP ingress: the FastAPI routes, the API key, the error answers, and the composition of
the model deployments (``serve.deployments``) for each request (request parsing and limits:
``serve.requests``).

Every error is a 4xx/5xx with ``{"error": {"code", "message"}}``; ``X-Seagull-Cache`` tells
whether the Segmenter's and the Assessor's caches were hit.
"""

# No `from __future__ import annotations`: FastAPI reads the route signatures' types at runtime.

import asyncio
import base64
import hashlib
import hmac
import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from ray import serve
from starlette.exceptions import HTTPException as StarletteHTTPException

from seagull.errors import InvalidInputError, SeagullError
from serve import errors as http_errors
from serve.errors import (
    ServiceTimeoutError,
    UnauthorizedError,
    UnknownImageError,
)
from serve.openapi import body_doc, errors_doc
from serve.requests import read_fields
from serve.settings import ServeSettings

log = logging.getLogger("serve")

PAGE_DIR = Path(__file__).resolve().parent / "static"
PAGE_FILES = {"app.js": "text/javascript", "style.css": "text/css"}
API_KEY_HEADER = "X-API-Key"
CACHE_HEADER = "X-Seagull-Cache"


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


def _overlay_b64(pixels, rle: dict) -> str:
    from seagull.regions.rle import decode
    from serve.images import overlay_png

    return base64.b64encode(overlay_png(pixels, decode(rle))).decode("ascii")


def segment_answer(result: dict, image_id: str) -> dict:
    """One ``/v1/segment`` answer from a Segmenter result: the mask (COCO RLE), the segmenter's
    ``score`` for it (SAM's predicted IoU; None, JSON null, for the classical fallback), its
    box and area, and the image id."""
    return {"mask": result["mask"], "score": result["score"], "bbox": result["bbox"],
            "area": result["area"], "image_id": image_id}


def _cache_header(segmented: list[dict], assessed: list[dict] | None) -> str:
    """``segmenter=hit, assessor=miss``: ``hit`` only when every lookup of that stage hit."""
    def word(results):
        flags = [r.get("cache") for r in results]
        return "hit" if flags and all(f == "hit" for f in flags) else ("miss" if flags else "none")

    parts = [f"segmenter={word(segmented)}"]
    if assessed is not None:
        parts.append(f"assessor={word(assessed)}")
    return ", ".join(parts)


@serve.deployment(name="Gateway", max_ongoing_requests=64)  # resources: serve/*.yaml
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
              openapi_extra=body_doc(("image",)),
              responses=errors_doc(400, 401, 413, 415, 422))
    async def upload(self, request: Request):
        self._authorise(request)
        _, data = await read_fields(request, self.settings.max_upload_bytes)
        if data is None:
            raise InvalidInputError("image: no image in the request (a part named 'image', "
                                    "or base64 in a JSON field 'image')")
        image = await self._resolve_image({}, data)
        return dict(image, model=await self._models())

    @api.post("/v1/segment", summary="points (with labels) or a box → mask (COCO RLE)",
              openapi_extra=body_doc(("image", "image_id", "point", "points", "labels", "box",
                                       "prompts", "overlay")),
              responses=errors_doc(400, 401, 404, 413, 415, 422, 504))
    async def segment(self, request: Request):
        from serve.prompts import parse_flag, parse_prompts

        self._authorise(request)
        values, data = await read_fields(request, self.settings.max_upload_bytes)
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
            answer = segment_answer(result, image["image_id"])
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
              openapi_extra=body_doc(("image", "image_id", "point", "points", "labels", "box",
                                       "mask", "prompts", "tasks")),
              responses=errors_doc(400, 401, 404, 413, 415, 422, 504))
    async def assess(self, request: Request):
        from serve.prompts import check_mask, parse_prompts, parse_tasks

        self._authorise(request)
        values, data = await read_fields(request, self.settings.max_upload_bytes)
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
