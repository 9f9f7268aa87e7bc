"""Helpers for tests against the two-node loopback Ray of ``conftest.two_node_cluster``."""

from __future__ import annotations

import subprocess
import sys


def query(cluster: dict, code: str, timeout: float = 120) -> str:
    """Run Python ``code`` in a child process that talks to ``cluster`` (its auth env)."""
    out = subprocess.run([sys.executable, "-c", code], env=cluster["env"], capture_output=True,
                         text=True, timeout=timeout, check=False)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return out.stdout.strip()


def wait_for_job_agent(cluster: dict, timeout: float = 600) -> None:
    """Jobs are accepted only once a node's job agent is up, some time after ``ray start``
    returns (minutes on a loaded machine): submit a no-op job until it is taken and finishes."""
    code = f"""
import time
from ray.job_submission import JobSubmissionClient
client = JobSubmissionClient({cluster["address"]!r})
deadline = time.monotonic() + {timeout}
while True:
    try:
        job = client.submit_job(entrypoint="python -c pass")
        break
    except RuntimeError as exc:
        if "No available agent" not in str(exc) or time.monotonic() > deadline:
            raise
        time.sleep(2)
while not client.get_job_status(job).is_terminal():
    time.sleep(1)
print(client.get_job_status(job).value)
"""
    assert query(cluster, code, timeout=timeout + 120).endswith("SUCCEEDED")


def job_nodes(cluster: dict, submission_id: str) -> set[str]:
    """Ids of the nodes that ran tasks or actors of a finished job."""
    code = f"""
import json
from ray.job_submission import JobSubmissionClient
from ray.util.state import list_actors, list_tasks
address = {cluster["address"]!r}
job_id = JobSubmissionClient(address).get_job_info({submission_id!r}).job_id
kw = dict(address=address, filters=[("job_id", "=", job_id)], limit=10000,
          raise_on_missing_output=False, detail=True)
nodes = {{t.node_id for t in list_tasks(**kw) if t.node_id}}
nodes |= {{a.node_id for a in list_actors(**kw) if a.node_id}}
print(json.dumps(sorted(nodes)))
"""
    import json

    return set(json.loads(query(cluster, code).splitlines()[-1]))
