"""The language model: LLaMA (Vicuna-7B v1.5 for ``paper``, a random tiny one for ``tiny``),
its tokenizer with the three region placeholders, and LoRA through peft.

The tiny tokenizer is a byte-fallback BPE trained offline with ``tokenizers`` on the project's
own text (the prompt, every question and every answer of ``seagull.labels.instructions``) and
wrapped as a ``LlamaTokenizer``; it is saved with the model, so no download is ever needed.
"""

from __future__ import annotations

import logging
import string
from pathlib import Path

import torch

from seagull.errors import WeightsMismatchError, WeightsNotFoundError
from seagull.labels import instructions as ins
from seagull.labels.levels import (
    DISTORTION_TYPES,
    IMPORTANCE_WORDS,
    QUALITY_WORDS,
    SEVERITY_WORDS,
)
from seagull.model.config import SeagullConfig

log = logging.getLogger(__name__)

REGION_TOKENS = (ins.IMAGE_TOKEN, ins.GLOBAL_TOKEN, ins.LOCAL_TOKEN)


# ---- tokenizer -----------------------------------------------------------------------------

def tokenizer_corpus() -> list[str]:
    """Every text the model reads or writes: chat prompts of all questions, all answers."""
    questions = list(ins.AIR_QUESTIONS.values())
    questions += [f"Is the quality of this region {w}?" for w in QUALITY_WORDS]
    questions += [f"Is this region {w} to the overall quality?" for w in IMPORTANCE_WORDS]
    questions += [f"Is this region in {t} distortion?" for t in DISTORTION_TYPES]
    answers = [ins.YES, ins.NO, ins.NO_DISTORTION]
    answers += [ins.quality_answer((i + 0.5) / 5) for i in range(5)]
    answers += [ins.importance_answer((i + 0.5) / 5) for i in range(5)]
    for i, kind in enumerate(DISTORTION_TYPES):
        for j, level in enumerate(SEVERITY_WORDS):
            other = DISTORTION_TYPES[(i + j + 1) % len(DISTORTION_TYPES)]
            answers.append(ins.distortion_answer([{"type": kind, "level": level}]))
            answers.append(ins.distortion_answer([{"type": kind, "level": level},
                                                  {"type": other, "level": SEVERITY_WORDS[-1]}]))
    return [ins.chat_prompt(q) for q in questions] + answers


def train_tiny_tokenizer(vocab_size: int = 1024):
    """A byte-fallback BPE LlamaTokenizer trained on ``tokenizer_corpus()``, with the region
    placeholders added as special tokens. Deterministic: the same text gives the same merges.

    Punctuation is split off during training so that each level word becomes a token of its own
    ("▁good", never "▁good."): closed-set scoring reads the level word's logit directly.
    """
    import json

    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import LlamaTokenizer

    specials = ["<unk>", "<s>", "</s>"]
    byte_tokens = [f"<0x{i:02X}>" for i in range(256)]
    bpe = Tokenizer(models.BPE(byte_fallback=True, unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=True),
        pre_tokenizers.Punctuation(),
    ])
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials + byte_tokens, show_progress=False,
        initial_alphabet=list(string.ascii_letters + string.digits + string.punctuation + "▁"))
    bpe.train_from_iterator(tokenizer_corpus(), trainer)
    model = json.loads(bpe.to_str())["model"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in model["merges"]]
    tokenizer = LlamaTokenizer(vocab=model["vocab"], merges=merges)
    add_region_tokens(tokenizer)
    return tokenizer


def add_region_tokens(tokenizer) -> None:
    """Add ``<image>``, ``<global>``, ``<local>`` as special tokens (no-op when present)."""
    missing = [t for t in REGION_TOKENS if t not in tokenizer.get_vocab()]
    if missing:
        tokenizer.add_special_tokens({"additional_special_tokens": missing},
                                     replace_extra_special_tokens=False)
    tokenizer.padding_side = "right"


def load_tokenizer(path: str | Path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    add_region_tokens(tokenizer)
    return tokenizer


# ---- the LLaMA -----------------------------------------------------------------------------

def llama_config(config: SeagullConfig, vocab_size: int):
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=vocab_size, hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size, num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads, num_key_value_heads=config.num_kv_heads,
        max_position_embeddings=config.max_position, rms_norm_eps=config.rms_norm_eps,
        rope_parameters={"rope_type": "default", "rope_theta": config.rope_theta},
        tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, pad_token_id=0,
        initializer_range=config.llm_init_std,
    )


def build_llama(config: SeagullConfig, vocab_size: int):
    """A randomly initialised ``LlamaForCausalLM`` of the config's size (on the current device;
    under ``torch.device("meta")`` nothing is allocated)."""
    from transformers import LlamaForCausalLM

    return LlamaForCausalLM(llama_config(config, vocab_size))


def load_llama(path: str | Path, dtype: torch.dtype = torch.float32):
    """``LlamaForCausalLM`` from a local Hugging Face directory (e.g. Vicuna-7B v1.5)."""
    from transformers import LlamaForCausalLM

    path = Path(path)
    if not (path / "config.json").is_file():
        raise WeightsNotFoundError(f"llm weights: {path} is not a model folder (no config.json)")
    return LlamaForCausalLM.from_pretrained(str(path), dtype=dtype, local_files_only=True)


def check_llama(llm, config: SeagullConfig, path) -> None:
    c = llm.config
    got = (c.hidden_size, c.num_hidden_layers, c.num_attention_heads)
    want = (config.hidden_size, config.num_layers, config.num_heads)
    if got != want:
        raise WeightsMismatchError(f"llm weights {path}: (hidden, layers, heads) = {got}, "
                                   f"the config wants {want}")


def resize_for_tokenizer(llm, vocab_size: int) -> None:
    """Grow the embeddings and LM head to ``vocab_size`` rows.

    New rows are the mean of the old ones (deterministic, so a rebuilt model is identical to the
    saved one whatever the random seed); the placeholders' input rows are replaced by features
    anyway, and their output rows are masked out at generation.
    """
    old = llm.get_input_embeddings().weight.shape[0]
    if vocab_size == old:
        return
    llm.resize_token_embeddings(vocab_size, mean_resizing=False)
    with torch.no_grad():
        for weight in (llm.get_input_embeddings().weight, llm.get_output_embeddings().weight):
            if weight.device.type != "meta":
                weight[old:] = weight[:old].mean(0, keepdim=True)


def apply_lora(llm, config: SeagullConfig):
    """Wrap ``llm`` with LoRA adapters (rank, alpha, targets from the config) via peft."""
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha,
                      lora_dropout=config.lora_dropout, target_modules=list(config.lora_targets),
                      bias="none", task_type="CAUSAL_LM")
    return get_peft_model(llm, lora)
