"""SeagullPredictor: pay for an image once, then assess any number of its regions cheaply.

``state = predictor.encode(image)`` runs the encoder, the MFE's per-image key tokens, the
projector, and the LLM over the prompt prefix that every region shares (system text and the
image tokens; see ``seagull.model.batch``), and returns all of it as an ``ImageState`` (the
image, the stage features, the key tokens, the prefix's embeddings and key/value states).
``assess(state, masks)`` then pays only for the regions' own features and their few tokens per
task: the scores equal those of an uncached pass (``use_cache=False`` computes that pass, for
tests and benchmarks). Nothing per image is kept on the predictor, so one predictor answers for
any number of states (a service caches them by image).

``set_image(image)`` + ``assess(mask)`` is the same with one state kept on the predictor:
``set_image`` stores ``encode``'s state and every method given no state uses it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from seagull.errors import InvalidInputError
from seagull.image_io import to_rgb8
from seagull.labels import instructions as ins
from seagull.labels.levels import DISTORTION_TYPES, SEVERITY_WORDS, WORDS, expected_score
from seagull.memory import nbytes
from seagull.model.scoring import expected_scores, level_probabilities, level_result

SCORED_TASKS = ("quality", "importance")
_DIST_IN_ORDER = re.compile(rf"\b({'|'.join(SEVERITY_WORDS)})\s+({'|'.join(DISTORTION_TYPES)})\b",
                            re.IGNORECASE)


@dataclass(frozen=True, eq=False)
class ImageState:
    """What ``SeagullPredictor.encode`` computed for one image; read, never changed.

    image: the H×W×3 uint8 image (the regions' local crops are cut from it);
    features: the encoder's stage features F1…F4, each 1×C_j×h_j×w_j;
    keys: the MFE's per-stage key tokens ``image_keys(features)``, each 1×C_j×P;
    prefix_embeds: the shared prompt prefix's input embeddings (image tokens in place),
    1×L×hidden, for the uncached reference pass;
    prefix_kv: the LLM's (keys, values) over that prefix, one pair per layer.
    """

    image: np.ndarray
    features: tuple[torch.Tensor, ...]
    keys: tuple[torch.Tensor, ...]
    prefix_embeds: torch.Tensor
    prefix_kv: tuple[tuple[torch.Tensor, torch.Tensor], ...]

    @property
    def prefix_tokens(self) -> int:
        """Length of the cached prefix (tokens, image tokens included)."""
        return int(self.prefix_embeds.shape[1])

    @property
    def nbytes(self) -> int:
        """Bytes of the image and of every tensor above (what a cache of states pays)."""
        tensors = [*self.features, *self.keys, self.prefix_embeds,
                   *(t for pair in self.prefix_kv for t in pair)]
        return nbytes(self.image, *tensors)


class SeagullPredictor:
    """Serving wrapper around a ``SeagullModel`` (kept in eval mode, no gradients).

    Every method that reads an image takes its ``state`` (an ``encode`` result); given none,
    it uses the state ``set_image`` stored.
    """

    def __init__(self, model, max_new_tokens: int = 32):
        self.model = model.eval()
        self.prompts = model.prompts
        self.max_new_tokens = max_new_tokens
        self._state: ImageState | None = None

    # ---- the image ---------------------------------------------------------------------
    @torch.no_grad()
    def encode(self, image, image_id: str | None = None) -> ImageState:
        """Encode ``image`` (H×W×3 uint8 numpy array or PIL image), prefill the prompt prefix,
        and return it all as the image's ``ImageState`` (the predictor is left unchanged).
        With an ``image_id`` and a model ``feature_cache``, an image encoded before (by training,
        by another evaluation of the same encoder) is read back instead of encoded again."""
        from seagull.model.encoder import preprocess_image

        array = to_rgb8(image) if hasattr(image, "convert") else np.asarray(image)
        cfg = self.model.config
        pixels = preprocess_image(array, cfg.image_size, cfg.pixel_mean, cfg.pixel_std)
        ctx = self.model.image_context(pixels[None], None if image_id is None
                                       else [str(image_id)])
        prefix = torch.tensor([self.prompts.prefix_ids], device=self.model.device)
        prefix_embeds = self.model.embed(prefix, ctx["image_tokens"], None, None)
        out = self.model.llm(inputs_embeds=prefix_embeds, use_cache=True)
        return ImageState(image=array, features=tuple(ctx["features"]), keys=tuple(ctx["keys"]),
                          prefix_embeds=prefix_embeds,
                          prefix_kv=tuple((layer.keys, layer.values)
                                          for layer in out.cache.layers))

    def set_image(self, image, image_id: str | None = None) -> None:
        """``encode(image, image_id)``, kept as the state of every call given no state."""
        self._state = self.encode(image, image_id)

    @property
    def state(self) -> ImageState:
        """The state ``set_image`` stored (``InvalidInputError`` before any image was set)."""
        if self._state is None:
            raise InvalidInputError("no image: call set_image(image) first")
        return self._state

    @property
    def prefix_tokens(self) -> int:
        """Length of the cached prefix of the ``set_image`` image (image tokens included)."""
        return self.state.prefix_tokens

    # ---- regions -----------------------------------------------------------------------
    @torch.no_grad()
    def region_features(self, masks: Sequence[np.ndarray], state: ImageState | None = None
                        ) -> tuple[torch.Tensor, torch.Tensor]:
        """(F_gvt, F_lvt), each R×hidden, for H×W bool masks of the image of ``state``."""
        from seagull.errors import MaskShapeError
        from seagull.model.mfe import as_bool_mask, crop_region, resize_mask

        state = state if state is not None else self.state
        image = state.image
        cfg, device = self.model.config, self.model.device
        coverage, crops = [], []
        for i, mask in enumerate(masks):
            mask = as_bool_mask(mask, name=f"mask {i}")
            if mask.shape != image.shape[:2]:
                raise MaskShapeError(f"mask {i} is {mask.shape[1]}×{mask.shape[0]} but the image "
                                     f"is {image.shape[1]}×{image.shape[0]}")
            coverage.append(resize_mask(mask, cfg.image_size))
            crops.append(crop_region(image, mask, cfg.local_size, cfg.pixel_mean,
                                     cfg.pixel_std))
        index = torch.zeros(len(masks), dtype=torch.long, device=device)
        return self.model.mfe(list(state.features), torch.stack(coverage).to(device),
                              torch.stack(crops).to(device), index, keys=list(state.keys))

    @staticmethod
    def _cache_for(state: ImageState, rows: int):
        from transformers import DynamicCache

        return DynamicCache(ddp_cache_data=[(k.expand(rows, -1, -1, -1).contiguous(),
                                             v.expand(rows, -1, -1, -1).contiguous())
                                            for k, v in state.prefix_kv])

    @torch.no_grad()
    def _forward_region(self, state: ImageState, ids: torch.Tensor, gvt, lvt,
                        use_cache: bool = True, cache=None):
        """Logits (R×T×V) of region-part ids R×T after the prefix, and the cache to go on with.

        With ``use_cache`` the prefix's key/values come from ``state``; without, the prefix
        is run again together with the region part (the reference an uncached model computes).
        """
        rows = ids.shape[0]
        embeds = self.model.embed(ids, None, gvt, lvt)
        if use_cache:
            cache = cache if cache is not None else self._cache_for(state, rows)
            total = cache.get_seq_length() + ids.shape[1]
            mask = torch.ones(rows, total, dtype=torch.long, device=ids.device)
            out = self.model.llm(inputs_embeds=embeds, attention_mask=mask, cache=cache,
                                 use_cache=True)
            return out.logits, out.cache
        full = torch.cat([state.prefix_embeds.expand(rows, -1, -1), embeds], dim=1)
        out = self.model.llm(inputs_embeds=full, use_cache=False)
        return out.logits[:, -ids.shape[1]:], None

    def level_probabilities(self, masks, task: str, use_cache: bool = True,
                            features=None, state: ImageState | None = None) -> torch.Tensor:
        """R×5 closed-set probabilities of ``task`` (quality or importance) for the masks."""
        if task not in SCORED_TASKS:
            raise InvalidInputError(f"task {task!r} has no closed-set score; "
                                    f"scored tasks: {SCORED_TASKS}")
        state = state if state is not None else self.state
        gvt, lvt = features if features is not None else self.region_features(masks, state)
        ids = self.prompts.region_ids(ins.AIR_QUESTIONS[task]) + self.prompts.stem_ids(task)
        ids = torch.tensor([ids] * gvt.shape[0], device=gvt.device)
        logits, _ = self._forward_region(state, ids, gvt, lvt, use_cache=use_cache)
        return level_probabilities(logits[:, -1], self.prompts.level_ids(task))

    @torch.no_grad()
    def generate(self, masks, question: str, max_new_tokens: int | None = None,
                 features=None, state: ImageState | None = None
                 ) -> tuple[list[str], list[list[float | None]]]:
        """Greedy answers to ``question`` for each mask, from the cached prefix.

        Returns the texts and, per region, the expected severity (closed-set over the five
        severity words) at every generated severity word, in order.
        """
        state = state if state is not None else self.state
        gvt, lvt = features if features is not None else self.region_features(masks, state)
        rows, device = gvt.shape[0], gvt.device
        ids = torch.tensor([self.prompts.region_ids(question)] * rows, device=device)
        logits, cache = self._forward_region(state, ids, gvt, lvt)
        blocked = torch.tensor(self.prompts.placeholder_ids, device=device)
        severity_ids = self.prompts.severity_ids()
        out = [[] for _ in range(rows)]
        severities: list[list[float]] = [[] for _ in range(rows)]
        done = torch.zeros(rows, dtype=torch.bool, device=device)
        step_logits = logits[:, -1]
        for _ in range(max_new_tokens or self.max_new_tokens):
            step_logits = step_logits.float().index_fill(1, blocked, float("-inf"))
            nxt = step_logits.argmax(-1)
            probs = level_probabilities(step_logits, severity_ids)
            for r in range(rows):
                if done[r]:
                    continue
                token = int(nxt[r])
                if token == self.prompts.eos_id:
                    done[r] = True
                    continue
                out[r].append(token)
                if token in severity_ids:
                    severities[r].append(float(expected_scores(probs[r:r + 1])[0]))
            if bool(done.all()):
                break
            step = self.model.embed(nxt[:, None], None, None, None)
            total = cache.get_seq_length() + 1
            res = self.model.llm(inputs_embeds=step, cache=cache, use_cache=True,
                                 attention_mask=torch.ones(rows, total, dtype=torch.long,
                                                           device=device))
            cache, step_logits = res.cache, res.logits[:, -1]
        texts = [self.prompts.tokenizer.decode(t, skip_special_tokens=True).strip() for t in out]
        return texts, severities

    def ask(self, mask, question: str, max_new_tokens: int | None = None,
            state: ImageState | None = None) -> str:
        """Free-form answer (e.g. a judgment question) for one region."""
        return self.generate([mask], question, max_new_tokens, state=state)[0][0]

    def judge(self, mask, task: str, question: str, state: ImageState | None = None) -> dict:
        """A judgment (yes/no) question about one region, e.g. "Is this region in blur
        distortion?" → ``{"yes": True | False | None, "text": answer}`` (``parse_answer``)."""
        text = self.ask(mask, question, max_new_tokens=4, state=state)
        return {"yes": ins.parse_answer(task, text).get("yes"), "text": text}

    # ---- the public answer -------------------------------------------------------------
    def assess(self, state, mask=None, tasks: Sequence[str] = ins.TASKS, *,
               use_cache: bool = True):
        """Assess one region (H×W bool mask → dict) or several (a list of masks → list of dicts)
        of the image of ``state`` (an ``encode`` result): ``assess(state, masks, tasks=…)``.

        After ``set_image`` the state may be left out: ``assess(mask, tasks=…)`` assesses the
        stored image's regions (``assess(mask, tasks)`` with the tasks second, as before).

        Each dict holds only the tasks asked for::

            {"quality": {"level", "score", "probabilities": {word: p}},
             "importance": {…}, "distortions": [{"type", "severity", "level"}], "text": "…"}

        Scores are on [0, 1]; ``severity`` is the closed-set expected severity at the generated
        level word (1 trivial … 0 extreme); ``text`` joins the answer sentences.
        """
        if not isinstance(state, ImageState):  # the set_image form: assess(mask[, tasks])
            if mask is not None:
                tasks = mask
            state, mask = self.state, state
        if mask is None:
            raise InvalidInputError("assess: no mask given")
        single = isinstance(mask, np.ndarray | torch.Tensor) and np.ndim(mask) == 2
        masks = [mask] if single else list(mask)
        if not masks:
            raise InvalidInputError("assess: no mask given")
        unknown = [t for t in tasks if t not in ins.TASKS]
        if unknown or not tasks:
            raise InvalidInputError(f"unknown task(s) {unknown}; tasks: {ins.TASKS}")
        features = self.region_features(masks, state)
        results: list[dict] = [{} for _ in masks]
        texts: list[list[str]] = [[] for _ in masks]
        for task in (t for t in ins.TASKS if t in tasks):
            if task in SCORED_TASKS:
                probs = self.level_probabilities(masks, task, use_cache, features,
                                                 state=state).cpu()
                for r, row in enumerate(probs):
                    results[r][task] = level_result(task, row.tolist())
                    stem = ins.ANSWER_STEMS[task]
                    texts[r].append(f"{stem} {results[r][task]['level']}.")
            else:
                answers, severities = self.generate(masks, ins.AIR_QUESTIONS["distortion"],
                                                    features=features, state=state)
                for r, (text, sev) in enumerate(zip(answers, severities)):
                    results[r]["distortions"] = _distortions(text, sev)
                    texts[r].append(text)
        for r in range(len(masks)):
            results[r]["text"] = " ".join(texts[r])
        return results[0] if single else results


def _distortions(text: str, severities: list[float]) -> list[dict]:
    """Parsed (type, level) pairs, each with its closed-set severity when one was read."""
    parsed = ins.parse_answer("distortion", text)["distortions"]
    in_order = [(m.group(1).lower(), m.group(2).lower()) for m in _DIST_IN_ORDER.finditer(text)]
    by_type: dict[str, float] = {}
    if len(in_order) == len(severities):
        for (_, kind), value in zip(in_order, severities):
            by_type.setdefault(kind, value)
    out = []
    for d in parsed:
        weight = expected_score([1.0 if w == d["level"] else 0.0 for w in WORDS["severity"]])
        out.append({"type": d["type"], "severity": by_type.get(d["type"], weight),
                    "level": d["level"]})
    return out
