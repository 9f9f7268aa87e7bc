"""``seagull submit``: argument handling, and real submissions to a two-node Ray on loopback."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from seagull.errors import InvalidArgumentError
from seagull_cli import main
from seagull_cli.submit import ROOT, split_args


def test_split_args_keeps_submit_options_apart():
    own, rest = split_args(["--stage", "1", "--address", "http://h:8265", "--no-wait",
                            "--runtime-env=env.yaml", "--", "--address", "x"])
    assert own == {"address": "http://h:8265", "no_wait": True, "runtime_env": "env.yaml"}
    assert rest == ["--stage", "1", "--address", "x"]
    with pytest.raises(InvalidArgumentError, match="--address needs a value"):
        split_args(["--address"])


def test_dry_run_prints_entrypoint_and_runtime_env(capsys, tmp_path):
    rc = main(["submit", "inspect", str(tmp_path), "--dry-run", "--address", "http://h:8265"])
    assert rc == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["entrypoint"] == f"python -m seagull_cli inspect {tmp_path}"
    assert plan["address"] == "http://h:8265"
    assert plan["runtime_env"]["working_dir"] == str(ROOT)
    assert ".venv" in plan["runtime_env"]["excludes"]


def test_bad_job_arguments_fail_before_submitting(capsys):
    rc = main(["submit", "train", "--stage", "1", "--data", "d", "--out", "o", "--no-such-flag",
               "--address", "http://127.0.0.1:9"])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--no-such-flag" in err


def test_unknown_job_is_rejected():
    out = subprocess.run([sys.executable, "-m", "seagull", "submit", "nosuch"],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 2 and "invalid choice" in out.stderr
