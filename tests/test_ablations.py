"""Ablation variants: the token switches travel with the saved model; stage-1 subsets."""

from __future__ import annotations

import json

import pytest
from rois_fixtures import write_dataset

from seagull.ablations import TABLE3, TABLE4, VARIANTS, save_init_model, subset_sources, variant
from seagull.errors import ConfigError


def test_variants_cover_tables_3_and_4():
    assert [variant(n).label for n in TABLE4] == [
        "w/o Pre-train", "w/o JIR", "w/o Local", "w/o Global", "Seagull"]
    assert [VARIANTS[n].stage1_fraction for n in TABLE3] == [0.0, 0.25, 0.5, 1.0]
    assert variant("no_jir").train == {"jir_fraction": 0.0}
    with pytest.raises(ConfigError, match="unknown variant"):
        variant("no_llm")


def test_init_model_keeps_the_switch_through_save_and_load(tmp_path):
    from seagull.assessors import load_assessor
    from seagull.model import SeagullModel

    out = save_init_model(variant("no_global"), tmp_path / "init")
    saved = json.loads((out / "seagull_config.json").read_text())["config"]
    assert saved["use_global"] is False and saved["use_local"] is True
    model = SeagullModel.from_pretrained(out)
    assert model.mfe.use_global is False
    # The inference switch turns the other tokens off on top of the saved config.
    assessor = load_assessor(out, use_local=False)
    assert (assessor.model.mfe.use_global, assessor.model.mfe.use_local) == (False, False)


def test_stage1_subsets_are_nested_and_deterministic(tmp_path):
    root = write_dataset(tmp_path / "ds", n_images=20)  # 10 sources
    counts = {f: subset_sources(str(root), str(tmp_path / f"s{f}"), f)["kept"]
              for f in (0.25, 0.5, 1.0)}
    assert counts[1.0] == 10 and counts[0.25] <= counts[0.5] <= 10
    small = {p.name for p in (tmp_path / "s0.25" / "rois").glob("*.parquet")}
    half = {p.name for p in (tmp_path / "s0.5" / "rois").glob("*.parquet")}
    assert small <= half
    manifest = json.loads((tmp_path / "s0.5" / "manifest.json").read_text())
    assert manifest["subset"]["fraction"] == 0.5 and manifest["subset"]["of_sources"] == 10
    assert subset_sources(str(root), str(tmp_path / "again"), 0.5)["kept"] == counts[0.5]
    with pytest.raises(ConfigError):
        subset_sources(str(root), str(tmp_path / "zero"), 0.0)
