"""Loading SAM (segment-anything) checkpoints from a local file.

The architecture is read off the checkpoint's tensor shapes, so ViT-H, ViT-L and ViT-B files
(and smaller ones built from the same classes, as the tests do) load through one path:
embedding width from the patch embedding, depth from the block count, head width from the
relative-position tables, and the global-attention blocks from which tables span the whole
64×64 token grid instead of a 14×14 window. The file is read with
``torch.load(weights_only=True)`` and loaded strictly: a file that is not a SAM checkpoint is a
``WeightsMismatchError``.
"""

from __future__ import annotations

import re
from pathlib import Path

from seagull.checkpoints import read_state_dict
from seagull.errors import WeightsMismatchError

# The released checkpoints, by encoder width.
VARIANTS = {1280: "vit_h", 1024: "vit_l", 768: "vit_b"}
_WINDOW = 14  # segment-anything's window size; windowed rel-pos tables have 2·14−1 rows


def sam_config(state: dict, path) -> dict:
    """Encoder hyper-parameters of a SAM state dict (see the module docstring)."""
    try:
        embed_dim = int(state["image_encoder.patch_embed.proj.weight"].shape[0])
        blocks = sorted({int(m.group(1)) for k in state
                         if (m := re.match(r"image_encoder\.blocks\.(\d+)\.", k))})
        head_dim = int(state["image_encoder.blocks.0.attn.rel_pos_h"].shape[1])
        global_blocks = [i for i in blocks
                         if state[f"image_encoder.blocks.{i}.attn.rel_pos_h"].shape[0]
                         != 2 * _WINDOW - 1]
    except (KeyError, IndexError, AttributeError):
        raise WeightsMismatchError(f"{path}: not a SAM checkpoint (no image-encoder tensors "
                                   f"with the expected names)") from None
    if not blocks or embed_dim % head_dim:
        raise WeightsMismatchError(f"{path}: inconsistent SAM encoder shapes")
    return {"encoder_embed_dim": embed_dim, "encoder_depth": len(blocks),
            "encoder_num_heads": embed_dim // head_dim,
            "encoder_global_attn_indexes": global_blocks}


def load_sam(path: str | Path, device: str = "cpu"):
    """(Sam in eval mode, variant name) from a local checkpoint, loaded strictly."""
    from segment_anything.build_sam import _build_sam

    state = read_state_dict(path)
    config = sam_config(state, path)
    sam = _build_sam(**config, checkpoint=None)
    try:
        sam.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0][:160]
        raise WeightsMismatchError(f"{path}: does not fit SAM ({first})") from None
    variant = VARIANTS.get(config["encoder_embed_dim"], f"vit_{config['encoder_embed_dim']}"
                           f"x{config['encoder_depth']}")
    sam.eval()
    return sam.to(device), variant
