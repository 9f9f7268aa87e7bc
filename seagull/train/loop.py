"""The training loop of one rank: steps, gradient accumulation, resume skip, metrics rows,
validation and checkpoint cadence.

It knows neither Ray nor DeepSpeed. What differs between a Ray Train worker and a test is
passed in: the engine (``forward_loss``, ``backward``, ``step``, ``lr``: ``seagull.train.engine.
Steps`` wraps a DeepSpeed engine), the data (``epoch_batches(epoch)``: that epoch's micro-batches
of records, in the same seeded order whenever it is asked for again), how records become model
inputs, how numbers are summed over ranks, and what validating, logging and checkpointing do.

Resume (docs/training.md, "What a resumed epoch replays"): a checkpoint records the step, the
epoch and the micro-batches consumed in it; a resumed epoch asks for that epoch's batches again
and skips what it had consumed, so the epoch has its planned length and the schedule lines up.
Where ``epoch_batches`` replays an epoch in the same order, the resumed run consumes exactly the
batches the uninterrupted one would have (tested); Ray Data's stream does not promise that order.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol


class Engine(Protocol):
    """What the loop needs of an engine (DeepSpeed's, or a test's)."""

    def forward_loss(self, inputs: dict) -> Any: ...

    def backward(self, loss: Any) -> None: ...

    def step(self) -> None: ...

    def lr(self) -> float: ...


class MetricsSink(Protocol):
    def log(self, row: dict) -> None: ...

    def flush(self) -> None: ...


@dataclass
class Position:
    """Where a run stands: optimizer steps done, the epoch, micro-batches consumed in it, and
    the step this process started from (0 for a fresh run). What a checkpoint records."""

    step: int = 0
    epoch: int = 0
    micro_in_epoch: int = 0
    resumed_from: int = 0

    @classmethod
    def from_state(cls, state: dict | None) -> Position:
        """The position of a checkpoint's saved state (None: a fresh run)."""
        if not state:
            return cls()
        step = int(state["step"])
        return cls(step=step, epoch=int(state["epoch"]),
                   micro_in_epoch=int(state["micro_in_epoch"]), resumed_from=step)

    def state(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Plan:
    """The steps of a run: ``total_steps`` optimizer steps of ``grad_accum`` micro-batches,
    ``steps_per_epoch`` of them per pass over the data; a checkpoint (and validation) every
    ``checkpoint_every`` steps and at the last."""

    total_steps: int
    steps_per_epoch: int
    grad_accum: int = 1
    checkpoint_every: int = 50

    def __post_init__(self):
        for name in ("total_steps", "steps_per_epoch", "grad_accum", "checkpoint_every"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")


class ShardTooShort(RuntimeError):
    """An epoch's data ended before its planned steps (never expected with equal shards)."""


def _sum_locally(values: Sequence[float]) -> list[float]:
    return list(values)


def run_loop(engine: Engine, plan: Plan, epoch_batches: Callable[[int], Iterable[list]],
             prepare: Callable[[list, int], dict], *, start: Position | None = None,
             world: int = 1, sum_over_ranks: Callable[[Sequence[float]], list[float]] =
             _sum_locally, validate: Callable[[], dict] | None = None,
             checkpoint: Callable[[dict, dict], None] | None = None,
             metrics: MetricsSink | None = None, rank: int = 0,
             clock: Callable[[], float] = time.perf_counter) -> Position:
    """Train from ``start`` until ``plan.total_steps``; returns the final position.

    ``epoch_batches(epoch)`` yields micro-batches (lists of records) of one epoch;
    ``prepare(records, epoch)`` turns one into the engine's inputs (a dict; its
    ``attention_mask``, when present, counts the tokens). After each optimizer step a metrics
    row (the loss, rate and throughputs, means or sums over the ``world`` ranks through
    ``sum_over_ranks``) goes to ``metrics`` (rank 0 passes one, the others None); at each
    checkpoint step ``validate()``'s numbers join the row, the row is flushed to disk, and then
    ``checkpoint(state, row)`` saves (every rank calls it: a ZeRO save is collective). The row is
    on disk before its checkpoint: a run killed in between resumes from the previous checkpoint
    (dropping the row), never from a step whose row was lost.
    """
    pos = Position(**(start or Position()).state())
    loss_sum, samples, tokens = 0.0, 0, 0
    started = clock()
    waited = 0.0  # of this step, the time spent waiting on the feed and building batches
    while pos.step < plan.total_steps:
        steps_this_epoch = pos.micro_in_epoch // plan.grad_accum
        skip = pos.micro_in_epoch  # a resumed epoch skips what it had consumed
        fetch_started = clock()
        for records in epoch_batches(pos.epoch):
            if skip:
                skip -= 1
                continue
            inputs = prepare(records, pos.epoch)
            waited += clock() - fetch_started
            loss = engine.forward_loss(inputs)
            engine.backward(loss)
            lr = engine.lr()  # the rate this step uses (step() advances the schedule)
            engine.step()
            pos.micro_in_epoch += 1
            loss_sum += float(loss.detach() if hasattr(loss, "detach") else loss)
            samples += len(records)
            mask = inputs.get("attention_mask")
            tokens += int(mask.sum()) if mask is not None else 0
            if pos.micro_in_epoch % plan.grad_accum:
                fetch_started = clock()
                continue
            pos.step += 1
            steps_this_epoch += 1
            seconds = clock() - started
            loss_total, samples_total, tokens_total, waited_total, seconds_total = \
                sum_over_ranks([loss_sum / plan.grad_accum, samples, tokens, waited, seconds])
            row = {"step": pos.step, "epoch": pos.epoch, "loss": loss_total / world, "lr": lr,
                   "samples_per_s": samples_total / seconds if seconds > 0 else 0.0,
                   "tokens_per_s": tokens_total / seconds if seconds > 0 else 0.0,
                   "step_s": seconds_total / world, "data_s": waited_total / world}
            last = pos.step >= plan.total_steps
            epoch_end = steps_this_epoch >= plan.steps_per_epoch
            if epoch_end:
                pos.epoch, pos.micro_in_epoch = pos.epoch + 1, 0
            checkpointing = last or pos.step % plan.checkpoint_every == 0
            if checkpointing and validate is not None:
                row.update(validate())
            if metrics is not None:
                metrics.log(row)
            if checkpointing:
                if metrics is not None:
                    metrics.flush()
                if checkpoint is not None:
                    checkpoint(pos.state(), row)
            loss_sum, samples, tokens = 0.0, 0, 0
            started = clock()
            waited, fetch_started = 0.0, started
            if last or epoch_end:
                break
        else:
            raise ShardTooShort(f"rank {rank}: epoch {pos.epoch} ended after "
                                f"{pos.micro_in_epoch} micro-batches, short of "
                                f"{plan.steps_per_epoch} steps")
    return pos
