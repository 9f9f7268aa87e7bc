"""``seagull serve``: the HTTP service (Ray Serve) in the foreground, or deployed to a cluster.

Locally (no ``--address``/``RAY_ADDRESS``) it starts a Ray on this machine, runs the
application of serve/config.yaml with local overrides (fractional CPUs, no GPUs, one replica
each) and serves until Ctrl-C or SIGTERM, then shuts Serve and Ray down. With ``--address`` it
deploys the production configuration to that cluster and returns.
"""

from __future__ import annotations

import argparse

from seagull_cli._args import positive_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", metavar="DIR",
                        help="a trained model folder (save_pretrained); default: the one the "
                             "README's main job trained under demo/, else a fresh small model "
                             "(with a warning)")
    parser.add_argument("--sam", metavar="CHECKPOINT",
                        help="a SAM checkpoint (.pth); default: the configured SAM weights, "
                             "else the classical fallback")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1; 0.0.0.0 for all)")
    parser.add_argument("--port", type=positive_int, default=8000, help="HTTP port (8000)")
    parser.add_argument("--address", default=None,
                        help="a Ray cluster to deploy to (else RAY_ADDRESS, else a local Ray "
                             "in the foreground)")
    parser.add_argument("--config", metavar="YAML", default=None,
                        help="the Serve configuration (default: serve/config.yaml)")
    parser.add_argument("--max-replicas", type=positive_int, default=1,
                        help="local runs: autoscaling ceiling per model deployment (1)")
    parser.add_argument("--num-cpus", type=positive_int, default=None,
                        help="local runs: CPUs the local Ray may use (default: all)")


def _resolve_model(model: str | None):
    """The model folder the replicas will load, checked here before Ray starts: a model folder
    or a training run's (``seagull.assessors.resolve_model_dir``, as every command accepts),
    holding a Seagull model whose files are all there (``SeagullModel.read_saved``)."""
    from pathlib import Path

    from seagull.assessors import model_kind, resolve_model_dir
    from seagull.errors import InvalidArgumentError
    from seagull.model import SeagullModel

    if model:
        path = Path(model).expanduser().resolve()
        if not path.is_dir():
            raise InvalidArgumentError(f"--model {model}: not a folder")
        path = resolve_model_dir(path)
        if model_kind(path) != "seagull":
            raise InvalidArgumentError(f"--model {model}: a crop baseline, which the service "
                                       "does not serve (it serves Seagull models)")
        SeagullModel.read_saved(path)
        return str(path)
    from serve.models import default_model_dir

    found = default_model_dir()
    return str(found.resolve()) if found is not None else None


def run(args: argparse.Namespace) -> int:
    import logging
    import os
    from pathlib import Path

    from seagull.errors import InvalidArgumentError
    from serve.local import CONFIG_PATH, app_args, deployment_options, local_options, read_config

    log = logging.getLogger("seagull")
    config = read_config(args.config or CONFIG_PATH)
    sam = None
    if args.sam:
        sam_path = Path(args.sam).expanduser().resolve()
        if not sam_path.is_file():
            raise InvalidArgumentError(f"--sam {args.sam}: no such file")
        sam = str(sam_path)
    model_dir = _resolve_model(args.model)
    log.info("model: %s", model_dir or "none found: a freshly initialised small model")
    params = app_args(config, model_dir=model_dir, sam_checkpoint=sam)

    from serve.local import deploy, serve_foreground

    address = args.address or os.environ.get("RAY_ADDRESS")
    if address:
        deploy(address, params, deployment_options(config), port=args.port)
        print(f"seagull serve: deployed to {address} (HTTP port {args.port} on every node)")
        return 0
    serve_foreground(params, local_options(config, max_replicas=args.max_replicas),
                     host=args.host, port=args.port, num_cpus=args.num_cpus)
    return 0
