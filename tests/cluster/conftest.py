"""A two-node Ray on loopback (head + worker via ``ray start``), with token authentication.

The worker node carries a custom resource (``node_b``) so that tests can observe placement.
Both ``ray start`` calls run in new process sessions; teardown kills exactly those sessions, so
no other Ray on the machine (e.g. the test session's shared one) is touched.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from two_node import wait_for_job_agent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _node_ports() -> list[str]:
    """Free ports for a node's own servers. The defaults (e.g. the dashboard agent's 52365)
    are taken when another Ray runs on the machine — the test session's own — and a node
    whose agent cannot bind never accepts a job."""
    names = ("dashboard-agent-listen-port", "dashboard-agent-grpc-port", "runtime-env-agent-port",
             "metrics-export-port", "node-manager-port", "object-manager-port")
    return [f"--{name}={_free_port()}" for name in names]


def _ray_bin() -> str:
    return str(Path(sys.executable).with_name("ray"))


@pytest.fixture(scope="session")
def two_node_cluster(tmp_path_factory):
    base = tmp_path_factory.mktemp("ray2")
    token = base / "auth_token"
    token.write_text(secrets.token_hex(32))
    # Jobs run `python` from PATH: make it this interpreter's environment.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = dict(os.environ, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token),
               RAY_USAGE_STATS_ENABLED="0", PATH=path)
    env.pop("RAY_ADDRESS", None)
    gcs, dash = _free_port(), _free_port()
    temp_dir = Path("/tmp") / f"seagull-ray2-{os.getpid()}"  # short: unix socket paths are capped
    sessions: list[int] = []

    def start(args: list[str]) -> None:
        proc = subprocess.Popen([_ray_bin(), "start", *args, "--disable-usage-stats"], env=env,
                                start_new_session=True, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        sessions.append(proc.pid)
        out, _ = proc.communicate(timeout=180)
        if proc.returncode != 0:
            raise RuntimeError(f"ray start {' '.join(args)} failed:\n{out[-2000:]}")

    try:
        start(["--head", f"--port={gcs}", "--num-cpus=1", "--node-ip-address=127.0.0.1",
               f"--temp-dir={temp_dir}", f"--dashboard-port={dash}", "--include-dashboard=true",
               "--dashboard-host=127.0.0.1", "--resources={\"node_a\": 1}",
               f"--ray-client-server-port={_free_port()}", *_node_ports()])
        start([f"--address=127.0.0.1:{gcs}", "--num-cpus=1", "--node-ip-address=127.0.0.1",
               "--resources={\"node_b\": 1}", *_node_ports()])
        cluster = {"address": f"http://127.0.0.1:{dash}", "gcs": f"127.0.0.1:{gcs}",
                   "env": env, "token": token}
        wait_for_job_agent(cluster)
        yield cluster
    finally:
        for sid in sessions:
            subprocess.run(["pkill", "-TERM", "-s", str(sid)], check=False)
        time.sleep(2)
        for sid in sessions:
            subprocess.run(["pkill", "-KILL", "-s", str(sid)], check=False)
        _ = signal  # teardown by session id only; never `ray stop` (it ends every Ray here)
