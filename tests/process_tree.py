"""Killing a whole local run at once, as a power cut would: the driver and everything it started.

Killing the driver's process group is not enough: Ray's daemons and workers run in sessions of
their own and keep going for a while (a training worker then writes rows and checkpoints after
"the kill"). Every descendant is collected first, then all are killed and waited for.
"""

from __future__ import annotations

import os
import signal

import psutil


def kill_tree(pid: int, timeout: float = 60) -> None:
    """SIGKILL process ``pid``, its process group and all its descendants; wait until gone."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        procs = []
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for proc in procs:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    running = [p for p in alive if _running(p)]  # a zombie waits for its reaper, harmlessly
    assert not running, f"still running after SIGKILL: {[p.pid for p in running]}"


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
