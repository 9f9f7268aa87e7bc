import numpy as np
import pytest
import torch
from PIL import Image

from seagull.errors import EmptyMaskError, InvalidInputError, MaskShapeError
from seagull.labels import instructions as ins
from seagull.labels.levels import IMPORTANCE_WORDS, QUALITY_WORDS
from seagull.model import SeagullPredictor, build_batch


@pytest.fixture(scope="module")
def predictor(tiny_model, image):
    p = SeagullPredictor(tiny_model, max_new_tokens=8)
    p.set_image(image)
    return p


@pytest.mark.parametrize("task", ["quality", "importance"])
def test_prefix_cache_gives_the_scores_of_an_uncached_pass(predictor, masks, task):
    cached = predictor.level_probabilities(masks[:3], task, use_cache=True)
    uncached = predictor.level_probabilities(masks[:3], task, use_cache=False)
    assert cached.shape == (3, 5)
    assert torch.allclose(cached, uncached, atol=1e-6)
    assert torch.allclose(cached.sum(1), torch.ones(3))
    # Different regions get different answers (the region tokens matter).
    assert not torch.allclose(cached[0], cached[1])


def test_reported_score_is_the_weighted_softmax_of_the_five_level_logits(
        tiny_model, predictor, image, masks):
    result = predictor.assess(masks[2], tasks=("quality",))
    # Independently: one plain forward of the whole model on prompt + answer stem, no cache.
    tok = tiny_model.tokenizer
    stem = ins.ANSWER_STEMS["quality"]
    stem_ids = tok(stem, add_special_tokens=False)["input_ids"]
    word_ids = [tok(f"{stem} {w}", add_special_tokens=False)["input_ids"][len(stem_ids)]
                for w in QUALITY_WORDS]
    batch = build_batch([{"image": image, "mask": masks[2], "question": ins.AIR_QUESTIONS[
        "quality"], "answer": stem}], tiny_model.prompts, tiny_model.config)
    length = len(tiny_model.prompts.prompt_ids(ins.AIR_QUESTIONS["quality"])) + len(stem_ids)
    with torch.no_grad():
        logits = tiny_model(input_ids=batch["input_ids"][:, :length],
                            attention_mask=batch["attention_mask"][:, :length],
                            images=batch["images"], coverage=batch["coverage"],
                            crops=batch["crops"]).logits[0, -1]
    five = logits[word_ids].double()
    probs = torch.exp(five - five.max())
    probs /= probs.sum()
    best_first = [1.0, 0.75, 0.5, 0.25, 0.0]
    expected = sum(float(p) * w for p, w in zip(reversed(probs), best_first))
    q = result["quality"]
    assert q["score"] == pytest.approx(expected, abs=1e-5)
    assert list(q["probabilities"]) == list(QUALITY_WORDS)
    assert [q["probabilities"][w] for w in QUALITY_WORDS] == pytest.approx(probs.tolist(),
                                                                           abs=1e-5)
    assert q["level"] == QUALITY_WORDS[int(probs.argmax())]


def test_assess_answers_one_dict_for_one_mask_and_a_list_for_many(predictor, masks):
    one = predictor.assess(masks[0])
    assert set(one) == {"quality", "importance", "distortions", "text"}
    assert one["quality"]["level"] in QUALITY_WORDS
    assert one["importance"]["level"] in IMPORTANCE_WORDS
    assert 0.0 <= one["importance"]["score"] <= 1.0
    assert isinstance(one["distortions"], list) and isinstance(one["text"], str)
    assert one["text"].startswith(f"{ins.ANSWER_STEMS['quality']} {one['quality']['level']}.")
    many = predictor.assess(masks, tasks=("importance",))
    assert isinstance(many, list) and len(many) == 7
    assert all(set(r) == {"importance", "text"} for r in many)
    # Batched regions score as they do alone.
    alone = predictor.assess(masks[4], tasks=("importance",))
    assert alone["importance"]["score"] == pytest.approx(many[4]["importance"]["score"],
                                                         abs=1e-5)
    import json

    json.dumps(one)  # plain JSON types only


def test_set_image_accepts_a_pil_image(tiny_model, image, masks, predictor):
    p = SeagullPredictor(tiny_model)
    p.set_image(Image.fromarray(image))
    a = p.level_probabilities(masks[:1], "quality")
    b = predictor.level_probabilities(masks[:1], "quality")
    assert torch.allclose(a, b)
    assert p.prefix_tokens == len(tiny_model.prompts.prefix_ids)


def test_bad_requests_are_typed_errors(tiny_model, predictor, image, masks):
    with pytest.raises(EmptyMaskError):
        predictor.assess(np.zeros(image.shape[:2], bool))
    with pytest.raises(MaskShapeError):
        predictor.assess(np.ones((5, 5), bool))
    with pytest.raises(InvalidInputError, match="task"):
        predictor.assess(masks[0], tasks=("beauty",))
    with pytest.raises(InvalidInputError, match="set_image"):
        SeagullPredictor(tiny_model).assess(masks[0])


def test_distortion_answers_are_parsed_with_a_closed_set_severity():
    from seagull.model.predictor import _distortions

    text = "This region has severe blur and minor noise."
    out = _distortions(text, [0.3, 0.7])
    assert out == [{"type": "blur", "severity": 0.3, "level": "severe"},
                   {"type": "noise", "severity": 0.7, "level": "minor"}]
    # Without readable probabilities the level's own weight stands in.
    assert _distortions(text, [])[0]["severity"] == 0.25
    assert _distortions("This region has no distortion.", []) == []


def test_ask_and_judge_generate_free_text(tiny_model, predictor, masks):
    question = "Is this region in blur distortion?"
    text = predictor.ask(masks[0], question, max_new_tokens=3)
    assert isinstance(text, str) and text
    # The placeholders are never generated: making <global> by far the most likely token
    # changes nothing in the greedy answer.
    row = tiny_model.prompts.global_id

    def favour_global(module, args, output):
        output = output.clone()
        output[..., row] += 1e4
        return output

    hook = tiny_model.llm.get_output_embeddings().register_forward_hook(favour_global)
    try:
        assert predictor.ask(masks[0], question, max_new_tokens=3) == text
    finally:
        hook.remove()
    verdict = predictor.judge(masks[0], "distortion", "Is this region in blur distortion?")
    assert set(verdict) == {"yes", "text"} and verdict["yes"] in (True, False, None)


def test_encode_returns_the_images_state_and_assess_reads_it(tiny_model, image, masks,
                                                             predictor):
    """``assess(state, masks)`` answers exactly what ``set_image`` + ``assess(masks)`` does,
    for states of two images used in any order; ``encode`` stores nothing on the predictor."""
    from seagull.model import ImageState

    p = SeagullPredictor(tiny_model, max_new_tokens=8)
    other = np.ascontiguousarray(image[::-1, ::-1])
    first, second = p.encode(image), p.encode(other)
    assert isinstance(first, ImageState)
    with pytest.raises(InvalidInputError, match="set_image"):
        p.state  # noqa: B018 - encode kept nothing
    reference = SeagullPredictor(tiny_model, max_new_tokens=8)
    for picture, state in ((image, first), (other, second), (image, first)):
        reference.set_image(picture)
        assert p.assess(state, masks) == reference.assess(masks)
        assert p.assess(state, masks[2], tasks=("quality",)) == \
            reference.assess(masks[2], tasks=("quality",))
        assert p.assess(state, masks[2], ("quality",)) == reference.assess(masks[2], ("quality",))
        assert torch.equal(p.level_probabilities(masks[:3], "importance", state=state),
                           reference.level_probabilities(masks[:3], "importance"))
        question = "Is this region in blur distortion?"
        assert p.ask(masks[0], question, 3, state=state) == reference.ask(masks[0], question, 3)
    assert p.assess(first, masks[0]) == predictor.assess(masks[0])  # the module's predictor
    assert p.assess(first, masks[0]) != p.assess(second, masks[0])
    with pytest.raises(InvalidInputError, match="no mask"):
        p.assess(first)


def test_image_state_bytes_are_its_tensors_bytes(tiny_model, image):
    state = SeagullPredictor(tiny_model).encode(image)
    cfg = tiny_model.config
    assert len(state.features) == len(state.keys) == 4
    assert len(state.prefix_kv) == cfg.num_layers
    prefix = len(tiny_model.prompts.prefix_ids)
    assert state.prefix_tokens == prefix
    assert state.prefix_embeds.shape == (1, prefix, cfg.hidden_size)
    head_dim = cfg.hidden_size // cfg.num_heads
    for keys, values in state.prefix_kv:
        assert keys.shape == values.shape == (1, cfg.num_kv_heads, prefix, head_dim)
    float_bytes = state.prefix_embeds.element_size()
    expected = (image.nbytes
                + sum(t.numel() * t.element_size() for t in (*state.features, *state.keys))
                + prefix * cfg.hidden_size * float_bytes
                + 2 * cfg.num_layers * cfg.num_kv_heads * prefix * head_dim * float_bytes)
    assert state.nbytes == expected
