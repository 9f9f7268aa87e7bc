"""``seagull serve``: arguments, and a real foreground run stopped by SIGTERM."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from serve_helpers import free_port, png_bytes, scene

ROOT = Path(__file__).resolve().parents[2]


def _seagull(*args, **kwargs):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "seagull", *args], capture_output=True,
                          text=True, env=env, timeout=120, check=False, **kwargs)


def test_help_lists_the_options():
    result = _seagull("serve", "--help")
    assert result.returncode == 0
    for option in ("--model", "--sam", "--port", "--address", "--host"):
        assert option in result.stdout


def test_bad_arguments_fail_fast(tmp_path):
    result = _seagull("serve", "--model", str(tmp_path / "missing"))
    assert result.returncode == 2
    assert "--model" in result.stderr and "not a folder" in result.stderr
    result = _seagull("serve", "--sam", str(tmp_path / "sam.pth"))
    assert result.returncode == 2 and "no such file" in result.stderr
    result = _seagull("serve", "--port", "0")
    assert result.returncode == 2


@pytest.mark.slow
@pytest.mark.ray
def test_foreground_serve_answers_a_click_and_stops_on_sigterm(tmp_path):
    import httpx

    port = free_port()
    # Ray's socket paths must stay under 107 bytes: a short temp dir of its own, not tmp_path.
    ray_tmp = tempfile.mkdtemp(prefix="sg-", dir="/tmp")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               RAY_TMPDIR=ray_tmp)
    env.pop("RAY_ADDRESS", None)
    env.pop("SEAGULL_API_KEY", None)
    log = open(tmp_path / "serve.log", "w+")  # noqa: SIM115 - the server writes it until killed
    process = subprocess.Popen([sys.executable, "-m", "seagull", "serve", "--port", str(port),
                                "--num-cpus", "2"], cwd=tmp_path, env=env, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            try:
                if httpx.get(url + "/healthz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(2)
        else:
            pytest.fail("seagull serve did not come up:\n" + (tmp_path / "serve.log").read_text()[-3000:])
        r = httpx.post(url + "/v1/assess", timeout=300,
                       files={"image": ("s.png", png_bytes(scene()), "image/png")},
                       data={"point": "40,45"})
        assert r.status_code == 200, r.text
        assert r.json()["model"]["source"] == "fresh:small"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=120) == 0
        text = (tmp_path / "serve.log").read_text()
        assert "ready at" in text and "stopping" in text
        assert "NO TRAINED MODEL" in text  # the loud warning
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()
        shutil.rmtree(ray_tmp, ignore_errors=True)


def test_the_model_is_resolved_and_checked_before_ray_starts(tmp_path):
    """`--model` takes a model folder or a training run's folder (as assess and evaluate do);
    a folder that cannot be served is a one-line error here, not in a replica after start-up."""
    import json

    import torch

    from seagull.errors import InvalidArgumentError, WeightsNotFoundError
    from seagull.model import SeagullModel
    from seagull_cli.serve import _resolve_model

    torch.manual_seed(0)
    run = tmp_path / "run"
    SeagullModel.from_preset("tiny").save_pretrained(run / "model")
    assert _resolve_model(str(run)) == str((run / "model").resolve())
    assert _resolve_model(str(run / "model")) == str((run / "model").resolve())
    with pytest.raises(WeightsNotFoundError, match="neither seagull_config.json"):
        _resolve_model(str(tmp_path))
    (run / "model" / "trainable.safetensors").unlink()
    with pytest.raises(WeightsNotFoundError, match="trainable.safetensors is missing"):
        _resolve_model(str(run))
    crop = tmp_path / "crop"
    crop.mkdir()
    (crop / "crop_baseline.json").write_text(json.dumps({}))
    with pytest.raises(InvalidArgumentError, match="crop baseline"):
        _resolve_model(str(crop))
    result = _seagull("serve", "--model", str(run))
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "trainable.safetensors is missing" in result.stderr and "Ray" not in result.stderr
