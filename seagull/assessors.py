"""Load a saved model folder as an assessor for the evaluation harness (``seagull.evaluation``).

Two kinds of folder are recognised by the file that marks them:

- ``seagull_config.json``: a Seagull model (``SeagullModel.save_pretrained``), assessed with
  ``SeagullPredictor`` (the image encoded once, every region of it in one call);
- ``crop_baseline.json``: the crop-based CNN baseline (``seagull.baselines.crop_cnn``).

``use_global`` / ``use_local`` switch the Mask-based Feature Extractor's global or local tokens
off *at inference* (the token's embedding becomes zeros), on top of whatever the saved config
says; a model trained without them already has them off in its config (the paper's ablation).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from seagull.errors import ConfigError, WeightsNotFoundError


class SeagullAssessor:
    """``SeagullPredictor`` behind the harness's ``assess_regions`` interface (every task)."""

    def __init__(self, model):
        from seagull.model import SeagullPredictor

        self.model = model
        self.predictor = SeagullPredictor(model)

    @property
    def caches_features(self) -> bool:
        """Whether ``assess_regions`` takes the image's id (the model has a feature cache)."""
        return self.model.feature_cache is not None

    def assess_regions(self, image: np.ndarray, masks: Sequence[np.ndarray],
                       image_id: str | None = None) -> list[dict]:
        if not masks:
            return []
        self.predictor.set_image(image, image_id)
        return self.predictor.assess(list(masks))


def resolve_model_dir(model_dir: str | Path) -> Path:
    """The folder a model is loaded from, given in any of the forms every command accepts: the
    model folder itself (``seagull_config.json`` or ``crop_baseline.json`` in it) or a training
    run's folder (its final model in ``RUN_DIR/model``). ``WeightsNotFoundError`` otherwise."""
    from seagull.baselines.crop_cnn import CONFIG_FILE as CROP_FILE
    from seagull.model.seagull_model import CONFIG_FILE as SEAGULL_FILE

    d = Path(model_dir)
    if (d / SEAGULL_FILE).is_file() or (d / CROP_FILE).is_file():
        return d
    if (d / "model" / SEAGULL_FILE).is_file():
        return d / "model"  # a training run's folder: its final model
    raise WeightsNotFoundError(f"model {d}: neither {SEAGULL_FILE} (Seagull) nor {CROP_FILE} "
                               "(crop baseline) found, in it or in its model/ folder")


def model_kind(model_dir: str | Path) -> str:
    """``"seagull"`` or ``"crop_baseline"``, from the marker file of ``resolve_model_dir``."""
    from seagull.model.seagull_model import CONFIG_FILE as SEAGULL_FILE

    return "seagull" if (resolve_model_dir(model_dir) / SEAGULL_FILE).is_file() \
        else "crop_baseline"


def load_assessor(model_dir: str | Path, *, use_global: bool | None = None,
                  use_local: bool | None = None, threads: int | None = None,
                  feature_cache: str | Path | None = None):
    """The assessor saved in ``model_dir`` (or ``model_dir/model``), in eval mode on CPU.

    ``feature_cache``: a folder of frozen-encoder features shared with training and other
    evaluations (``seagull.model.feature_cache``; a Seagull model only, under the subfolder of
    its encoder), so every model row of an ablation study encodes each test image once."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    d = resolve_model_dir(model_dir)
    kind = model_kind(d)
    if kind == "crop_baseline":
        if use_global is not None or use_local is not None:
            raise ConfigError("the crop baseline has no global or local tokens to switch off")
        from seagull.baselines.crop_cnn import CropBaseline

        return CropBaseline.from_pretrained(d)
    from seagull.model import SeagullModel

    model = SeagullModel.from_pretrained(d)
    changes = {k: v for k, v in (("use_global", use_global), ("use_local", use_local))
               if v is not None}
    if changes:
        model.config = model.config.replace(**changes)
        model.mfe.use_global = model.config.use_global
        model.mfe.use_local = model.config.use_local
    if feature_cache is not None:
        from seagull.model.feature_cache import FeatureCache, cache_key

        model.feature_cache = FeatureCache(Path(feature_cache)
                                           / cache_key(model.config, model.encoder))
    return SeagullAssessor(model)
