"""Mini-reproduction of the paper's main claims, end to end, on the project's sample photos.

Recipe (every step is a project command or library function, run in this process on one
local Ray):

1. ``seagull samples`` → the sample DNGs (or ``--raw-dir``);
2. the build-100w recipe (``pipelines.build_100w.run``) on them (all of them, or the first
   ``--sources``), small renders (``--long-side``), the distortion types and levels asked for
   (or ``--data``: an existing dataset, steps 2–3 skipped);
3. hold out ``--holdout`` whole photos (split groups, spread over the RAW file names:
   ``seagull.data.split.held_out_groups``, the main job's rule) as the test split, the rest
   train (``seagull.data.holdout.hold_out_sources``; rewrites the split column of their
   shards);
4. for each seed of ``--seeds`` and each Seagull variant (``full``, ``no_global``,
   ``no_local`` and, when asked for, ``no_jir``: ``seagull.ablations``): the train recipe
   (``pipelines.train.run``), stage 1 from the variant's initial model (built from ``--preset``
   with that seed), ``max_steps`` N, ``feature_cache`` OUT/features, plus the variant's own
   settings. The frozen encoder's features are computed once per image and read back by
   every later run;
5. the crop-only CNN baseline trained on the same rows, once per seed
   (``seagull.baselines.crop_cnn``);
6. ``pipelines.evaluate`` for each run on the test split → one report folder each;
7. one table (Table 1 and Table 2 layouts, each cell mean ± sd over the seeds) printed and
   written to ``OUT/results.md`` with a plot of it (``OUT/results.png``), and
   ``OUT/results.json`` holding every report and the time each step took.

    seagull reproduce --mini --out OUT [--holdout 5 --seeds 0,1,2 --steps N ...]
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

log = logging.getLogger("pipelines.reproduce")

from seagull.labels.levels import DISTORTION_TYPES
from seagull.model.config import PRESETS

SEAGULL_VARIANTS = ("full", "no_global", "no_local", "no_jir")
CROP = "crop"
MODEL_CHOICES = (*SEAGULL_VARIANTS, CROP)
# w/o Local and w/o JIR are there through --models (each costs ~5 min per seed).
DEFAULT_MODELS = ("full", "no_global", CROP)
CROP_LABEL = "Crop-based CNN"
EVAL_ACTORS = 2  # half a CPU each: both cores infer while Ray Data reads beside them


def _help(text: str, **more) -> dict:
    return {"metadata": {"help": text, **more}}


@dataclass(frozen=True)
class ReproduceConfig:
    """Everything that determines a mini run (its fields are ``seagull reproduce --mini``'s
    flags; recorded in ``OUT/results.json``)."""

    out: str = field(**_help("working folder: data, runs, reports, results"))
    raw_dir: str | None = field(default=None, **_help(
        "RAW photos to use instead of the project's samples"))
    data: str | None = field(default=None, **_help(
        "an existing dataset root (with a test split) instead of building one"))
    sources: int | None = field(default=None, **_help(
        "RAW sources to build from (default: all of them)"))
    holdout: int = field(default=5, **_help(
        "photos (split groups, spread over the file names) held out as the test split"))
    types: tuple[str, ...] = field(default=DISTORTION_TYPES, **_help("distortion types"))
    levels: tuple[int, ...] = field(default=(0, 4, 9, 14, 19), **_help("levels 0…19"))
    long_side: int = field(default=256, **_help("render size in pixels"))
    points: int = field(default=8, **_help("component-level point prompts per reference"))
    preset: str = field(default="small", **_help("model preset of the Seagull rows",
                                                 choices=tuple(sorted(PRESETS))))
    steps: int = field(default=400, **_help("training steps of each Seagull run"))
    lr: float | None = field(default=None, **_help(
        "peak learning rate of the Seagull runs (default: the preset's)"))
    batch_size: int = field(default=8, **_help("training batch"))
    crop_steps: int = field(default=300, **_help("training steps of the crop baseline"))
    models: tuple[str, ...] = field(default=DEFAULT_MODELS, **_help(
        f"the rows to train and evaluate (choices {','.join(MODEL_CHOICES)})"))
    seeds: tuple[int, ...] = field(default=(0, 1, 2), **_help(
        "each row is trained once per seed"))
    workers: int | None = field(default=None, **_help("training workers (default: train's)"))
    seed: int = field(default=0, **_help("the dataset's seed (renders, point prompts)"))
    address: str | None = field(default=None, **_help(
        "Ray cluster address (default: a local Ray)"))

    def __post_init__(self) -> None:
        from seagull.errors import ConfigError
        from seagull.isp.distortions import N_LEVELS

        unknown = sorted(set(self.models) - set(MODEL_CHOICES))
        if unknown or not self.models:
            raise ConfigError(f"unknown model(s) {unknown}; models: {', '.join(MODEL_CHOICES)}")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"--seeds must name distinct seeds, got {list(self.seeds)}")
        unknown = sorted(set(self.types) - set(DISTORTION_TYPES))
        if unknown or not self.types:
            raise ConfigError(f"--types: unknown distortion type(s) {unknown}; types: "
                              f"{', '.join(DISTORTION_TYPES)}")
        bad = [lv for lv in self.levels if not 0 <= lv < N_LEVELS]
        if bad or not self.levels:
            raise ConfigError(f"--levels must be in 0…{N_LEVELS - 1}, got {list(self.levels)}")
        if self.preset not in PRESETS:
            raise ConfigError(f"--preset {self.preset!r}: not one of "
                              f"{', '.join(sorted(PRESETS))}")
        for name in ("sources", "holdout", "long_side", "points", "steps", "batch_size",
                     "crop_steps", "workers"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ConfigError(f"--{name.replace('_', '-')} must be positive, got {value}")
        if self.lr is not None and not self.lr > 0:
            raise ConfigError(f"--lr must be positive, got {self.lr}")
        if not 0 <= self.seed < 2**32:
            raise ConfigError(f"--seed {self.seed} is outside 0 … 2**32-1")


def build_data(s: ReproduceConfig, out: Path) -> str:
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
    from seagull.data.holdout import hold_out_sources

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


def train_variant(name: str, data: str, s: ReproduceConfig, out: Path, seed: int) -> Path:
    """Step 4: one Seagull variant with one seed, stage 1 from its initial model (built from
    the preset with that seed). Returns the model folder."""
    from pipelines.train import TrainRunConfig
    from pipelines.train import run as train
    from seagull.ablations import save_init_model, variant

    v = variant(name)
    init = save_init_model(v, out / "init" / run_name(name, seed), preset=s.preset, seed=seed)
    run_dir = out / "runs" / run_name(name, seed)
    train(TrainRunConfig(stage=1, data=data, out=str(run_dir), init=str(init),
                         max_steps=s.steps, batch_size=s.batch_size, seed=seed,
                         feature_cache=str(out / "features"), lr=s.lr, workers=s.workers,
                         address=s.address, **v.train))
    return run_dir / "model"


def _slug(label: str) -> str:
    return label.lower().replace("/", "").replace(" ", "_").replace("-", "_")


def run(s: ReproduceConfig) -> dict:
    """Run the whole mini reproduction; returns ``{"reports", "table", "timings", ...}``.

    ``reports`` maps each row's label to its reports, one per seed (in ``s.seeds`` order)."""
    from pipelines.evaluate import EvaluateConfig
    from pipelines.evaluate import run as evaluate
    from seagull.ablations import variant
    from seagull.baselines.crop_cnn import train_crop_baseline
    from seagull.evaluation import table1_markdown, table2_markdown

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


def main(argv: list[str] | None = None) -> int:
    """``python -m pipelines.reproduce`` is ``seagull reproduce``: one parser, and one error edge (a
    project error is one line and exit 2)."""
    from seagull_cli import main as seagull

    return seagull(["reproduce", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
