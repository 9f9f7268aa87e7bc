"""Two-stage training on Ray Train with DeepSpeed ZeRO (docs/method.md, "Training").

    python -m pipelines.train --stage 1 --data DATASET_ROOT --out RUN_DIR [--preset tiny]
    python -m pipelines.train --stage 2 --data DATASET_3K --out RUN2 --init RUN_DIR/model

(also ``seagull train``). The recipe, in order: settings from the preset's training defaults
and the options → a Ray Data stream of the ``rois`` table's training split, one record per
region (stage 1) or per fixed instruction (stage 2) → a ``TorchTrainer`` whose workers wrap the
model in DeepSpeed, train, report checkpoints (DeepSpeed state of the trainable weights plus a
``save_pretrained`` copy) and validation SROCC → ``RUN_DIR/model/`` (the last state) and
``RUN_DIR/best/`` (the best validation SROCC, when validating). Rerunning with the same
``--out`` resumes from the last checkpoint. docs/training.md explains every choice.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

RAY_RUN_NAME = "ray"  # RUN_DIR/ray/ holds Ray Train's checkpoints and state


# ---- the worker: one DeepSpeed rank ---------------------------------------------------------

def train_loop_per_worker(config: dict) -> None:
    """What each Ray Train worker runs; ``config`` is plain data (see ``launch``)."""
    import tempfile

    import ray.train
    import torch
    import torch.distributed as dist

    from seagull.model import SeagullModel, build_batch
    from seagull.model.feature_cache import FeatureCache, cache_key
    from seagull.train import engine as eng
    from seagull.train.config import TrainConfig
    from seagull.train.examples import to_sample
    from seagull.train.metrics_log import MetricsLog
    from seagull.train.validation import load_validation, predict_quality, validation_metrics

    cfg = TrainConfig(**config["train"])
    torch.set_num_threads(config["threads"])
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    total, per_epoch = config["total_steps"], config["steps_per_epoch"]

    torch.manual_seed(cfg.seed)  # identical random parts on every rank and on every resume
    # bf16 from the start on GPUs: a paper-size model never exists in fp32 on the host.
    weights = {"llm_path": config["llm_path"], "encoder_weights": config["encoder_weights"],
               "dtype": torch.bfloat16 if cfg.bf16 else None}
    if config["init"]:
        model = SeagullModel.from_pretrained(config["init"], **weights)
    else:
        model = SeagullModel.from_preset(cfg.preset, **weights)
    model.train()
    # The encoder is frozen: each image is encoded once per worker (or once for every run that
    # shares the folder), not at every step (seagull.model.feature_cache).
    folder = config["feature_cache"]
    model.feature_cache = FeatureCache(
        Path(folder) / cache_key(model.config, model.encoder) if folder else None)
    cached = model.feature_cache.__contains__  # a cached image's pixels are never prepared
    engine = eng.build_engine(model, cfg, total)

    step, epoch, micro_done = 0, 0, 0
    checkpoint = ray.train.get_checkpoint()
    if checkpoint:
        with checkpoint.as_directory() as folder:
            state = eng.load_state(engine, Path(folder) / "state")
        step, epoch, micro_done = state["step"], state["epoch"], state["micro_in_epoch"]
        if rank == 0:
            print(f"resumed from step {step} (epoch {epoch}, {micro_done} micro-batches in)",
                  flush=True)
    resumed_from = step  # 0 for a fresh run; the checkpoint's step after a restart or rerun
    metrics_log = MetricsLog(config["run_dir"], resume_step=step) if rank == 0 else None
    validation = (load_validation(config["data"], cfg.val_split, cfg.val_max_regions)
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

    def save(metrics: dict) -> None:
        state = {"step": step, "epoch": epoch, "micro_in_epoch": micro_done,
                 "resumed_from": resumed_from}
        with tempfile.TemporaryDirectory() as tmp:
            eng.save_state(engine, Path(tmp) / "state", state)
            eng.export_model(engine, Path(tmp) / "model", rank)
            ray.train.report({**state, **metrics},
                             checkpoint=ray.train.Checkpoint.from_directory(tmp))

    shard = ray.train.get_dataset_shard("train")
    loss_sum, samples, tokens, started = 0.0, 0, 0, time.perf_counter()
    waited = 0.0  # seconds this step spent waiting on the feed and building batches
    while step < total:
        steps_this_epoch = micro_done // cfg.grad_accum
        batches = shard.iter_batches(batch_size=cfg.micro_batch, batch_format="pyarrow",
                                     drop_last=True, local_shuffle_buffer_size=64,
                                     local_shuffle_seed=cfg.seed + epoch)
        skip = micro_done  # a resumed epoch skips what it had consumed (docs/training.md)
        fetch_started = time.perf_counter()
        for table in batches:
            if skip:
                skip -= 1
                continue
            records = table.to_pylist()
            examples = [to_sample(r, cfg.stage, cfg.seed, epoch, cfg.jir_fraction,
                                  cfg.task_weights) for r in records]
            inputs = build_batch(examples, model.prompts, model.config, max_len=cfg.max_seq_len,
                                 cached=cached)
            inputs = eng.to_device(inputs, engine)
            waited += time.perf_counter() - fetch_started
            loss = eng.forward_loss(engine, inputs)
            engine.backward(loss)
            lr = eng.current_lr(engine)  # the rate this step uses (engine.step advances it)
            engine.step()
            micro_done += 1
            loss_sum += float(loss.detach())
            samples += len(records)
            tokens += int(inputs["attention_mask"].sum())
            if micro_done % cfg.grad_accum:
                fetch_started = time.perf_counter()
                continue
            step += 1
            steps_this_epoch += 1
            totals = torch.tensor([loss_sum / cfg.grad_accum, samples, tokens, waited,
                                   time.perf_counter() - started], dtype=torch.float64)
            dist.all_reduce(totals)
            seconds = time.perf_counter() - started
            row = {"step": step, "epoch": epoch, "loss": float(totals[0]) / world,
                   "lr": lr, "samples_per_s": float(totals[1]) / seconds,
                   "tokens_per_s": float(totals[2]) / seconds,
                   "step_s": float(totals[4]) / world, "data_s": float(totals[3]) / world}
            last = step >= total
            epoch_end = steps_this_epoch >= per_epoch
            if epoch_end:
                epoch, micro_done = epoch + 1, 0
            checkpointing = last or step % cfg.checkpoint_every == 0
            if checkpointing:
                row.update(validate())
            # The row is on disk before its checkpoint: a run killed in between resumes from the
            # previous checkpoint (dropping this row), never from a step whose row was lost.
            if metrics_log is not None:  # the driver prints it (ProgressPrinter)
                metrics_log.log(row)
            if checkpointing:
                if metrics_log is not None:
                    metrics_log.flush()
                save(row)
            loss_sum, samples, tokens, started = 0.0, 0, 0, time.perf_counter()
            waited, fetch_started = 0.0, started
            if last or epoch_end:
                break
        else:  # the shard ran dry before the planned steps: never expected with equal splits
            raise RuntimeError(f"rank {rank}: epoch {epoch} ended after {micro_done} "
                               f"micro-batches, short of {per_epoch} steps")
    if metrics_log is not None:
        metrics_log.close()


# ---- the driver ------------------------------------------------------------------------------

def training_stream(data: str, stage: int, seed: int, jir_fraction: float = 0.5,
                    window_bytes: int | None = None):
    """The training split of ``data``'s ``rois`` table as a Ray Data stream of records, in a
    seeded order that is new at each epoch (``pipelines.read_rois.shuffled_records``;
    ``window_bytes`` overrides the size of its shuffle windows)."""
    import ray.data

    from pipelines.read_rois import shuffled_records
    from seagull.data.reader import SHUFFLE_WINDOW_BYTES
    from seagull.train.examples import RECORD_FIELDS, records_for_stage

    # The per-step progress line is the console's; Ray Data's bars would bury it.
    ray.data.DataContext.get_current().enable_progress_bars = False

    def records(row: dict) -> list[dict]:
        if row["split"] != "train":
            return []
        return records_for_stage(row, stage, seed, jir_fraction)

    # A shard holds one photo, its rows sorted by type then level: shards read whole, even in
    # a shuffled order, give batches of one photo and one type. Row groups of the whole table
    # are dealt into windows and each window's records shuffled uniformly instead, so nothing
    # reads more than a window before its first record (a block-order or full shuffle is an
    # all-to-all step that reads the whole table first).
    ds = shuffled_records(data, "rois", records, seed,
                          columns=["image_id", "split", "distortion", "level", "encoded",
                                   "regions"],
                          window_bytes=window_bytes or SHUFFLE_WINDOW_BYTES)
    return ds.select_columns(list(RECORD_FIELDS))


def launch(args: argparse.Namespace) -> dict:
    """Run (or resume) training as ``args`` say; returns a summary (see the end)."""
    import ray
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    from seagull.data.store import DatasetLayout, absolute_location
    from seagull.errors import ConfigError, DatasetError, OutputError
    from seagull.model.config import SeagullConfig, get_preset
    from seagull.train.config import train_config
    from seagull.train.examples import count_examples
    from seagull.train.metrics_log import ProgressPrinter

    run_dir = Path(args.out).expanduser().absolute()
    if run_dir.exists() and not run_dir.is_dir():
        raise OutputError(f"--out {args.out}: a file, not a run folder")
    # Workers run elsewhere (another folder, another node): local paths go to them absolute.
    args.data, args.init = absolute_location(args.data), absolute_location(args.init)
    layout = DatasetLayout.open(args.data)
    if layout.read_manifest() is None:
        raise DatasetError(f"{args.data}: no manifest.json (not a dataset root)")
    if args.stage == 2 and not args.init:
        raise ConfigError("stage 2 starts from a stage-1 model: give --init MODEL_DIR")
    if args.init:
        init_config = Path(args.init) / "seagull_config.json"
        if not init_config.is_file():
            raise ConfigError(f"--init {args.init}: not a model folder (no seagull_config.json)")
        model_config = SeagullConfig.from_dict(json.loads(init_config.read_text())["config"])
    else:
        model_config = get_preset(args.preset)

    if not ray.is_initialized():
        # Workers' warnings and errors reach the console (progress comes from metrics.csv).
        ray.init(address=args.address, num_cpus=args.num_cpus, log_to_driver=True,
                 configure_logging=False)
    gpus = int(ray.cluster_resources().get("GPU", 0))
    use_gpu = gpus > 0 and not args.cpu
    workers = args.workers or (gpus if use_gpu else 2)
    cpus = ray.cluster_resources().get("CPU", 1)
    # On CPUs, half the machine for the workers: Ray Data's feed needs the rest (docs/method.md).
    cpus_per_worker = args.cpus_per_worker or (1.0 if use_gpu else min(1.0, cpus / (2 * workers)))
    cfg = train_config(
        args.stage, model_config, workers, lr=args.lr, epochs=args.epochs,
        global_batch=args.batch_size, micro_batch=args.micro_batch, bf16=use_gpu,
        zero_stage=args.zero, max_steps=args.max_steps, checkpoint_every=args.checkpoint_every,
        val_split=args.val_split, val_max_regions=args.val_max_regions, seed=args.seed,
        warmup_ratio=args.warmup_ratio, max_seq_len=args.max_seq_len,
        jir_fraction=args.jir_fraction)
    num_examples = count_examples(args.data, "train", args.stage, cfg.jir_fraction)
    if num_examples == 0:
        raise DatasetError(f"{args.data}: no training examples (the train split is empty)")
    if cfg.val_split and count_examples(args.data, cfg.val_split, 1) == 0:
        raise DatasetError(f"--val-split {cfg.val_split}: {args.data} has no region in that "
                           "split")
    per_epoch = cfg.steps_per_epoch(num_examples)
    total = cfg.total_steps(num_examples)
    settings = {"train": cfg.to_dict(), "data": str(args.data), "init": args.init,
                "examples_per_epoch": num_examples, "steps_per_epoch": per_epoch,
                "total_steps": total, "grad_accum": cfg.grad_accum, "use_gpu": use_gpu}
    _refuse_other_settings(run_dir, settings)
    done = _finished(run_dir, total)
    if done is not None:
        print(f"{run_dir} already holds a finished run of {total} steps", flush=True)
        return done
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "train_config.json").write_text(json.dumps(settings, indent=1))
    except OSError as exc:
        raise OutputError(f"--out {args.out}: cannot write the run there "
                          f"({exc.strerror or exc})") from None
    print(f"stage {cfg.stage} ({cfg.preset}): {num_examples} examples/epoch, {total} steps of "
          f"{cfg.global_batch} = {cfg.micro_batch} × {workers} workers × {cfg.grad_accum} "
          f"accumulated; ZeRO-{cfg.zero_stage}, {'bf16 on GPUs' if use_gpu else 'fp32 on CPUs'}",
          flush=True)

    loop_config = {"train": cfg.to_dict(), "total_steps": total, "steps_per_epoch": per_epoch,
                   "run_dir": str(run_dir), "data": str(args.data), "init": args.init,
                   "llm_path": args.llm, "encoder_weights": args.encoder_weights,
                   "feature_cache": absolute_location(args.feature_cache),
                   "threads": max(1, int(cpus_per_worker))}
    checkpoints = (CheckpointConfig(num_to_keep=1, checkpoint_score_attribute="val_srocc",
                                    checkpoint_score_order="max")
                   if cfg.val_split else CheckpointConfig(num_to_keep=1))
    trainer = TorchTrainer(
        train_loop_per_worker, train_loop_config=loop_config,
        scaling_config=ScalingConfig(num_workers=workers, use_gpu=use_gpu,
                                     resources_per_worker={"CPU": cpus_per_worker}),
        run_config=RunConfig(name=RAY_RUN_NAME, storage_path=str(run_dir),
                             failure_config=FailureConfig(max_failures=args.max_failures),
                             checkpoint_config=checkpoints),
        datasets={"train": training_stream(args.data, cfg.stage, cfg.seed, cfg.jir_fraction)})
    with ProgressPrinter(run_dir / "metrics.csv", total, every=cfg.log_every):
        result = trainer.fit()
    if result.checkpoint is None:
        raise RuntimeError("training ended without a checkpoint")
    _copy_model(result.checkpoint, run_dir / "model")
    summary = {"run_dir": str(run_dir), "model": str(run_dir / "model"),
               "steps": result.metrics.get("step"), "loss": result.metrics.get("loss"),
               "resumed_from": result.metrics.get("resumed_from"),
               "checkpoint": result.checkpoint.path}
    if cfg.val_split and result.best_checkpoints:
        best, metrics = max(result.best_checkpoints,
                            key=lambda cm: cm[1].get("val_srocc", float("-inf")))
        _copy_model(best, run_dir / "best")
        summary.update(best=str(run_dir / "best"), best_step=metrics.get("step"),
                       best_val_srocc=metrics.get("val_srocc"))
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


# Settings a rerun may change: they decide when to save and what to report, not what trains.
RESUMABLE_CHANGES = ("checkpoint_every", "val_split", "val_max_regions", "log_every")


def _refuse_other_settings(run_dir: Path, settings: dict) -> None:
    """``ConfigError`` when ``run_dir`` holds a run that has trained with other settings.

    A rerun resumes (or, when finished, reports) the run already there; with another learning
    rate, step count, batch, dataset or seed it would silently be a different run stitched onto
    the first (a resumed cosine schedule would even start from the old run's last rate).
    """
    from seagull.errors import ConfigError

    path = run_dir / "train_config.json"
    if not path.is_file() or not (run_dir / RAY_RUN_NAME).is_dir():
        return  # nothing trained there yet
    before = json.loads(path.read_text())

    def flat(d: dict) -> dict:
        out = {k: v for k, v in d.items() if k != "train"}
        out.update({k: v for k, v in d.get("train", {}).items() if k not in RESUMABLE_CHANGES})
        return out

    # Compared as they are written (JSON: tuples read back as lists).
    old, new = flat(before), flat(json.loads(json.dumps(settings)))
    changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    if changed:
        detail = ", ".join(f"{k} {old.get(k)!r} → {new.get(k)!r}" for k in changed[:4])
        raise ConfigError(f"{run_dir} holds a run trained with other settings ({detail}); "
                          "rerun with its settings to resume, or give another --out (to "
                          "continue from its model: --init RUN_DIR/model)")


def _finished(run_dir: Path, total_steps: int) -> dict | None:
    """The summary of a run in ``run_dir`` that already reached ``total_steps``, else None."""
    path = run_dir / "summary.json"
    if not (path.is_file() and (run_dir / "model").is_dir()):
        return None
    summary = json.loads(path.read_text())
    return summary if summary.get("steps") == total_steps else None


def _copy_model(checkpoint, target: Path) -> None:
    """The ``model/`` folder of a Ray checkpoint → ``target`` (replaced whole)."""
    with checkpoint.as_directory() as folder:
        source = Path(folder) / "model"
        tmp = target.with_name(f".{target.name}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(source, tmp)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)


# ---- command line ----------------------------------------------------------------------------

def add_arguments(p: argparse.ArgumentParser) -> None:
    from seagull.data.split import SPLITS
    from seagull_cli._args import fraction, non_negative_int, positive_int, seed

    p.add_argument("--stage", type=int, choices=(1, 2), required=True,
                   help="1: pre-train on Seagull-100w; 2: fine-tune on Seagull-3k from --init")
    p.add_argument("--data", required=True, metavar="DATASET_ROOT",
                   help="dataset folder or URI holding manifest.json and rois/")
    p.add_argument("--out", required=True, metavar="RUN_DIR",
                   help="run folder: checkpoints, metrics.csv, TensorBoard, model/ "
                        "(rerun with the same folder to resume)")
    from seagull.model.config import PRESETS

    p.add_argument("--preset", default="small", choices=sorted(PRESETS),
                   help="model preset when not starting from --init (default small: the "
                        "pretrained EfficientNet-Lite0 and a small LLaMA, trains on CPUs)")
    p.add_argument("--init", metavar="MODEL_DIR",
                   help="start from a save_pretrained folder (stage 2: the stage-1 model)")
    p.add_argument("--llm", metavar="DIR", help="paper preset: the Vicuna-7B folder")
    p.add_argument("--encoder-weights", "--encoder", dest="encoder_weights", metavar="FILE",
                   help="paper preset: the ConvNeXt checkpoint (--encoder: the old spelling)")
    p.add_argument("--feature-cache", metavar="DIR",
                   help="keep the frozen encoder's features per image in DIR, shared by every "
                        "run that names it (default: in each worker's memory only)")
    p.add_argument("--workers", type=positive_int,
                   help="training workers (default: one per GPU, or 2 on CPUs)")
    p.add_argument("--cpus-per-worker", type=float,
                   help="CPUs each worker reserves (default 1 on GPUs; on CPUs a share that "
                        "leaves half the machine to the data feed)")
    p.add_argument("--cpu", action="store_true", help="train on CPUs even where GPUs exist")
    p.add_argument("--zero", type=int, choices=(2, 3), default=2, help="ZeRO stage (default 2)")
    p.add_argument("--max-steps", type=positive_int,
                   help="optimizer steps, overriding --epochs (the data cycles as needed)")
    p.add_argument("--epochs", type=positive_int, help="default: the preset's, per stage")
    p.add_argument("--lr", type=float, help="peak learning rate (default: the preset's)")
    p.add_argument("--batch-size", type=positive_int,
                   help="global batch (samples per optimizer step; default: the preset's)")
    p.add_argument("--micro-batch", type=positive_int,
                   help="samples per worker per forward pass (gradient accumulation makes "
                        "up the rest)")
    p.add_argument("--warmup-ratio", type=float, help="share of steps warming up")
    p.add_argument("--max-seq-len", type=positive_int, help="longest sample in tokens")
    p.add_argument("--jir-fraction", type=fraction, metavar="F",
                   help="share of judgment instructions (JIR): in stage 1 the chance a sample "
                        "is a JIR (default: the preset's, 0.5); in stage 2, 0 keeps the AIRs "
                        "only, 1 the JIRs only, anything between both (the paper's set)")
    p.add_argument("--checkpoint-every", type=positive_int, default=50,
                   help="steps between checkpoints (and validations) (default 50)")
    p.add_argument("--val-split", choices=SPLITS,
                   help="validate on this split at every checkpoint; keeps the best by SROCC")
    p.add_argument("--val-max-regions", type=positive_int, default=64,
                   help="regions validated (the first N of the split; default 64)")
    p.add_argument("--max-failures", type=non_negative_int, default=3,
                   help="worker failures survived by restarting from the last checkpoint")
    p.add_argument("--seed", type=seed, default=0, help="seed of data order and instructions")
    p.add_argument("--address", help="Ray cluster address (default: RAY_ADDRESS or local)")
    p.add_argument("--num-cpus", type=int, help="CPUs of a local Ray started here")


def summary_line(summary: dict) -> str:
    text = (f"trained {summary['steps']} steps (last loss {summary['loss']:.4f}); "
            f"model saved to {summary['model']}")
    if summary.get("best") and summary.get("best_val_srocc") is not None:
        text += (f"; best validation SROCC {summary['best_val_srocc']:.3f} at step "
                 f"{summary['best_step']} in {summary['best']}")
    return text


def main(argv: list[str] | None = None) -> int:
    """``python -m pipelines.train`` is ``seagull train``: one parser, and one error edge (a
    project error is one line and exit 2)."""
    from seagull_cli import main as seagull

    return seagull(["train", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
