"""The training loop without Ray or DeepSpeed: a fake engine and a fake data shard.

The loop's promises: micro-batches accumulate into optimizer steps, epochs end after their
planned steps, a resumed run consumes exactly what the uninterrupted one would have, rows are
logged every step with means over ranks, validation and checkpoints come at their cadence and a
row is on disk before its checkpoint.
"""

from __future__ import annotations

import itertools

import pytest
import torch

from seagull.train.loop import Plan, Position, ShardTooShort, run_loop


class FakeEngine:
    """Loss of a micro-batch = the mean of its record numbers; records every call."""

    def __init__(self, events: list | None = None):
        self.seen: list[list] = []
        self.steps = 0
        self.events = events if events is not None else []

    def forward_loss(self, inputs):
        self.seen.append(inputs["records"])
        return torch.tensor(float(sum(r[1] for r in inputs["records"])) /
                            len(inputs["records"]))

    def backward(self, loss):
        self.events.append("backward")

    def step(self):
        self.steps += 1

    def lr(self):
        return 0.1 * (1 + self.steps)


def shard(micro_batches: int, size: int = 2):
    """Each epoch: ``micro_batches`` batches of ``size`` records ``(epoch, number)``, the
    order a seeded function of the epoch (the same whenever asked again)."""
    def epoch_batches(epoch: int):
        numbers = list(range(micro_batches * size))
        numbers = numbers[epoch % len(numbers):] + numbers[:epoch % len(numbers)]
        for i in range(micro_batches):
            yield [(epoch, n) for n in numbers[i * size:(i + 1) * size]]
    return epoch_batches


def prepare(records, epoch):
    assert all(r[0] == epoch for r in records)  # the loop asks for the batch's own epoch
    return {"records": records, "attention_mask": torch.ones(len(records), 5)}


class Sink:
    def __init__(self, events):
        self.rows, self.events = [], events

    def log(self, row):
        self.rows.append(dict(row))
        self.events.append(("log", row["step"]))

    def flush(self):
        self.events.append("flush")


def ticking():
    counter = itertools.count()
    return lambda: next(counter) * 0.25


def test_steps_accumulate_epochs_end_on_plan_and_rows_are_logged():
    events: list = []
    engine, sink = FakeEngine(events), Sink(events)
    saved, validated = [], []

    def checkpoint(state, row):
        events.append(("checkpoint", state["step"]))
        saved.append(state)

    def validate():
        validated.append(engine.steps)
        return {"val_srocc": 0.5}

    # 5 micro-batches per epoch, 2 steps of 2 accumulated: the 5th batch is never used.
    plan = Plan(total_steps=5, steps_per_epoch=2, grad_accum=2, checkpoint_every=2)
    end = run_loop(engine, plan, shard(5), prepare, validate=validate, checkpoint=checkpoint,
                   metrics=sink, clock=ticking())
    assert (end.step, end.epoch, end.micro_in_epoch) == (5, 2, 2)
    assert engine.steps == 10  # every micro-batch steps the engine (it accumulates inside)
    epochs = [batch[0][0] for batch in engine.seen]
    assert epochs == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2]
    assert [r["step"] for r in sink.rows] == [1, 2, 3, 4, 5]
    assert [r["epoch"] for r in sink.rows] == [0, 0, 1, 1, 2]
    # The row's loss is the mean of its micro-batches' losses (batches (0,1),(2,3) → 0.5, 2.5).
    assert sink.rows[0]["loss"] == pytest.approx(1.5)
    assert sink.rows[0]["samples_per_s"] > 0 and sink.rows[0]["tokens_per_s"] == pytest.approx(
        5 * sink.rows[0]["samples_per_s"])
    assert all(0 <= r["data_s"] <= r["step_s"] for r in sink.rows)
    # Checkpoints (and validation) every 2 steps and at the last; the row is flushed first.
    assert [s["step"] for s in saved] == [2, 4, 5]
    assert [r.get("val_srocc") for r in sink.rows] == [None, 0.5, None, 0.5, 0.5]
    assert saved[1] == {"step": 4, "epoch": 2, "micro_in_epoch": 0, "resumed_from": 0}
    i = events.index(("checkpoint", 4))
    assert events[i - 2:i] == [("log", 4), "flush"]


def test_a_resumed_run_consumes_exactly_what_the_uninterrupted_one_would():
    plan = Plan(total_steps=7, steps_per_epoch=3, grad_accum=2, checkpoint_every=2)
    whole = FakeEngine()
    states = []
    run_loop(whole, plan, shard(6), prepare, checkpoint=lambda s, r: states.append(s))
    at_4 = next(s for s in states if s["step"] == 4)  # mid-epoch: epoch 1, 2 micro-batches in
    assert (at_4["epoch"], at_4["micro_in_epoch"]) == (1, 2)

    resumed = FakeEngine()
    sink = Sink([])
    start = Position.from_state(at_4)
    assert start.resumed_from == 4
    end = run_loop(resumed, plan, shard(6), prepare, start=start, metrics=sink)
    assert end.step == 7
    assert resumed.seen == whole.seen[8:]  # the 8 micro-batches of steps 1–4 are not redone
    assert [r["step"] for r in sink.rows] == [5, 6, 7]


def test_rows_are_means_over_ranks():
    # Two ranks whose sums are twice this one's: the loss (a mean) is unchanged, the rates
    # (sums) double.
    sink = Sink([])
    run_loop(FakeEngine(), Plan(total_steps=1, steps_per_epoch=1), shard(1), prepare,
             world=2, sum_over_ranks=lambda values: [2 * v for v in values], metrics=sink,
             clock=ticking())
    alone = Sink([])
    run_loop(FakeEngine(), Plan(total_steps=1, steps_per_epoch=1), shard(1), prepare,
             metrics=alone, clock=ticking())
    (two,), (one,) = sink.rows, alone.rows
    assert two["loss"] == pytest.approx(one["loss"]) == pytest.approx(0.5)
    assert two["samples_per_s"] == pytest.approx(2 * one["samples_per_s"])
    assert two["step_s"] == pytest.approx(one["step_s"])


def test_a_shard_shorter_than_its_epoch_is_an_error_naming_the_rank():
    with pytest.raises(ShardTooShort, match="rank 1: epoch 0 ended after 3 micro-batches"):
        run_loop(FakeEngine(), Plan(total_steps=4, steps_per_epoch=2, grad_accum=2), shard(3),
                 prepare, rank=1)


def test_a_finished_position_trains_nothing():
    engine = FakeEngine()
    end = run_loop(engine, Plan(total_steps=2, steps_per_epoch=2), shard(2), prepare,
                   start=Position(step=2, epoch=1, micro_in_epoch=0, resumed_from=2))
    assert engine.seen == [] and end.step == 2


def test_plan_numbers_must_be_positive():
    with pytest.raises(ValueError, match="grad_accum must be positive"):
        Plan(total_steps=2, steps_per_epoch=1, grad_accum=0)
