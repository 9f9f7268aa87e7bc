"""SeagullModel: image encoder (frozen) + projector + MFE + LLaMA with LoRA, in one module.

``forward(**build_batch(...))`` returns the LLM's output with ``.loss`` (answer tokens only) and
``.logits``. Building and loading:

- ``SeagullModel.from_preset("small")``: the pretrained EfficientNet-Lite0 (from its package)
  and a small LLaMA from scratch with the project's own tokenizer; ``"tiny"``: all random;
- ``SeagullModel.from_preset("paper", llm_path=…, encoder_weights=…)``: ConvNeXt-Large and
  Vicuna-7B from local weights (``seagull.weights`` finds them when not given);
  ``device="meta"`` builds the full-size skeleton without allocating memory;
- ``save_pretrained(dir)`` / ``SeagullModel.from_pretrained(dir)``: config, tokenizer, and the
  weights as safetensors — the trainable tensors always, and the frozen ones that nothing else
  can restore (a random encoder, an LLM trained from scratch); a pretrained encoder or LLM is
  loaded from its package or checkpoint again;
- ``load_released_checkpoint(path)``: the authors' checkpoint layout, where names map.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import torch
from torch import nn

from seagull.errors import ConfigError, OutputError, WeightsMismatchError, WeightsNotFoundError
from seagull.model.config import SeagullConfig, get_preset
from seagull.model.encoder import ImageEncoder
from seagull.model.encoders import get_encoder_spec, load_state_dict_file
from seagull.model.mfe import MaskFeatureExtractor
from seagull.model.projector import Projector

log = logging.getLogger(__name__)

CONFIG_FILE = "seagull_config.json"
TRAINABLE_FILE = "trainable.safetensors"
FROZEN_FILE = "frozen.safetensors"
TOKENIZER_DIR = "tokenizer"


class SeagullModel(nn.Module):
    """The Seagull VLM. ``tokenizer`` may be None only for a skeleton built on the meta device."""

    def __init__(self, config: SeagullConfig, tokenizer=None, llm=None):
        super().__init__()
        from seagull.model import llm as llm_lib
        from seagull.model.batch import PromptEncoder

        self.config = config
        self.tokenizer = tokenizer
        vocab = len(tokenizer) if tokenizer is not None else config.vocab_size + 3
        self.encoder = ImageEncoder.from_config(config)
        self.projector = Projector(self.encoder.dims[config.image_token_stage - 1],
                                   config.hidden_size)
        self.mfe = MaskFeatureExtractor(config, self.encoder.dims)
        if llm is None:
            llm = llm_lib.build_llama(config, vocab)
        llm_lib.resize_for_tokenizer(llm, max(vocab, llm.get_input_embeddings().weight.shape[0]))
        self.llm = llm_lib.apply_lora(llm, config) if config.llm_train == "lora" else llm
        self._set_trainable()
        # Optional per-image store of the frozen encoder's features (``FeatureCache``): training
        # reuses them across regions, epochs and runs instead of re-encoding every step.
        self.feature_cache = None
        self.prompts = (PromptEncoder(tokenizer, config.num_image_tokens)
                        if tokenizer is not None else None)
        # Where the frozen parts of a paper-preset model come from (recorded when saved).
        self.sources: dict[str, str] = {}

    # ---- building ------------------------------------------------------------------------
    @classmethod
    def from_preset(cls, name: str, *, llm_path=None, encoder_weights=None,
                    random_init: bool = False, device=None, dtype: torch.dtype | None = None,
                    strict: bool = False, tokenizer=None, **overrides) -> SeagullModel:
        """Build a preset. ``overrides`` replace config fields (e.g. ``use_global=False``).

        A pretrained LLM (``paper``) needs the Vicuna directory, and a ``checkpoint`` encoder its
        file (explicit, or found by ``seagull.weights``), unless ``random_init=True``
        (benchmarks) or ``device="meta"`` (a skeleton with the right shapes and no memory). A
        ``package`` encoder (``small``) loads from its installed package; ``tiny`` is random.
        """
        from seagull.model import llm as llm_lib

        config = get_preset(name).replace(**overrides) if overrides else get_preset(name)
        meta = device is not None and torch.device(device).type == "meta"
        random_init = random_init or meta
        llm = None
        if not random_init:
            encoder_weights = encoder_weights_path(config, encoder_weights)
        if config.llm_init == "scratch":
            tokenizer = tokenizer or llm_lib.train_tiny_tokenizer()
            config = config.replace(vocab_size=len(tokenizer) - 3)
        elif not random_init:
            from seagull import weights

            llm_dir = weights.resolve("llm", llm_path, strict=True)
            tokenizer = tokenizer or llm_lib.load_tokenizer(llm_dir)
            llm = llm_lib.load_llama(llm_dir, dtype=dtype or torch.float32)
            llm_lib.check_llama(llm, config, llm_dir)
            config = config.replace(vocab_size=llm.config.vocab_size)
        elif not meta and tokenizer is None:
            # Random full-size weights (benchmarks): any tokenizer with ids below the vocabulary.
            tokenizer = llm_lib.train_tiny_tokenizer()
        with torch.device(device) if device is not None else _nullcontext():
            model = cls(config, tokenizer, llm)
        if encoder_weights is not None:
            model.encoder.load_checkpoint(encoder_weights)
            model.sources["encoder"] = str(encoder_weights)
        if llm is not None:
            model.sources["llm"] = str(llm_dir)
        if dtype is not None and not meta:
            model.to(dtype)
        return model

    def _set_trainable(self) -> None:
        """MFE and projector train, and LoRA (``llm_train="lora"``: the base LLM stays frozen,
        the LM head too unless ``train_lm_head``) or the whole LLM (``"full"``); the encoder
        never trains."""
        full_llm = self.config.llm_train == "full"
        for name, p in self.named_parameters():
            p.requires_grad_(name.startswith(("mfe.", "projector.")) or ".lora_" in name
                             or (full_llm and name.startswith("llm.")))
        if self.config.train_lm_head:
            for p in self.llm.get_output_embeddings().parameters():
                p.requires_grad_(True)

    def trainable_parameters(self) -> list[nn.Parameter]:
        """What an optimiser updates: LoRA + MFE + projector (+ the LM head for ``tiny``)."""
        return [p for p in self.parameters() if p.requires_grad]

    def trainable_names(self) -> list[str]:
        return [n for n, p in self.named_parameters() if p.requires_grad]

    def saved_frozen_names(self) -> set[str]:
        """Frozen tensors only a saved file can restore: a random encoder's, and the base of an
        LLM trained from scratch (a pretrained encoder or LLM comes from its source again)."""
        trainable = set(self.trainable_names())
        random_encoder = self.encoder.spec.weights == "random"
        scratch_llm = self.config.llm_init == "scratch"
        return {k for k in self.state_dict() if k not in trainable and (
            (random_encoder and k.startswith("encoder.")) or
            (scratch_llm and not k.startswith("encoder.")))}

    def count_parameters(self) -> dict[str, int]:
        """Parameter counts per part (works on the meta device)."""
        counts = {"encoder": 0, "projector": 0, "mfe": 0, "llm": 0, "lora": 0}
        for name, p in self.named_parameters():
            part = "lora" if ".lora_" in name else name.split(".", 1)[0]
            counts[part] += p.numel()
        counts["total"] = sum(counts.values())
        counts["trainable"] = sum(p.numel() for p in self.trainable_parameters())
        return counts

    # ---- computing -----------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return self.projector.fc1.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.projector.fc1.weight.dtype

    def image_context(self, images: torch.Tensor, image_ids=None, cached_images=None) -> dict:
        """Everything that depends on the images only (B×3×S×S): stage features, the MFE's key
        tokens and the projected image tokens (B×N×hidden). With ``image_ids`` (B strings) and
        a ``feature_cache``, the frozen encoder runs only for images it has not seen;
        ``cached_images`` (B bools) marks rows whose pixels ``build_batch`` left blank because
        the cache held their features."""
        if self.feature_cache is not None and image_ids is not None:
            features = self.feature_cache.features(self.encoder, images, image_ids, self.device,
                                                   cached=cached_images)
        else:
            if cached_images is not None and bool(torch.as_tensor(cached_images).any()):
                raise ValueError("the batch left cached images blank but the model has no "
                                 "feature cache to read them from")
            features = self.encoder(images.to(self.device, self.encoder.dtype))
        return {"features": features, "keys": self.mfe.image_keys(features),
                "image_tokens": self.projector(self._token_map(features))}

    def _token_map(self, features: list[torch.Tensor]) -> torch.Tensor:
        """The stage that becomes image tokens, average-pooled by ``image_token_pool``."""
        stage = features[self.config.image_token_stage - 1]
        pool = self.config.image_token_pool
        return torch.nn.functional.avg_pool2d(stage, pool) if pool > 1 else stage

    def embed(self, input_ids: torch.Tensor, image_tokens: torch.Tensor | None,
              gvt: torch.Tensor | None, lvt: torch.Tensor | None) -> torch.Tensor:
        """Token embeddings (R×T×hidden) with the placeholders replaced in order: each ``<image>``
        run by the row's N image tokens (``image_tokens`` R×N×hidden), ``<global>`` by ``gvt``
        (R×hidden), ``<local>`` by ``lvt`` (R×hidden). A row may lack a placeholder only when
        its values are None."""
        embeds = self.llm.get_input_embeddings()(input_ids)
        ids = self.prompts.placeholder_ids if self.prompts else ()
        for token_id, values in zip(ids, (image_tokens, gvt, lvt)):
            where = input_ids == token_id
            if values is None:
                if bool(where.any()):
                    raise ValueError("placeholder present but no features given for it")
                continue
            values = values.reshape(values.shape[0], -1, embeds.shape[-1])
            if int(where.sum()) != values.shape[0] * values.shape[1] or \
                    bool((where.sum(1) != values.shape[1]).any()):
                raise ValueError(f"each row needs {values.shape[1]} placeholder(s) id {token_id}")
            embeds = embeds.masked_scatter(where[..., None], values.to(embeds.dtype))
        return embeds

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                images: torch.Tensor, coverage: torch.Tensor, crops: torch.Tensor,
                labels: torch.Tensor | None = None, image_index: torch.Tensor | None = None,
                image_ids=None, cached_images=None, **llm_kwargs):
        """One pass over R samples (``build_batch``); ``image_index`` (R,) maps samples to
        images when several samples share one (default: sample r has image r); ``image_ids``
        (one string per image) lets the ``feature_cache`` skip images it has encoded, and
        ``cached_images`` says which of them ``build_batch`` left without pixels."""
        device = self.device
        if image_index is None:
            image_index = torch.arange(input_ids.shape[0], device=device)
        ctx = self.image_context(images, image_ids, cached_images)
        gvt, lvt = self.mfe(ctx["features"], coverage.to(device), crops.to(device),
                            image_index.to(device), keys=ctx["keys"])
        embeds = self.embed(input_ids.to(device), ctx["image_tokens"][image_index], gvt, lvt)
        return self.llm(inputs_embeds=embeds, attention_mask=attention_mask.to(device),
                        labels=None if labels is None else labels.to(device), **llm_kwargs)

    # ---- saving and loading --------------------------------------------------------------
    def save_pretrained(self, directory: str | Path, sources: dict | None = None) -> Path:
        """Write config, tokenizer and weights (safetensors) to ``directory``.

        ``sources``: where the frozen parts of a ``paper`` model come from
        (``{"llm": dir, "encoder": file}``), recorded for ``from_pretrained``; by default the
        ones the model was built from.
        """
        from safetensors.torch import save_file

        directory = Path(directory)
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create {directory}: {exc.strerror}") from None
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        trainable = set(self.trainable_names())
        save_file({k: v for k, v in state.items() if k in trainable},
                  str(directory / TRAINABLE_FILE))
        frozen = self.saved_frozen_names()
        if frozen:
            save_file({k: v for k, v in state.items() if k in frozen},
                      str(directory / FROZEN_FILE))
        self.tokenizer.save_pretrained(str(directory / TOKENIZER_DIR))
        meta = {"config": self.config.to_dict(), "sources": sources or self.sources}
        (directory / CONFIG_FILE).write_text(json.dumps(meta, indent=1))
        return directory

    @classmethod
    def read_saved(cls, directory: str | Path, *, llm_path=None, encoder_weights=None
                   ) -> tuple[SeagullConfig, dict]:
        """A saved model's config and the files its frozen parts come from (``{"llm": folder or
        None, "encoder": file or None}``), checked without loading a tensor: what
        ``from_pretrained`` will read is there, else a one-line ``WeightsNotFoundError`` or
        ``ConfigError`` naming the folder. A service checks a model with it before it starts
        anything."""
        directory = Path(directory)
        if not (directory / CONFIG_FILE).is_file():
            raise WeightsNotFoundError(f"model {directory}: no {CONFIG_FILE} (not a folder "
                                       "written by save_pretrained)")
        try:
            meta = json.loads((directory / CONFIG_FILE).read_text())
            config = SeagullConfig.from_dict(meta["config"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"model {directory}: bad {CONFIG_FILE} ({exc})") from None
        sources = meta.get("sources", {})
        llm_dir = None
        if config.llm_init == "pretrained":
            llm_dir = llm_path or sources.get("llm")
            if not llm_dir:
                raise WeightsNotFoundError(f"model {directory}: the LLM's folder is needed "
                                           "(llm_path=…)")
            if not Path(llm_dir).is_dir():
                raise WeightsNotFoundError(f"model {directory}: its LLM folder {llm_dir} is "
                                           "not there")
        spec = get_encoder_spec(config.encoder)
        if spec.weights == "checkpoint":
            encoder_weights = encoder_weights or sources.get("encoder")
            if not encoder_weights:
                raise WeightsNotFoundError(f"model {directory}: the encoder's checkpoint is "
                                           "needed (encoder_weights=…)")
            if not Path(encoder_weights).is_file():
                raise WeightsNotFoundError(f"model {directory}: its encoder checkpoint "
                                           f"{encoder_weights} is not there")
        elif spec.weights == "package":
            encoder_weights = spec.weights_file()  # the installed package's, wherever it saved
        else:
            encoder_weights = None
        for name in (TRAINABLE_FILE, TOKENIZER_DIR):
            if not (directory / name).exists():
                raise WeightsNotFoundError(f"model {directory}: {name} is missing")
        return config, {"llm": None if llm_dir is None else str(llm_dir),
                        "encoder": None if encoder_weights is None else str(encoder_weights)}

    @classmethod
    def from_pretrained(cls, directory: str | Path, *, llm_path=None, encoder_weights=None,
                        device=None, dtype: torch.dtype | None = None) -> SeagullModel:
        """Rebuild a saved model exactly (independent of the global random seed)."""
        from safetensors.torch import load_file

        from seagull.model import llm as llm_lib

        directory = Path(directory)
        config, files = cls.read_saved(directory, llm_path=llm_path,
                                       encoder_weights=encoder_weights)
        tokenizer = llm_lib.load_tokenizer(directory / TOKENIZER_DIR)
        llm = None
        model_sources = {}
        if files["llm"] is not None:
            llm = llm_lib.load_llama(files["llm"])
            llm_lib.check_llama(llm, config, files["llm"])
            model_sources["llm"] = files["llm"]
        spec = get_encoder_spec(config.encoder)
        encoder_weights = files["encoder"]
        model = cls(config, tokenizer, llm)
        if spec.weights != "random":
            model.encoder.load_checkpoint(encoder_weights)
            model_sources["encoder"] = str(encoder_weights)
        model.sources = model_sources
        frozen = model.saved_frozen_names()
        files = [TRAINABLE_FILE] + ([FROZEN_FILE] if frozen else [])
        state = {}
        for name in files:
            path = directory / name
            if not path.is_file():
                raise WeightsNotFoundError(f"model {directory}: {name} is missing")
            state.update(load_file(str(path)))
        model._load_checked(state, set(model.trainable_names()) | frozen, source=str(directory))
        if device is not None or dtype is not None:
            model.to(device=device, dtype=dtype)
        model.eval()
        return model

    def _load_checked(self, state: dict, wanted: set[str], source: str) -> None:
        own = self.state_dict()
        missing = sorted(wanted - set(state))
        unexpected = sorted(set(state) - set(own))
        if missing or unexpected:
            raise WeightsMismatchError(f"{source}: {len(missing)} tensor(s) missing (e.g. "
                                       f"{missing[:2]}), {len(unexpected)} unexpected (e.g. "
                                       f"{unexpected[:2]})")
        for key, value in state.items():
            if tuple(value.shape) != tuple(own[key].shape):
                raise WeightsMismatchError(f"{source}: {key} has shape {tuple(value.shape)}, "
                                           f"the model wants {tuple(own[key].shape)}")
        self.load_state_dict(state, strict=False)

    def load_released_checkpoint(self, path: str | Path, strict: bool = False) -> dict:
        """Load the authors' released checkpoint (LLaVA/Osprey-style names) where names map.

        ``path``: a safetensors/torch file or a folder of them. Tensors are renamed by
        ``RELEASED_NAME_MAP`` and loaded when the shape fits; returns ``{"loaded": n,
        "unmapped": [names]}``. ``strict``: any unmapped or misshapen tensor is an error.
        """
        path = Path(path)
        files = sorted(p for p in path.iterdir() if p.suffix in (".safetensors", ".bin", ".pt",
                                                                  ".pth")) \
            if path.is_dir() else [path]
        if not files:
            raise WeightsNotFoundError(f"released checkpoint {path}: no weight files")
        own = self.state_dict()
        mapped, unmapped = {}, []
        for f in files:
            for name, tensor in load_state_dict_file(f).items():
                target = map_released_name(name)
                if target is None or target not in own:
                    unmapped.append(name)
                elif tuple(own[target].shape) != tuple(tensor.shape):
                    raise WeightsMismatchError(f"released checkpoint {f}: {name} → {target} has "
                                               f"shape {tuple(tensor.shape)}, the model wants "
                                               f"{tuple(own[target].shape)}")
                else:
                    mapped[target] = tensor
        if strict and unmapped:
            raise WeightsMismatchError(f"released checkpoint {path}: {len(unmapped)} tensor(s) "
                                       f"have no counterpart here (e.g. {unmapped[:3]})")
        self.load_state_dict(mapped, strict=False)
        log.info("released checkpoint %s: %d tensors loaded, %d unmapped", path, len(mapped),
                 len(unmapped))
        return {"loaded": len(mapped), "unmapped": unmapped}


# The released checkpoint's names (a LLaVA/Osprey-style LlamaForCausalLM with the projector and
# vision tower under model.* and the MFE under mask_extractor.*) → ours. The LLM's linear layers
# load into the LoRA-wrapped base layers (released weights are merged: no adapter needed).
# Rules are tried in order; the first that matches wins. The released MFE's mask_linear is not
# used by its forward pass and has no counterpart here.
_LLM_BASE = "llm.base_model.model."
_LORA_WRAPPED = r"(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)"
_MFE = r"^mask_extractor\."
RELEASED_NAME_MAP: tuple[tuple[str, object], ...] = (
    (r"^model\.vision_tower\.vision_tower\.(?:visual\.)?trunk\.(.*)$", r"encoder.trunk.\1"),
    (r"^model\.mm_projector\.0\.(weight|bias)$", r"projector.fc1.\1"),
    (r"^model\.mm_projector\.2\.(weight|bias)$", r"projector.fc2.\1"),
    (rf"^model\.layers\.(\d+)\.(self_attn|mlp)\.{_LORA_WRAPPED}\.(weight|bias)$",
     _LLM_BASE + r"model.layers.\1.\2.\3.base_layer.\4"),
    (r"^model\.(layers\..*|embed_tokens\.weight|norm\.weight)$", _LLM_BASE + r"model.\1"),
    (r"^lm_head\.weight$", _LLM_BASE + "lm_head.weight"),
    (_MFE + r"res([2-5])\.(weight|bias)$",
     lambda m: f"mfe.basic_proj.{int(m.group(1)) - 2}.{m.group(2)}"),
    (_MFE + r"g_res([2-5])\.(weight|bias)$",
     lambda m: f"mfe.key_proj.{int(m.group(1)) - 2}.{m.group(2)}"),
    (_MFE + r"cross_att_res\.(.*)$", r"mfe.context_block.\1"),
    (_MFE + r"feat_linear\.(weight|bias)$", r"mfe.basic_fuse.\1"),
    (_MFE + r"cross_feat_linear\.(weight|bias)$", r"mfe.context_fuse.\1"),
    (_MFE + r"final_mlp\.(weight|bias)$", r"mfe.global_out.\1"),
    (_MFE + r"global_vit\.([03])\.(weight|bias)$", r"mfe.local_view.convs.\1.\2"),
    (_MFE + r"sa\.(.*)$", r"mfe.local_view.attn.\1"),
    (_MFE + r"mlp\.layers\.(.*)$", r"mfe.local_view.out.layers.\1"),
)


def encoder_weights_path(config: SeagullConfig, explicit=None) -> Path | None:
    """Where the config's encoder weights come from: the checkpoint file (explicit, or found by
    ``seagull.weights``; required), the package's file, or None for a random encoder."""
    spec = get_encoder_spec(config.encoder)
    if spec.weights == "checkpoint":
        from seagull import weights

        return weights.resolve("encoder", explicit, strict=True)
    if spec.weights == "package":
        return Path(explicit) if explicit else spec.weights_file()
    return None


def map_released_name(name: str) -> str | None:
    for pattern, target in RELEASED_NAME_MAP:
        if re.match(pattern, name):
            return re.sub(pattern, target, name)
    return None


class _nullcontext:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False
