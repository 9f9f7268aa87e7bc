import numpy as np
import pytest
import torch

from seagull.errors import EmptyMaskError, MaskShapeError
from seagull.labels import instructions as ins
from seagull.model.batch import IGNORE_INDEX, build_batch


def _samples(image, masks):
    return [
        {"image": image, "mask": masks[0], "question": ins.AIR_QUESTIONS["quality"],
         "answer": ins.quality_answer(0.9)},
        {"image": image, "mask": masks[1], "question": ins.AIR_QUESTIONS["distortion"],
         "answer": ins.distortion_answer([{"type": "noise", "level": "severe"},
                                          {"type": "blur", "level": "minor"}])},
        {"image": image, "mask": masks[6], "question": "Is this region in blur distortion?",
         "answer": ins.NO},
    ]


def test_labels_ignore_everything_but_the_answer(tiny_model, image, masks):
    prompts = tiny_model.prompts
    samples = _samples(image, masks)
    batch = build_batch(samples, prompts, tiny_model.config)
    tok = prompts.tokenizer
    for row, sample in enumerate(samples):
        ids, labels = batch["input_ids"][row], batch["labels"][row]
        kept = labels != IGNORE_INDEX
        answer = labels[kept].tolist()
        assert answer[-1] == prompts.eos_id
        assert tok.decode(answer[:-1]).strip() == sample["answer"]
        # The answer is the last stretch of real tokens, and nothing before it is learned.
        length = int(batch["attention_mask"][row].sum())
        first = int(kept.nonzero()[0])
        assert kept[first:length].all() and not kept[:first].any() and not kept[length:].any()
        assert ids[first:length].tolist() == answer
        assert first == len(prompts.prompt_ids(sample["question"]))
    S, L = tiny_model.config.image_size, tiny_model.config.local_size
    assert batch["images"].shape == (3, 3, S, S) and batch["crops"].shape == (3, 3, L, L)
    assert batch["coverage"].shape == (3, S, S)


def test_prompt_has_the_image_tokens_and_the_region_placeholders(tiny_model):
    prompts = tiny_model.prompts
    ids = prompts.prompt_ids(ins.AIR_QUESTIONS["importance"])
    n = tiny_model.config.num_image_tokens
    assert ids.count(prompts.image_id) == n
    start = ids.index(prompts.image_id)
    assert ids[start:start + n] == [prompts.image_id] * n  # one contiguous run
    assert ids.count(prompts.global_id) == ids.count(prompts.local_id) == 1
    assert ids.index(prompts.local_id) == ids.index(prompts.global_id) + 1
    # The shared prefix ends right before <global>: the cacheable part.
    assert ids[:len(prompts.prefix_ids)] == prompts.prefix_ids
    assert ids[len(prompts.prefix_ids)] == prompts.global_id
    assert ids[0] == prompts.bos_id


def test_spliced_embeddings_sit_exactly_at_the_placeholders(tiny_model, image, masks):
    prompts = tiny_model.prompts
    ids = torch.tensor([prompts.prompt_ids(ins.AIR_QUESTIONS["quality"])] * 2)
    hidden, n = tiny_model.config.hidden_size, tiny_model.config.num_image_tokens
    image_tokens = torch.randn(2, n, hidden)
    gvt, lvt = torch.randn(2, hidden), torch.randn(2, hidden)
    with torch.no_grad():
        out = tiny_model.embed(ids, image_tokens, gvt, lvt)
        plain = tiny_model.llm.get_input_embeddings()(ids)
    for row in range(2):
        image_pos = (ids[row] == prompts.image_id).nonzero()[:, 0]
        assert torch.equal(out[row, image_pos], image_tokens[row])
        assert torch.equal(out[row, ids[row] == prompts.global_id][0], gvt[row])
        assert torch.equal(out[row, ids[row] == prompts.local_id][0], lvt[row])
        other = ~torch.isin(ids[row], torch.tensor(prompts.placeholder_ids))
        assert torch.equal(out[row, other], plain[row, other])


def test_loss_is_finite_and_only_trainables_get_gradients(tiny_model, image, masks):
    batch = build_batch(_samples(image, masks)[:2], tiny_model.prompts, tiny_model.config)
    tiny_model.zero_grad(set_to_none=True)
    loss = tiny_model(**batch).loss
    assert torch.isfinite(loss) and float(loss.detach()) > 0
    loss.backward()
    names = set(tiny_model.trainable_names())
    for name, p in tiny_model.named_parameters():
        if name not in names:
            assert p.grad is None, name
    assert any(n.startswith("mfe.") for n in names) and any(".lora_" in n for n in names)
    assert any(n.startswith("projector.") for n in names)
    assert any("lm_head" in n for n in names)  # the tiny preset trains its head
    assert not any(n.startswith("encoder.") for n in names)
    got_grad = [n for n, p in tiny_model.named_parameters() if p.grad is not None]
    assert any(n.startswith("mfe.local_view") for n in got_grad)
    assert any(n.startswith("mfe.basic_proj") for n in got_grad)
    tiny_model.zero_grad(set_to_none=True)


def test_bad_samples_are_typed_errors(tiny_model, image, masks):
    sample = _samples(image, masks)[0]
    with pytest.raises(EmptyMaskError, match="sample 0"):
        build_batch([{**sample, "mask": np.zeros(image.shape[:2], bool)}], tiny_model.prompts,
                    tiny_model.config)
    with pytest.raises(MaskShapeError):
        build_batch([{**sample, "mask": np.ones((5, 5), bool)}], tiny_model.prompts,
                    tiny_model.config)


def test_level_words_have_distinct_tokens_after_their_stems(tiny_model):
    prompts = tiny_model.prompts
    for scale in ("quality", "importance"):
        ids = prompts.level_ids(scale)
        assert len(set(ids)) == 5
        answer = prompts.answer_ids(getattr(ins, f"{scale}_answer")(0.1))
        stem = prompts.stem_ids(scale)
        assert answer[:len(stem)] == stem and answer[len(stem)] == ids[0]
    assert len(set(prompts.severity_ids())) == 5
