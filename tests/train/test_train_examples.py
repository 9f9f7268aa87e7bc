"""rois rows → region records → instructions and decoded samples."""

import json

import numpy as np
import pyarrow.parquet as pq

from seagull.labels.instructions import fixed_instructions
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
