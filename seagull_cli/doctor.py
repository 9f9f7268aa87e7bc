"""``seagull doctor``: is this installation able to run, and with which weights?"""

from __future__ import annotations

import argparse
import importlib
import sys

# (import name, shown name, needed to run at all)
STACK = (
    ("numpy", "numpy", True), ("torch", "torch", True), ("torchvision", "torchvision", True),
    ("ray", "ray", True), ("deepspeed", "deepspeed", False), ("transformers", "transformers", True),
    ("peft", "peft", True), ("timm", "timm", True), ("rawpy", "rawpy", True),
    ("segment_anything", "segment-anything", True), ("pyiqa", "pyiqa", True),
    ("pyarrow", "pyarrow", True), ("pycocotools", "pycocotools", True),
    ("skimage", "scikit-image", True), ("fastapi", "fastapi", True),
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-ray", action="store_true", help="skip the local Ray start check")


def _version(module_name: str) -> tuple[str | None, str | None]:
    """(version, problem) of an importable module."""
    try:
        mod = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - any import failure is what doctor reports
        return None, f"{exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    version = getattr(mod, "__version__", None)
    if module_name == "rawpy":
        version = f"{version} (LibRaw {getattr(mod, 'libraw_version', '?')})"
    if module_name == "segment_anything" and version is None:
        from importlib.metadata import version as dist_version

        version = dist_version("segment-anything")
    return str(version), None


_RAY_CHECK = """
import ray
ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, configure_logging=False)

@ray.remote(num_cpus=0.1)
def ping():
    return 42

assert ray.get(ping.remote(), timeout=60) == 42
ray.shutdown()
"""


def check_ray(timeout: float = 180.0) -> str | None:
    """Start a local Ray with one CPU, run a task, stop it; None when it works, else the problem.

    Runs in a child process so that it neither joins nor disturbs a Ray this process may hold.
    """
    import subprocess

    try:
        out = subprocess.run([sys.executable, "-c", _RAY_CHECK], check=False, capture_output=True,
                             text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"no answer within {timeout:.0f} s"
    if out.returncode == 0:
        return None
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    return lines[-1] if lines else f"exit code {out.returncode}"


def run(args: argparse.Namespace) -> int:
    from seagull import __version__, weights

    broken: list[str] = []
    print(f"seagull {__version__} on Python {sys.version.split()[0]}")
    print("\nstack:")
    for module, shown, needed in STACK:
        version, problem = _version(module)
        if problem:
            print(f"  {shown:18s} MISSING ({problem})" + ("" if needed else " (optional)"))
            if needed:
                broken.append(shown)
        else:
            print(f"  {shown:18s} {version}")

    print("\nray:")
    if args.no_ray:
        print("  local start        skipped (--no-ray)")
    else:
        problem = check_ray()
        print(f"  local start        {'ok' if problem is None else 'FAILED: ' + problem}")
        if problem:
            broken.append("ray")

    print(f"\nweights (config {weights.config_path()}, folder {weights.weights_dir()}):")
    for name, comp in weights.COMPONENTS.items():
        try:
            loc = weights.locate(name)
        except Exception as exc:  # noqa: BLE001 - a configured but missing file is reported
            print(f"  {name:18s} BROKEN: {exc}")
            broken.append(name)
            continue
        if loc.found:
            print(f"  {name:18s} found {loc.path} (from {loc.source})")
        else:
            print(f"  {name:18s} fallback: {comp.fallback} (set {comp.env_var})")

    print("\nencoders from packages (the small preset's, found without configuration):")
    from seagull.model.encoders import ENCODERS

    for spec in ENCODERS.values():
        if spec.weights != "package":
            continue
        try:
            print(f"  {spec.name:18s} found {spec.weights_file()} (package {spec.package})")
        except Exception as exc:  # noqa: BLE001 - a missing package is reported
            print(f"  {spec.name:18s} MISSING: {exc}")
            if spec.name == "efficientnet_lite0":  # what the small preset, the default, needs
                broken.append(spec.name)

    if broken:
        print(f"\nbroken: {', '.join(broken)}")
        return 1
    print("\nready: the project can run (fallbacks count as running)")
    return 0
