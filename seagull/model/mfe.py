"""The Mask-based Feature Extractor (MFE): per region, a global-view and a local-view token.

Per region (paper §4.2, docs/method.md "The model"), with stage features F_j (C_j × h_j × w_j):

- basic tokens  B_j = FC_j(mask_pool(M, F_j)) ∈ R^P;
- global tokens G_j = CA(Q = SA(B_j), K = V = FC'_j(F_j as C_j tokens of h_j·w_j values)):
  the keys are the stage's channels; one block (SA, CA, MLP) is shared by the four stages;
- F_gvt = FC1(concat[FC3(Σ_j G_j), FC2(Σ_j B_j)]), FC2 and FC3 to the LLM's width;
- local view: the region's bounding-box crop of the (unmasked) image, resized to L × L, through
  two (1×1 conv, GELU, average-pool) stages to one token of (L / pool²)² values,
  self-attention, MLP → F_lvt.

The layer layout follows the authors' released code, so that their checkpoint's MFE tensors
load by name (``seagull_model.RELEASED_NAME_MAP``).

Every size comes from the config (stage sizes from the image size, the local tokens from the crop
size). Any number of regions per image is handled in one call: regions carry the index of their
image, and the per-image key tokens (``image_keys``) are computed once and shared.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from seagull.errors import EmptyMaskError, MaskShapeError
from seagull.model.config import SeagullConfig

# ---- masks and crops ---------------------------------------------------------------------

def as_bool_mask(mask, name: str = "mask") -> np.ndarray:
    """An H×W bool numpy array from a bool/0-1 array or tensor; an empty mask is an error."""
    if isinstance(mask, torch.Tensor):
        mask = mask.detach().cpu().numpy()
    array = np.asarray(mask)
    if array.ndim != 2:
        raise MaskShapeError(f"{name} must be H×W, got shape {array.shape}")
    array = array.astype(bool, copy=False)
    if not array.any():
        raise EmptyMaskError(f"{name} selects no pixel")
    return array


def resize_mask(mask: np.ndarray, size: int) -> torch.Tensor:
    """H×W bool → size×size float: the fraction of each output cell the region covers."""
    m = torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32))[None, None]
    return F.adaptive_avg_pool2d(m, (size, size))[0, 0]


def mask_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """Bounding box (x0, y0, x1, y1) of a non-empty H×W bool mask, x1/y1 exclusive (pixels):
    ``seagull.regions.rle.mask_bbox`` (the one home of a mask's box) as corners."""
    from seagull.regions.rle import mask_bbox

    x, y, w, h = mask_bbox(mask)
    return x, y, x + w, y + h


def crop_region(image: np.ndarray, mask: np.ndarray, size: int, mean, std) -> torch.Tensor:
    """The region's bounding-box crop of the full-resolution image → 3×size×size, normalised.

    The crop is taken from the unmasked image (the released code's local view), at the image's
    own resolution, so the local view sees detail that the encoder's resized input loses.
    """
    if image.shape[:2] != mask.shape:
        raise MaskShapeError(f"mask is {mask.shape[1]}×{mask.shape[0]} but the image is "
                             f"{image.shape[1]}×{image.shape[0]}")
    x0, y0, x1, y1 = mask_box(mask)
    patch = torch.from_numpy(np.array(image[y0:y1, x0:x1], copy=True)).permute(2, 0, 1)
    patch = patch.float().div_(255)[None]
    patch = F.interpolate(patch, size=(size, size), mode="bilinear", align_corners=False,
                          antialias=True)[0].clamp_(0, 1)
    return (patch - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(3, 1, 1)


GEOMETRY_FEATURES = 6


def region_geometry(coverage: torch.Tensor) -> torch.Tensor:
    """R×6 of regions (coverage R×S×S): log and square root of the share of the image the region
    covers, and its bounding box (centre x, centre y, width, height) as shares of the image's
    sides. Mask pooling averages features, so this is all the MFE learns of a region's size."""
    cover = coverage.float()
    share = cover.flatten(1).mean(1).clamp_min(1e-6)
    size = cover.shape[-1]
    cols = (cover.sum(1) > 0).float()  # R×S: columns the region touches
    rows = (cover.sum(2) > 0).float()
    index = torch.arange(size, dtype=cover.dtype, device=cover.device)
    big = size + 1.0

    def span(hit):
        first = torch.where(hit > 0, index, big).amin(1)
        last = torch.where(hit > 0, index, -1.0).amax(1)
        return (first + last + 1) / (2 * size), (last - first + 1) / size

    cx, w = span(cols)
    cy, h = span(rows)
    return torch.stack([share.log() / 10, share.sqrt(), cx, cy, w, h], dim=1)


def mask_pool(features: torch.Tensor, coverage: torch.Tensor) -> torch.Tensor:
    """Average of ``features`` (R×C×h×w) inside each region (coverage R×S×S, fractions in [0, 1]).

    The coverage is resized to h×w by area and binarised at one half (a cell is inside when the
    region covers most of it); a region too small to cover half of any cell falls back to the
    area weights themselves, so small regions still pool where they are. Returns R×C.
    """
    weights = F.adaptive_avg_pool2d(coverage[:, None].float(), features.shape[-2:])[:, 0]
    inside = (weights > 0.5).to(features.dtype)
    empty = inside.flatten(1).sum(1) == 0
    if bool(empty.any()):
        inside = torch.where(empty[:, None, None], weights.to(features.dtype), inside)
    total = inside.flatten(1).sum(1)
    if bool((total <= 0).any()):
        raise EmptyMaskError("a region mask selects no pixel")
    return torch.einsum("rchw,rhw->rc", features, inside) / total[:, None]


# ---- modules -----------------------------------------------------------------------------

class Attention(nn.Module):
    """Multi-head attention with separate q/k/v/out projections and an internal width
    ``dim // downsample`` (the cross-attention attends in a narrower space). Shapes: q R×n×dim,
    k and v R×m×dim → R×n×dim."""

    def __init__(self, dim: int, heads: int, downsample: int = 1):
        super().__init__()
        inner = dim // downsample
        if inner % heads:
            raise ValueError(f"attention width {inner} is not divisible by {heads} heads")
        self.heads = heads
        self.q_proj = nn.Linear(dim, inner)
        self.k_proj = nn.Linear(dim, inner)
        self.v_proj = nn.Linear(dim, inner)
        self.out_proj = nn.Linear(inner, dim)

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        def split(x):  # R×n×inner → R×heads×n×(inner / heads)
            return x.unflatten(-1, (self.heads, -1)).transpose(1, 2)

        out = F.scaled_dot_product_attention(split(self.q_proj(q)), split(self.k_proj(k)),
                                             split(self.v_proj(v)))
        return self.out_proj(out.transpose(1, 2).flatten(2))


class ContextBlock(nn.Module):
    """The global tokens' block, shared by the four stages (post-norm, as released):
    q ← norm1(q + SA(q)); q ← norm2(q + CA(q, keys)); q ← q + MLP(q).

    Each region's query is its own basic token of one stage (SA(B_j) in the paper), so a region's
    tokens never depend on which other regions are asked with it."""

    def __init__(self, dim: int, heads: int, mlp_dim: int, downsample: int = 2):
        super().__init__()
        self.self_attn = Attention(dim, heads)
        self.norm1 = nn.LayerNorm(dim)
        self.cross_attn = Attention(dim, heads, downsample)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential()
        self.mlp.lin1 = nn.Linear(dim, mlp_dim)
        self.mlp.act = nn.ReLU()
        self.mlp.lin2 = nn.Linear(mlp_dim, dim)

    def forward(self, queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        queries = self.norm1(queries + self.self_attn(queries, queries, queries))
        queries = self.norm2(queries + self.cross_attn(queries, keys, keys))
        return queries + self.mlp(queries)


class MLP(nn.Module):
    """``layers`` Linear layers with ReLU between them: in_dim → hidden … → out_dim."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int, layers: int):
        super().__init__()
        dims = [in_dim] + [hidden] * (layers - 1) + [out_dim]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(dims))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = F.relu(x)
        return x


class LocalView(nn.Module):
    """Crop (R×3×L×L) → F_lvt (R×hidden): two (1×1 conv, GELU, avg-pool) stages give one token
    of D = (L / pool²)² values; self-attention over it (width D), then a 3-layer MLP."""

    def __init__(self, local_channels: int, pool: int, token_dim: int, heads: int,
                 mlp_dim: int, hidden: int):
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv2d(3, local_channels, 1), nn.GELU(), nn.AvgPool2d(pool),
            nn.Conv2d(local_channels, 1, 1), nn.GELU(), nn.AvgPool2d(pool),
        )
        self.attn = Attention(token_dim, heads)
        self.out = MLP(token_dim, mlp_dim, hidden, 3)

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        tokens = self.convs(crops).flatten(2)  # R × 1 × D
        return self.out(self.attn(tokens, tokens, tokens)[:, 0])


class MaskFeatureExtractor(nn.Module):
    """Global-view and local-view tokens of regions, sized from the config and the encoder's
    four stage widths ``dims`` (``ImageEncoder.dims``)."""

    def __init__(self, config: SeagullConfig, dims: tuple[int, ...]):
        super().__init__()
        P, hidden = config.mfe_dim, config.hidden_size
        areas = [config.stage_size(j + 1) ** 2 for j in range(4)]
        self.use_global, self.use_local = config.use_global, config.use_local
        self.basic_proj = nn.ModuleList(nn.Linear(c, P) for c in dims)  # FC_j
        self.key_proj = nn.ModuleList(nn.Linear(a, P) for a in areas)  # FC'_j
        self.context_block = ContextBlock(P, config.mfe_heads, 2 * P)  # SA + CA, shared
        self.basic_fuse = nn.Linear(P, hidden)  # FC2
        self.context_fuse = nn.Linear(P, hidden)  # FC3
        self.global_out = nn.Linear(2 * hidden, hidden)  # FC1
        # The region's geometry (region_geometry) into the basic branch; not in the paper's MFE.
        self.geometry = nn.Linear(GEOMETRY_FEATURES, P) if config.mfe_region_geometry else None
        self.local_view = LocalView(config.local_channels, config.local_pool,
                                    config.local_tokens_dim, config.mfe_heads,
                                    config.local_mlp_dim, hidden)

    def image_keys(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        """Per stage, the channel tokens FC'_j(F_j): B×C_j×P. Depends on the image only."""
        return [proj(f.flatten(2).to(proj.weight.dtype))
                for proj, f in zip(self.key_proj, features)]

    def global_view(self, features: list[torch.Tensor], keys: list[torch.Tensor],
                    coverage: torch.Tensor, image_index: torch.Tensor) -> torch.Tensor:
        """F_gvt: R×hidden for regions (coverage R×S×S) of images ``image_index`` (R,)."""
        dtype = self.basic_proj[0].weight.dtype
        basic = [proj(mask_pool(f[image_index].to(dtype), coverage))
                 for proj, f in zip(self.basic_proj, features)]  # 4 × (R×P)
        context = [self.context_block(b[:, None], k[image_index])[:, 0]
                   for b, k in zip(basic, keys)]  # 4 × (R×P)
        basic_sum = torch.stack(basic).sum(0)
        if self.geometry is not None:
            basic_sum = basic_sum + self.geometry(region_geometry(coverage).to(dtype))
        fused = torch.cat([self.context_fuse(torch.stack(context).sum(0)),
                           self.basic_fuse(basic_sum)], dim=-1)
        return self.global_out(fused)

    def forward(self, features: list[torch.Tensor], coverage: torch.Tensor,
                crops: torch.Tensor, image_index: torch.Tensor | None = None,
                keys: list[torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(F_gvt, F_lvt), each R×hidden.

        features: F1…F4 of B images; coverage: R×S×S region masks (``resize_mask``);
        crops: R×3×L×L (``crop_region``); image_index: (R,) image of each region (default:
        region r belongs to image r); keys: ``image_keys(features)`` when already computed.
        """
        if image_index is None:
            image_index = torch.arange(coverage.shape[0], device=coverage.device)
        if bool((coverage.flatten(1).sum(1) <= 0).any()):
            raise EmptyMaskError("a region mask selects no pixel")
        if keys is None:
            keys = self.image_keys(features)
        gvt = self.global_view(features, keys, coverage, image_index)
        lvt = self.local_view(crops.to(gvt.dtype))
        if not self.use_global:
            gvt = torch.zeros_like(gvt)
        if not self.use_local:
            lvt = torch.zeros_like(lvt)
        return gvt, lvt
