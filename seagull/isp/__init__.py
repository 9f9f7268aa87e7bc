"""RAW decoding and rendering (the forward ISP), and the inverse ISP that makes sample RAWs.

Public API::

    render_variants(source, *, types=None, levels=None, long_side=None, seed=DEFAULT_SEED)
        -> Iterator[Render]      # the reference first, then each requested (type, level)
    encode_png(image, fast=True) -> bytes
    write_renders(source, out_dir, ..., contact_sheet=False) -> dict   # files + params.json
    distortion_params(type, level) -> dict; TABLE; LEVELS; ISP_VERSION; DEFAULT_SEED

Only numpy is imported here; rawpy, scipy and PIL load when a RAW is rendered.
"""

from seagull.isp.distortions import LEVELS, N_LEVELS, TABLE, distortion_params
from seagull.isp.files import write_renders
from seagull.isp.ops import encode_png
from seagull.isp.render import (
    DEFAULT_SEED,
    ISP_VERSION,
    Render,
    render_reference,
    render_variants,
)

__all__ = [
    "DEFAULT_SEED",
    "ISP_VERSION",
    "LEVELS",
    "N_LEVELS",
    "TABLE",
    "Render",
    "distortion_params",
    "encode_png",
    "render_reference",
    "render_variants",
    "write_renders",
]
