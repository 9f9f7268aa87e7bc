"""The main job: the whole system end to end on the embedded default.

    python -m pipelines.demo --out demo

A local Ray, the project's own sample data and weight-free fallbacks or tiny models: it runs on a
2-core machine without a GPU or any downloaded weights and says what it is doing at each step.
Each capability of the project joins this recipe when it lands.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def step(number: int, total: int, text: str) -> float:
    print(f"\n=== [{number}/{total}] {text}", flush=True)
    return time.monotonic()


def done(started: float) -> None:
    print(f"    done in {time.monotonic() - started:.1f} s", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="demo", help="folder for everything the job writes")
    parser.add_argument("--seed", type=int, default=None, help="sample noise seed")
    args = parser.parse_args(argv)

    from seagull.cli import main as seagull
    from seagull.cli import setup_logging
    from seagull.samples import DEFAULT_SEED

    setup_logging()
    out = Path(args.out)
    seed = DEFAULT_SEED if args.seed is None else args.seed
    total = 8
    t0 = time.monotonic()

    t = step(1, total, "checking the installation (seagull doctor)")
    if seagull(["doctor"]) != 0:
        print("the installation is broken; see above", file=sys.stderr)
        return 1
    done(t)

    t = step(2, total, f"making the sample RAW files in {out / 'samples'}")
    if seagull(["samples", "make", str(out / "samples"), "--seed", str(seed)]) != 0:
        return 1
    done(t)

    t = step(3, total, "rendering one sample: the reference and 6 distortions x 20 levels, "
                       "with a contact sheet")
    renders = out / "renders" / "chelsea"
    if seagull(["render", str(out / "samples" / "chelsea.dng"), "--out", str(renders),
                "--contact-sheet"]) != 0:
        return 1
    print(f"    contact sheet: {renders / 'contact_sheet.png'}")
    done(t)

    t = step(4, total, "building a scaled-down Seagull-100w from the samples on a local Ray "
                       f"(seagull build-100w) into {out / 'seagull-100w'}")
    if seagull(["build-100w", "--raw-dir", str(out / "samples"), "--out",
                str(out / "seagull-100w"), "--types", "noise,blur,compression", "--levels",
                "0,10,19", "--long-side", "256", "--points", "16", "--max-sources", "4",
                "--test-fraction", "0.3"]) != 0:
        return 1
    done(t)

    t = step(5, total, "dataset report and region overlays (seagull inspect)")
    if seagull(["inspect", str(out / "seagull-100w"), "--overlays",
                str(out / "seagull-100w-overlays")]) != 0:
        return 1
    done(t)

    t = step(6, total, "training the tiny model for a few minutes on that dataset "
                       f"(seagull train) into {out / 'train'}")
    if seagull(["train", "--stage", "1", "--data", str(out / "seagull-100w"), "--out",
                str(out / "train"), "--max-steps", "40", "--checkpoint-every", "20"]) != 0:
        return 1
    done(t)

    split = evaluation_split(out / "seagull-100w")
    t = step(7, total, f"evaluating the trained model on the {split} split (seagull evaluate) "
                       f"into {out / 'report'}")
    if split == "train":
        print("    (the few demo sources all fell in the train split: this shows the harness, "
              "not generalisation)")
    if seagull(["evaluate", "--model", str(out / "train"), "--data", str(out / "seagull-100w"),
                "--split", split, "--out", str(out / "report")]) != 0:
        return 1
    print(f"    report: {out / 'report' / 'report.md'} and PNG plots beside it")
    done(t)

    # The last step: whatever the steps above trained is served and answers a click.
    t = step(8, total, "serving the model on Ray Serve and answering one click over HTTP")
    serve_one_click(out)
    done(t)

    print(f"\nmain job finished in {time.monotonic() - t0:.0f} s; results under {out}/")
    return 0


def evaluation_split(root: Path) -> str:
    """``test`` when the build holds test rows (splits hash the source), else ``train``."""
    import pyarrow.compute as pc
    import pyarrow.dataset as pads

    splits = pads.dataset(str(root / "rois")).to_table(columns=["split"]).column("split")
    return "test" if pc.any(pc.equal(splits, "test")).as_py() else "train"


def serve_one_click(out: Path) -> None:
    """Serve the model trained under ``out`` (else a fresh tiny one), click once, print it."""
    import numpy as np
    from PIL import Image
    from skimage import data

    from serve.local import answer_one_click
    from serve.models import default_model_dir

    model_dir = default_model_dir(out)
    photo = np.asarray(Image.fromarray(data.astronaut()).resize((256, 256)))
    answer = answer_one_click(photo, (118.0, 60.0),
                              model_dir=str(model_dir) if model_dir else None)
    print(f"    model {answer['model']['name']} {answer['model']['version']} "
          f"({answer['model']['source']}), segmenter {answer['model']['segmenter']['name']}")
    print(f"    click at (118, 60): quality {answer['quality']['level']} "
          f"({answer['quality']['score']:.3f}), importance {answer['importance']['level']} "
          f"({answer['importance']['score']:.3f}), distortions "
          f"{[d['type'] for d in answer['distortions']] or 'none'}")


if __name__ == "__main__":
    sys.exit(main())
