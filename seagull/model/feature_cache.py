"""A store of the frozen encoder's features per image, so training pays for each image once.

The encoder never trains, so the features of one image are the same at every step, epoch, seed
and model row (the ablations change what comes after the encoder, not the encoder). A pretrained
encoder at 384² costs ~0.1 s an image on one core: paid at every step it would be most of a
small model's training time. ``FeatureCache`` keeps the F1…F4 of the images it has encoded in
memory (least recently used out first, within ``max_bytes``) and, with a ``folder``, on disk as
one safetensors file per image, shared by every run that points at the same folder.

Keys: the caller's image id (``rois.image_id``, a hash of everything that determines the render)
inside a folder named for the encoder, its weights and the input size (``cache_key``), so two
encoders never share files. Files are written to a temporary name and renamed: a run killed
mid-write, or two workers writing the same image, never leave a partial file behind.
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import torch

from seagull.memory import nbytes


def cache_key(config, encoder) -> str:
    """A folder name for one encoder's features: its name, the input size and a digest of its
    tensors (so a random encoder, or other weights under the same name, never shares files)."""
    digest = hashlib.sha256(f"{config.encoder}|{config.image_size}".encode())
    for name, tensor in encoder.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return f"{config.encoder}-{config.image_size}px-{digest.hexdigest()[:16]}"


class FeatureCache:
    """Per-image encoder features, in memory and optionally in ``folder``.

    ``hits``/``misses`` count images served from the cache and images encoded.
    """

    def __init__(self, folder: str | os.PathLike | None = None,
                 max_bytes: int = 2 * 1024 ** 3):
        self.folder = Path(folder) if folder is not None else None
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self._memory: OrderedDict[str, list[torch.Tensor]] = OrderedDict()
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._memory)

    def __contains__(self, image_id: str) -> bool:
        """Whether ``image_id``'s features can be served without its pixels (in memory, or a
        file in the folder). ``build_batch(..., cached=cache.__contains__)`` skips preparing the
        pixels of such images."""
        return image_id in self._memory or (
            self.folder is not None and self._file(image_id).is_file())

    def _file(self, image_id: str) -> Path:
        return self.folder / f"{image_id}.safetensors"

    def _remember(self, image_id: str, features: list[torch.Tensor]) -> None:
        size = nbytes(*features)
        if size > self.max_bytes:
            return
        self._memory[image_id] = features
        self._bytes += size
        while self._bytes > self.max_bytes:
            _, old = self._memory.popitem(last=False)
            self._bytes -= nbytes(*old)

    def _lookup(self, image_id: str) -> list[torch.Tensor] | None:
        if image_id in self._memory:
            self._memory.move_to_end(image_id)
            return self._memory[image_id]
        if self.folder is not None and self._file(image_id).is_file():
            from safetensors.torch import load_file

            try:
                state = load_file(str(self._file(image_id)))
            except Exception:  # noqa: BLE001 - a damaged file: encode again, overwrite it
                return None
            features = [state[f"f{j}"] for j in range(len(state))]
            self._remember(image_id, features)
            return features
        return None

    def _store(self, image_id: str, features: list[torch.Tensor]) -> None:
        self._remember(image_id, features)
        if self.folder is not None:
            from safetensors.torch import save_file

            target = self._file(image_id)
            tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            save_file({f"f{j}": f.contiguous() for j, f in enumerate(features)}, str(tmp))
            os.replace(tmp, target)

    @torch.no_grad()
    def features(self, encoder, images: torch.Tensor, image_ids: Sequence[str],
                 device, cached: Sequence[bool] | torch.Tensor | None = None
                 ) -> list[torch.Tensor]:
        """F1…F4 (each B×C_j×h_j×w_j, on ``device``) of ``images`` (B×3×S×S) whose ids are
        ``image_ids``: cached ones are looked up, the rest encoded in one batch and stored.
        ``cached`` (B bools, from ``build_batch``): rows whose pixels were not prepared because
        the cache held them; such a row missing now is an error, never an encoding of blanks."""
        if len(image_ids) != images.shape[0]:
            raise ValueError(f"{len(image_ids)} image ids for {images.shape[0]} images")
        found = [self._lookup(str(i)) for i in image_ids]
        todo = [b for b, f in enumerate(found) if f is None]
        lost = [str(image_ids[b]) for b in todo if cached is not None and bool(cached[b])]
        if lost:
            raise RuntimeError(f"feature cache: {len(lost)} image(s) (first {lost[0]}) left "
                               "the cache after their batch was built without pixels; give "
                               "the cache more memory (max_bytes) or a folder")
        self.hits += len(image_ids) - len(todo)
        self.misses += len(todo)
        if todo:
            fresh = encoder(images[todo].to(device, encoder.dtype))
            for n, b in enumerate(todo):
                one = [f[n].detach().to("cpu").clone() for f in fresh]
                self._store(str(image_ids[b]), one)
                found[b] = one
        return [torch.stack([found[b][j] for b in range(len(found))]).to(device)
                for j in range(len(found[0]))]
