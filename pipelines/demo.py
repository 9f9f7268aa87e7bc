"""The main job: the whole system end to end on the embedded default.

    python -m pipelines.demo --out demo

A local Ray, the project's own sample data, the pretrained encoder that installs as a package
and weight-free fallbacks: it runs on a 2-core machine without a GPU or any downloaded weights
and says what it is doing at each step. It trains the small model on some sample photos,
evaluates it on photos it never saw, and ends by asking the running service about one region of
a held-out photo, clean and heavily blurred and noisy: the clean one must score highest.
Each capability of the project joins this recipe when it lands.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path


def step(number: int, total: int, text: str) -> float:
    print(f"\n=== [{number}/{total}] {text}", flush=True)
    return time.monotonic()


def done(started: float) -> None:
    print(f"    done in {time.monotonic() - started:.1f} s", flush=True)


# The main job's dataset: every distortion type, levels spread over 0…19, 256-px renders.
TYPES = ("exposure", "noise", "blur", "contrast", "colorfulness", "compression")
LEVELS = (0, 4, 9, 14, 19)
LONG_SIDE = 256
POINTS = 16
HOLD_OUT = 5  # photo groups never trained on (seagull.data.split.held_out_groups)
TRAIN_STEPS = 500  # ~2-3 minutes of the small preset on 2 cores (docs/evaluation.md)


@dataclass(frozen=True)
class DemoConfig:
    """Everything the main job takes (its fields are the command line's flags)."""

    out: str = field(default="demo", metadata={"help": "folder for everything the job writes"})
    seed: int | None = field(default=None, metadata={
        "help": "sample noise seed (default: the samples' own)"})
    steps: int = field(default=TRAIN_STEPS, metadata={
        "help": "training steps of the small model"})

    def __post_init__(self) -> None:
        from seagull.errors import ConfigError

        if self.steps <= 0:
            raise ConfigError(f"--steps must be positive, got {self.steps}")


def main(argv: list[str] | None = None) -> int:
    """``python -m pipelines.demo``: the flags of ``DemoConfig``; a project error is one line
    and exit 2, as everywhere."""
    from seagull.errors import SeagullError
    from seagull_cli._config import add_config_arguments, from_args

    parser = argparse.ArgumentParser(prog="python -m pipelines.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, DemoConfig)
    args = parser.parse_args(argv)
    try:
        return run(from_args(DemoConfig, args))
    except SeagullError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def run(config: DemoConfig) -> int:
    """The main job's steps in order; 0 when the served model ranks the clean region highest."""
    from pipelines import build_100w, evaluate, train
    from seagull.evaluation import table1_markdown
    from seagull.samples import DEFAULT_SEED
    from seagull_cli import main as seagull
    from seagull_cli import setup_logging

    setup_logging()
    out = Path(config.out)
    seed = DEFAULT_SEED if config.seed is None else config.seed
    total = 10
    t0 = time.monotonic()

    t = step(1, total, "checking the installation (seagull doctor)")
    if seagull(["doctor"]) != 0:
        print("the installation is broken; see above", file=sys.stderr)
        return 1
    done(t)

    t = step(2, total, f"making the sample RAW files in {out / 'samples'}")
    if seagull(["samples", "make", str(out / "samples"), "--seed", str(seed)]) != 0:
        return 1
    train_list, heldout_list = split_photos(out / "samples", out)
    print(f"    {len(train_list)} photos to train on, {len(heldout_list)} held out for "
          f"evaluation: {', '.join(Path(p).stem for p in heldout_list)}")
    done(t)

    t = step(3, total, "rendering one sample: the reference and 6 distortions x 20 levels, "
                       "with a contact sheet")
    renders = out / "renders" / "chelsea"
    if seagull(["render", str(out / "samples" / "chelsea.dng"), "--out", str(renders),
                "--contact-sheet"]) != 0:
        return 1
    print(f"    contact sheet: {renders / 'contact_sheet.png'}")
    done(t)

    build = {"types": TYPES, "levels": LEVELS, "long_side": LONG_SIDE, "points": POINTS}
    t = step(4, total, "building a scaled-down Seagull-100w from the training photos on a local "
                       f"Ray (seagull build-100w) into {out / 'seagull-100w'}")
    built = build_100w.run(build_100w.BuildConfig(
        raw_dir=str(out / "train_photos.txt"), out=str(out / "seagull-100w"), **build,
        test_fraction=0.0))
    print(build_100w.summary(built, str(out / "seagull-100w")))
    done(t)

    t = step(5, total, "building the evaluation set from the held-out photos only "
                       f"(seagull build-100w) into {out / 'seagull-100w-heldout'}")
    built = build_100w.run(build_100w.BuildConfig(
        raw_dir=str(out / "heldout_photos.txt"), out=str(out / "seagull-100w-heldout"),
        **build, test_fraction=1.0))
    print(build_100w.summary(built, str(out / "seagull-100w-heldout")))
    done(t)

    t = step(6, total, "dataset report and region overlays (seagull inspect)")
    if seagull(["inspect", str(out / "seagull-100w"), "--overlays",
                str(out / "seagull-100w-overlays")]) != 0:
        return 1
    done(t)

    t = step(7, total, f"training the small model ({config.steps} steps) on the training "
                       f"photos (seagull train) into {out / 'train'}")
    trained = train.run(train.TrainRunConfig(
        stage=1, preset="small", data=str(out / "seagull-100w"), out=str(out / "train"),
        max_steps=config.steps, checkpoint_every=max(1, config.steps // 3),
        feature_cache=str(out / "features")))
    print(train.summary_line(trained))
    done(t)

    t = step(8, total, "evaluating the trained model on the held-out photos (seagull evaluate "
                       f"--split test) into {out / 'report'}")
    report = evaluate.run(evaluate.EvaluateConfig(
        model=str(out / "train"), data=str(out / "seagull-100w-heldout"), split="test",
        out=str(out / "report"), name="seagull-small", actors=2,
        feature_cache=str(out / "features")))
    print(table1_markdown({"seagull-small": report}))
    print(f"    report: {out / 'report' / 'report.md'} and PNG plots beside it")
    done(t)

    t = step(9, total, "the same region of a held-out photo, clean and heavily distorted")
    photos = clean_and_distorted(out / "seagull-100w-heldout")
    done(t)

    # The last step: whatever the steps above trained is served and answers over HTTP.
    t = step(10, total, "serving the model on Ray Serve and assessing that region over HTTP")
    verdict = serve_and_assess(out, photos)
    done(t)

    print(f"\nmain job finished in {time.monotonic() - t0:.0f} s; results under {out}/")
    return 0 if verdict else 1


def split_photos(samples: Path, out: Path) -> tuple[list[str], list[str]]:
    """``HOLD_OUT`` split groups of the sample RAWs, spread over their names, are held out
    (``seagull.data.split.held_out_groups``, the mini reproduction's rule too); writes
    ``train_photos.txt`` and ``heldout_photos.txt`` (build-100w list files) in ``out``.
    Near-duplicates share a split group (``seagull.data.split.split_group``), so a stereo pair
    is never on both sides."""
    from seagull.data.split import held_out_groups, split_group

    files = sorted(str(p.resolve()) for p in samples.glob("*.dng"))
    held = held_out_groups(files, HOLD_OUT)
    train = [f for f in files if split_group(f) not in held]
    heldout = [f for f in files if split_group(f) in held]
    (out / "train_photos.txt").write_text("".join(f + "\n" for f in train))
    (out / "heldout_photos.txt").write_text("".join(f + "\n" for f in heldout))
    return train, heldout


def clean_and_distorted(root: Path) -> dict:
    """A held-out photo's reference render and its blur and noise renders at the strongest level
    of the build, with one region (its largest object region) to ask about in all three."""
    import pyarrow.compute as pc

    from seagull.data.factory import decode_image
    from seagull.data.reader import table_dataset

    top = max(LEVELS)
    rois = table_dataset(str(root), "rois").to_table(
        filter=pc.field("level") == top, columns=["source_id", "distortion", "encoded",
                                                  "regions"]).to_pylist()
    images = table_dataset(str(root), "images").to_table(
        filter=pc.field("distortion") == "reference",
        columns=["source_id", "source", "encoded"]).to_pylist()
    by_source: dict[str, dict] = {}
    for row in rois:
        by_source.setdefault(row["source_id"], {})[row["distortion"]] = row
    for ref in sorted(images, key=lambda r: r["source"]):
        renders = by_source.get(ref["source_id"], {})
        if "blur" in renders and "noise" in renders and renders["blur"]["regions"]:
            regions = renders["blur"]["regions"]
            objects = [r for r in regions if r["kind"] == "object"] or regions
            region = max(objects, key=lambda r: r["area"])
            mask = {"size": list(region["mask"]["size"]), "counts": region["mask"]["counts"]}
            photos = {"clean": decode_image(ref["encoded"]),
                      f"blur {top}": decode_image(renders["blur"]["encoded"]),
                      f"noise {top}": decode_image(renders["noise"]["encoded"])}
            name = Path(ref["source"]).stem
            print(f"    {name}: its largest object region ({region['area']} px) in the clean "
                  f"render and at blur and noise level {top}")
            return {"name": name, "mask": mask, "photos": photos}
    raise SystemExit(f"{root}: no held-out photo with blur and noise renders at level {top}")


def serve_and_assess(out: Path, chosen: dict) -> bool:
    """Serve the model trained under ``out``, ask about one region of each photo over HTTP,
    print the three answers; True when the clean photo's region scores highest."""
    from serve.local import assess_over_http
    from serve.models import default_model_dir

    model_dir = default_model_dir(out)
    answers = assess_over_http(list(chosen["photos"].values()), {"mask": chosen["mask"]},
                               model_dir=str(model_dir) if model_dir else None)
    first = answers[0]["model"]
    print(f"    model {first['name']} {first['version']} ({first['source']}), "
          f"segmenter {first['segmenter']['name']}")
    scores = {}
    for label, answer in zip(chosen["photos"], answers):
        q, imp = answer["quality"], answer["importance"]
        kinds = ", ".join(f"{d.get('level', '')} {d['type']}".strip()
                          for d in answer["distortions"]) or "none"
        scores[label] = q["score"]
        print(f"    {chosen['name']} {label:>8}: quality {q['level']} ({q['score']:.3f}), "
              f"importance {imp['level']} ({imp['score']:.3f}), distortions: {kinds}")
    clean = scores.pop("clean")
    wins = all(clean > other for other in scores.values())
    print("    the clean region scores higher than both distorted copies" if wins else
          "    WRONG: a distorted copy scores at least as high as the clean region")
    return wins


if __name__ == "__main__":
    sys.exit(main())
