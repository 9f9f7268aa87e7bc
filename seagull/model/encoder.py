"""The image encoder: a timm ConvNeXt whose four stage outputs F1…F4 feed the MFE (frozen).

``paper``: ConvNeXt-Large (192/384/768/1536 channels at S/4 … S/32), loaded from a local
open_clip or timm checkpoint; ``tiny``: a narrow ConvNeXt with random weights (saved with the
model). The encoder never trains: its parameters have ``requires_grad=False`` and it runs in
eval mode under ``no_grad``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from seagull.errors import WeightsMismatchError
from seagull.image_io import to_rgb8
from seagull.model.config import SeagullConfig

log = logging.getLogger(__name__)

# Prefixes under which checkpoints keep the ConvNeXt trunk: open_clip ("visual.trunk."),
# a bare open_clip visual tower ("trunk."), LLaVA-style vision towers, plain timm ("").
_TRUNK_PREFIXES = ("model.vision_tower.vision_tower.visual.trunk.",
                   "model.vision_tower.vision_tower.trunk.", "vision_tower.trunk.",
                   "visual.trunk.", "trunk.", "")


class ImageEncoder(nn.Module):
    """ConvNeXt trunk; ``forward(pixels B×3×S×S) -> [F1 … F4]``, F_j: B×C_j×(S/2^(j+1))²."""

    def __init__(self, arch: str, depths: tuple[int, ...], dims: tuple[int, ...]):
        super().__init__()
        import timm

        self.trunk = timm.create_model(arch, pretrained=False, num_classes=0,
                                       depths=tuple(depths), dims=tuple(dims))
        self.dims = tuple(dims)
        for p in self.parameters():
            p.requires_grad_(False)
        self.eval()

    @classmethod
    def from_config(cls, config: SeagullConfig) -> ImageEncoder:
        return cls(config.encoder_arch, config.encoder_depths, config.encoder_dims)

    def train(self, mode: bool = True) -> ImageEncoder:
        return super().train(False)  # frozen: always in eval mode

    @torch.no_grad()
    def forward(self, pixels: torch.Tensor) -> list[torch.Tensor]:
        return list(self.trunk.forward_intermediates(pixels, indices=4, intermediates_only=True))

    def trunk_keys(self) -> set[str]:
        return {k for k in self.trunk.state_dict() if not k.startswith("head.")}

    def load_checkpoint(self, path: str | Path) -> None:
        """Load a local open_clip/timm ConvNeXt checkpoint (safetensors or a torch file).

        The trunk's stem and stages must all be present under one of the known prefixes;
        classifier/projection heads are ignored. A missing or misshapen tensor is an error.
        """
        state = load_state_dict_file(path)
        wanted = self.trunk_keys()
        own = self.trunk.state_dict()
        for prefix in _TRUNK_PREFIXES:
            mapped = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
            if wanted <= set(mapped):
                break
        else:
            raise WeightsMismatchError(
                f"encoder weights {path}: no ConvNeXt trunk with the keys of "
                f"{self.dims} (e.g. {min(wanted)!r}) under any of {_TRUNK_PREFIXES}")
        for key in wanted:
            if tuple(mapped[key].shape) != tuple(own[key].shape):
                raise WeightsMismatchError(
                    f"encoder weights {path}: {key} has shape {tuple(mapped[key].shape)}, "
                    f"the model wants {tuple(own[key].shape)}")
        self.trunk.load_state_dict({k: mapped[k] for k in wanted}, strict=False, assign=True)
        for p in self.parameters():
            p.requires_grad_(False)
        log.info("encoder: loaded %d tensors from %s", len(wanted), path)


def load_state_dict_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a safetensors file, or of a torch file loaded with ``weights_only=True``."""
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model", "module"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise WeightsMismatchError(f"{path}: not a mapping of tensor names to tensors")
    return {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}


def preprocess_image(image, size: int, mean, std) -> torch.Tensor:
    """H×W×3 uint8 array or PIL image → 3×size×size float tensor, normalised (bicubic resize).

    The whole image is resized to a square (the released code resizes the short side and
    centre-crops, which would cut off regions near the long sides); masks are resized the same
    way (``mfe.resize_mask``), so pixels and mask stay aligned.
    """
    import numpy as np
    import torch.nn.functional as F

    from seagull.errors import InvalidInputError

    array = to_rgb8(image) if hasattr(image, "convert") else np.asarray(image)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        raise InvalidInputError(f"image must be H×W×3 uint8, got shape {array.shape} "
                                f"dtype {array.dtype}")
    x = torch.from_numpy(np.array(array, copy=True)).permute(2, 0, 1).float().div_(255)
    x = F.interpolate(x[None], size=(size, size), mode="bicubic", align_corners=False,
                      antialias=True)[0].clamp_(0, 1)
    m = torch.tensor(mean).view(3, 1, 1)
    s = torch.tensor(std).view(3, 1, 1)
    return (x - m) / s
