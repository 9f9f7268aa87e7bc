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
    total = 3
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

    # Training reads a dataset in the rois schema; until the factory's sample dataset is part
    # of this job, a synthetic one of the same schema stands in (seagull.train.synthetic).
    from seagull.train.synthetic import write_rois_dataset

    t = step(3, total, f"training the tiny model for a few minutes in {out / 'train'}")
    data = write_rois_dataset(out / "train-data", n_images=24, test_images=4)
    if seagull(["train", "--stage", "1", "--data", data, "--out", str(out / "train"),
                "--max-steps", "40", "--checkpoint-every", "20", "--val-split", "test"]) != 0:
        return 1
    done(t)

    print(f"\nmain job finished in {time.monotonic() - t0:.0f} s; results under {out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
