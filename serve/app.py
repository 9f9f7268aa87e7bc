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

The parts, a file each: ``settings`` (ServeSettings), ``deployments`` (ImageStore, Segmenter,
Assessor), ``gateway`` (the ingress: routes, parsing, errors), ``openapi`` (the request bodies'
documentation); this module only composes them.
"""

from __future__ import annotations

from dataclasses import asdict

from serve.deployments import Assessor, ImageStore, Segmenter
from serve.gateway import Gateway
from serve.settings import ServeSettings

__all__ = ["ServeSettings", "build_app", "compose"]


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
