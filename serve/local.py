"""serve/config.yaml → deployment options for a small local machine, and running it in-process.

The production configuration asks for GPUs and whole CPUs, and autoscales; on a 2-CPU machine
without a GPU three model deployments at one CPU each cannot start. ``local_options`` keeps the
configuration's deployments and limits but gives every replica the resources serve/local.yaml
names for it (fractions of a CPU, no GPU) and one replica to start (autoscaling up to
``max_replicas``).

Replica resources live in YAML only: production ones in serve/config.yaml, local ones in
serve/local.yaml; the ``@serve.deployment`` decorators name none. The local resources are a
file of their own, not a section of config.yaml, because config.yaml is the production
configuration exactly as ``serve run``/``serve deploy`` take it and as the KubeRay RayService
embeds it (cluster/kuberay/rayservice.yaml, checked equal by a test). Ray's schema accepts
keys it does not know without a word, so a local section there would ship to every cluster,
mean nothing there and hide its own typos. A separate file also keeps the local resources
when ``seagull serve --config`` names another production configuration with the same
deployments.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING

from seagull.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

CONFIG_PATH = Path(__file__).resolve().parent / "config.yaml"
LOCAL_PATH = Path(__file__).resolve().parent / "local.yaml"


def _load_yaml(path: str | Path, what: str):
    import yaml

    try:
        return yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the {what} ({exc})") from None


def read_config(path: str | Path = CONFIG_PATH) -> dict:
    """The parsed Serve configuration (one application)."""
    config = _load_yaml(path, "Serve configuration")
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


def read_local_resources(path: str | Path = LOCAL_PATH) -> dict[str, dict]:
    """deployment name → ``ray_actor_options`` of a local run, from serve/local.yaml."""
    local = _load_yaml(path, "local replica resources")
    entries = (local or {}).get("deployments") if isinstance(local, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{path}: expected a non-empty list under 'deployments'")
    out: dict[str, dict] = {}
    for entry in entries:
        name = entry.get("name") if isinstance(entry, dict) else None
        actor = entry.get("ray_actor_options") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not isinstance(actor, dict) or "num_cpus" not in actor:
            raise ConfigError(f"{path}: every deployment needs a name and ray_actor_options "
                              f"with num_cpus, got {entry!r}")
        if name in out:
            raise ConfigError(f"{path}: deployment {name} is listed twice")
        out[name] = dict(actor)
    return out


def local_options(config: dict, max_replicas: int = 1,
                  resources: dict[str, dict] | None = None) -> dict[str, dict]:
    """Options for a small machine: each replica's ``ray_actor_options`` from ``resources``
    (default: serve/local.yaml), so no GPUs; one replica each to start.

    ``ConfigError`` unless ``resources`` names exactly the configuration's deployments.
    """
    if resources is None:
        resources = read_local_resources()
    production = deployment_options(config)
    missing, unknown = sorted(set(production) - set(resources)), \
        sorted(set(resources) - set(production))
    if missing or unknown:
        raise ConfigError(f"local replica resources: missing {missing}, unknown {unknown} "
                          f"(the deployments are {sorted(production)})")
    out = {}
    for name, entry in production.items():
        entry = copy.deepcopy(entry)
        entry["ray_actor_options"] = copy.deepcopy(resources[name])
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


def serve_foreground(args: dict, options: dict[str, dict], *, host: str = "127.0.0.1",
                     port: int = 8000, num_cpus: int | None = None) -> None:
    """Start a local Ray, serve until Ctrl-C or SIGTERM, then shut Serve and Ray down."""
    import signal
    import threading

    import ray
    from ray import serve

    stop = threading.Event()
    ray.init(num_cpus=num_cpus, include_dashboard=False, configure_logging=False)
    # Ctrl-C and SIGTERM both stop the service cleanly (a backgrounded process ignores SIGINT).
    # Installed after ray.init, whose core worker installs its own handlers (SIGTERM aborts).
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        run_local(args, options, host=host, port=port, name="seagull")
        if not stop.is_set():
            print(f"seagull serve: ready at http://{host}:{port}/ "
                  f"(API docs at /docs; Ctrl-C to stop)", flush=True)
        while not stop.wait(0.5):
            pass
        print("seagull serve: stopping", flush=True)
    finally:
        try:
            serve.shutdown()
        finally:
            ray.shutdown()


def deploy(address: str, args: dict, options: dict[str, dict], *, port: int = 8000) -> None:
    """Deploy the application to the Ray cluster at ``address`` and return (it keeps running)."""
    import ray

    ray.init(address=address)
    try:
        run_local(args, options, host="0.0.0.0", port=port, name="seagull")
    finally:
        ray.shutdown()  # disconnects this driver; Serve's actors are detached and stay


def assess_over_http(images: list[np.ndarray], prompt: dict, *, model_dir: str | None = None,
                     port: int | None = None) -> list[dict]:
    """Serve the application on this machine, upload each image over HTTP, ask about the region
    ``prompt`` gives (``{"point": [x, y]}``, ``{"box": …}`` or ``{"mask": RLE}``) in each, and
    return the assessments in order; then shut Serve down (Ray is left as it was found).

    The README's main job ends with this: the trained model answering about one region.
    """
    import io

    import httpx
    import ray
    from PIL import Image
    from ray import serve

    if port is None:
        import socket

        with socket.socket() as sock:  # a free loopback port
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
    config = read_config()
    started_ray = not ray.is_initialized()
    if started_ray:
        ray.init(include_dashboard=False, configure_logging=False, log_to_driver=False)
    try:
        run_local(app_args(config, model_dir=model_dir), local_options(config), port=port)
        answers = []
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600) as client:
            for image in images:
                buffer = io.BytesIO()
                Image.fromarray(image).save(buffer, format="PNG")
                uploaded = client.post("/v1/images", files={
                    "image": ("region.png", buffer.getvalue(), "image/png")})
                uploaded.raise_for_status()
                answer = client.post("/v1/assess", json={"image_id": uploaded.json()["image_id"],
                                                          **prompt})
                answer.raise_for_status()
                answers.append(answer.json())
        return answers
    finally:
        serve.shutdown()
        if started_ray:
            ray.shutdown()

