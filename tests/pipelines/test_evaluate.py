"""`seagull evaluate` on Ray Data: every output file, values that recompute from the table."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from rois_fixtures import write_dataset
from scipy import stats

from seagull.evaluation import PLOT_FILES, compute_report, predict_split
from seagull_cli import main

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("rois"), n_images=9)


@pytest.fixture(scope="module")
def tiny_seagull(tmp_path_factory):
    """A tiny Seagull saved with save_pretrained (random weights: the harness is under test)."""
    import torch

    from seagull.model import SeagullModel

    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("tiny") / "model"
    SeagullModel.from_preset("tiny").save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def crop_model(dataset, tmp_path_factory):
    from seagull.baselines.crop_cnn import CropBaselineConfig, train_crop_baseline

    out = tmp_path_factory.mktemp("crop")
    train_crop_baseline(str(dataset), out, steps=5, batch_size=4,
                        config=CropBaselineConfig(crop_size=32))
    return out


def _check_outputs(out):
    names = {p.name for p in out.iterdir()}
    assert {"predictions.parquet", "report.json", "report.md", *PLOT_FILES.values()} <= names
    table = pq.read_table(out / "predictions.parquet")
    report = json.loads((out / "report.json").read_text())
    assert report == compute_report(table)
    df = table.to_pandas()
    q = df[["quality_score", "quality_label"]].dropna()
    assert report["quality"]["srocc"] == pytest.approx(
        stats.spearmanr(q.quality_score, q.quality_label).statistic, abs=1e-12)
    return table, report


def test_evaluate_tiny_seagull_writes_every_file(ray_session, dataset, tiny_seagull, tmp_path,
                                                capsys):
    out = tmp_path / "report"
    rc = main(["evaluate", "--model", str(tiny_seagull), "--data", str(dataset),
               "--split", "test", "--out", str(out), "--name", "tiny"])
    assert rc == 0
    table, _ = _check_outputs(out)
    assert table.num_rows == 7 and set(table.column("split").to_pylist()) == {"test"}
    assert "| tiny | " in capsys.readouterr().out
    assert all(t.startswith("The quality of this region is") for t in
               table.column("text").to_pylist())
    # The actor pool gives the same rows as the plain loop, in the same order.
    from seagull.assessors import load_assessor

    plain = predict_split(load_assessor(tiny_seagull, threads=1), str(dataset), "test")
    assert plain.column("roi_id").to_pylist() == table.column("roi_id").to_pylist()
    assert plain.column("quality_score").to_pylist() == pytest.approx(
        table.column("quality_score").to_pylist(), abs=1e-5)


def test_evaluations_share_the_encoder_features_through_a_cache_folder(ray_session, dataset,
                                                                       tiny_seagull, tmp_path):
    """`--feature-cache DIR`: the first evaluation encodes each test image once into DIR, a
    second (another model row with the same encoder) reads them all back, answers unchanged."""
    import pyarrow.parquet as pq

    from seagull.assessors import load_assessor

    cache = tmp_path / "features"
    args = ["evaluate", "--model", str(tiny_seagull), "--data", str(dataset), "--split", "test",
            "--feature-cache", str(cache)]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    files = sorted(cache.glob("*/*.safetensors"))
    test_images = set(pq.read_table(tmp_path / "a" / "predictions.parquet")
                      .column("image_id").to_pylist())
    assert {f.stem for f in files} == test_images
    stamps = [f.stat().st_mtime_ns for f in files]
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    assert [f.stat().st_mtime_ns for f in files] == stamps  # read, not written again
    a = pq.read_table(tmp_path / "a" / "predictions.parquet")
    b = pq.read_table(tmp_path / "b" / "predictions.parquet")
    assert a.column("quality_score").to_pylist() == b.column("quality_score").to_pylist()
    plain = predict_split(load_assessor(tiny_seagull, threads=1), str(dataset), "test")
    assert plain.column("quality_score").to_pylist() == pytest.approx(
        a.column("quality_score").to_pylist(), abs=1e-5)
    assessor = load_assessor(tiny_seagull, feature_cache=cache)
    predict_split(assessor, str(dataset), "test")
    assert assessor.model.feature_cache.misses == 0
    assert assessor.model.feature_cache.hits == len(test_images)


def test_global_tokens_switch_changes_importance(dataset, tiny_seagull):
    from seagull.assessors import load_assessor

    full = predict_split(load_assessor(tiny_seagull), str(dataset), "test")
    off = predict_split(load_assessor(tiny_seagull, use_global=False), str(dataset), "test")
    a, b = full.column("importance_score").to_pylist(), off.column("importance_score").to_pylist()
    assert a != pytest.approx(b, abs=1e-9)
    assert full.column("roi_id").to_pylist() == off.column("roi_id").to_pylist()


def test_evaluate_crop_baseline_on_train_split(ray_session, dataset, crop_model, tmp_path):
    out = tmp_path / "crop"
    assert main(["evaluate", "--model", str(crop_model), "--data", str(dataset),
                 "--split", "train", "--out", str(out), "--actors", "2",
                 "--cpus-per-actor", "0.25"]) == 0
    table, _ = _check_outputs(out)
    assert table.num_rows == 15 and set(table.column("split").to_pylist()) == {"train"}


def test_bad_inputs_are_one_line_errors(dataset, tmp_path, capsys):
    rc = main(["evaluate", "--model", str(tmp_path), "--data", str(dataset),
               "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and "neither seagull_config.json" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "crop_baseline.json").write_text("{}")
    rc = main(["evaluate", "--model", str(tmp_path), "--data", str(tmp_path / "none"),
               "--out", str(tmp_path / "o")])
    assert rc == 2 and "no rois shard" in capsys.readouterr().err


def test_damaged_shard_and_unwritable_output_fail_before_any_work(dataset, tiny_seagull,
                                                                  tmp_path, capsys, monkeypatch):
    import shutil

    from pipelines import read_rois

    def no_reading(*args, **kwargs):
        raise AssertionError("the evaluation started before its inputs were checked")

    monkeypatch.setattr(read_rois, "ray_table", no_reading)
    a_file = tmp_path / "afile"
    a_file.write_text("")
    rc = main(["evaluate", "--model", str(tiny_seagull), "--data", str(dataset),
               "--out", str(a_file)])
    err = capsys.readouterr().err
    assert rc == 2 and f"{a_file}: cannot write the evaluation there" in err
    copy = tmp_path / "copy"
    shutil.copytree(dataset, copy)
    shard = min((copy / "rois").glob("*.parquet"))  # the one the schema check opens
    shard.write_bytes(shard.read_bytes()[:100])
    rc = main(["evaluate", "--model", str(tiny_seagull), "--data", str(copy),
               "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and f"{shard}: damaged rois shard" in err and len(err.strip().splitlines()) == 1
