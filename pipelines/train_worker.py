"""What each Ray Train worker of ``pipelines.train`` runs: one DeepSpeed rank.

``train_loop_per_worker`` builds the model (from the preset or ``--init``), puts the frozen
encoder's features behind a cache, wraps the model in DeepSpeed, restores a checkpoint when Ray
hands one over, and runs the library's loop (``seagull.train.loop.run_loop``) with the Ray
pieces: the dataset shard, ``all_reduce`` of the step's numbers, validation gathered over the
ranks, and checkpoints through ``ray.train.report``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from seagull.train.config import TrainConfig


@dataclass(frozen=True)
class WorkerSettings:
    """What every training worker gets (plain data: it travels to other processes and nodes;
    local paths are absolute)."""

    train: TrainConfig
    total_steps: int
    steps_per_epoch: int
    run_dir: str
    data: str
    init: str | None
    llm_path: str | None
    encoder_weights: str | None
    feature_cache: str | None
    threads: int


def train_loop_per_worker(config: dict) -> None:
    """What each Ray Train worker runs: the model, its DeepSpeed engine and the Ray pieces the
    library's loop is given. ``config["worker"]`` is a ``WorkerSettings``."""
    import tempfile

    import ray.train
    import torch
    import torch.distributed as dist

    from seagull.model import SeagullModel, build_batch
    from seagull.model.feature_cache import FeatureCache, cache_key
    from seagull.train import engine as eng
    from seagull.train.examples import to_sample
    from seagull.train.loop import Plan, Position, run_loop
    from seagull.train.metrics_log import MetricsLog
    from seagull.train.validation import load_validation, predict_quality, validation_metrics

    w: WorkerSettings = config["worker"]
    cfg = w.train
    torch.set_num_threads(w.threads)
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()

    torch.manual_seed(cfg.seed)  # identical random parts on every rank and on every resume
    # bf16 from the start on GPUs: a paper-size model never exists in fp32 on the host.
    weights = {"llm_path": w.llm_path, "encoder_weights": w.encoder_weights,
               "dtype": torch.bfloat16 if cfg.bf16 else None}
    model = (SeagullModel.from_pretrained(w.init, **weights) if w.init
             else SeagullModel.from_preset(cfg.preset, **weights))
    model.train()
    # The encoder is frozen: each image is encoded once per worker (or once for every run that
    # shares the folder), not at every step (seagull.model.feature_cache).
    model.feature_cache = FeatureCache(
        Path(w.feature_cache) / cache_key(model.config, model.encoder) if w.feature_cache
        else None)
    cached = model.feature_cache.__contains__  # a cached image's pixels are never prepared
    engine = eng.build_engine(model, cfg, w.total_steps)

    state = None
    checkpoint = ray.train.get_checkpoint()
    if checkpoint:
        with checkpoint.as_directory() as folder:
            state = eng.load_state(engine, Path(folder) / "state")
    start = Position.from_state(state)
    if state and rank == 0:
        print(f"resumed from step {start.step} (epoch {start.epoch}, {start.micro_in_epoch} "
              "micro-batches in)", flush=True)
    validation = (load_validation(w.data, cfg.val_split, cfg.val_max_regions)
                  if cfg.val_split else [])

    def validate() -> dict:
        if not validation:
            return {}
        # ZeRO-3 ranks must run the same forward passes (each gathers parameters collectively),
        # so each scores everything; otherwise each scores a slice and the slices are gathered.
        part = validation if cfg.zero_stage == 3 else validation[rank::world]
        with eng.full_parameters(engine):
            scores = predict_quality(engine.module, part)
        if cfg.zero_stage != 3:
            gathered: list = [None] * world
            dist.all_gather_object(gathered, scores)
            scores = [None] * len(validation)
            for r, chunk in enumerate(gathered):
                scores[r::world] = chunk
        return validation_metrics([v["quality"] for v in validation], scores)

    def save(state: dict, metrics: dict) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            eng.save_state(engine, Path(tmp) / "state", state)
            eng.export_model(engine, Path(tmp) / "model", rank)
            ray.train.report({**state, **metrics},
                             checkpoint=ray.train.Checkpoint.from_directory(tmp))

    def sum_over_ranks(values):
        totals = torch.tensor(list(values), dtype=torch.float64)
        dist.all_reduce(totals)
        return totals.tolist()

    shard = ray.train.get_dataset_shard("train")

    def epoch_batches(epoch: int):
        for table in shard.iter_batches(batch_size=cfg.micro_batch, batch_format="pyarrow",
                                        drop_last=True, local_shuffle_buffer_size=64,
                                        local_shuffle_seed=cfg.seed + epoch):
            yield table.to_pylist()

    def prepare(records: list, epoch: int) -> dict:
        examples = [to_sample(r, cfg.stage, cfg.seed, epoch, cfg.jir_fraction, cfg.task_weights)
                    for r in records]
        return build_batch(examples, model.prompts, model.config, max_len=cfg.max_seq_len,
                           cached=cached)

    metrics_log = MetricsLog(w.run_dir, resume_step=start.step) if rank == 0 else None
    plan = Plan(total_steps=w.total_steps, steps_per_epoch=w.steps_per_epoch,
                grad_accum=cfg.grad_accum, checkpoint_every=cfg.checkpoint_every)
    run_loop(eng.Steps(engine), plan, epoch_batches, prepare, start=start, world=world,
             sum_over_ranks=sum_over_ranks, validate=validate, checkpoint=save,
             metrics=metrics_log, rank=rank)  # rank 0's rows: the driver prints them
    if metrics_log is not None:
        metrics_log.close()
