"""The service's settings: what the application builder takes (``args:`` in serve/config.yaml),
checked once where the application is built."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, fields

from seagull.errors import ConfigError

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
    def from_args(cls, args: dict | None) -> ServeSettings:
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
