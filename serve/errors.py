"""Errors of the HTTP layer and how every error becomes an HTTP status and a JSON body.

The body of every error answer is ``{"error": {"code": str, "message": str}}``; ``code`` is a
stable machine-readable word, ``message`` one line naming the input and the problem.
"""

from __future__ import annotations

from seagull import errors as seagull_errors


class PayloadTooLargeError(seagull_errors.InvalidInputError):
    """An upload is over the byte or pixel limit (HTTP 413)."""


class UnknownImageError(seagull_errors.InvalidInputError):
    """An ``image_id`` this service did not issue, or no longer holds (HTTP 404)."""


class MalformedRequestError(seagull_errors.InvalidInputError):
    """A body that cannot be parsed at all: bad JSON, a broken multipart body (HTTP 400)."""


class UnsupportedMediaError(seagull_errors.InvalidInputError):
    """A request body that is neither JSON nor multipart form data (HTTP 415)."""


class UnauthorizedError(seagull_errors.SeagullError):
    """A missing or wrong API key (HTTP 401)."""


class ServiceTimeoutError(seagull_errors.SeagullError, TimeoutError):
    """A model deployment did not answer within the request timeout (HTTP 504)."""


# (error class, HTTP status, code), most specific first: the first isinstance match wins.
ERROR_TABLE: tuple[tuple[type[BaseException], int, str], ...] = (
    (UnauthorizedError, 401, "unauthorized"),
    (PayloadTooLargeError, 413, "too_large"),
    (UnknownImageError, 404, "unknown_image"),
    (UnsupportedMediaError, 415, "unsupported_media_type"),
    (MalformedRequestError, 400, "bad_request"),
    (ServiceTimeoutError, 504, "timeout"),
    (seagull_errors.ImageDecodeError, 400, "bad_image"),
    (seagull_errors.EmptyMaskError, 422, "empty_mask"),
    (seagull_errors.MaskShapeError, 422, "mask_shape"),
    (seagull_errors.InvalidInputError, 422, "invalid_input"),
)


def classify(exc: BaseException) -> tuple[int, str] | None:
    """(HTTP status, code) for a known error, or None for an unexpected one (a 500).

    Exceptions raised inside a replica arrive wrapped (Ray's ``RayTaskError`` subclasses the
    original type, so ``isinstance`` still sees it); the cause chain is searched as well.
    """
    seen = 0
    while exc is not None and seen < 5:
        for cls, status, code in ERROR_TABLE:
            if isinstance(exc, cls):
                return status, code
        exc = getattr(exc, "cause", None) or exc.__cause__
        seen += 1
    return None


def error_body(code: str, message: str) -> dict:
    """The JSON body of an error answer."""
    return {"error": {"code": code, "message": message}}


def one_line(exc: BaseException) -> str:
    """The first line of an error's message, without Ray's wrapping."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        exc = cause
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else exc.__class__.__name__
