"""What the OpenAPI document says of the request bodies: one field table per content type (the
prompt vocabulary itself is ``serve.prompts``'s), and the error answers."""

from __future__ import annotations

from seagull.labels.instructions import TASKS
from serve import errors as http_errors

MULTIPART_FIELDS = {
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
JSON_FIELDS = {
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


def body_doc(names: tuple[str, ...]) -> dict:
    def pick(table: dict) -> dict:
        return {"type": "object", "properties": {n: table[n] for n in names}}

    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": pick(JSON_FIELDS)},
        "multipart/form-data": {"schema": pick(MULTIPART_FIELDS)}}}}


def errors_doc(*statuses: int) -> dict:
    error = {"content": {"application/json": {"example": http_errors.error_body("code", "…")}}}
    return {s: dict(error, description="error") for s in statuses}
