"""Which assessor a model folder holds, read from its marker file."""

from __future__ import annotations

import pytest

from seagull.assessors import load_assessor, model_kind
from seagull.errors import ConfigError, WeightsNotFoundError


def test_model_kind_reads_the_marker_file(tmp_path):
    (tmp_path / "run" / "model").mkdir(parents=True)
    (tmp_path / "run" / "model" / "seagull_config.json").write_text("{}")
    (tmp_path / "crop").mkdir()
    (tmp_path / "crop" / "crop_baseline.json").write_text("{}")
    assert model_kind(tmp_path / "run") == "seagull"  # a training run's folder
    assert model_kind(tmp_path / "run" / "model") == "seagull"
    assert model_kind(tmp_path / "crop") == "crop_baseline"
    with pytest.raises(WeightsNotFoundError, match="neither"):
        model_kind(tmp_path)


def test_crop_baseline_has_no_tokens_to_switch_off(tmp_path):
    (tmp_path / "crop_baseline.json").write_text("{}")
    with pytest.raises(ConfigError, match="no global or local tokens"):
        load_assessor(tmp_path, use_global=False)
