"""``seagull submit JOB [ARGS…] --address URL``: run a pipeline on a Ray cluster as a job.

The job runs ``python -m seagull_cli JOB ARGS…`` on the cluster with the runtime environment of
``cluster/runtime_env.yaml`` (this checkout's code as the working directory), and its logs are
followed until it ends; the exit code is 0 only when the job succeeded. The job's arguments are
checked here first, so a typo fails at once instead of on the cluster. Submit's own options may
stand anywhere; everything after a literal ``--`` goes to the job untouched.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from seagull.errors import InvalidArgumentError

JOBS = ("build-100w", "ingest-3k", "train", "evaluate", "reproduce", "inspect")
ROOT = Path(__file__).resolve().parents[1]

# Submit's own options: name → takes a value.
_OWN = {"--address": True, "--runtime-env": True, "--token-file": True, "--submission-id": True,
        "--entrypoint-num-cpus": True, "--entrypoint-num-gpus": True, "--no-wait": False,
        "--dry-run": False}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = __doc__.split("\n\n")[1] if __doc__ else None
    p.add_argument("job", choices=JOBS, help="the pipeline to run")
    p.add_argument("job_args", nargs=argparse.REMAINDER, metavar="ARGS",
                   help="the pipeline's arguments (see seagull JOB --help)")
    p.epilog = ("submit's options (anywhere after JOB): --address URL (else $RAY_ADDRESS; the "
                "dashboard, e.g. http://head:8265), --runtime-env FILE (default "
                "cluster/runtime_env.yaml), --token-file FILE (Ray token authentication), "
                "--submission-id ID, --entrypoint-num-cpus N, --entrypoint-num-gpus N, "
                "--no-wait (submit and return), --dry-run (check and print, submit nothing)")


def split_args(argv: list[str]) -> tuple[dict, list[str]]:
    """Separate submit's own options from the job's arguments."""
    own: dict = {}
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest += argv[i + 1:]
            break
        name, eq, value = arg.partition("=")
        if name in _OWN:
            if _OWN[name]:
                if not eq:
                    if i + 1 >= len(argv):
                        raise InvalidArgumentError(f"{name} needs a value")
                    i += 1
                    value = argv[i]
                own[name[2:].replace("-", "_")] = value
            else:
                own[name[2:].replace("-", "_")] = True
        else:
            rest.append(arg)
        i += 1
    return own, rest


def check_job_args(job: str, args: list[str]) -> None:
    """Parse ``seagull JOB ARGS`` locally; a bad argument is an InvalidArgumentError."""
    import contextlib
    import io

    from seagull_cli import build_parser

    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            build_parser().parse_args([job, *args])
    except SystemExit as exc:
        lines = [line for line in err.getvalue().splitlines() if line.strip()]
        if exc.code:
            raise InvalidArgumentError(
                f"{job}: {lines[-1] if lines else 'bad arguments'}") from None


def load_runtime_env(path: str | None) -> dict:
    import yaml

    file = Path(path) if path else ROOT / "cluster" / "runtime_env.yaml"
    try:
        env = yaml.safe_load(file.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidArgumentError(f"runtime env {file}: {exc}") from None
    wd = env.get("working_dir")
    if wd and "://" not in wd and not Path(wd).is_absolute():
        # The project's file names paths from the project root; a user's, from where they stand.
        env["working_dir"] = str((ROOT if path is None else Path.cwd()) / wd)
    return env


def run(args: argparse.Namespace) -> int:
    import shlex

    own, job_args = split_args(args.job_args)
    check_job_args(args.job, job_args)
    entrypoint = "python -m seagull_cli " + shlex.join([args.job, *job_args])
    runtime_env = load_runtime_env(own.get("runtime_env"))
    address = own.get("address") or os.environ.get("RAY_ADDRESS")
    if own.get("dry_run"):
        print(json.dumps({"address": address, "entrypoint": entrypoint,
                          "runtime_env": runtime_env}, indent=2))
        return 0
    if not address:
        raise InvalidArgumentError("no cluster: give --address URL or set RAY_ADDRESS")
    if own.get("token_file"):
        os.environ["RAY_AUTH_MODE"] = "token"
        os.environ["RAY_AUTH_TOKEN_PATH"] = str(Path(own["token_file"]).expanduser())

    from ray.job_submission import JobStatus, JobSubmissionClient

    def number(key: str) -> float | None:
        value = own.get(key)
        try:
            return None if value is None else float(value)
        except ValueError:
            raise InvalidArgumentError(f"--{key.replace('_', '-')} {value!r} is not a number"
                                       ) from None

    client = JobSubmissionClient(address)
    job_id = client.submit_job(
        entrypoint=entrypoint, runtime_env=runtime_env, submission_id=own.get("submission_id"),
        entrypoint_num_cpus=number("entrypoint_num_cpus"),
        entrypoint_num_gpus=number("entrypoint_num_gpus"),
        metadata={"project": "seagull", "job": args.job},
    )
    print(f"submitted {job_id}: {entrypoint}", file=sys.stderr, flush=True)
    if own.get("no_wait"):
        print(job_id)
        return 0

    import asyncio

    async def follow() -> None:
        async for lines in client.tail_job_logs(job_id):
            print(lines, end="", flush=True)

    try:
        asyncio.run(follow())
    except KeyboardInterrupt:
        print(f"\nstopped following; the job goes on (ray job stop {job_id} --address "
              f"{address})", file=sys.stderr)
        return 130
    info = client.get_job_info(job_id)
    status = info.status
    detail = "" if status == JobStatus.SUCCEEDED or not info.message else f" ({info.message})"
    print(f"job {job_id}: {status.value}{detail}", file=sys.stderr)
    return 0 if status == JobStatus.SUCCEEDED else 1
