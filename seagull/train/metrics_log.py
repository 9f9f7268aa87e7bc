"""The run's metrics: ``RUN_DIR/metrics.csv`` (one row per optimizer step) and TensorBoard events.

A resumed run continues the same files: rows of steps after the checkpoint it resumes from are
dropped first (those steps are trained again), so every step appears once.
"""

from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path
from typing import Self

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
        # A new file replaces the old one whole: a reader following the file (ProgressPrinter)
        # sees another file and starts over, never a shorter one that has grown back.
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        with tmp.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(kept)
        os.replace(tmp, self.path)
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
    with Path(path).open(newline="") as fh:
        return _parse(fh)


def _parse(lines, skip_bad: bool = False) -> list[dict]:
    rows = []
    for r in csv.DictReader(lines):
        try:
            rows.append({k: (None if v == "" else int(v) if k in ("step", "epoch")
                             else float(v)) for k, v in r.items()})
        except (ValueError, TypeError):
            if not skip_bad:
                raise
    return rows


def progress_line(row: dict, total: int) -> str:
    """The console line of one ``metrics.csv`` row (as ``read_metrics`` returns it)."""
    text = (f"step {row['step']}/{total} epoch {row['epoch']} loss {row['loss']:.4f} "
            f"lr {row['lr']:.2e} {row['samples_per_s']:.1f} samples/s")
    if row.get("val_srocc") is not None:
        text += f" val SROCC {row['val_srocc']:.3f}"
    return text


class ProgressPrinter:
    """Prints each new row of a run's ``metrics.csv`` while training runs elsewhere.

    The driver runs it beside ``trainer.fit()``: rank 0 writes the file into the run folder (the
    run's storage, visible to the driver on a cluster too), so progress reaches the console
    however Ray's worker output is routed. Rows that were in the file before it started are not
    printed again; the steps a resumed run trains again are (their rows are new). Each poll
    reads only the bytes appended since the last one (a long run's file grows to megabytes); a
    file replaced by a resumed run is read again from its start.
    """

    def __init__(self, path: str | Path, total: int, every: int = 1, interval: float = 1.0,
                 out=None):
        import sys
        import threading

        self.path, self.total, self.every, self.interval = Path(path), total, every, interval
        self.out = out or sys.stdout
        self._file, self._offset, self._header = None, 0, ""
        self._seen: set[tuple] = set()
        self._seen.update(self._key(r) for r in self._new_rows())
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="train-progress", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.poll()  # whatever was written after the last poll

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.poll()

    @staticmethod
    def _key(row: dict) -> tuple:
        return tuple(row.get(c) for c in COLUMNS)

    def _new_rows(self) -> list[dict]:
        """The complete rows appended since the last call (a line still being written is left
        for later; a replaced or shortened file is read from its start)."""
        try:
            stat = self.path.stat()
            if (stat.st_dev, stat.st_ino) != self._file or stat.st_size < self._offset:
                self._file, self._offset, self._header = (stat.st_dev, stat.st_ino), 0, ""
            if stat.st_size == self._offset:
                return []
            with self.path.open("rb") as fh:
                fh.seek(self._offset)
                chunk = fh.read(stat.st_size - self._offset)
        except OSError:
            return []
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self._offset += len(complete)
        text = complete.decode()
        if not self._header:
            header, _, text = text.partition("\n")
            self._header = header + "\n"
        return _parse(io.StringIO(self._header + text, newline=""), skip_bad=True)

    def poll(self) -> None:
        for row in self._new_rows():
            key = self._key(row)
            if key in self._seen or row.get("loss") is None:
                continue
            self._seen.add(key)
            if row["step"] % self.every == 0 or row["step"] == self.total:
                print(progress_line(row, self.total), file=self.out, flush=True)
