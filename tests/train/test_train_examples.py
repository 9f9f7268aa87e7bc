"""rois rows → region records → instructions and decoded samples."""

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from seagull.errors import ConfigError
from seagull.labels.instructions import AIR_QUESTIONS, NO, YES, fixed_instructions
from seagull.model.config import get_preset
from seagull.train.config import train_config
from seagull.train.examples import (
    count_examples,
    instruction_for,
    records_for_stage,
    region_labels,
    to_sample,
)


def _rows(root):
    return pq.read_table(f"{root}/rois/part-00000.parquet").to_pylist()


def test_region_records_carry_one_region_each(rois_dataset):
    row = _rows(rois_dataset)[0]
    records = records_for_stage(row, stage=1, seed=0)
    assert [r["roi_id"] for r in records] == [g["roi_id"] for g in row["regions"]]
    assert records[1]["importance"] is None  # the fixture's middle band
    assert region_labels(records[0])["quality"] == row["regions"][0]["quality"]
    assert json.loads(records[0]["distortions"]) == [
        dict(d) for d in row["regions"][0]["distortions"]]


def test_stage1_instruction_is_reproducible_per_epoch_and_changes_between_epochs(rois_dataset):
    records = [r for row in _rows(rois_dataset) for r in records_for_stage(row, 1, seed=3)]
    first = [instruction_for(r, 1, seed=3, epoch=0) for r in records]
    again = [instruction_for(r, 1, seed=3, epoch=0) for r in records]
    other = [instruction_for(r, 1, seed=3, epoch=1) for r in records]
    assert first == again
    assert first != other
    assert {i.kind for i in first} == {"AIR", "JIR"}
    # Never an importance question where importance is undefined.
    assert all(i.task != "importance" for r, i in zip(records, first) if r["importance"] is None)


def test_stage2_records_are_the_fixed_instructions(rois_dataset):
    row = _rows(rois_dataset)[0]
    records = records_for_stage(row, stage=2, seed=5)
    region = row["regions"][0]
    expected = fixed_instructions(region_labels(records_for_stage(row, 1, 0)[0]), seed=0)
    got = [(r["question"], r["answer"]) for r in records if r["roi_id"] == region["roi_id"]]
    assert len(got) == len(expected) == 6  # 3 AIR + 3 JIR
    assert [q for q, _ in got] [:3] == [e.question for e in expected][:3]
    assert records_for_stage(row, 2, seed=5) == records  # reproducible
    ins = instruction_for(records[0], stage=2, seed=99, epoch=7)  # fixed: seed/epoch ignored
    assert (ins.question, ins.answer) == (records[0]["question"], records[0]["answer"])


def test_count_examples_matches_the_records(rois_dataset):
    rows = [r for r in _rows(rois_dataset) if r["split"] == "train"]
    for stage in (1, 2):
        made = sum(len(records_for_stage(r, stage, 0)) for r in rows)
        assert count_examples(rois_dataset, "train", stage) == made
    assert count_examples(rois_dataset, "train", 1) == 30  # 10 images × 3 bands
    assert count_examples(rois_dataset, "train", 2) == 10 * (6 + 4 + 6)


def test_to_sample_decodes_image_and_mask(rois_dataset):
    row = _rows(rois_dataset)[0]
    record = records_for_stage(row, 1, 0)[2]
    sample = to_sample(record, stage=1, seed=0, epoch=0)
    assert sample["image"].shape == (64, 64, 3) and sample["image"].dtype == np.uint8
    assert sample["mask"].shape == (64, 64) and sample["mask"].dtype == bool
    assert int(sample["mask"].sum()) == row["regions"][2]["area"]
    assert sample["mask"][-1].all() and not sample["mask"][0].any()  # the bottom band
    assert sample["question"] and sample["answer"]


def test_jir_fraction_zero_asks_only_analysis_instructions(rois_dataset):
    rows = [r for r in _rows(rois_dataset) if r["split"] == "train"]
    stage1 = [r for row in rows for r in records_for_stage(row, 1, seed=3, jir_fraction=0)]
    drawn = [instruction_for(r, 1, seed=3, epoch=e, jir_fraction=0) for r in stage1
             for e in range(3)]
    assert {i.kind for i in drawn} == {"AIR"}
    assert {i.task for i in drawn} == {"quality", "importance", "distortion"}

    both = [r for row in rows for r in records_for_stage(row, 2, seed=5)]
    air_only = [r for row in rows for r in records_for_stage(row, 2, seed=5, jir_fraction=0)]
    jir_only = [r for row in rows for r in records_for_stage(row, 2, seed=5, jir_fraction=1)]
    assert {r["question"] for r in air_only} == set(AIR_QUESTIONS.values())
    assert all(r["answer"] in (YES, NO) for r in jir_only) and jir_only
    assert len(air_only) + len(jir_only) == len(both)
    # The kept halves are exactly the full set's, question for question.
    assert sorted(r["question"] + r["roi_id"] for r in air_only + jir_only) == sorted(
        r["question"] + r["roi_id"] for r in both)
    for fraction, made in ((0, air_only), (1, jir_only), (0.5, both), (0.25, both)):
        assert count_examples(rois_dataset, "train", 2, fraction) == len(made)
    assert count_examples(rois_dataset, "train", 1, 0) == 30


def test_jir_fraction_outside_unit_interval_is_refused():
    with pytest.raises(ConfigError, match="jir_fraction"):
        train_config(1, get_preset("tiny"), 2, jir_fraction=1.5)
    assert train_config(1, get_preset("tiny"), 2, jir_fraction=0).jir_fraction == 0


def test_train_cli_rejects_a_bad_jir_fraction(capsys):
    from seagull_cli import main

    assert main(["train", "--stage", "1", "--data", ".", "--out", "x",
                 "--jir-fraction", "2"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "seagull train: error: --jir-fraction 2.0 is outside 0 … 1"]
