"""Request fields → validated prompts and tasks (the edge: everything inside trusts these).

A prompt is one of ``{"point": (x, y)}``, ``{"points": [(x, y), …], "labels": [1|0, …]}``,
``{"box": (x0, y0, x1, y1)}`` (pixels of the image, x to the right, y down) or ``{"mask": RLE}``
(COCO RLE of the image's size). JSON bodies give them as numbers and lists; multipart forms as
text: ``point="x,y"``, ``points="x,y;x,y"``, ``labels="1,0"``, ``box="x0,y0,x1,y1"``,
``mask='{"size": …, "counts": …}'`` and ``prompts='[{…}, …]'`` (JSON).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

from seagull.errors import EmptyMaskError, InvalidInputError, MaskShapeError
from seagull.labels.instructions import TASKS  # the service's tasks are the model's

PROMPT_KEYS: tuple[str, ...] = ("point", "points", "labels", "box", "mask")


def _numbers(value, count: int | None, name: str) -> tuple[float, ...]:
    if isinstance(value, str):
        parts = [p.strip() for p in value.replace(";", ",").split(",") if p.strip()]
        try:
            value = [float(p) for p in parts]
        except ValueError:
            raise InvalidInputError(f"{name}: {value!r} is not a list of numbers") from None
    if not isinstance(value, (list, tuple)) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        raise InvalidInputError(f"{name}: expected a list of numbers, got {value!r:.80}")
    if count is not None and len(value) != count:
        raise InvalidInputError(f"{name}: expected {count} numbers, got {len(value)}")
    if not all(math.isfinite(v) for v in value):
        raise InvalidInputError(f"{name}: numbers must be finite")
    return tuple(float(v) for v in value)


def _point_list(value, name: str) -> list[tuple[float, float]]:
    if isinstance(value, str):
        flat = _numbers(value, None, name)
        if not flat or len(flat) % 2:
            raise InvalidInputError(f"{name}: expected x,y pairs, got {value!r:.80}")
        return [(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)]
    if not isinstance(value, (list, tuple)) or not value:
        raise InvalidInputError(f"{name}: expected a non-empty list of [x, y]")
    return [_numbers(p, 2, f"{name}[{i}]") for i, p in enumerate(value)]


def _rle(value, name: str) -> dict:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise InvalidInputError(f"{name}: not a JSON COCO RLE object") from None
    if not isinstance(value, Mapping) or "size" not in value or "counts" not in value:
        raise InvalidInputError(f"{name}: expected a COCO RLE object with 'size' and 'counts'")
    return {"size": value["size"], "counts": value["counts"]}


def parse_prompt(fields: Mapping, *, allow_mask: bool, name: str = "prompt") -> dict:
    """One prompt from request fields (see the module docstring), structure checked."""
    given = [k for k in ("point", "points", "box", "mask") if fields.get(k) not in (None, "")]
    if not given:
        allowed = "a point, points with labels, a box" + (" or a mask" if allow_mask else "")
        raise InvalidInputError(f"{name}: give {allowed}")
    if "mask" in given and not allow_mask:
        raise InvalidInputError(f"{name}: a mask is not a prompt here; give points or a box")
    if "mask" in given and len(given) > 1:
        raise InvalidInputError(f"{name}: give a mask alone, not with points or a box")
    if "point" in given and "points" in given:
        raise InvalidInputError(f"{name}: give either point or points, not both")
    prompt: dict = {}
    if "point" in given:
        prompt["point"] = _numbers(fields["point"], 2, f"{name}.point")
    if "points" in given:
        prompt["points"] = _point_list(fields["points"], f"{name}.points")
        labels = fields.get("labels")
        if labels in (None, ""):
            prompt["labels"] = [1] * len(prompt["points"])
        else:
            values = _numbers(labels, len(prompt["points"]), f"{name}.labels")
            if any(v not in (0.0, 1.0) for v in values):
                raise InvalidInputError(f"{name}.labels: each label is 1 (foreground) or 0 "
                                        f"(background)")
            prompt["labels"] = [int(v) for v in values]
    if "box" in given:
        prompt["box"] = _numbers(fields["box"], 4, f"{name}.box")
    if "mask" in given:
        prompt["mask"] = _rle(fields["mask"], f"{name}.mask")
    return prompt


def parse_prompts(fields: Mapping, *, allow_mask: bool, max_prompts: int) -> tuple[list[dict], bool]:
    """(prompts, many): a ``prompts`` list, or the single prompt in the top-level fields."""
    many_field = fields.get("prompts")
    if many_field in (None, ""):
        return [parse_prompt(fields, allow_mask=allow_mask)], False
    if any(fields.get(k) not in (None, "") for k in PROMPT_KEYS):
        raise InvalidInputError("prompts: give either a prompts list or one prompt, not both")
    if isinstance(many_field, str):
        try:
            many_field = json.loads(many_field)
        except json.JSONDecodeError:
            raise InvalidInputError("prompts: not a JSON list") from None
    if not isinstance(many_field, list) or not many_field:
        raise InvalidInputError("prompts: expected a non-empty list of prompt objects")
    if len(many_field) > max_prompts:
        raise InvalidInputError(f"prompts: {len(many_field)} prompts is over the limit of "
                                f"{max_prompts} per request")
    prompts = []
    for i, item in enumerate(many_field):
        if not isinstance(item, Mapping):
            raise InvalidInputError(f"prompts[{i}]: expected an object")
        prompts.append(parse_prompt(item, allow_mask=allow_mask, name=f"prompts[{i}]"))
    return prompts, True


def parse_tasks(value) -> tuple[str, ...]:
    """The tasks asked for (default: all three), in the canonical order, without repeats."""
    if value in (None, "", []):
        return TASKS
    if isinstance(value, str):
        value = [t.strip() for t in value.split(",") if t.strip()]
    if not isinstance(value, (list, tuple)) or not all(isinstance(t, str) for t in value):
        raise InvalidInputError(f"tasks: expected a list of task names, got {value!r:.80}")
    unknown = sorted(set(value) - set(TASKS))
    if unknown:
        raise InvalidInputError(f"tasks: unknown {unknown}; the tasks are {list(TASKS)}")
    return tuple(t for t in TASKS if t in value)


def parse_flag(value, name: str) -> bool:
    if value in (None, ""):
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false",
                                                    "no", "off"):
        return value.lower() in ("1", "true", "yes", "on")
    raise InvalidInputError(f"{name}: expected true or false, got {value!r:.40}")


def check_mask(rle: dict, height: int, width: int, name: str = "mask") -> None:
    """A well-formed RLE of the image's size that selects at least one pixel."""
    from seagull.regions import rle as rle_utils

    size = rle.get("size")
    if isinstance(size, (list, tuple)) and len(size) == 2 and list(size) != [height, width]:
        raise MaskShapeError(f"{name}: size {list(size)} does not match the image "
                             f"(height, width) = [{height}, {width}]")
    if rle_utils.area(rle) == 0:  # also validates the counts
        raise EmptyMaskError(f"{name}: the mask selects no pixel")
