"""The run folder without Ray: settings check on rerun, finished runs, whole-folder export."""

from __future__ import annotations

import json

import pytest

from seagull.errors import ConfigError, OutputError
from seagull.train.run_folder import RunFolder

SETTINGS = {"train": {"lr": 1e-3, "seed": 0, "checkpoint_every": 50, "val_split": None},
            "data": "/data", "total_steps": 10}


def test_a_rerun_with_other_settings_is_refused_once_something_trained(tmp_path):
    folder = RunFolder(tmp_path / "run", checkpoints="ckpt")
    folder.write_settings(SETTINGS)
    other = {**SETTINGS, "train": {**SETTINGS["train"], "lr": 2e-3}}
    folder.refuse_other_settings(other)  # nothing trained yet: the new settings win
    (folder.path / "ckpt").mkdir()
    with pytest.raises(ConfigError, match=r"other settings \(lr 0.001 → 0.002\)"):
        folder.refuse_other_settings(other)
    # What decides only when to save and what to report may change.
    folder.refuse_other_settings({**SETTINGS, "train": {**SETTINGS["train"],
                                                        "checkpoint_every": 5,
                                                        "val_split": "test"}})
    folder.refuse_other_settings(json.loads(json.dumps(SETTINGS)))


def test_finished_needs_the_summary_at_the_planned_steps_and_the_model(tmp_path):
    folder = RunFolder(tmp_path / "run")
    folder.write_settings(SETTINGS)
    folder.write_summary({"steps": 10, "loss": 0.1})
    assert folder.finished(10) is None  # no model/ yet
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "weights.bin").write_bytes(b"w")
    folder.export(tmp_path / "m")
    assert folder.finished(10) == {"steps": 10, "loss": 0.1}
    assert folder.finished(20) is None  # a longer plan: not finished


def test_export_replaces_the_model_folder_whole(tmp_path):
    folder = RunFolder(tmp_path / "run")
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    (first / "old.bin").write_bytes(b"1")
    (second / "new.bin").write_bytes(b"2")
    folder.path.mkdir()
    folder.export(first, "best")
    target = folder.export(second, "best")
    assert sorted(p.name for p in target.iterdir()) == ["new.bin"]
    assert not list(folder.path.glob(".*tmp"))


def test_a_file_is_not_a_run_folder(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputError, match="a file, not a run folder"):
        RunFolder(tmp_path / "f")
    with pytest.raises(OutputError, match="cannot write the run there"):
        RunFolder(tmp_path / "f" / "run").write_settings(SETTINGS)
