"""Reading weights files safely: tensors only, never arbitrary pickled objects."""

from __future__ import annotations

from pathlib import Path

from seagull.errors import WeightsMismatchError


def read_state_dict(path: str | Path, *, unwrap: tuple[str, ...] = ("state_dict", "params",
                                                                     "model")) -> dict:
    """A name → tensor mapping from a ``.pth``/``.pt`` file (``torch.load(weights_only=True)``)
    or a ``.safetensors`` file.

    A checkpoint that wraps its tensors under one of ``unwrap`` (``{"params": {...}}`` as pyiqa
    writes, ``{"state_dict": {...}}``) is unwrapped, and a ``module.`` prefix (DataParallel) is
    removed. A file that cannot be read this way is a ``WeightsMismatchError``.
    """
    import torch

    path = Path(path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 (refused pickle, truncated or foreign file …)
        raise WeightsMismatchError(f"{path}: not a readable weights file "
                                   f"({exc.__class__.__name__}: {str(exc)[:120]})") from None
    for key in unwrap:
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict) or not state or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise WeightsMismatchError(f"{path}: does not hold a tensor mapping (state dict)")
    if all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state
