"""Two-stage training on Ray Train with DeepSpeed ZeRO (docs/method.md, "Training").

    python -m pipelines.train --stage 1 --data DATASET_ROOT --out RUN_DIR [--preset tiny]
    python -m pipelines.train --stage 2 --data DATASET_3K --out RUN2 --init RUN_DIR/model

(also ``seagull train``; its flags are the fields of ``TrainRunConfig``). The recipe, in order
(``run``): check the dataset and the model to start from → the training settings from the
preset's defaults and the config (``seagull.train.config``) → the run folder (refuse other
settings, report a finished run: ``seagull.train.run_folder``) → a Ray Data stream of the
``rois`` table's training split, one record per region (stage 1) or per fixed instruction
(stage 2) → a ``TorchTrainer`` whose workers wrap the model in DeepSpeed and run the library's
loop (``seagull.train.loop``), reporting checkpoints (DeepSpeed state of the trainable weights
plus a ``save_pretrained`` copy) and validation SROCC → ``RUN_DIR/model/`` (the last state)
and ``RUN_DIR/best/`` (the best validation SROCC, when validating). Rerunning with the same
``--out`` resumes from the last checkpoint. docs/training.md explains every choice.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

from seagull.data.split import SPLITS
from seagull.errors import ConfigError
from seagull.model.config import PRESETS
from seagull.train.config import STAGES, ZERO_STAGES

RAY_RUN_NAME = "ray"  # RUN_DIR/ray/ holds Ray Train's checkpoints and state


@dataclass(frozen=True)
class TrainRunConfig:
    """Everything ``seagull train`` takes (its fields are the command line's flags). ``None``
    means the preset's default (or, for the resources, what the cluster offers)."""

    stage: int = field(metadata={
        "choices": STAGES,
        "help": "1: pre-train on Seagull-100w; 2: fine-tune on Seagull-3k from --init"})
    data: str = field(metadata={"metavar": "DATASET_ROOT",
                                "help": "dataset folder or URI holding manifest.json and rois/"})
    out: str = field(metadata={
        "metavar": "RUN_DIR",
        "help": "run folder: checkpoints, metrics.csv, TensorBoard, model/ (rerun with the "
                "same folder to resume)"})
    preset: str = field(default="small", metadata={
        "choices": tuple(sorted(PRESETS)),
        "help": "model preset when not starting from --init (small: the pretrained "
                "EfficientNet-Lite0 and a small LLaMA, trains on CPUs)"})
    init: str | None = field(default=None, metadata={
        "metavar": "MODEL_DIR",
        "help": "start from a save_pretrained folder (stage 2: the stage-1 model)"})
    llm: str | None = field(default=None, metadata={
        "metavar": "DIR", "help": "paper preset: the Vicuna-7B folder"})
    encoder_weights: str | None = field(default=None, metadata={
        "flags": ("--encoder-weights", "--encoder"), "metavar": "FILE",
        "help": "paper preset: the ConvNeXt checkpoint (--encoder: the old spelling)"})
    feature_cache: str | None = field(default=None, metadata={
        "metavar": "DIR",
        "help": "keep the frozen encoder's features per image in DIR, shared by every run "
                "that names it (default: in each worker's memory only)"})
    workers: int | None = field(default=None, metadata={
        "help": "training workers (default: one per GPU, or 2 on CPUs)"})
    cpus_per_worker: float | None = field(default=None, metadata={
        "help": "CPUs each worker reserves (default 1 on GPUs; on CPUs a share that leaves "
                "half the machine to the data feed)"})
    cpu: bool = field(default=False, metadata={
        "help": "train on CPUs even where GPUs exist"})
    zero: int = field(default=2, metadata={"choices": ZERO_STAGES, "help": "ZeRO stage"})
    max_steps: int | None = field(default=None, metadata={
        "help": "optimizer steps, overriding --epochs (the data cycles as needed)"})
    epochs: int | None = field(default=None, metadata={
        "help": "default: the preset's, per stage"})
    lr: float | None = field(default=None, metadata={
        "help": "peak learning rate (default: the preset's)"})
    batch_size: int | None = field(default=None, metadata={
        "help": "global batch (samples per optimizer step; default: the preset's)"})
    micro_batch: int | None = field(default=None, metadata={
        "help": "samples per worker per forward pass (gradient accumulation makes up the "
                "rest)"})
    warmup_ratio: float | None = field(default=None, metadata={
        "help": "share of steps warming up"})
    max_seq_len: int | None = field(default=None, metadata={
        "help": "longest sample in tokens"})
    jir_fraction: float | None = field(default=None, metadata={
        "metavar": "F",
        "help": "share of judgment instructions (JIR): in stage 1 the chance a sample is a "
                "JIR (default: the preset's); in stage 2, 0 keeps the AIRs only, 1 the JIRs "
                "only, anything between both (the paper's set)"})
    checkpoint_every: int = field(default=50, metadata={
        "help": "steps between checkpoints (and validations)"})
    val_split: str | None = field(default=None, metadata={
        "choices": SPLITS,
        "help": "validate on this split at every checkpoint; keeps the best by SROCC"})
    val_max_regions: int = field(default=64, metadata={
        "help": "regions validated (the first N of the split)"})
    max_failures: int = field(default=3, metadata={
        "help": "worker failures survived by restarting from the last checkpoint"})
    seed: int = field(default=0, metadata={"help": "seed of data order and instructions"})
    address: str | None = field(default=None, metadata={
        "help": "Ray cluster address (default: RAY_ADDRESS or local)"})
    num_cpus: int | None = field(default=None, metadata={
        "help": "CPUs of a local Ray started here"})

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ConfigError(f"--stage must be 1 or 2, got {self.stage}")
        if self.zero not in ZERO_STAGES:
            raise ConfigError(f"--zero must be one of {ZERO_STAGES}, got {self.zero}")
        if self.preset not in PRESETS:
            raise ConfigError(f"--preset {self.preset!r}: not one of {', '.join(sorted(PRESETS))}")
        if self.val_split is not None and self.val_split not in SPLITS:
            raise ConfigError(f"--val-split must be one of {SPLITS}, got {self.val_split!r}")
        for name in ("workers", "max_steps", "epochs", "batch_size", "micro_batch",
                     "max_seq_len", "checkpoint_every", "val_max_regions", "num_cpus"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ConfigError(f"--{name.replace('_', '-')} must be positive, got {value}")
        for name in ("lr", "cpus_per_worker"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ConfigError(f"--{name.replace('_', '-')} must be positive, got {value}")
        if self.max_failures < 0:
            raise ConfigError(f"--max-failures must be 0 or more, got {self.max_failures}")
        if not 0 <= self.seed < 2**32:
            raise ConfigError(f"--seed {self.seed} is outside 0 … 2**32-1")
        if self.jir_fraction is not None and not 0 <= self.jir_fraction <= 1:
            raise ConfigError(f"--jir-fraction {self.jir_fraction} is outside 0 … 1")
        if self.warmup_ratio is not None and not 0 <= self.warmup_ratio < 1:
            raise ConfigError(f"--warmup-ratio {self.warmup_ratio} is outside [0, 1)")
        if self.stage == 2 and not self.init:
            raise ConfigError("stage 2 starts from a stage-1 model: give --init MODEL_DIR")


def _start_model_config(c: TrainRunConfig):
    """The model config training starts from: ``--init``'s folder, or the preset."""
    import json

    from seagull.model.config import SeagullConfig, get_preset

    if not c.init:
        return get_preset(c.preset)
    init_config = Path(c.init) / "seagull_config.json"
    if not init_config.is_file():
        raise ConfigError(f"--init {c.init}: not a model folder (no seagull_config.json)")
    return SeagullConfig.from_dict(json.loads(init_config.read_text())["config"])


def run(config: TrainRunConfig) -> dict:
    """Run (or resume) training as ``config`` says; returns the run's summary (also written to
    ``RUN_DIR/summary.json``)."""
    import ray
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    from pipelines.read_rois import training_stream
    from pipelines.train_worker import WorkerSettings, train_loop_per_worker
    from seagull.data.store import DatasetLayout, absolute_location
    from seagull.errors import DatasetError
    from seagull.train.config import train_config
    from seagull.train.examples import count_examples
    from seagull.train.metrics_log import ProgressPrinter
    from seagull.train.run_folder import RunFolder

    folder = RunFolder(config.out, checkpoints=RAY_RUN_NAME)
    # Workers run elsewhere (another folder, another node): local paths go to them absolute.
    c = replace(config, data=absolute_location(config.data), init=absolute_location(config.init),
                feature_cache=absolute_location(config.feature_cache))
    if DatasetLayout.open(c.data).read_manifest() is None:
        raise DatasetError(f"{c.data}: no manifest.json (not a dataset root)")
    model_config = _start_model_config(c)

    if not ray.is_initialized():
        # Workers' warnings and errors reach the console (progress comes from metrics.csv).
        ray.init(address=c.address, num_cpus=c.num_cpus, log_to_driver=True,
                 configure_logging=False)
    gpus = int(ray.cluster_resources().get("GPU", 0))
    use_gpu = gpus > 0 and not c.cpu
    workers = c.workers or (gpus if use_gpu else 2)
    cpus = ray.cluster_resources().get("CPU", 1)
    # On CPUs, half the machine for the workers: Ray Data's feed needs the rest (docs/method.md).
    cpus_per_worker = c.cpus_per_worker or (1.0 if use_gpu else min(1.0, cpus / (2 * workers)))
    cfg = train_config(
        c.stage, model_config, workers, lr=c.lr, epochs=c.epochs, global_batch=c.batch_size,
        micro_batch=c.micro_batch, bf16=use_gpu, zero_stage=c.zero, max_steps=c.max_steps,
        checkpoint_every=c.checkpoint_every, val_split=c.val_split,
        val_max_regions=c.val_max_regions, seed=c.seed, warmup_ratio=c.warmup_ratio,
        max_seq_len=c.max_seq_len, jir_fraction=c.jir_fraction)
    num_examples = count_examples(c.data, "train", c.stage, cfg.jir_fraction)
    if num_examples == 0:
        raise DatasetError(f"{c.data}: no training examples (the train split is empty)")
    if cfg.val_split and count_examples(c.data, cfg.val_split, 1) == 0:
        raise DatasetError(f"--val-split {cfg.val_split}: {c.data} has no region in that split")
    per_epoch = cfg.steps_per_epoch(num_examples)
    total = cfg.total_steps(num_examples)
    settings = {"train": cfg.to_dict(), "data": str(c.data), "init": c.init,
                "examples_per_epoch": num_examples, "steps_per_epoch": per_epoch,
                "total_steps": total, "grad_accum": cfg.grad_accum, "use_gpu": use_gpu}
    folder.refuse_other_settings(settings)
    done = folder.finished(total)
    if done is not None:
        print(f"{folder.path} already holds a finished run of {total} steps", flush=True)
        return done
    folder.write_settings(settings)
    print(f"stage {cfg.stage} ({cfg.preset}): {num_examples} examples/epoch, {total} steps of "
          f"{cfg.global_batch} = {cfg.micro_batch} × {workers} workers × {cfg.grad_accum} "
          f"accumulated; ZeRO-{cfg.zero_stage}, {'bf16 on GPUs' if use_gpu else 'fp32 on CPUs'}",
          flush=True)

    worker = WorkerSettings(train=cfg, total_steps=total, steps_per_epoch=per_epoch,
                            run_dir=str(folder.path), data=str(c.data), init=c.init,
                            llm_path=c.llm, encoder_weights=c.encoder_weights,
                            feature_cache=c.feature_cache,
                            threads=max(1, int(cpus_per_worker)))
    checkpoints = (CheckpointConfig(num_to_keep=1, checkpoint_score_attribute="val_srocc",
                                    checkpoint_score_order="max")
                   if cfg.val_split else CheckpointConfig(num_to_keep=1))
    trainer = TorchTrainer(
        train_loop_per_worker, train_loop_config={"worker": worker},
        scaling_config=ScalingConfig(num_workers=workers, use_gpu=use_gpu,
                                     resources_per_worker={"CPU": cpus_per_worker}),
        run_config=RunConfig(name=RAY_RUN_NAME, storage_path=str(folder.path),
                             failure_config=FailureConfig(max_failures=c.max_failures),
                             checkpoint_config=checkpoints),
        datasets={"train": training_stream(c.data, cfg.stage, cfg.seed, cfg.jir_fraction)})
    with ProgressPrinter(folder.path / "metrics.csv", total, every=cfg.log_every):
        result = trainer.fit()
    if result.checkpoint is None:
        raise RuntimeError("training ended without a checkpoint")
    _export(folder, result.checkpoint, "model")
    summary = {"run_dir": str(folder.path), "model": str(folder.path / "model"),
               "steps": result.metrics.get("step"), "loss": result.metrics.get("loss"),
               "resumed_from": result.metrics.get("resumed_from"),
               "checkpoint": result.checkpoint.path}
    if cfg.val_split and result.best_checkpoints:
        best, metrics = max(result.best_checkpoints,
                            key=lambda cm: cm[1].get("val_srocc", float("-inf")))
        _export(folder, best, "best")
        summary.update(best=str(folder.path / "best"), best_step=metrics.get("step"),
                       best_val_srocc=metrics.get("val_srocc"))
    folder.write_summary(summary)
    return summary


def _export(folder, checkpoint, name: str) -> None:
    """The ``model/`` folder of a Ray checkpoint → ``RUN_DIR/name``."""
    with checkpoint.as_directory() as local:
        folder.export(Path(local) / "model", name)


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
