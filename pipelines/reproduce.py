"""Mini-reproduction of the paper's main claims, end to end, on the project's sample photos.

Recipe (every step is a project command or library function, run in this process on one
local Ray):

1. ``seagull samples`` → the sample DNGs (or ``--raw-dir``);
2. the build-100w recipe (``pipelines.build_100w.run``) on them (all of them, or the first ``--sources``), small renders
   (``--long-side``), the distortion types and levels asked for (or ``--data``: an existing
   dataset, steps 2–3 skipped);
3. hold out ``--holdout`` whole photos (split groups, spread over the RAW file names:
   ``seagull.data.split.held_out_groups``, the main job's rule) as the test split, the rest
   train (``hold_out_sources``; rewrites the split column of their shards);
4. for each seed of ``--seeds`` and each Seagull variant (``full``, ``no_global``,
   ``no_local`` and, when asked for, ``no_jir``: ``seagull.ablations``): ``seagull train
   --stage 1 --init <variant's initial model, built from --preset with that seed> --max-steps N
   --feature-cache OUT/features`` plus the variant's own arguments. The frozen encoder's
   features are computed once per image and read back by every later run;
5. the crop-only CNN baseline trained on the same rows, once per seed
   (``seagull.baselines.crop_cnn``);
6. ``pipelines.evaluate`` for each run on the test split → one report folder each;
7. one table (Table 1 and Table 2 layouts, each cell mean ± sd over the seeds) printed and
   written to ``OUT/results.md`` with a plot of it (``OUT/results.png``), and
   ``OUT/results.json`` holding every report and the time each step took.

    seagull reproduce --mini --out OUT [--holdout 5 --seeds 0,1,2 --steps N ...]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

log = logging.getLogger("pipelines.reproduce")

from seagull.labels.levels import DISTORTION_TYPES

SEAGULL_VARIANTS = ("full", "no_global", "no_local", "no_jir")
CROP = "crop"
MODEL_CHOICES = (*SEAGULL_VARIANTS, CROP)
# w/o Local and w/o JIR are there through --models (each costs ~5 min per seed).
DEFAULT_MODELS = ("full", "no_global", CROP)
CROP_LABEL = "Crop-based CNN"
EVAL_ACTORS = 2  # half a CPU each: both cores infer while Ray Data reads beside them


@dataclass
class MiniSettings:
    """Everything that determines a mini run (recorded in ``OUT/results.json``)."""

    out: str
    raw_dir: str | None = None
    data: str | None = None
    sources: int | None = None  # None: every RAW file of the folder
    holdout: int = 5  # photos (split groups) held out as the test split
    types: list[str] = field(default_factory=lambda: list(DISTORTION_TYPES))
    levels: list[int] = field(default_factory=lambda: [0, 4, 9, 14, 19])
    long_side: int = 256
    points: int = 8
    preset: str = "small"
    steps: int = 400
    lr: float | None = None  # None: the preset's
    batch_size: int = 8
    crop_steps: int = 300
    models: list[str] = field(default_factory=lambda: list(DEFAULT_MODELS))
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    workers: int | None = None
    seed: int = 0  # the dataset's (renders, point prompts)
    address: str | None = None


def _cli(argv: list[str]) -> None:
    """Run a ``seagull`` subcommand in this process; a non-zero exit is an error here."""
    from seagull.errors import ConfigError
    from seagull_cli import build_parser

    args = build_parser().parse_args(argv)
    rc = int(args._run(args) or 0)
    if rc:
        raise ConfigError(f"`seagull {' '.join(argv)}` exited with {rc}")


def hold_out_sources(root: str, holdout: int) -> dict[str, list[str]]:
    """Make ``holdout`` photos (whole split groups) the test split, the others train.

    The groups are ``seagull.data.split.held_out_groups`` of the sources' RAW file names (the
    ``images`` table's ``source``): the first, the last and evenly between in name order, the
    main job's rule. A source of unknown name (no ``images`` shard) is a group of its own, named
    by its id. A split group (a stereo pair, a burst) is never cut, so the test split may hold
    more than ``holdout`` sources. Rewrites the ``split`` column of each source's ``rois`` and
    ``images`` shards atomically; returns ``{"train": [...], "test": [...]}`` source ids in
    name order.
    """
    import posixpath

    import pyarrow as pa

    from seagull.data.split import held_out_groups, split_group
    from seagull.data.store import DatasetLayout, read_table, write_table_atomic
    from seagull.errors import ConfigError, InvalidArgumentError

    layout = DatasetLayout.open(root)
    shards = layout.shards("rois")
    sources = [posixpath.basename(s)[: -len(".parquet")] for s in shards]
    names = {sid: _source_name(layout, sid) or f"source-{sid}" for sid in sources}
    try:
        held = held_out_groups(names.values(), holdout)
    except InvalidArgumentError as exc:
        raise ConfigError(f"{root}: {exc}") from None
    sources.sort(key=lambda sid: (split_group(names[sid]), names[sid], sid))
    test_ids = [sid for sid in sources if split_group(names[sid]) in held]
    test = set(test_ids)
    for table in ("rois", "images"):
        for sid in sources:
            path = layout.shard_path(table, sid)
            if layout.fs.get_file_info(path).type.name != "File":
                continue
            t = read_table(layout.fs, path)
            split = pa.array(["test" if sid in test else "train"] * t.num_rows, pa.string())
            idx = t.schema.get_field_index("split")
            t = t.set_column(idx, t.schema.field("split"), split)
            write_table_atomic(layout.fs, path, t)
    manifest = layout.read_manifest() or {}
    manifest["holdout"] = {"test_sources": test_ids,
                           "test_names": [names[s] for s in test_ids],
                           "rule": "seagull.data.split.held_out_groups of the RAW file names: "
                                   "the first, the last and evenly between, whole groups"}
    layout.write_manifest(manifest)
    return {"train": [sid for sid in sources if sid not in test], "test": test_ids}


def _source_name(layout, sid: str) -> str:
    """The RAW file name of source ``sid`` (from its ``images`` shard), or '' if unknown."""
    import posixpath

    import pyarrow.parquet as pq

    path = layout.shard_path("images", sid)
    if layout.fs.get_file_info(path).type.name != "File":
        return ""
    with layout.fs.open_input_file(path) as fh:
        column = pq.read_table(fh, columns=["source"]).column("source")
    return posixpath.basename(str(column[0])) if len(column) else ""


def build_data(s: MiniSettings, out: Path) -> str:
    """Steps 1–3: sample RAWs → small Seagull-100w → hold-out split. Returns the data root."""
    from seagull.samples import DEFAULT_SEED, make_samples

    if s.data:
        return s.data
    raw_dir = s.raw_dir
    if raw_dir is None:
        raw_dir = str(out / "samples")
        if not any(Path(raw_dir).glob("*.dng")):
            make_samples(Path(raw_dir), seed=DEFAULT_SEED)
    from pipelines.build_100w import BuildConfig, run

    data = out / "data"
    run(BuildConfig(raw_dir=raw_dir, out=str(data), types=tuple(s.types),
                    levels=tuple(s.levels), long_side=s.long_side, points=s.points,
                    seed=s.seed, test_fraction=0.0, max_sources=s.sources or None,
                    address=s.address, no_progress=True))
    split = hold_out_sources(str(data), s.holdout)
    log.info("held out %d source(s) of %d", len(split["test"]),
             len(split["test"]) + len(split["train"]))
    return str(data)


def read_manifest_names(root: str) -> list[str]:
    """The held-out RAW file names ``hold_out_sources`` recorded in the manifest."""
    from seagull.data.store import DatasetLayout

    return list(((DatasetLayout.open(root).read_manifest() or {}).get("holdout") or {})
                .get("test_names", []))


def run_name(name: str, seed: int) -> str:
    return f"{name}-seed{seed}"


def train_variant(name: str, data: str, s: MiniSettings, out: Path, seed: int) -> Path:
    """Step 4: one Seagull variant with one seed, stage 1 from its initial model (built from
    the preset with that seed). Returns the model folder."""
    from seagull.ablations import save_init_model, variant

    v = variant(name)
    init = save_init_model(v, out / "init" / run_name(name, seed), preset=s.preset, seed=seed)
    run_dir = out / "runs" / run_name(name, seed)
    argv = ["train", "--stage", "1", "--data", data, "--out", str(run_dir),
            "--init", str(init), "--max-steps", str(s.steps),
            "--batch-size", str(s.batch_size), "--seed", str(seed),
            "--feature-cache", str(out / "features"), *v.train_args]
    if s.lr is not None:
        argv += ["--lr", str(s.lr)]
    if s.workers:
        argv += ["--workers", str(s.workers)]
    if s.address:
        argv += ["--address", s.address]
    _cli(argv)
    return run_dir / "model"


def _slug(label: str) -> str:
    return label.lower().replace("/", "").replace(" ", "_").replace("-", "_")


def run_mini(s: MiniSettings) -> dict:
    """Run the whole mini reproduction; returns ``{"reports", "table", "timings", ...}``.

    ``reports`` maps each row's label to its reports, one per seed (in ``s.seeds`` order)."""
    from pipelines.evaluate import EvaluateConfig
    from pipelines.evaluate import run as evaluate
    from seagull.ablations import variant
    from seagull.baselines.crop_cnn import train_crop_baseline
    from seagull.errors import ConfigError
    from seagull.evaluation import table1_markdown, table2_markdown
    from seagull.model.config import get_preset

    unknown = sorted(set(s.models) - set(MODEL_CHOICES))
    if unknown or not s.models:
        raise ConfigError(f"unknown model(s) {unknown}; models: {', '.join(MODEL_CHOICES)}")
    if not s.seeds or len(set(s.seeds)) != len(s.seeds):
        raise ConfigError(f"--seeds must name distinct seeds, got {s.seeds}")
    get_preset(s.preset)  # an unknown preset stops here, before the build
    if s.data:  # a dataset that is not one stops here, before any run
        from seagull.data.store import DatasetLayout

        DatasetLayout.open(s.data)
    out = Path(s.out)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    data = build_data(s, out)
    timings["data"] = time.perf_counter() - t0
    held_out = read_manifest_names(data)
    log.info("test split: %s", ", ".join(held_out) or "the dataset's own")
    rows = [m for m in (*SEAGULL_VARIANTS, CROP) if m in s.models]
    labels = {m: CROP_LABEL if m == CROP else variant(m).label for m in rows}
    runs = len(rows) * len(s.seeds)
    reports: dict[str, list[dict]] = {labels[m]: [] for m in rows}
    done = 0
    for seed in s.seeds:
        for name in rows:
            done += 1
            log.info("run %d/%d: %s, seed %d", done, runs, labels[name], seed)
            t = time.perf_counter()
            key = run_name(name, seed)
            if name == CROP:
                model_dir = out / "runs" / key
                train_crop_baseline(data, model_dir, steps=s.crop_steps,
                                    batch_size=max(s.batch_size, 16), seed=seed)
            else:
                model_dir = train_variant(name, data, s, out, seed)
            timings[f"train_{key}"] = time.perf_counter() - t
            t = time.perf_counter()
            label = labels[name]
            reports[label].append(evaluate(EvaluateConfig(
                model=str(model_dir), data=data,
                out=str(out / "reports" / f"{_slug(label)}-seed{seed}"), split="test",
                name=f"{label} (seed {seed})", actors=EVAL_ACTORS, address=s.address,
                feature_cache=str(out / "features"))))
            timings[f"evaluate_{key}"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    seeds = ", ".join(map(str, s.seeds))
    held = ", ".join(held_out) or "the dataset's test split"
    table = (f"Held out: {held}. Each cell: mean ± sd over seeds {seeds}.\n\n"
             "## Table 1 (mini)\n\n" + table1_markdown(reports) + "\n\n## Table 2 (mini)\n\n"
             + table2_markdown(reports) + "\n")
    (out / "results.md").write_text(table)
    plot = write_results_plot(reports, out / "results.png")
    result = {"settings": asdict(s), "data": data, "held_out": held_out,
              "reports": reports, "timings": timings, "plot": str(plot)}
    (out / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    result["table"] = table
    return result


def write_results_plot(reports: dict[str, list[dict]], path: Path) -> Path:
    """Bars of each row's held-out quality SROCC, importance SROCC and type F1 (mean over the
    seeds, each seed's value a dot), so the rows compare at a glance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    metrics = [("Quality SROCC", lambda r: r["quality"]["srocc"]),
               ("Importance SROCC", lambda r: r["importance"]["srocc"]),
               ("Types F1", lambda r: r["types"]["f1"])]
    labels = list(reports)
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.6), sharey=False)
    for ax, (title, get) in zip(axes, metrics):
        for i, label in enumerate(labels):
            values = [get(r) for r in reports[label]]
            ax.bar(i, float(np.mean(values)), color=f"C{i}", alpha=0.7)
            ax.scatter([i] * len(values), values, color="k", s=12, zorder=3)
        ax.set_xticks(range(len(labels)), labels, rotation=20, ha="right")
        ax.axhline(0, color="0.5", lw=0.8)
        ax.set_title(title)
    fig.suptitle("Mini reproduction on held-out photos (bars: mean over seeds; dots: seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def add_arguments(p: argparse.ArgumentParser) -> None:
    from seagull_cli._args import int_list, positive_int, seed, str_list

    d = MiniSettings(out="")
    p.add_argument("--mini", action="store_true", required=True,
                   help="the mini reproduction on the sample photos (the only mode here; the "
                        "full-scale commands are in docs/evaluation.md)")
    p.add_argument("--out", required=True, help="working folder: data, runs, reports, results")
    p.add_argument("--raw-dir", help="RAW photos to use instead of the project's samples")
    p.add_argument("--data", help="an existing dataset root (with a test split) instead of "
                                  "building one")
    p.add_argument("--sources", type=positive_int, default=d.sources,
                   help="RAW sources to build from (default: all of them)")
    p.add_argument("--holdout", type=positive_int, default=d.holdout,
                   help=f"photos (split groups, spread over the file names) held out as the "
                        f"test split (default {d.holdout})")
    p.add_argument("--types", type=str_list, default=d.types,
                   help=f"distortion types (default {','.join(d.types)})")
    p.add_argument("--levels", type=int_list, default=d.levels,
                   help=f"levels 0…19 (default {','.join(map(str, d.levels))})")
    p.add_argument("--long-side", type=positive_int, default=d.long_side,
                   help=f"render size in pixels (default {d.long_side})")
    p.add_argument("--points", type=positive_int, default=d.points,
                   help=f"component-level point prompts per reference (default {d.points})")
    p.add_argument("--preset", default=d.preset,
                   help=f"model preset of the Seagull rows (default {d.preset})")
    p.add_argument("--steps", type=positive_int, default=d.steps,
                   help=f"training steps of each Seagull run (default {d.steps})")
    p.add_argument("--lr", type=float, default=d.lr,
                   help="peak learning rate of the Seagull runs (default: the preset's)")
    p.add_argument("--batch-size", type=positive_int, default=d.batch_size,
                   help=f"training batch (default {d.batch_size})")
    p.add_argument("--crop-steps", type=positive_int, default=d.crop_steps,
                   help=f"training steps of the crop baseline (default {d.crop_steps})")
    p.add_argument("--models", type=str_list, default=d.models,
                   help=f"the rows to train and evaluate (default {','.join(d.models)}; "
                        f"choices {','.join(MODEL_CHOICES)})")
    p.add_argument("--seeds", type=int_list, default=d.seeds,
                   help=f"each row is trained once per seed (default "
                        f"{','.join(map(str, d.seeds))})")
    p.add_argument("--workers", type=positive_int, help="training workers (default: train's)")
    p.add_argument("--seed", type=seed, default=d.seed,
                   help="the dataset's seed (renders, point prompts)")
    p.add_argument("--address", help="Ray cluster address (default: a local Ray)")


def settings_from_args(args: argparse.Namespace) -> MiniSettings:
    return MiniSettings(
        out=args.out, raw_dir=args.raw_dir, data=args.data, sources=args.sources,
        holdout=args.holdout, types=list(args.types), levels=list(args.levels),
        long_side=args.long_side, points=args.points, preset=args.preset, steps=args.steps,
        lr=args.lr, batch_size=args.batch_size, crop_steps=args.crop_steps,
        models=list(args.models), seeds=list(args.seeds), workers=args.workers,
        seed=args.seed, address=args.address)


def main(argv: list[str] | None = None) -> int:
    """``python -m pipelines.reproduce`` is ``seagull reproduce``: one parser, and one error edge (a
    project error is one line and exit 2)."""
    from seagull_cli import main as seagull

    return seagull(["reproduce", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
