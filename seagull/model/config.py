"""Model configuration: one dataclass, three presets (``paper``, ``small``, ``tiny``) kept as data.

A preset is the whole architecture plus its training defaults. ``paper`` follows the paper's
model and training sections and the released code's widths; ``small`` is what
trains on two CPU cores and is served by default: the ImageNet-trained EfficientNet-Lite0 from
its package, a small LLaMA trained from scratch (docs/model.md gives the measurements behind
each number); ``tiny`` is the same code with a random encoder and tiny widths, for fast tests.
Which encoder, where the LLM comes from and what trains are fields, not branches on a name.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from seagull.errors import ConfigError

LLM_INITS = ("pretrained", "scratch")  # a local LLaMA folder (Vicuna) / random, saved with us
LLM_TRAINING = ("lora", "full")  # LoRA adapters on a frozen LLM / every LLM weight trains


@dataclass(frozen=True)
class TrainingDefaults:
    """What a trainer uses unless told otherwise (docs/method.md, "Training")."""

    stage1_lr: float
    stage1_epochs: int
    stage2_lr: float
    stage2_epochs: int
    batch_size: int
    weight_decay: float = 0.0
    warmup_ratio: float = 0.03
    schedule: str = "cosine"
    optimizer: str = "adamw"
    max_seq_len: int = 2048
    jir_fraction: float = 0.5
    # Stage 1's draw of the task (quality, importance, distortion), and AdamW's beta2.
    task_weights: tuple[float, float, float] = (1.0, 1.0, 1.0)
    adam_beta2: float = 0.999


@dataclass(frozen=True)
class SeagullConfig:
    """The architecture. Shapes below: S = image_size, C_j = the encoder's stage widths
    (``ImageEncoder.dims``, read off the built trunk), P = mfe_dim."""

    preset: str
    # Image encoder (frozen): a name of seagull.model.encoders.ENCODERS. Stage j (1…4) outputs
    # C_j channels at S / 2**(j+1). encoder_arch / _depths / _dims override the registry's timm
    # architecture (None: the registry's own), for the tiny random ConvNeXt.
    encoder: str = "convnext"
    encoder_arch: str | None = None
    encoder_depths: tuple[int, ...] | None = None
    encoder_dims: tuple[int, ...] | None = None
    image_size: int = 512
    # Which stage (1…4) becomes the LLM's image tokens: the paper says 4, the released code 3;
    # its map is average-pooled by image_token_pool first (1: every cell is a token).
    image_token_stage: int = 3
    image_token_pool: int = 1
    # Mask-based Feature Extractor.
    mfe_dim: int = 1024  # P
    mfe_heads: int = 8
    local_size: int = 512  # the region's crop is resized to local_size²
    local_channels: int = 5  # first 1×1 conv of the local view: 3 → local_channels
    local_pool: int = 4  # each of the two local stages average-pools by this factor
    local_mlp_dim: int = 512  # hidden width of the local view's 3-layer MLP
    # The region's size and place in the image (area share, box) as an input of the global
    # view: mask pooling averages, so without it the MFE cannot tell a large region from a
    # small one of the same content. Off in the paper's MFE; docs/model.md has the measurement.
    mfe_region_geometry: bool = False
    use_global: bool = True  # ablation switch: drop <global> (its embedding becomes zeros)
    use_local: bool = True  # ablation switch: drop <local>
    # LLM (LLaMA family): a pretrained folder (Vicuna) or trained from scratch with the project's
    # tokenizer; LoRA on a frozen LLM, or every weight trained.
    llm_init: str = "pretrained"
    llm_train: str = "lora"
    vocab_size: int = 32000  # the base tokenizer's size; <image>, <global>, <local> come on top
    hidden_size: int = 4096
    intermediate_size: int = 11008
    num_layers: int = 32
    num_heads: int = 32
    num_kv_heads: int = 32
    max_position: int = 4096
    rope_theta: float = 10000.0
    rms_norm_eps: float = 1e-5
    # Standard deviation of a from-scratch LLM's initial weights. LLaMA's 0.02 is sized for a
    # 4,096-wide model: in a 128-wide one the attention path starts ~(0.02)² below the token
    # embeddings, and the answer barely depends on the region for hundreds of steps.
    llm_init_std: float = 0.02
    # LoRA (peft) on the LLM's linear layers.
    lora_r: int = 128
    lora_alpha: int = 256
    lora_dropout: float = 0.05
    lora_targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj",
                                     "gate_proj", "up_proj", "down_proj")
    # Train the LM head in full as well (needed by a random tiny LLaMA to learn at all:
    # docs/method.md, "A LLaMA trained from scratch").
    train_lm_head: bool = False
    training: TrainingDefaults = field(default_factory=lambda: TrainingDefaults(
        stage1_lr=4e-5, stage1_epochs=1, stage2_lr=1e-5, stage2_epochs=5, batch_size=32))

    def __post_init__(self):
        from seagull.model.encoders import get_encoder_spec

        get_encoder_spec(self.encoder)
        for name in ("encoder_dims", "encoder_depths"):
            if getattr(self, name) is not None and len(getattr(self, name)) != 4:
                raise ConfigError(f"{name} needs four stages, got {getattr(self, name)}")
        if self.llm_init not in LLM_INITS:
            raise ConfigError(f"llm_init {self.llm_init!r} is not one of {LLM_INITS}")
        if self.llm_train not in LLM_TRAINING:
            raise ConfigError(f"llm_train {self.llm_train!r} is not one of {LLM_TRAINING}")
        if not 1 <= self.image_token_stage <= 4:
            raise ConfigError(f"image_token_stage {self.image_token_stage} is not in 1…4")
        if self.image_size % 32:
            raise ConfigError(f"image_size {self.image_size} is not a multiple of 32")
        if self.image_token_pool < 1 or \
                self.stage_size(self.image_token_stage) % self.image_token_pool:
            raise ConfigError(f"image_token_pool {self.image_token_pool} does not divide stage "
                              f"{self.image_token_stage}'s {self.stage_size(self.image_token_stage)} "
                              "cells")
        if self.local_size % (self.local_pool ** 2):
            raise ConfigError(f"local_size {self.local_size} is not a multiple of "
                              f"local_pool² = {self.local_pool ** 2}")
        if self.mfe_dim % (2 * self.mfe_heads):
            raise ConfigError(f"mfe_dim {self.mfe_dim} is not divisible by 2 × mfe_heads "
                              "(the cross-attention works at half width)")
        if self.local_tokens_dim % self.mfe_heads:
            raise ConfigError(f"the local token's {self.local_tokens_dim} values are not "
                              f"divisible by mfe_heads {self.mfe_heads}")

    # ---- derived ----------------------------------------------------------------------
    @property
    def pixel_mean(self) -> tuple[float, float, float]:
        """The normalisation the encoder's weights expect (the registry's)."""
        from seagull.model.encoders import get_encoder_spec

        return get_encoder_spec(self.encoder).mean

    @property
    def pixel_std(self) -> tuple[float, float, float]:
        from seagull.model.encoders import get_encoder_spec

        return get_encoder_spec(self.encoder).std

    # ---- derived sizes ----------------------------------------------------------------
    def stage_size(self, stage: int) -> int:
        """Side of stage ``stage`` (1…4) feature maps: S / 4, S / 8, S / 16, S / 32."""
        return self.image_size // (2 ** (stage + 1))

    @property
    def num_image_tokens(self) -> int:
        return (self.stage_size(self.image_token_stage) // self.image_token_pool) ** 2

    @property
    def local_tokens_dim(self) -> int:
        """Values per local-view token: (local_size / local_pool²)²."""
        return (self.local_size // self.local_pool ** 2) ** 2

    # ---- (de)serialisation ------------------------------------------------------------
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> SeagullConfig:
        data = _upgrade(dict(data))
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown model config field(s) {unknown}")
        training = data.pop("training", None)
        for key, value in list(data.items()):
            if isinstance(value, list):
                data[key] = tuple(value)
        if training is not None:
            training = {k: tuple(v) if isinstance(v, list) else v for k, v in training.items()}
            data["training"] = TrainingDefaults(**training)
        return cls(**data)

    def replace(self, **changes) -> SeagullConfig:
        return dataclasses.replace(self, **changes)


def _upgrade(data: dict) -> dict:
    """A config saved before encoders were a registry: the ConvNeXt fields it spelled out, the
    normalisation (now the encoder's), and the tiny preset's random parts made explicit."""
    data.pop("pixel_mean", None)
    data.pop("pixel_std", None)
    tiny = data.get("preset") == "tiny"
    if "encoder" not in data:
        data["encoder"] = "random_convnext" if tiny else "convnext"
        if not tiny and data.get("encoder_arch") == "convnext_large":
            data.update(encoder_arch=None, encoder_depths=None, encoder_dims=None)
    if "llm_init" not in data:
        data["llm_init"] = "scratch" if tiny else "pretrained"
    return data


PRESETS: dict[str, SeagullConfig] = {
    # ConvNeXt-Large at 512², Vicuna-7B v1.5, LoRA r=128/α=256, the released code's widths.
    "paper": SeagullConfig(preset="paper"),
    # Trains on two CPU cores: the pretrained EfficientNet-Lite0 at 384² (the main job's 256-px
    # renders upsampled, as the probes found best), a 2-layer LLaMA of width 128 trained in full
    # from scratch, stage 1 weighted towards quality questions. docs/model.md, "The small
    # preset", has the measurements behind each number.
    "small": SeagullConfig(
        preset="small",
        encoder="efficientnet_lite0",
        image_size=384,
        # Stage 2 (48×48 at 384²) pooled by 12: 4×4 = 16 image tokens of the low-level stage
        # that carries what transfers to unseen photos; stage-4 tokens carry the content, and
        # the LLM learnt the training photos from them (held-out quality 0.54 against 0.72-0.77).
        image_token_stage=2,
        image_token_pool=12,
        mfe_dim=128,
        mfe_heads=4,
        # The region's size and place into the global view: with the stage-2 tokens it lifts
        # held-out importance from 0.22 to 0.32-0.37 (docs/model.md).
        mfe_region_geometry=True,
        local_size=224,
        local_mlp_dim=128,
        llm_init="scratch",
        llm_train="full",
        vocab_size=0,  # set by the tokenizer the project trains (llm.train_tiny_tokenizer)
        hidden_size=128,
        intermediate_size=256,
        num_layers=2,
        num_heads=4,
        num_kv_heads=4,
        max_position=512,
        llm_init_std=0.09,  # ≈ 1/√hidden
        lora_r=8,
        lora_alpha=16,
        lora_dropout=0.0,
        train_lm_head=True,
        training=TrainingDefaults(stage1_lr=1e-3, stage1_epochs=10, stage2_lr=3e-4,
                                  stage2_epochs=5, batch_size=8, max_seq_len=512,
                                  jir_fraction=0.3, task_weights=(2.0, 1.0, 1.0),
                                  adam_beta2=0.95, weight_decay=0.1),
    ),
    # Same code, tiny: a random ConvNeXt (atto-like, narrower) at 64², a 2-layer LLaMA of
    # width 128 with LoRA.
    "tiny": SeagullConfig(
        preset="tiny",
        encoder="random_convnext",
        encoder_arch="convnext_atto",
        encoder_depths=(1, 1, 2, 1),
        encoder_dims=(16, 32, 64, 128),
        image_size=64,
        image_token_stage=3,
        mfe_dim=64,
        mfe_heads=4,
        local_size=64,
        local_mlp_dim=64,
        llm_init="scratch",
        vocab_size=0,  # set by the tokenizer the project trains (llm.train_tiny_tokenizer)
        hidden_size=128,
        intermediate_size=256,
        num_layers=2,
        num_heads=4,
        num_kv_heads=4,
        max_position=512,
        lora_r=8,
        lora_alpha=16,
        lora_dropout=0.0,
        train_lm_head=True,
        training=TrainingDefaults(stage1_lr=2e-3, stage1_epochs=30, stage2_lr=1e-3,
                                  stage2_epochs=10, batch_size=8, max_seq_len=256),
    ),
}


def get_preset(name: str) -> SeagullConfig:
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown model preset {name!r}; presets: {sorted(PRESETS)}") from None
