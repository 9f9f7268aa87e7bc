from __future__ import annotations

import random

import pytest

from seagull.labels.instructions import (
    AIR_QUESTIONS,
    ANSWER_STEMS,
    GLOBAL_TOKEN,
    LOCAL_TOKEN,
    NO_DISTORTION,
    air,
    chat_prompt,
    distortion_answer,
    fixed_instructions,
    importance_answer,
    jir,
    parse_answer,
    prompt_prefix,
    quality_answer,
    sample_instruction,
)
from seagull.labels.levels import (
    DISTORTION_TYPES,
    IMPORTANCE_WORDS,
    QUALITY_WORDS,
    SEVERITY_WORDS,
    level_word,
)

# one score inside each of the five bins
BIN_SCORES = (0.1, 0.3, 0.5, 0.7, 0.9)


@pytest.mark.parametrize("score", BIN_SCORES + (0.0, 0.2, 1.0))
def test_quality_and_importance_answers_round_trip(score):
    q = quality_answer(score)
    assert q.startswith(ANSWER_STEMS["quality"])
    assert parse_answer("quality", q) == {"level": level_word("quality", score)}
    i = importance_answer(score)
    assert parse_answer("importance", i) == {"level": level_word("importance", score)}


def test_every_level_word_is_its_own_answer():
    for k, word in enumerate(QUALITY_WORDS):
        assert quality_answer(BIN_SCORES[k]) == f"The quality of this region is {word}."
    for k, word in enumerate(IMPORTANCE_WORDS):
        assert importance_answer(BIN_SCORES[k]).endswith(f" is {word}.")


def test_distortion_answers_round_trip():
    labels = [{"type": "noise", "level": "minor"}, {"type": "blur", "level": "moderate"},
              {"type": "exposure", "level": "extreme"}]
    text = distortion_answer(labels)
    assert text == "This region has moderate blur, extreme exposure and minor noise."
    parsed = parse_answer("distortion", text)
    assert parsed == {"distortions": sorted(labels, key=lambda d: d["type"]), "clean": False}
    for t in DISTORTION_TYPES:
        for s in SEVERITY_WORDS:
            one = parse_answer("distortion", distortion_answer([{"type": t, "level": s}]))
            assert one["distortions"] == [{"type": t, "level": s}]
    assert distortion_answer([]) == NO_DISTORTION
    assert parse_answer("distortion", NO_DISTORTION) == {"distortions": [], "clean": True}


def test_air_uses_the_region_labels():
    labels = {"quality": 0.55, "importance": 0.95,
              "distortions": [{"type": "blur", "severity": 0.55, "level": "moderate"}]}
    assert air("quality", labels).answer == "The quality of this region is fair."
    assert air("importance", labels).question == AIR_QUESTIONS["importance"]
    assert parse_answer("importance", air("importance", labels).answer)["level"] == "essential"
    assert air("distortion", labels).answer == "This region has moderate blur."
    with pytest.raises(ValueError, match="undefined"):
        air("importance", {"quality": 0.5, "importance": None})


def test_jir_answers_match_the_truth_and_parse_back():
    labels = {"quality": 0.9, "importance": 0.1,
              "distortions": [{"type": "noise", "severity": 0.3, "level": "severe"}]}
    rng = random.Random(0)
    answers = {"Yes.": 0, "No.": 0}
    for _ in range(200):
        for task in ("quality", "importance", "distortion"):
            ins = jir(task, labels, rng)
            answers[ins.answer] += 1
            if task == "quality":
                truth = ins.question == "Is the quality of this region excellent?"
            elif task == "importance":
                truth = ins.question == "Is this region unimportant to the overall quality?"
            else:
                truth = ins.question == "Is this region in noise distortion?"
            assert (ins.answer == "Yes.") == truth
            assert parse_answer(task, ins.answer)["yes"] is truth
    assert 0.35 < answers["Yes."] / 600 < 0.65


def test_stage_instructions():
    labels = {"quality": 0.3, "importance": None, "distortions": []}
    fixed = fixed_instructions(labels, seed=7)
    assert [i.task for i in fixed] == ["quality", "distortion", "quality", "distortion"]
    assert fixed == fixed_instructions(labels, seed=7)
    rng = random.Random(3)
    drawn = [sample_instruction(labels, rng) for _ in range(50)]
    assert all(i.task != "importance" for i in drawn)
    assert {i.kind for i in drawn} == {"AIR", "JIR"}


def test_prompt_has_the_region_tokens_in_order():
    p = chat_prompt(AIR_QUESTIONS["quality"])
    assert p.endswith("Analyze the quality of this region. ASSISTANT:")
    assert p.index(GLOBAL_TOKEN) < p.index(LOCAL_TOKEN)
    assert p.startswith(prompt_prefix())
    assert GLOBAL_TOKEN not in prompt_prefix()
