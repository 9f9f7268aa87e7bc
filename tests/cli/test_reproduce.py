"""`seagull reproduce --mini`, scaled down: hold-out, crop baseline, evaluation, one table."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from rois_fixtures import write_dataset

from seagull.errors import ConfigError
from seagull_cli import main

pytestmark = pytest.mark.ray


def test_hold_out_sources_rewrites_the_split(tmp_path):
    from seagull.data.holdout import hold_out_sources

    root = write_dataset(tmp_path / "ds", n_images=6)  # sources src000, src001, src002
    assert hold_out_sources(str(root), 1) == {"train": ["src000", "src001"], "test": ["src002"]}
    splits = {p.stem: set(pq.read_table(p).column("split").to_pylist())
              for p in (root / "rois").glob("*.parquet")}
    assert splits == {"src000": {"train"}, "src001": {"train"}, "src002": {"test"}}
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["holdout"]["test_sources"] == ["src002"]
    with pytest.raises(ConfigError, match="cannot hold out 3 of 3"):
        hold_out_sources(str(root), 3)


def test_scaled_down_mini_run_prints_its_table(ray_session, tmp_path, capsys):
    root = write_dataset(tmp_path / "ds", n_images=6)
    out = tmp_path / "mini"
    rc = main(["reproduce", "--mini", "--out", str(out), "--data", str(root),
               "--preset", "tiny", "--models", "no_jir,crop", "--seeds", "3,5", "--steps", "2",
               "--batch-size", "4", "--lr", "1e-3", "--crop-steps", "3"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "## Table 1 (mini)" in printed and "| Crop-based CNN | " in printed
    assert "| w/o JIR | " in printed and "seeds 3, 5" in printed
    for seed in (3, 5):  # every row once per seed, each run with its own seed
        settings = json.loads((out / "runs" / f"no_jir-seed{seed}" / "train_config.json")
                              .read_text())
        assert settings["train"]["jir_fraction"] == 0 and settings["train"]["lr"] == 1e-3
        assert settings["train"]["seed"] == seed
        assert (out / "runs" / f"crop-seed{seed}" / "crop_baseline.json").is_file()
    results = json.loads((out / "results.json").read_text())
    crop = results["reports"]["Crop-based CNN"]
    assert len(crop) == 2 and len(results["reports"]["w/o JIR"]) == 2
    # Each report is its evaluation folder's, which recomputes from its table.
    assert crop[1] == json.loads((out / "reports" / "crop_based_cnn-seed5" / "report.json")
                                 .read_text())
    mean = (crop[0]["quality"]["srocc"] + crop[1]["quality"]["srocc"]) / 2
    assert f"| Crop-based CNN | {mean:.3f} ± " in printed
    assert results["settings"]["seeds"] == [3, 5] and results["timings"]["total"] > 0
    assert (out / "results.md").read_text() in printed
    assert (out / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_reproduce_needs_mini_and_known_models(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["reproduce", "--out", str(tmp_path)])
    assert "--mini" in capsys.readouterr().err
    rc = main(["reproduce", "--mini", "--out", str(tmp_path), "--data", str(tmp_path),
               "--models", "crop,gpt"])
    assert rc == 2 and "unknown model(s) ['gpt']" in capsys.readouterr().err


def test_build_step_calls_the_factory_with_its_options(tmp_path, monkeypatch):
    """The dataset step runs the build-100w recipe with a typed config, and the built dataset
    gets its hold-out split (the factory itself is stood in by test rows)."""
    from pipelines import build_100w, reproduce

    calls = []

    def fake_run(config):
        calls.append(config)
        write_dataset(tmp_path / "mini" / "data", n_images=6)

    monkeypatch.setattr(build_100w, "run", fake_run)
    (tmp_path / "raws").mkdir()
    settings = reproduce.ReproduceConfig(out=str(tmp_path / "mini"),
                                         raw_dir=str(tmp_path / "raws"), sources=3, holdout=1,
                                         types=("blur",), levels=(3, 9), long_side=96)
    data = reproduce.build_data(settings, tmp_path / "mini")
    (config,) = calls
    assert isinstance(config, build_100w.BuildConfig)
    assert (config.max_sources, config.types, config.levels, config.long_side) == (
        3, ("blur",), (3, 9), 96)
    assert config.test_fraction == 0.0 and config.raw_dir == str(tmp_path / "raws")
    assert config.no_progress is True
    splits = {p.stem: set(pq.read_table(p).column("split").to_pylist())
              for p in (tmp_path / "mini" / "data" / "rois").glob("*.parquet")}
    assert data == str(tmp_path / "mini" / "data") and splits["src002"] == {"test"}
    assert splits["src000"] == splits["src001"] == {"train"}


def test_scaled_down_mini_run_on_the_real_factory(ray_session, sample_dir, tmp_path, capsys):
    """Sample RAWs → `seagull build-100w` → hold-out → crop baseline → evaluation → table.

    Scaled down by options: 2 sources, one type at two levels, 128 px renders, the tiny Seagull
    trained for 3 steps on Ray Train, the crop baseline for 5.
    """
    out = tmp_path / "mini"
    rc = main(["reproduce", "--mini", "--out", str(out), "--raw-dir", str(sample_dir),
               "--sources", "2", "--holdout", "1", "--types", "blur", "--levels", "4,16",
               "--long-side", "128", "--points", "4", "--models", "full,crop",
               "--preset", "tiny", "--seeds", "0", "--steps", "3", "--batch-size", "4",
               "--crop-steps", "5"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "| Crop-based CNN | " in printed and "| Seagull | " in printed
    results = json.loads((out / "results.json").read_text())
    assert set(results["reports"]) == {"Seagull", "Crop-based CNN"}
    metrics = (out / "runs" / "full-seed0" / "metrics.csv").read_text().splitlines()
    assert len(metrics) == 1 + 3  # header + one row per step
    seagull = pq.read_table(out / "reports" / "seagull-seed0" / "predictions.parquet")
    crop = pq.read_table(out / "reports" / "crop_based_cnn-seed0" / "predictions.parquet")
    assert seagull.column("roi_id").to_pylist() == crop.column("roi_id").to_pylist()
    manifest = json.loads((out / "data" / "manifest.json").read_text())
    assert manifest["counts"]["sources"] == 2 and len(manifest["holdout"]["test_sources"]) == 1
    # One held out: the last photo by file name, wherever the samples were written.
    names = sorted(p.name for p in sample_dir.glob("*.dng"))[:2]
    assert manifest["holdout"]["test_names"] == [names[-1]]
    table = pq.read_table(out / "reports" / "crop_based_cnn-seed0" / "predictions.parquet")
    assert table.num_rows > 0 and set(table.column("split").to_pylist()) == {"test"}
    assert set(table.column("distortion").to_pylist()) == {"blur"}
