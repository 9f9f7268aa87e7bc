"""Pipelines submitted with ``seagull submit`` to a two-node Ray on loopback run to success,
and their work is observed on both nodes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from two_node import job_nodes

REPO = Path(__file__).resolve().parents[2]


def submit(cluster: dict, submission_id: str, *job: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "seagull", "submit", *job, "--address", cluster["address"],
         "--token-file", str(cluster["token"]), "--submission-id", submission_id],
        env=cluster["env"], cwd=REPO, capture_output=True, text=True, timeout=1500, check=False)


@pytest.mark.slow
@pytest.mark.ray
def test_build_100w_runs_as_a_job_on_both_nodes(two_node_cluster, sample_dir, tmp_path):
    import shutil

    raw = tmp_path / "raw"
    raw.mkdir()
    for name in ("chelsea.dng", "flower.dng"):
        shutil.copy(sample_dir / name, raw / name)
    (raw / "broken.dng").write_bytes(b"not a raw")
    out = tmp_path / "out"
    job = submit(two_node_cluster, "build-two-nodes", "build-100w", "--raw-dir", str(raw),
                 "--out", str(out), "--types", "noise,compression", "--levels", "0,19",
                 "--long-side", "128", "--points", "8", "--no-progress")
    assert job.returncode == 0, job.stdout[-3000:] + job.stderr[-3000:]
    assert "SUCCEEDED" in job.stderr
    import pyarrow.dataset as pads

    assert pads.dataset(str(out / "rois")).count_rows() == 2 * 2 * 2
    assert pads.dataset(str(out / "errors")).to_table().column("source").to_pylist() == [
        str(raw / "broken.dng")]
    assert len(job_nodes(two_node_cluster, "build-two-nodes")) == 2


@pytest.mark.slow
@pytest.mark.ray
def test_tiny_training_runs_as_a_job_on_both_nodes(two_node_cluster, tmp_path):
    from seagull.train.synthetic import write_rois_dataset

    data = write_rois_dataset(tmp_path / "data", n_images=6, size=64, test_images=1)
    run_dir = tmp_path / "run"
    # Nodes of 1 CPU each: the two workers (0.5 CPU) and Ray Data's feed (read tasks need a
    # whole CPU, docs/method.md) cannot share one node, so the job's work spans both.
    job = submit(two_node_cluster, "train-two-nodes", "train", "--stage", "1", "--data",
                 str(data), "--out", str(run_dir), "--preset", "tiny", "--workers", "2",
                 "--cpus-per-worker", "0.5", "--max-steps", "4", "--checkpoint-every", "2")
    assert job.returncode == 0, job.stdout[-3000:] + job.stderr[-3000:]
    assert (run_dir / "model" / "seagull_config.json").is_file()
    import csv

    with open(run_dir / "metrics.csv") as fh:
        steps = [int(r["step"]) for r in csv.DictReader(fh)]
    assert steps[-1] == 4
    assert len(job_nodes(two_node_cluster, "train-two-nodes")) == 2
