"""Mini-reproduction of the paper's main claims, end to end, on the project's sample photos.

Recipe (every step is a project command or library function, run in this process on one
local Ray):

1. ``seagull samples`` → the sample DNGs (or ``--raw-dir``);
2. ``seagull build-100w`` on the first ``--sources`` of them, small renders (``--long-side``),
   a few types and levels (or ``--data``: an existing dataset, step 2–3 skipped);
3. hold out images: the last ``--holdout`` sources (by RAW file name, whole split groups)
   become the test split, the rest train (``hold_out_sources``; rewrites the split column of
   their shards);
4. for each Seagull variant (``full``, ``no_global``, ``no_local`` and, when asked for,
   ``no_jir``: ``seagull.ablations``) ``seagull train --stage 1 --preset tiny --init
   <variant's initial model> --max-steps N`` plus the variant's own arguments;
5. the crop-only CNN baseline trained on the same rows (``seagull.baselines.crop_cnn``);
6. ``pipelines.evaluate`` for each on the test split → one report folder each;
7. one table (Table 1 and Table 2 layouts) printed and written to ``OUT/results.md``, with
   ``OUT/results.json`` holding every report.

    seagull reproduce --mini --out OUT [--sources 7 --holdout 2 --steps 600 --lr 5e-4 ...]
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

log = logging.getLogger("pipelines.reproduce")

SEAGULL_VARIANTS = ("full", "no_global", "no_local", "no_jir")
CROP = "crop"
MODEL_CHOICES = (*SEAGULL_VARIANTS, CROP)
DEFAULT_MODELS = ("full", "no_global", "no_local", CROP)
CROP_LABEL = "Crop-based CNN"


@dataclass
class MiniSettings:
    """Everything that determines a mini run (recorded in ``OUT/results.json``)."""

    out: str
    raw_dir: str | None = None
    data: str | None = None
    sources: int = 7
    holdout: int = 2
    types: list[str] = field(default_factory=lambda: ["blur", "noise", "exposure"])
    levels: list[int] = field(default_factory=lambda: [2, 8, 14, 19])
    long_side: int = 256
    points: int = 8
    steps: int = 600
    # Seagull's peak learning rate: below the tiny preset's 2e-3, at which the ranking of a
    # held-out photo swung from step to step (docs/evaluation.md). None: the preset's.
    lr: float | None = 5e-4
    batch_size: int = 8
    crop_steps: int = 300
    models: list[str] = field(default_factory=lambda: list(DEFAULT_MODELS))
    workers: int | None = None
    seed: int = 0
    address: str | None = None


def _cli(argv: list[str]) -> None:
    """Run a ``seagull`` subcommand in this process; a non-zero exit is an error here."""
    from seagull.cli import build_parser
    from seagull.errors import ConfigError

    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    if argv[0] not in commands:
        raise ConfigError(f"`seagull {argv[0]}` is not in this version: reproduce needs it")
    args = parser.parse_args(argv)
    rc = int(args._run(args) or 0)
    if rc:
        raise ConfigError(f"`seagull {' '.join(argv)}` exited with {rc}")


def hold_out_sources(root: str, holdout: int) -> dict[str, list[str]]:
    """Make the last ``holdout`` sources the test split, the others train.

    Sources are ordered by their RAW file's name (the ``images`` table's ``source``), then id;
    by id alone where a dataset has no ``images`` table. Ids hash a source's location, so the
    name keeps the same photos held out wherever the samples were written. A split group
    (``seagull.data.split.split_group``: a stereo pair, a burst) is never cut: sources are
    ordered by group first, and the test split takes whole groups, so it may hold more than
    ``holdout`` sources. Rewrites the ``split`` column of each source's ``rois`` and ``images``
    shards atomically; returns ``{"train": [...], "test": [...]}`` source ids in that order.
    """
    import posixpath

    import pyarrow as pa

    from seagull.data.split import split_group
    from seagull.data.store import DatasetLayout, read_table, write_table_atomic
    from seagull.errors import ConfigError

    layout = DatasetLayout.open(root)
    shards = layout.shards("rois")
    sources = [posixpath.basename(s)[: -len(".parquet")] for s in shards]
    if not 0 < holdout < len(sources):
        raise ConfigError(f"cannot hold out {holdout} of {len(sources)} source(s): "
                          "need at least one source on each side")
    names = {sid: _source_name(layout, sid) for sid in sources}
    # A source of unknown name is a group of its own.
    group = {sid: split_group(names[sid]) if names[sid] else "\0" + sid for sid in sources}
    sources.sort(key=lambda sid: (group[sid], names[sid], sid))
    cut = len(sources) - holdout
    while cut > 0 and group[sources[cut - 1]] == group[sources[cut]]:
        cut -= 1  # the held-out share takes the whole group
    if cut == 0:
        raise ConfigError(f"cannot hold out {holdout} of {len(sources)} source(s): the "
                          "held-out split group holds every source, none is left to train on")
    test_ids = sources[cut:]
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
                           "rule": "last sources by split group of the RAW file name, then "
                                   "name, then id; whole groups"}
    layout.write_manifest(manifest)
    return {"train": sources[:cut], "test": test_ids}


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
    data = out / "data"
    argv = ["build-100w", "--raw-dir", raw_dir, "--out", str(data),
            "--types", ",".join(s.types), "--levels", ",".join(map(str, s.levels)),
            "--long-side", str(s.long_side), "--max-sources", str(s.sources),
            "--points", str(s.points), "--seed", str(s.seed), "--test-fraction", "0",
            "--no-progress"]
    if s.address:
        argv += ["--address", s.address]
    _cli(argv)
    hold_out_sources(str(data), s.holdout)
    return str(data)


def train_variant(name: str, data: str, s: MiniSettings, out: Path) -> Path:
    """Step 4: one tiny Seagull variant, stage 1 from its initial model. Returns model dir."""
    from seagull.ablations import save_init_model, variant

    v = variant(name)
    init = save_init_model(v, out / "init" / name, preset="tiny", seed=s.seed)
    run_dir = out / "runs" / name
    argv = ["train", "--stage", "1", "--data", data, "--out", str(run_dir),
            "--init", str(init), "--max-steps", str(s.steps),
            "--batch-size", str(s.batch_size), "--seed", str(s.seed), *v.train_args]
    if s.lr is not None:
        argv += ["--lr", str(s.lr)]
    if s.workers:
        argv += ["--workers", str(s.workers)]
    if s.address:
        argv += ["--address", s.address]
    _cli(argv)
    return run_dir / "model"


def run_mini(s: MiniSettings) -> dict:
    """Run the whole mini reproduction; returns ``{"reports", "table", "timings", ...}``."""
    from pipelines.evaluate import evaluate
    from seagull.ablations import variant
    from seagull.baselines.crop_cnn import train_crop_baseline
    from seagull.errors import ConfigError
    from seagull.evaluation import table1_markdown, table2_markdown

    unknown = sorted(set(s.models) - set(MODEL_CHOICES))
    if unknown or not s.models:
        raise ConfigError(f"unknown model(s) {unknown}; models: {', '.join(MODEL_CHOICES)}")
    out = Path(s.out)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    data = build_data(s, out)
    timings["data"] = time.perf_counter() - t0
    models: dict[str, Path] = {}
    for name in (m for m in SEAGULL_VARIANTS if m in s.models):
        t = time.perf_counter()
        models[variant(name).label] = train_variant(name, data, s, out)
        timings[f"train_{name}"] = time.perf_counter() - t
    if CROP in s.models:
        t = time.perf_counter()
        train_crop_baseline(data, out / "runs" / CROP, steps=s.crop_steps,
                            batch_size=max(s.batch_size, 16), seed=s.seed)
        models[CROP_LABEL] = out / "runs" / CROP
        timings["train_crop"] = time.perf_counter() - t
    reports = {}
    for label, model_dir in models.items():
        t = time.perf_counter()
        slug = label.lower().replace("/", "").replace(" ", "_").replace("-", "_")
        reports[label] = evaluate(model_dir, data, out / "reports" / slug, split="test",
                                  name=label, address=s.address)
        timings[f"evaluate_{slug}"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    table = ("## Table 1 (mini)\n\n" + table1_markdown(reports) + "\n\n## Table 2 (mini)\n\n"
             + table2_markdown(reports) + "\n")
    (out / "results.md").write_text(table)
    result = {"settings": asdict(s), "data": data, "reports": reports, "timings": timings}
    (out / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    result["table"] = table
    return result


def add_arguments(p: argparse.ArgumentParser) -> None:
    from seagull.cli._args import int_list, positive_int, seed, str_list

    d = MiniSettings(out="")
    p.add_argument("--mini", action="store_true", required=True,
                   help="the mini reproduction on the sample photos (the only mode here; the "
                        "full-scale commands are in docs/evaluation.md)")
    p.add_argument("--out", required=True, help="working folder: data, runs, reports, results")
    p.add_argument("--raw-dir", help="RAW photos to use instead of the project's samples")
    p.add_argument("--data", help="an existing dataset root (with a test split) instead of "
                                  "building one")
    p.add_argument("--sources", type=positive_int, default=d.sources,
                   help=f"RAW sources to build from (default {d.sources})")
    p.add_argument("--holdout", type=positive_int, default=d.holdout,
                   help=f"sources held out as the test split (default {d.holdout})")
    p.add_argument("--types", type=str_list, default=d.types,
                   help=f"distortion types (default {','.join(d.types)})")
    p.add_argument("--levels", type=int_list, default=d.levels,
                   help=f"levels 0…19 (default {','.join(map(str, d.levels))})")
    p.add_argument("--long-side", type=positive_int, default=d.long_side,
                   help=f"render size in pixels (default {d.long_side})")
    p.add_argument("--points", type=positive_int, default=d.points,
                   help=f"component-level point prompts per reference (default {d.points})")
    p.add_argument("--steps", type=positive_int, default=d.steps,
                   help=f"training steps of each Seagull variant (default {d.steps})")
    p.add_argument("--lr", type=float, default=d.lr,
                   help="peak learning rate of the Seagull variants (default "
                        + ("the tiny preset's" if d.lr is None else f"{d.lr:g}") + ")")
    p.add_argument("--batch-size", type=positive_int, default=d.batch_size,
                   help=f"training batch (default {d.batch_size})")
    p.add_argument("--crop-steps", type=positive_int, default=d.crop_steps,
                   help=f"training steps of the crop baseline (default {d.crop_steps})")
    p.add_argument("--models", type=str_list, default=d.models,
                   help=f"what to train and evaluate (default {','.join(d.models)})")
    p.add_argument("--workers", type=positive_int, help="training workers (default: train's)")
    p.add_argument("--seed", type=seed, default=d.seed)
    p.add_argument("--address", help="Ray cluster address (default: a local Ray)")


def settings_from_args(args: argparse.Namespace) -> MiniSettings:
    return MiniSettings(
        out=args.out, raw_dir=args.raw_dir, data=args.data, sources=args.sources,
        holdout=args.holdout, types=list(args.types), levels=list(args.levels),
        long_side=args.long_side, points=args.points, steps=args.steps, lr=args.lr,
        batch_size=args.batch_size, crop_steps=args.crop_steps, models=list(args.models),
        workers=args.workers, seed=args.seed, address=args.address)


def main(argv: list[str] | None = None) -> int:
    from seagull.cli import setup_logging

    parser = argparse.ArgumentParser(prog="python -m pipelines.reproduce", description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    setup_logging()
    result = run_mini(settings_from_args(args))
    print(result["table"])
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
