"""The Seagull model: encoder, Mask-based Feature Extractor, projector, LLaMA with LoRA,
closed-set scoring, and the predictor that serves it (see docs/model.md).

``from seagull.model import SeagullModel, SeagullPredictor`` loads torch lazily: importing the
package itself stays cheap.
"""

from __future__ import annotations

__all__ = ["PRESETS", "ImageState", "SeagullConfig", "SeagullModel", "SeagullPredictor",
           "build_batch"]


def __getattr__(name):
    if name == "SeagullModel":
        from seagull.model.seagull_model import SeagullModel
        return SeagullModel
    if name in ("SeagullPredictor", "ImageState"):
        from seagull.model import predictor
        return getattr(predictor, name)
    if name in ("SeagullConfig", "PRESETS"):
        from seagull.model import config
        return getattr(config, name)
    if name == "build_batch":
        from seagull.model.batch import build_batch
        return build_batch
    raise AttributeError(f"module 'seagull.model' has no attribute {name!r}")
