"""Request parsing: a request's fields and its image bytes, within the upload limits.

A request is a JSON object (the image as base64 in ``image``) or a form (the image as a file
part named ``image``); anything else is a 415. Over the limits, a 413 before the body is read
where the length is declared; a body that does not parse, a 400 naming the problem.
"""

import json

from starlette.requests import Request

from seagull.errors import InvalidInputError
from serve import errors as http_errors
from serve.errors import MalformedRequestError, PayloadTooLargeError, UnsupportedMediaError


async def read_fields(request: Request, max_upload_bytes: int) -> tuple[dict, bytes | None]:
    """(form or JSON fields, the image bytes if the request carries an image)."""
    # The whole request may carry the image as base64 (4/3) plus small fields.
    limit = max_upload_bytes * 4 // 3 + 64 * 1024
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
                data = await value.read(max_upload_bytes + 1)
                if len(data) > max_upload_bytes:
                    raise PayloadTooLargeError(f"image: over the limit of "
                                               f"{max_upload_bytes} bytes")
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

            data = decode_base64(values.pop("image"), max_bytes=max_upload_bytes)
        return values, data
    raise UnsupportedMediaError(f"request: content type {ctype!r}; send application/json "
                                f"or multipart/form-data")
