"""Instructions and answers (docs/method.md, "Instructions and answers").

Questions are analysis instructions (AIR: quality, importance, distortion) and judgment
instructions (JIR: yes/no). The authors did not release answer formats; ours (a decision) are
short fixed sentences in which each level word stands alone, so they can be parsed back:

- "The quality of this region is good."
- "The importance of this region to the overall image quality is minor."
- "This region has moderate blur and minor noise." / "This region has no distortion."
- JIR: "Yes." / "No."

``ANSWER_STEMS`` are the answers up to the level word: the closed-set scorer feeds the prompt plus
the stem and reads the five level words' logits at the next position.

A region's labels are a mapping as in the ``rois`` table: ``quality`` (float on [0, 1]),
``importance`` (float or None where undefined), ``distortions`` (list of ``{type, severity,
level}``; empty means clean).
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from seagull.labels.levels import (
    DISTORTION_TYPES,
    IMPORTANCE_WORDS,
    QUALITY_WORDS,
    SEVERITY_WORDS,
    level_word,
)

Task = Literal["quality", "importance", "distortion"]
TASKS: tuple[str, ...] = ("quality", "importance", "distortion")

# The released demo's prompt; <image>, <global> and <local> are replaced by embeddings.
IMAGE_TOKEN, GLOBAL_TOKEN, LOCAL_TOKEN = "<image>", "<global>", "<local>"
REGION_PREFIX = (
    f"{IMAGE_TOKEN}\nThis provides an overview of the image.\n Please answer the following "
    "questions about the provided region. Note: Distortions include: blur, colorfulness, "
    "compression, contrast, exposure and noise.\n Here is the region "
    f"{GLOBAL_TOKEN}{LOCAL_TOKEN}. "
)
# Vicuna v1 chat template.
SYSTEM = ("A chat between a curious human and an artificial intelligence assistant. "
          "The assistant gives helpful, detailed, and polite answers to the human's questions.")

AIR_QUESTIONS: dict[str, str] = {
    "quality": "Analyze the quality of this region.",
    "importance": "Consider the impact of this region on the overall image quality. "
                  "Analyze its importance.",
    "distortion": "Analyze the distortions of this region.",
}
ANSWER_STEMS: dict[str, str] = {
    "quality": "The quality of this region is",
    "importance": "The importance of this region to the overall image quality is",
}
NO_DISTORTION = "This region has no distortion."
YES, NO = "Yes.", "No."


@dataclass(frozen=True)
class Instruction:
    task: str  # quality | importance | distortion
    kind: str  # AIR | JIR
    question: str
    answer: str


def prompt_prefix() -> str:
    """Everything before the region tokens: shared by every region and task of one image."""
    return f"{SYSTEM} USER: {REGION_PREFIX.split(GLOBAL_TOKEN)[0]}"


def chat_prompt(question: str) -> str:
    """The full prompt up to (and including) ``ASSISTANT:``; the answer follows after a space."""
    return f"{SYSTEM} USER: {REGION_PREFIX}{question} ASSISTANT:"


# ---- answers -------------------------------------------------------------------------------

def quality_answer(quality: float) -> str:
    return f"{ANSWER_STEMS['quality']} {level_word('quality', quality)}."


def importance_answer(importance: float) -> str:
    return f"{ANSWER_STEMS['importance']} {level_word('importance', importance)}."


def distortion_answer(distortions: Sequence[Mapping]) -> str:
    """``[{type, level}]`` → "This region has moderate blur and minor noise." (types sorted)."""
    if not distortions:
        return NO_DISTORTION
    parts = [f"{d['level']} {d['type']}" for d in sorted(distortions, key=lambda d: d["type"])]
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"This region has {listed}."


def air(task: str, labels: Mapping) -> Instruction:
    """The analysis instruction of ``task`` for a region's labels."""
    if task == "quality":
        answer = quality_answer(labels["quality"])
    elif task == "importance":
        if labels.get("importance") is None:
            raise ValueError("importance is undefined for this region")
        answer = importance_answer(labels["importance"])
    elif task == "distortion":
        answer = distortion_answer(labels.get("distortions") or [])
    else:
        raise ValueError(f"unknown task {task!r}; tasks: {TASKS}")
    return Instruction(task, "AIR", AIR_QUESTIONS[task], answer)


def jir(task: str, labels: Mapping, rng: random.Random) -> Instruction:
    """A judgment (yes/no) instruction; the asked level or type is drawn from ``rng``.

    Half the questions ask about the true level or type, so "Yes" and "No" are balanced.
    """
    truth_asked = rng.random() < 0.5
    if task == "quality":
        truth = level_word("quality", labels["quality"])
        word = truth if truth_asked else rng.choice([w for w in QUALITY_WORDS if w != truth])
        return Instruction(task, "JIR", f"Is the quality of this region {word}?",
                           YES if word == truth else NO)
    if task == "importance":
        if labels.get("importance") is None:
            raise ValueError("importance is undefined for this region")
        truth = level_word("importance", labels["importance"])
        word = truth if truth_asked else rng.choice([w for w in IMPORTANCE_WORDS if w != truth])
        return Instruction(task, "JIR", f"Is this region {word} to the overall quality?",
                           YES if word == truth else NO)
    if task == "distortion":
        present = {d["type"] for d in labels.get("distortions") or []}
        absent = [t for t in DISTORTION_TYPES if t not in present]
        if present and (truth_asked or not absent):
            kind = rng.choice(sorted(present))
        else:
            kind = rng.choice(absent)
        return Instruction(task, "JIR", f"Is this region in {kind} distortion?",
                           YES if kind in present else NO)
    raise ValueError(f"unknown task {task!r}; tasks: {TASKS}")


def available_tasks(labels: Mapping) -> list[str]:
    """Tasks a region can be asked about (importance needs a defined label)."""
    return [t for t in TASKS if t != "importance" or labels.get("importance") is not None]


def sample_instruction(labels: Mapping, rng: random.Random, jir_fraction: float = 0.5,
                       task_weights: Sequence[float] | None = None) -> Instruction:
    """Stage 1: a random task, AIR or JIR at random (``jir_fraction`` of the time JIR).

    ``task_weights`` (one per ``TASKS``, default equal) weigh the draw of the task."""
    tasks = available_tasks(labels)
    if task_weights is None or len(set(task_weights)) == 1:
        task = rng.choice(tasks)
    else:
        weight = dict(zip(TASKS, task_weights))
        task = rng.choices(tasks, weights=[weight[t] for t in tasks])[0]
    return jir(task, labels, rng) if rng.random() < jir_fraction else air(task, labels)


def fixed_instructions(labels: Mapping, seed: int, with_jir: bool = True,
                       with_air: bool = True) -> list[Instruction]:
    """Stage 2: every AIR of the region (if ``with_air``) and, if ``with_jir``, one JIR per
    task, reproducibly (the JIRs' questions depend on ``seed`` only)."""
    rng = random.Random(seed)
    tasks = available_tasks(labels)
    out = [air(t, labels) for t in tasks] if with_air else []
    if with_jir:
        out += [jir(t, labels, rng) for t in tasks]
    return out


def stage2_kinds(jir_fraction: float) -> tuple[bool, bool]:
    """Which fixed instructions stage 2 keeps for a ``jir_fraction``: ``(with_air, with_jir)``.

    Stage 2's instructions are a fixed set per region, so the fraction cannot be a rate there:
    0 keeps the AIRs only (the paper's "w/o JIR" ablation), 1 the JIRs only, and anything
    between keeps both (the paper's set: an AIR and a JIR per task).
    """
    if not 0 <= jir_fraction <= 1:
        raise ValueError(f"jir_fraction must be in [0, 1], got {jir_fraction}")
    return jir_fraction < 1, jir_fraction > 0


# ---- parsing answers back ------------------------------------------------------------------

_TYPE_ALT = "|".join(DISTORTION_TYPES)
_SEV_ALT = "|".join(SEVERITY_WORDS)
_DIST_RE = re.compile(rf"\b({_SEV_ALT})\s+({_TYPE_ALT})\b", re.IGNORECASE)


def parse_answer(task: str, text: str) -> dict:
    """Read a generated answer back into levels.

    - quality / importance → ``{"level": word or None}`` (the first level word after the stem,
      else anywhere in the text);
    - distortion → ``{"distortions": [{"type", "level"}], "clean": bool}``;
    - a yes/no answer to any task → ``{"yes": bool or None}`` is added.
    """
    low = text.strip().lower()
    out: dict = {}
    if re.match(r"^\s*yes\b", low):
        out["yes"] = True
    elif re.match(r"^\s*no\b", low):
        out["yes"] = False
    if task in ("quality", "importance"):
        words = QUALITY_WORDS if task == "quality" else IMPORTANCE_WORDS
        stem = ANSWER_STEMS[task].lower()
        tail = low.split(stem, 1)[1] if stem in low else low
        found = re.findall(r"[a-z]+", tail)
        out["level"] = next((w for w in found if w in words), None)
    elif task == "distortion":
        seen: dict[str, str] = {}
        for sev, kind in _DIST_RE.findall(low):
            seen.setdefault(kind, sev)
        out["distortions"] = [{"type": t, "level": seen[t]} for t in sorted(seen)]
        out["clean"] = not seen and "no distortion" in low
    else:
        raise ValueError(f"unknown task {task!r}; tasks: {TASKS}")
    return out
