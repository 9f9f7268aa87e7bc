"""Turning prompts, answers and (image, mask, question, answer) samples into model inputs.

Token layout of one sample (docs/method.md, "Instructions and answers"), ``N`` = image tokens:

    <s> SYSTEM USER: <image>×N …Here is the region ▕ <global><local>. QUESTION ASSISTANT: ▕ ANSWER </s>
    └────────────── prefix: the same for every region and task of an image ─────────┘

Each piece of text between placeholders is tokenised on its own and the placeholders become
single ids (``<image>`` repeated N times), so the prefix's ids are identical whether a prompt is
encoded whole or as prefix + region part: that is what lets the predictor cache the prefix's
key/value states and still give exactly the scores of an uncached pass.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import torch

from seagull.errors import InvalidInputError
from seagull.image_io import to_rgb8
from seagull.labels import instructions as ins
from seagull.labels.levels import WORDS

IGNORE_INDEX = -100  # label of every token the loss ignores (all but the answer)
_PLACEHOLDER_RE = re.compile("(" + "|".join(re.escape(t) for t in
                                           (ins.IMAGE_TOKEN, ins.GLOBAL_TOKEN, ins.LOCAL_TOKEN)) + ")")


class PromptEncoder:
    """Token ids of prompts, answers, answer stems and level words for one tokenizer."""

    def __init__(self, tokenizer, num_image_tokens: int):
        self.tokenizer = tokenizer
        self.num_image_tokens = num_image_tokens
        ids = tokenizer.convert_tokens_to_ids([ins.IMAGE_TOKEN, ins.GLOBAL_TOKEN, ins.LOCAL_TOKEN])
        self.image_id, self.global_id, self.local_id = (int(i) for i in ids)
        self.placeholder_ids = (self.image_id, self.global_id, self.local_id)
        self.bos_id = int(tokenizer.bos_token_id)
        self.eos_id = int(tokenizer.eos_token_id)
        pad = tokenizer.pad_token_id
        self.pad_id = int(pad if pad is not None else tokenizer.unk_token_id or 0)
        self.prefix_ids: list[int] = [self.bos_id] + self.encode(ins.prompt_prefix())
        self._levels: dict[str, list[int]] = {}

    def encode(self, text: str) -> list[int]:
        """Ids of ``text``; placeholders become their ids, ``<image>`` N times."""
        out: list[int] = []
        for piece in _PLACEHOLDER_RE.split(text):
            if not piece:
                continue
            if piece == ins.IMAGE_TOKEN:
                out += [self.image_id] * self.num_image_tokens
            elif piece == ins.GLOBAL_TOKEN:
                out.append(self.global_id)
            elif piece == ins.LOCAL_TOKEN:
                out.append(self.local_id)
            else:
                out += self.tokenizer(piece, add_special_tokens=False)["input_ids"]
        return out

    def region_ids(self, question: str) -> list[int]:
        """The part of the prompt after the shared prefix: ``<global><local>. Q ASSISTANT:``."""
        prompt = ins.chat_prompt(question)
        return self.encode(prompt[len(ins.prompt_prefix()):])

    def prompt_ids(self, question: str) -> list[int]:
        return self.prefix_ids + self.region_ids(question)

    def answer_ids(self, answer: str) -> list[int]:
        return self.encode(answer) + [self.eos_id]

    def stem_ids(self, task: str) -> list[int]:
        return self.encode(ins.ANSWER_STEMS[task])

    def level_ids(self, scale: str) -> list[int]:
        """The five level words' token ids right after the scale's answer stem (bin 0 first).

        A word made of several tokens is represented by its first, as Q-Align does; the five
        must differ, and the stem must tokenise the same alone and followed by the word.
        """
        if scale not in self._levels:
            stem_scale = "quality" if scale == "quality" else "importance"
            stem = ins.ANSWER_STEMS[stem_scale]
            stem_ids = self.encode(stem)
            ids = []
            for word in WORDS[scale]:
                full = self.encode(f"{stem} {word}")
                if full[:len(stem_ids)] != stem_ids or len(full) == len(stem_ids):
                    raise InvalidInputError(f"tokenizer splits {stem!r} differently before "
                                            f"{word!r}: closed-set scoring needs a clean boundary")
                ids.append(full[len(stem_ids)])
            if len(set(ids)) != 5:
                raise InvalidInputError(f"the {scale} level words share a first token: {ids}")
            self._levels[scale] = ids
        return self._levels[scale]

    def severity_ids(self) -> list[int]:
        """First tokens of the five severity words as they appear in a distortion answer."""
        if "severity" not in self._levels:
            stem_ids = self.encode("This region has")
            ids = [self.encode(f"This region has {w}")[len(stem_ids)] for w in WORDS["severity"]]
            if len(set(ids)) != 5:
                raise InvalidInputError(f"the severity words share a first token: {ids}")
            self._levels["severity"] = ids
        return self._levels["severity"]


def build_batch(samples: Sequence[Mapping], prompts: PromptEncoder, config,
                max_len: int | None = None, cached=None) -> dict[str, torch.Tensor]:
    """Samples → the keyword arguments of ``SeagullModel.forward`` (loss included).

    Each sample is a mapping with ``image`` (H×W×3 uint8 array or PIL image), ``mask`` (H×W
    bool), ``question`` and ``answer`` (strings, e.g. from ``seagull.labels.instructions``).
    Returns (B samples, T the longest sequence, S = config.image_size, L = config.local_size):

    - ``input_ids`` B×T int64 (right-padded), ``attention_mask`` B×T int64 (1 = real token);
    - ``labels`` B×T int64: the answer's ids and the closing ``</s>``, ``-100`` everywhere else
      (system text, image and region tokens, question, padding);
    - ``images`` B×3×S×S float (normalised), ``coverage`` B×S×S float (the mask's share of each
      cell), ``crops`` B×3×L×L float (the region's box crop of the full-resolution image);
    - ``image_ids`` (B strings) when every sample has an ``image_id``: the key under which the
      model's feature cache keeps the image's encoder features;
    - ``cached_images`` (B bools) when ``cached`` is given (a predicate on image ids, e.g. the
      model's ``feature_cache.__contains__``): the rows whose encoder input was not prepared
      (left zero) because the cache holds their features; resizing an image to the encoder's
      input is a good part of a training step's preparation, and a cached image never needs it.
    """
    import numpy as np

    from seagull.model.encoder import preprocess_image
    from seagull.model.mfe import as_bool_mask, crop_region, resize_mask

    if not samples:
        raise InvalidInputError("build_batch: no samples")
    max_len = max_len or config.max_position
    rows, label_rows, images, coverage, crops, skipped = [], [], [], [], [], []
    blank = None
    for i, sample in enumerate(samples):
        image = sample["image"]
        array = to_rgb8(image) if hasattr(image, "convert") else np.asarray(image)
        mask = as_bool_mask(sample["mask"], name=f"sample {i} mask")
        prompt = prompts.prompt_ids(sample["question"])
        answer = prompts.answer_ids(sample["answer"])
        if len(prompt) + len(answer) > max_len:
            raise InvalidInputError(f"sample {i}: {len(prompt) + len(answer)} tokens exceed "
                                    f"the limit of {max_len}")
        rows.append(prompt + answer)
        label_rows.append([IGNORE_INDEX] * len(prompt) + answer)
        image_id = sample.get("image_id")
        skip = bool(cached is not None and image_id and cached(str(image_id)))
        skipped.append(skip)
        if skip:
            if blank is None:
                blank = torch.zeros(3, config.image_size, config.image_size)
            images.append(blank)
        else:
            images.append(preprocess_image(array, config.image_size, config.pixel_mean,
                                           config.pixel_std))
        coverage.append(resize_mask(_fit_mask(mask, array, i), config.image_size))
        crops.append(crop_region(array, mask, config.local_size, config.pixel_mean,
                                 config.pixel_std))
    width = max(len(r) for r in rows)
    input_ids = torch.full((len(rows), width), prompts.pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (ids, lab) in enumerate(zip(rows, label_rows)):
        input_ids[i, :len(ids)] = torch.tensor(ids)
        labels[i, :len(lab)] = torch.tensor(lab)
        attention[i, :len(ids)] = 1
    batch = {"input_ids": input_ids, "attention_mask": attention, "labels": labels,
             "images": torch.stack(images), "coverage": torch.stack(coverage),
             "crops": torch.stack(crops)}
    if all(sample.get("image_id") for sample in samples):
        batch["image_ids"] = [str(sample["image_id"]) for sample in samples]
    if cached is not None:
        batch["cached_images"] = torch.tensor(skipped, dtype=torch.bool)
    return batch


def _fit_mask(mask, image, index: int):
    from seagull.errors import MaskShapeError

    if mask.shape != image.shape[:2]:
        raise MaskShapeError(f"sample {index}: mask is {mask.shape[1]}×{mask.shape[0]} but the "
                             f"image is {image.shape[1]}×{image.shape[0]}")
    return mask


collate = build_batch
