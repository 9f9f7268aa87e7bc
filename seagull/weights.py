"""Where each component's weights live, and what runs when they are absent.

One table (``COMPONENTS``) names every component that needs weights. A component's weights are
found, in this order, at:

1. the environment variable of the component (e.g. ``SEAGULL_SAM_WEIGHTS=/models/sam_vit_h.pth``);
2. the ``weights:`` mapping of the config file (``$SEAGULL_CONFIG``, else
   ``~/.config/seagull/config.yaml``), e.g. ``weights: {sam: /models/sam_vit_h.pth}``;
3. a conventional file name inside the weights folder (``$SEAGULL_WEIGHTS_DIR``, else
   ``~/.cache/seagull/weights``).

A location given explicitly (1 or 2) that does not exist is an error (``WeightsNotFoundError``),
never silently replaced by a fallback. Nothing found means the component's weight-free fallback
is used, announced on stderr, and recorded in manifests; ``strict=True`` turns that into an error.
"""

from __future__ import annotations

import fnmatch
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from seagull.errors import ConfigError, WeightsNotFoundError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Component:
    name: str
    description: str
    env_var: str
    patterns: tuple[str, ...]  # conventional names inside the weights folder (fnmatch)
    is_dir: bool  # a folder (a Hugging Face model directory) rather than one file
    fallback: str  # what runs without weights


COMPONENTS: dict[str, Component] = {
    c.name: c
    for c in (
        Component("sam", "Segment Anything (ViT-H/L/B checkpoint)", "SEAGULL_SAM_WEIGHTS",
                  ("sam_vit_h*.pth", "sam_vit_l*.pth", "sam_vit_b*.pth"), False,
                  "classical graph-based segmentation (scikit-image felzenszwalb)"),
        Component("detector", "object detector for object-level boxes (torchvision)",
                  "SEAGULL_DETECTOR_WEIGHTS",
                  ("detector*.pth", "fasterrcnn*.pth", "maskrcnn*.pth", "retinanet*.pth"), False,
                  "coarse-scale classical segmentation for object-level regions"),
        Component("topiq_fr", "TOPIQ-FR full-reference IQA (pyiqa)", "SEAGULL_TOPIQ_FR_WEIGHTS",
                  ("cfanet_fr_kadid_res50*.pth", "topiq_fr*.pth"), False,
                  "weight-free classical full-reference metric (pyiqa)"),
        Component("encoder", "ConvNeXt image encoder (open_clip/timm checkpoint)",
                  "SEAGULL_ENCODER_WEIGHTS",
                  ("convnext_large*.safetensors", "convnext_large*.bin", "convnext_large*.pth",
                   "open_clip_convnext*"), False,
                  "small preset: the ImageNet-trained EfficientNet-Lite0 from its package"),
        Component("llm", "LLaMA-family LLM directory (Vicuna-7B v1.5)", "SEAGULL_LLM_WEIGHTS",
                  ("vicuna-7b*", "llama*"), True,
                  "small preset: a small LLaMA and a tokenizer trained by the project"),
    )
}


@dataclass(frozen=True)
class WeightsLocation:
    component: str
    path: Path | None  # None: not found, the fallback runs
    source: str  # "env", "config", "weights-dir" or "none"

    @property
    def found(self) -> bool:
        return self.path is not None


def config_path() -> Path:
    return Path(os.environ.get("SEAGULL_CONFIG", "~/.config/seagull/config.yaml")).expanduser()


def weights_dir() -> Path:
    return Path(os.environ.get("SEAGULL_WEIGHTS_DIR", "~/.cache/seagull/weights")).expanduser()


def _config_weights() -> dict[str, str]:
    path = config_path()
    if not path.is_file():
        return {}
    import yaml

    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc.__class__.__name__})") from None
    weights = data.get("weights", {}) if isinstance(data, dict) else None
    if not isinstance(weights, dict):
        raise ConfigError(f"{path}: 'weights' must be a mapping of component to path")
    unknown = sorted(set(weights) - set(COMPONENTS))
    if unknown:
        raise ConfigError(f"{path}: unknown weights component(s) {unknown}; "
                          f"known: {sorted(COMPONENTS)}")
    return {k: str(v) for k, v in weights.items() if v}


def locate(name: str) -> WeightsLocation:
    """Find the weights of component ``name``; raise if an explicit location is missing."""
    comp = COMPONENTS[name]
    explicit = [("env", os.environ.get(comp.env_var)), ("config", _config_weights().get(name))]
    for source, value in explicit:
        if value:
            path = Path(value).expanduser()
            ok = path.is_dir() if comp.is_dir else path.is_file()
            if not ok:
                what = "folder" if comp.is_dir else "file"
                raise WeightsNotFoundError(
                    f"{name} weights: {path} (from {source}) is not an existing {what}")
            return WeightsLocation(name, path, source)
    folder = weights_dir()
    if folder.is_dir():
        for entry in sorted(folder.iterdir()):
            if (any(fnmatch.fnmatch(entry.name, p) for p in comp.patterns)
                    and entry.is_dir() == comp.is_dir):
                return WeightsLocation(name, entry, "weights-dir")
    return WeightsLocation(name, None, "none")


def resolve(name: str, explicit: str | os.PathLike | None = None, *,
            strict: bool = False) -> Path | None:
    """The weights path for ``name``: ``explicit`` (e.g. a CLI flag) first, then ``locate``.

    Returns None when the fallback should run, after announcing it on the log (stderr).
    """
    comp = COMPONENTS[name]
    if explicit:
        path = Path(explicit).expanduser()
        if not (path.is_dir() if comp.is_dir else path.is_file()):
            raise WeightsNotFoundError(f"{name} weights: {path} does not exist")
        return path
    loc = locate(name)
    if loc.found:
        return loc.path
    if strict:
        raise WeightsNotFoundError(
            f"{name} weights: none configured ({comp.env_var}, {config_path()} or "
            f"{weights_dir()}) and --strict forbids the fallback")
    log.warning("%s: no weights configured; using the fallback: %s", name, comp.fallback)
    return None


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, or of every file under a folder (sorted by relative path)."""
    import hashlib

    path = Path(path)
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        if path.is_dir():
            digest.update(str(f.relative_to(path)).encode())
        with open(f, "rb") as fh:
            while block := fh.read(chunk):
                digest.update(block)
    return digest.hexdigest()
