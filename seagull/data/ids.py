"""Deterministic ids: a hash of everything that determines a row.

Ids are hex digests (24 hex characters = 96 bits: ~1e-11 collision odds for the 33 M regions of
the full build) of a canonical JSON encoding of their inputs, so a rerun, another machine or
another worker order gives the same id, and any change of an input gives another.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

ID_HEX = 24


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces; tuples become lists; floats keep their repr.

    NaN and infinities are refused (they have no canonical JSON form).
    """
    def check(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError(f"non-finite number {v!r} cannot be part of an id")
        if hasattr(v, "tolist"):  # numpy scalars and arrays
            return check(v.tolist())
        if isinstance(v, dict):
            return {str(k): check(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [check(x) for x in v]
        return v

    return json.dumps(check(value), sort_keys=True, separators=(",", ":"), allow_nan=False)


def stable_id(kind: str, *parts: Any) -> str:
    """``ID_HEX`` hex characters of SHA-256 over ``kind`` and ``parts`` (canonical JSON)."""
    digest = hashlib.sha256(canonical_json([kind, *parts]).encode()).hexdigest()
    return digest[:ID_HEX]


def source_id(content_sha256: str) -> str:
    """Id of a source: the SHA-256 of its bytes (hex), so the same file gives the same id, the
    same renders and the same regions wherever it sits; a changed file gets another id."""
    return stable_id("source", content_sha256)


def unread_source_id(name: str) -> str:
    """Id of a source whose bytes were never read (found bad at discovery): its name relative
    to the folder, list or pattern that found it, so it too does not depend on where that
    folder sits."""
    return stable_id("unread-source", name)


def duplicate_source_id(name: str, content_sha256: str) -> str:
    """Id of a source with the same bytes as another one of the build (an ``errors`` row: the
    first holds the content's own id)."""
    return stable_id("duplicate-source", name, content_sha256)


def image_id(source_id: str, distortion: str, level: int | None, params: dict,
             isp_version: str) -> str:
    """Id of one render: its source, distortion, level, every render parameter and the ISP."""
    return stable_id("image", source_id, distortion, level, params, isp_version)


def roi_id(image_id: str, index: int, rle_counts: str) -> str:
    """Id of a region of an image: the image, its index in the image's list and its mask."""
    return stable_id("roi", image_id, index, rle_counts)


def unit_interval(kind: str, *parts: Any) -> float:
    """A number in [0, 1) drawn deterministically from ``parts`` (for splits and sampling)."""
    digest = hashlib.sha256(canonical_json([kind, *parts]).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64
