"""The run's metrics: ``RUN_DIR/metrics.csv`` (one row per optimizer step) and TensorBoard events.

A resumed run continues the same files: rows of steps after the checkpoint it resumes from are
dropped first (those steps are trained again), so every step appears once.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

# step_s: the step's wall time; data_s: of it, the time spent waiting on the data feed and
# building batches (both means over ranks). A new epoch's first step includes the feed's restart.
FLUSH_SECS = 10
COLUMNS = ("step", "epoch", "loss", "lr", "samples_per_s", "tokens_per_s", "step_s", "data_s",
           "val_srocc", "val_plcc")


class MetricsLog:
    """Append-only CSV plus a TensorBoard writer under ``run_dir`` (rank 0 only)."""

    def __init__(self, run_dir: str | Path, resume_step: int = 0):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.run_dir / "metrics.csv"
        kept = []
        if self.path.is_file():
            with self.path.open(newline="") as fh:
                kept = [r for r in csv.DictReader(fh) if int(r["step"]) <= resume_step]
        with self.path.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(kept)
        self._tb = None
        self._tb_dir = self.run_dir / "tensorboard"

    def _writer(self):
        if self._tb is None:
            from torch.utils.tensorboard import SummaryWriter

            # Written out every few seconds and at close, not per step: the CSV is the durable
            # per-step record, and a flush per step slows rank 0 (and so every rank) down.
            self._tb = SummaryWriter(str(self._tb_dir), flush_secs=FLUSH_SECS)
        return self._tb

    def log(self, row: dict) -> None:
        """One row; ``step`` required, missing columns left empty, NaN written as empty."""
        clean = {k: ("" if v is None or (isinstance(v, float) and math.isnan(v)) else v)
                 for k, v in row.items() if k in COLUMNS}
        with self.path.open("a", newline="") as fh:
            csv.DictWriter(fh, fieldnames=COLUMNS).writerow(clean)
        writer = self._writer()
        for key, value in clean.items():
            if key != "step" and value != "":
                writer.add_scalar(f"train/{key}" if not key.startswith("val_") else
                                  f"val/{key[4:]}", float(value), int(row["step"]))

    def flush(self) -> None:
        """Events written so far to disk (training calls it at every checkpoint)."""
        if self._tb is not None:
            self._tb.flush()

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


def read_metrics(path: str | Path) -> list[dict]:
    """``metrics.csv`` back as dicts of floats (empty cells → None; ``step``/``epoch`` int)."""
    rows = []
    with Path(path).open(newline="") as fh:
        for r in csv.DictReader(fh):
            rows.append({k: (None if v == "" else int(v) if k in ("step", "epoch") else float(v))
                         for k, v in r.items()})
    return rows
