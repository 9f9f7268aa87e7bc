"""serve/config.yaml → deployment options for a small local machine, and running it in-process.

The production configuration asks for GPUs and whole CPUs, and autoscales; on a 2-CPU machine
without a GPU three model deployments at one CPU each cannot start. ``local_options`` keeps the
configuration's deployments and limits but gives every replica a fraction of a CPU, no GPU and
one replica to start (autoscaling up to ``max_replicas``).
"""

from __future__ import annotations

import copy
from pathlib import Path

from seagull.errors import ConfigError

CONFIG_PATH = Path(__file__).resolve().parent / "config.yaml"

# Fractions of a CPU per replica on a small machine (Ray's bookkeeping, not a hard cap).
LOCAL_CPUS = {"Gateway": 0.2, "ImageStore": 0.05, "Segmenter": 0.3, "Assessor": 0.3}


def read_config(path: str | Path = CONFIG_PATH) -> dict:
    """The parsed Serve configuration (one application)."""
    import yaml

    try:
        config = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the Serve configuration ({exc})") from None
    apps = (config or {}).get("applications") or []
    if len(apps) != 1:
        raise ConfigError(f"{path}: expected exactly one application, found {len(apps)}")
    return config


def deployment_options(config: dict) -> dict[str, dict]:
    """deployment name → options for ``Deployment.options`` from the configuration."""
    out = {}
    for entry in config["applications"][0].get("deployments") or []:
        entry = dict(entry)
        name = entry.pop("name")
        out[name] = entry
    return out


def local_options(config: dict, max_replicas: int = 1) -> dict[str, dict]:
    """Options for a small machine: fractional CPUs, no GPUs, one replica each to start."""
    out = {}
    for name, entry in deployment_options(config).items():
        entry = copy.deepcopy(entry)
        actor = entry.setdefault("ray_actor_options", {})
        actor["num_cpus"] = LOCAL_CPUS.get(name, 0.1)
        actor.pop("num_gpus", None)
        if "autoscaling_config" in entry:
            scaling = entry["autoscaling_config"]
            scaling.update(min_replicas=1, initial_replicas=1,
                           max_replicas=max(1, max_replicas))
        else:
            entry["num_replicas"] = 1
        out[name] = entry
    return out


def app_args(config: dict, **overrides) -> dict:
    """The application's ``args`` with ``overrides`` (None values are left out)."""
    args = dict(config["applications"][0].get("args") or {})
    args.update({k: v for k, v in overrides.items() if v is not None})
    return args


def run_local(args: dict, options: dict[str, dict], *, host: str = "127.0.0.1", port: int = 8000,
              name: str = "seagull", blocking: bool = False):
    """Start Serve's HTTP proxy on ``host:port`` and run the application on the current Ray.

    Returns the Gateway's handle once every replica is up.
    """
    from ray import serve

    from serve.app import ServeSettings, compose

    serve.start(http_options={"host": host, "port": port})
    app = compose(ServeSettings.from_args(args), options)
    return serve.run(app, name=name, route_prefix="/", blocking=blocking)
