"""``python -m pipelines.X`` (the ``ray job submit`` entrypoints) is ``seagull X``: the same
parser and the same error edge, so a bad path is one line and exit 2, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("module", "args", "names"), [
    ("train", ["--stage", "1", "--data", "{missing}", "--out", "{tmp}/run"], "{missing}"),
    ("evaluate", ["--model", "{missing}", "--data", "{tmp}", "--out", "{tmp}/r"], "{missing}"),
    ("ingest_3k", ["{missing}/ratings.csv", "--out", "{tmp}/3k"], "{missing}/ratings.csv"),
    ("reproduce", ["--mini", "--out", "{tmp}/mini", "--data", "{missing}"], "{missing}"),
    ("build_100w", ["--raw-dir", "{missing}", "--out", "{tmp}/100w"], "{missing}"),
])
def test_a_missing_path_is_one_line_and_exit_2(module, args, names, tmp_path):
    fill = {"missing": str(tmp_path / "no-such"), "tmp": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", f"pipelines.{module}",
                           *(a.format(**fill) for a in args)],
                          cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    errors = [line for line in proc.stderr.splitlines()
              if not line.startswith(("INFO ", "WARNING "))]
    assert proc.returncode == 2, proc.stderr
    assert len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert errors[0].startswith(f"seagull {module.replace('_', '-')}: error: ")
    assert names.format(**fill) in errors[0]
    assert not (tmp_path / "mini" / "runs").exists()  # nothing started before the check
