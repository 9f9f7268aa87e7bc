"""The paper's ablations (Tables 3 and 4) as data, and the small helpers that realise them.

A variant is trained like Seagull with one thing changed:

- ``no_global`` / ``no_local``: the Mask-based Feature Extractor's global or local tokens off.
  Realised through the model config (``use_global`` / ``use_local``): the variant's initial
  model is saved with the switch off (``save_init_model``) and training starts from it
  (``seagull train --init``), so the switch travels with every checkpoint and is honoured at
  evaluation. ``seagull evaluate --no-global / --no-local`` switches the tokens off at inference
  on a model trained with them (a probe, not the paper's ablation).
- ``no_jir``: training without the judgment instructions: ``seagull train --jir-fraction 0``
  (the training config's ``jir_fraction=0``) in both stages (stage 1 never draws a JIR; stage 2 keeps the AIRs of its fixed set).
- ``no_stage1``: stage 2 from the preset's initial weights instead of a stage-1 model.
- ``stage1_0`` / ``stage1_25`` / ``stage1_50`` / ``stage1_100``: stage 1 on that share of the
  100w sources (``subset_sources`` writes the subset as a dataset of its own; 0 % is
  ``no_stage1``).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from pathlib import Path

from seagull.errors import ConfigError, DatasetError


@dataclass(frozen=True)
class Variant:
    """``label``: the row name in the tables; ``model``: config fields changed at build;
    ``train``: training config fields changed (stage 1; ``pipelines.train.TrainRunConfig``
    names, e.g. ``jir_fraction``); ``stage1_fraction``: share of the stage-1 sources
    (0 = no stage 1)."""

    name: str
    label: str
    model: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)
    stage1_fraction: float = 1.0


VARIANTS: dict[str, Variant] = {v.name: v for v in (
    Variant("full", "Seagull"),
    Variant("no_global", "w/o Global", model={"use_global": False}),
    Variant("no_local", "w/o Local", model={"use_local": False}),
    Variant("no_jir", "w/o JIR", train={"jir_fraction": 0.0}),
    Variant("no_stage1", "w/o Pre-train", stage1_fraction=0.0),
    Variant("stage1_0", "0%", stage1_fraction=0.0),
    Variant("stage1_25", "25%", stage1_fraction=0.25),
    Variant("stage1_50", "50%", stage1_fraction=0.5),
    Variant("stage1_100", "100%", stage1_fraction=1.0),
)}
TABLE4 = ("no_stage1", "no_jir", "no_local", "no_global", "full")
TABLE3 = ("stage1_0", "stage1_25", "stage1_50", "stage1_100")


def variant(name: str) -> Variant:
    try:
        return VARIANTS[name]
    except KeyError:
        raise ConfigError(f"unknown variant {name!r}; variants: {', '.join(VARIANTS)}") from None


def save_init_model(v: Variant, out_dir: str | Path, preset: str = "tiny", seed: int = 0,
                    **build) -> Path:
    """Build ``preset`` with the variant's config changes and save it (``save_pretrained``) as
    the starting point of its training run. ``build``: more ``from_preset`` arguments (weights
    for ``paper``)."""
    import torch

    from seagull.model import SeagullModel

    torch.manual_seed(seed)
    model = SeagullModel.from_preset(preset, **build, **v.model)
    return model.save_pretrained(out_dir)


def subset_sources(root: str, out: str, fraction: float, seed: int = 0) -> dict[str, int]:
    """Write the dataset at ``root`` restricted to a ``fraction`` of its sources to ``out``.

    Sources are chosen by a hash of their id (the same sources for the same seed, nested: the
    25 % subset is inside the 50 % one). Shards are copied whole (one shard per source); the
    manifest records the subset. Returns ``{"sources", "kept"}``.
    """
    from seagull.data.ids import unit_interval
    from seagull.data.store import DatasetLayout

    if not 0.0 < fraction <= 1.0:
        raise ConfigError(f"stage-1 fraction {fraction} is outside (0, 1]")
    src, dst = DatasetLayout.open(root), DatasetLayout.open(out)
    shards = src.shards("rois")
    if not shards:
        raise DatasetError(f"{root}: no rois shard")
    kept = [s for s in shards
            if unit_interval("stage1-subset", seed, posixpath.basename(s)) < fraction]
    for table in ("images", "rois"):
        dst.fs.create_dir(dst.table_dir(table), recursive=True)
        for shard in kept:
            path = posixpath.join(src.table_dir(table), posixpath.basename(shard))
            if src.fs.get_file_info(path).type.name == "File":
                src.fs.copy_file(path, posixpath.join(dst.table_dir(table),
                                                      posixpath.basename(shard)))
    manifest = src.read_manifest() or {}
    manifest["subset"] = {"of": str(root), "fraction": fraction, "seed": seed,
                          "sources": len(kept), "of_sources": len(shards)}
    dst.write_manifest(manifest)
    return {"sources": len(shards), "kept": len(kept)}
