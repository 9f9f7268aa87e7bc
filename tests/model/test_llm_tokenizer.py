import torch

from seagull.labels import instructions as ins
from seagull.model import llm as llm_lib


def test_tiny_tokenizer_is_trained_deterministically_and_round_trips(tiny_tokenizer, tmp_path):
    again = llm_lib.train_tiny_tokenizer()
    assert again.get_vocab() == tiny_tokenizer.get_vocab()
    tiny_tokenizer.save_pretrained(str(tmp_path / "tok"))
    loaded = llm_lib.load_tokenizer(tmp_path / "tok")
    text = ins.chat_prompt(ins.AIR_QUESTIONS["quality"]) + " " + ins.quality_answer(0.5)
    assert loaded(text)["input_ids"] == tiny_tokenizer(text)["input_ids"]
    for token in llm_lib.REGION_TOKENS:
        ids = loaded(token, add_special_tokens=False)["input_ids"]
        assert len(ids) == 1 and ids[0] == loaded.convert_tokens_to_ids(token)


def test_tiny_tokenizer_reads_every_answer_back(tiny_tokenizer):
    for text in llm_lib.tokenizer_corpus():
        ids = tiny_tokenizer(text, add_special_tokens=False)["input_ids"]
        assert tiny_tokenizer.decode(ids) == text
        assert tiny_tokenizer.unk_token_id not in ids
    # Byte fallback: text it never saw still encodes without unknown tokens.
    ids = tiny_tokenizer("Über 3 € café", add_special_tokens=False)["input_ids"]
    assert tiny_tokenizer.decode(ids) == "Über 3 € café"


def test_resized_rows_are_deterministic(tiny_tokenizer):
    from seagull.model.config import get_preset

    config = get_preset("tiny")
    torch.manual_seed(0)
    llm = llm_lib.build_llama(config, 50)
    llm_lib.resize_for_tokenizer(llm, 53)
    emb = llm.get_input_embeddings().weight
    assert emb.shape[0] == 53
    assert torch.allclose(emb[50:], emb[:50].mean(0, keepdim=True).expand(3, -1))
