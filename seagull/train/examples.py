"""From ``rois`` rows to training examples: one record per region, then an instruction each.

Two steps, split so that the data feed stays cheap and the randomness stays reproducible:

1. ``region_records(row)`` (run by the data feed, e.g. Ray Data ``flat_map``): a ``rois`` row →
   one flat, Arrow-friendly record per region, the image still encoded. In stage 2 each region
   becomes one record per instruction of ``fixed_instructions`` (``stage2_records``; with
   ``jir_fraction`` 0 the AIRs only).
2. ``to_sample(record, stage, seed, epoch)`` (run by the trainer, per batch): decodes image and
   mask and, in stage 1, draws the instruction (a random task, AIR or JIR) from a generator
   seeded by ``(seed, epoch, roi_id)``: every epoch asks something new, and a rerun asks the same.
"""

from __future__ import annotations

import json
import random
import zlib
from collections.abc import Mapping

from seagull.data.reader import table_dataset
from seagull.labels.instructions import (
    Instruction,
    available_tasks,
    fixed_instructions,
    sample_instruction,
    stage2_kinds,
)

# Fields of a region record (all plain Arrow types; question/answer are empty in stage 1).
RECORD_FIELDS = ("image_id", "roi_id", "encoded", "mask_size", "mask_counts", "quality",
                 "importance", "distortions", "task", "question", "answer")


def region_labels(record: Mapping) -> dict:
    """The labels of a record in the form ``seagull.labels.instructions`` reads."""
    return {"quality": record["quality"], "importance": record["importance"],
            "distortions": json.loads(record["distortions"])}


def region_records(row: Mapping) -> list[dict]:
    """A ``rois`` row (dict with the schema's fields) → one record per labelled region.

    The row is split by ``seagull.data.reader.samples_from_row`` (without decoding). A region
    without a quality label cannot be asked anything and is left out (Seagull-3k and synthetic
    rows always have one).
    """
    from seagull.data.reader import samples_from_row

    out = []
    for sample in samples_from_row(row, decode=False):
        if sample.quality is None:
            continue
        distortions = [{"type": d["type"], "severity": float(d["severity"]),
                        "level": d["level"]} for d in sample.distortions]
        counts = sample.rle["counts"]
        out.append({
            "image_id": sample.image_id, "roi_id": sample.roi_id, "encoded": sample.encoded,
            "mask_size": [int(v) for v in sample.rle["size"]],
            "mask_counts": counts.decode() if isinstance(counts, bytes) else counts,
            "quality": float(sample.quality),
            "importance": None if sample.importance is None else float(sample.importance),
            "distortions": json.dumps(distortions), "task": "", "question": "", "answer": "",
        })
    return out


def stage2_records(row: Mapping, seed: int, jir_fraction: float = 0.5) -> list[dict]:
    """Stage 2: every region of the row × its fixed instructions (reproducible by ``seed``);
    ``jir_fraction`` 0 drops the JIRs, 1 the AIRs (``stage2_kinds``)."""
    with_air, with_jir = stage2_kinds(jir_fraction)
    out = []
    for record in region_records(row):
        for ins in fixed_instructions(region_labels(record), _mix(seed, record["roi_id"]),
                                      with_jir=with_jir, with_air=with_air):
            out.append({**record, "task": ins.task, "question": ins.question,
                        "answer": ins.answer})
    return out


def records_for_stage(row: Mapping, stage: int, seed: int, jir_fraction: float = 0.5
                      ) -> list[dict]:
    """Stage 1: one record per region (its instruction drawn later, per epoch); stage 2: one per
    fixed instruction."""
    return region_records(row) if stage == 1 else stage2_records(row, seed, jir_fraction)


def instruction_for(record: Mapping, stage: int, seed: int, epoch: int,
                    jir_fraction: float = 0.5, task_weights=None) -> Instruction:
    """The record's instruction: fixed in stage 2, drawn per (seed, epoch, region) in stage 1."""
    if record["question"]:
        return Instruction(record["task"], "fixed", record["question"], record["answer"])
    if stage != 1:
        raise ValueError("a stage-2 record carries its instruction")
    rng = random.Random(_mix(seed, f"{epoch}:{record['roi_id']}"))
    return sample_instruction(region_labels(record), rng, jir_fraction, task_weights)


def to_sample(record: Mapping, stage: int, seed: int, epoch: int,
              jir_fraction: float = 0.5, task_weights=None) -> dict:
    """A record → ``{image H×W×3 uint8, mask H×W bool, question, answer, task, image_id}``, the
    input of the model's batch builder (``seagull.model.batch.build_batch``)."""
    from seagull.data.factory import decode_image, decode_mask

    ins = instruction_for(record, stage, seed, epoch, jir_fraction, task_weights)
    encoded = record["encoded"]
    return {"image": decode_image(bytes(encoded)),
            "mask": decode_mask({"size": list(record["mask_size"]),
                                 "counts": record["mask_counts"]}),
            "question": ins.question, "answer": ins.answer, "task": ins.task,
            "image_id": record["image_id"]}


def examples_of_region(quality: float | None, importance: float | None, stage: int,
                       jir_fraction: float = 0.5) -> int:
    """Examples one region yields per epoch: 1 in stage 1, its fixed instructions in stage 2
    (an AIR and/or a JIR per task it can be asked: importance only where it is defined)."""
    if quality is None:
        return 0
    if stage == 1:
        return 1
    kinds = sum(stage2_kinds(jir_fraction))
    return kinds * len(available_tasks({"quality": quality, "importance": importance}))


def count_examples(root: str, split: str | None, stage: int, jir_fraction: float = 0.5) -> int:
    """Examples one epoch over ``root``'s ``rois`` table (one split, or all) yields.

    Streams the table a few row groups at a time; only the driver calls this, once per run.
    """
    import pyarrow.dataset as pads

    ds = table_dataset(root, "rois")
    expr = None if split is None else (pads.field("split") == split)
    total = 0
    for batch in ds.to_batches(columns=["regions"], filter=expr, batch_size=64):
        for regions in batch.column("regions").to_pylist():
            total += sum(examples_of_region(r["quality"], r["importance"], stage, jir_fraction)
                         for r in regions)
    return total


def _mix(seed: int, key: str) -> int:
    """A stable 32-bit seed from ``seed`` and a string (Python's ``hash`` is salted)."""
    return zlib.crc32(f"{seed}:{key}".encode())
