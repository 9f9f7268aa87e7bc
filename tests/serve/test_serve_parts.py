"""The service's parts without Ray: parsing, limits, caches, errors, configuration."""

from __future__ import annotations

import asyncio
import base64
import re

import numpy as np
import pytest
from serve_helpers import RECT, png_bytes, scene

from seagull.errors import (
    ConfigError,
    EmptyMaskError,
    ImageDecodeError,
    InvalidInputError,
    MaskShapeError,
)
from seagull.regions.segmenter import Segmenter, SegmenterState
from serve.errors import PayloadTooLargeError, UnknownImageError, classify

# ---- prompts and tasks ---------------------------------------------------------------------

def test_prompts_from_json_and_form_text_agree():
    from serve.prompts import parse_prompts

    as_json = {"points": [[1, 2], [3.5, 4]], "labels": [1, 0], "box": [0, 0, 10, 12]}
    as_form = {"points": "1,2;3.5,4", "labels": "1,0", "box": "0,0,10,12"}
    for fields in (as_json, as_form):
        prompts, many = parse_prompts(fields, allow_mask=False, max_prompts=4)
        assert not many
        assert prompts == [{"points": [(1.0, 2.0), (3.5, 4.0)], "labels": [1, 0],
                            "box": (0.0, 0.0, 10.0, 12.0)}]
    prompts, _ = parse_prompts({"point": "7, 8"}, allow_mask=False, max_prompts=4)
    assert prompts == [{"point": (7.0, 8.0)}]
    prompts, _ = parse_prompts({"points": [[1, 2]]}, allow_mask=False, max_prompts=4)
    assert prompts[0]["labels"] == [1]  # labels default to foreground


def test_prompt_lists_and_masks():
    from serve.prompts import parse_prompts

    rle = {"size": [4, 4], "counts": "01"}
    prompts, many = parse_prompts({"prompts": [{"point": [1, 1]}, {"mask": rle}]},
                                  allow_mask=True, max_prompts=4)
    assert many and prompts == [{"point": (1.0, 1.0)}, {"mask": rle}]
    prompts, many = parse_prompts({"prompts": '[{"box": [0, 0, 2, 2]}]'}, allow_mask=True,
                                  max_prompts=4)
    assert many and prompts == [{"box": (0.0, 0.0, 2.0, 2.0)}]
    prompts, _ = parse_prompts({"mask": '{"size": [4, 4], "counts": "01"}'}, allow_mask=True,
                               max_prompts=4)
    assert prompts == [{"mask": rle}]


@pytest.mark.parametrize("fields,allow_mask,message", [
    ({}, True, "give a point"),
    ({"point": [1]}, False, "expected 2 numbers"),
    ({"point": [1, float("nan")]}, False, "finite"),
    ({"point": [True, 1]}, False, "list of numbers"),
    ({"point": "a,b"}, False, "not a list of numbers"),
    ({"point": [1, 2], "points": [[1, 2]]}, False, "either point or points"),
    ({"points": "1,2,3"}, False, "x,y pairs"),
    ({"points": [[1, 2]], "labels": [2]}, False, "1 (foreground) or 0"),
    ({"points": [[1, 2]], "labels": [1, 0]}, False, "expected 1 numbers"),
    ({"box": [1, 2, 3]}, False, "expected 4 numbers"),
    ({"mask": {"size": [2, 2]}}, True, "COCO RLE"),
    ({"mask": "not json"}, True, "not a JSON"),
    ({"mask": {"size": [2, 2], "counts": "0"}}, False, "not a prompt here"),
    ({"mask": {"size": [2, 2], "counts": "0"}, "point": [1, 1]}, True, "mask alone"),
    ({"prompts": []}, True, "non-empty list"),
    ({"prompts": "[oops"}, True, "not a JSON list"),
    ({"prompts": [{"point": [1, 1]}] * 5}, True, "over the limit of 4"),
    ({"prompts": [{"point": [1, 1]}], "point": [1, 1]}, True, "not both"),
    ({"prompts": [3]}, True, "prompts[0]: expected an object"),
])
def test_bad_prompts_are_invalid_input(fields, allow_mask, message):
    from serve.prompts import parse_prompts

    with pytest.raises(InvalidInputError, match=re.escape(message)):
        parse_prompts(fields, allow_mask=allow_mask, max_prompts=4)


def test_tasks_default_order_and_errors():
    from seagull.labels.instructions import TASKS as MODEL_TASKS
    from serve.prompts import TASKS, parse_tasks

    assert TASKS == MODEL_TASKS
    assert parse_tasks(None) == TASKS
    assert parse_tasks("distortion, quality") == ("quality", "distortion")
    assert parse_tasks(["importance", "importance"]) == ("importance",)
    with pytest.raises(InvalidInputError, match="unknown"):
        parse_tasks(["beauty"])
    with pytest.raises(InvalidInputError):
        parse_tasks(3)


def test_check_mask_size_and_emptiness():
    from seagull.regions.rle import encode
    from serve.prompts import check_mask

    mask = np.zeros((6, 8), dtype=bool)
    check_mask(encode(mask | True), 6, 8)
    with pytest.raises(MaskShapeError, match=r"\[6, 8\]"):
        check_mask(encode(mask | True), 8, 6)
    with pytest.raises(EmptyMaskError):
        check_mask(encode(mask, allow_empty=True), 6, 8)
    with pytest.raises(InvalidInputError):
        check_mask({"size": [6, 8], "counts": "~~~"}, 6, 8)


# ---- images ----------------------------------------------------------------------------------

def test_decode_image_roundtrip_and_id():
    from serve.images import decode_image, image_id

    image = scene()
    decoded = decode_image(png_bytes(image), max_bytes=1 << 20, max_pixels=1 << 20)
    assert decoded.dtype == np.uint8 and (decoded == image).all()
    assert image_id(decoded) == image_id(image.copy())
    assert len(image_id(image)) == 32
    other = image.copy()
    other[0, 0, 0] ^= 1
    assert image_id(other) != image_id(image)
    # The same pixels in another shape are another image.
    assert image_id(image.reshape(128, 96, 3)) != image_id(image)


def test_decode_image_limits_and_bad_bytes():
    import io

    from PIL import Image

    from serve.images import decode_image

    data = png_bytes(scene())
    with pytest.raises(PayloadTooLargeError, match="bytes"):
        decode_image(data, max_bytes=len(data) - 1, max_pixels=1 << 20)
    with pytest.raises(PayloadTooLargeError, match="pixels"):
        decode_image(data, max_bytes=1 << 20, max_pixels=128 * 96 - 1)
    buffer = io.BytesIO()
    Image.new("L", (4000, 4000)).save(buffer, format="PNG")
    with pytest.raises(PayloadTooLargeError):  # refused from the header, before decoding
        decode_image(buffer.getvalue(), max_bytes=1 << 20, max_pixels=1_000_000)
    for bad in (b"", b"not an image", data[: len(data) // 2]):
        with pytest.raises(ImageDecodeError):
            decode_image(bad, max_bytes=1 << 20, max_pixels=1 << 20)
    grey = io.BytesIO()
    Image.new("L", (5, 4), 7).save(grey, format="PNG")
    rgb = decode_image(grey.getvalue(), max_bytes=1 << 20, max_pixels=1 << 20)
    assert rgb.shape == (4, 5, 3) and (rgb == 7).all()


def test_base64_and_data_urls():
    from serve.images import decode_base64

    payload = b"\x00\x01hello"
    text = base64.b64encode(payload).decode()
    assert decode_base64(text, max_bytes=100) == payload
    assert decode_base64("data:image/png;base64," + text, max_bytes=100) == payload
    with pytest.raises(ImageDecodeError):
        decode_base64("@@@", max_bytes=100)
    with pytest.raises(PayloadTooLargeError):
        decode_base64("A" * 200, max_bytes=100)
    with pytest.raises(InvalidInputError):
        decode_base64(12, max_bytes=100)


def test_image_ids_are_checked():
    from serve.images import check_image_id

    assert check_image_id("a" * 32) == "a" * 32
    for bad in ("A" * 32, "a" * 31, "../x", None, 5):
        with pytest.raises(InvalidInputError):
            check_image_id(bad)


def test_overlay_tints_only_the_mask():
    import io

    from PIL import Image

    from serve.images import overlay_png

    image = scene()
    mask = np.zeros(image.shape[:2], dtype=bool)
    mask[20:40, 30:50] = True
    out = np.asarray(Image.open(io.BytesIO(overlay_png(image, mask))))
    assert (out[~mask] == image[~mask]).all()
    assert (out[20, 30] == (255, 64, 32)).all()  # outline
    assert (out[30, 40] != image[30, 40]).any()


# ---- caches ---------------------------------------------------------------------------------

def test_bounded_cache_evicts_least_recently_used_by_entries_and_bytes():
    from serve.cache import BoundedCache

    cache = BoundedCache(max_entries=3, max_bytes=100, sizeof=lambda v: v)
    for key, size in (("a", 10), ("b", 10), ("c", 10)):
        cache.put(key, size)
    assert cache.get("a") == 10  # a is now the most recent
    cache.put("d", 10)
    assert "b" not in cache and {"a", "c", "d"} <= set(cache._items)
    cache.put("e", 95)  # over the byte bound: evicts until it fits (keeps the newest)
    assert list(cache._items) == ["e"] and cache.bytes == 95
    assert cache.get("zzz") is None
    assert cache.stats()["hits"] == 1 and cache.stats()["misses"] == 1
    assert cache.stats()["evictions"] == 4


def test_get_or_compute_runs_once_for_concurrent_callers():
    from serve.cache import BoundedCache

    cache = BoundedCache(max_entries=4, max_bytes=1 << 20, sizeof=lambda v: 1)
    calls = []

    async def compute():
        calls.append(1)
        await asyncio.sleep(0.01)
        return "state"

    async def main():
        return await asyncio.gather(*(cache.get_or_compute("k", compute) for _ in range(5)))

    results = asyncio.run(main())
    assert len(calls) == 1
    assert [v for v, _ in results] == ["state"] * 5
    assert sorted(hit for _, hit in results) == [False, True, True, True, True]

    async def failing():
        raise UnknownImageError("gone")

    async def fail_twice():
        for _ in range(2):
            with pytest.raises(UnknownImageError):
                await cache.get_or_compute("x", failing)

    asyncio.run(fail_twice())
    assert "x" not in cache  # failures are not cached


def test_segmenter_core_caches_each_images_encoded_state():
    """The cache holds the segmenter's ``encode`` states, counts their bytes (the image and the
    two label maps), and answers from a cached state what a segmenter set to that image
    answers; concurrent misses for one new image encode it once."""
    from seagull.regions import build_segmenter
    from seagull.regions.segmenter import ClassicalState
    from serve.models import SegmenterCore

    images = {"one": scene(), "two": np.ascontiguousarray(scene(seed=3)[::-1, ::-1])}
    segmenter = build_segmenter()
    encoded = []
    encode = segmenter.encode
    segmenter.encode = lambda image: encoded.append(image.shape) or encode(image)

    async def source(key):
        return images[key]

    prompts = [{"point": (40.0, 45.0)}, {"box": (10.0, 14.0, 70.0, 78.0)},
               {"points": [(40.0, 45.0), (5.0, 5.0)], "labels": [1, 0]}]

    async def main():
        core = SegmenterCore(source, segmenter=segmenter, cache_entries=4, cache_bytes=1 << 30)
        first = await asyncio.gather(*(core.segment("one", p) for p in prompts))
        second = [await core.segment("two", p) for p in prompts]
        again = [await core.segment("one", p) for p in prompts]
        return core, first, second, again

    core, first, second, again = asyncio.run(main())
    assert len(encoded) == 2  # three concurrent misses for "one" shared one encode
    assert [r["cache"] for r in first] == ["miss", "hit", "hit"]
    assert {r["cache"] for r in second} == {"miss", "hit"}
    assert {r["cache"] for r in again} == {"hit"}
    states = {key: value for key, (value, _) in core.cache._items.items()}
    assert set(states) == {"one", "two"}
    for key, state in states.items():
        assert isinstance(state, ClassicalState) and state.image is not None
        h, w = images[key].shape[:2]
        assert state.fine.shape == state.coarse.shape == (h, w)
        assert state.nbytes == images[key].nbytes + state.fine.nbytes + state.coarse.nbytes
    assert core.cache.bytes == core.cache.stats()["bytes"] == sum(s.nbytes for s in states.values())
    from seagull.regions.rle import decode

    for key, answers in (("one", again), ("two", second)):
        reference = build_segmenter()
        reference.set_image(images[key])
        for prompt, answer in zip(prompts, answers):
            assert (decode(answer["mask"]) == reference.predict(**prompt)).all()
            assert answer["score"] is None
    without_cache = [{k: v for k, v in r.items() if k != "cache"} for r in first]
    assert without_cache == [{k: v for k, v in r.items() if k != "cache"} for r in again]
    assert first[0]["mask"] != second[0]["mask"]


class SamLike(Segmenter):
    """A segmenter that scores its masks as SAM does (its predicted IoU), without weights:
    a box prompt selects the box (score 0.875), points a square around the first (0.625)."""

    name, fallback, scores_masks, weights_hash = "sam-like", False, True, "abc"

    def _encode(self, image):
        return SegmenterState(image)

    def _predict(self, state, coords, labels, box):
        mask = np.zeros(state.size, dtype=bool)
        if box is not None:
            x0, y0, x1, y1 = (int(v) for v in box)
            mask[y0:y1, x0:x1] = True
            return mask, 0.875
        x, y = (int(v) for v in coords[0])
        mask[max(0, y - 3):y + 3, max(0, x - 3):x + 3] = True
        return mask, np.float32(0.625)  # SAM's scores come as numpy floats

    def _object_masks(self, state):
        return iter(())


def test_segment_answers_carry_the_segmenters_score():
    """/v1/segment's ``score`` is the segmenter's: a SAM-like segmenter's predicted IoU (a JSON
    number), and null for the classical fallback; the Gateway passes it through unchanged."""
    import json

    from serve.gateway import segment_answer
    from serve.models import SegmenterCore

    image = scene()

    async def source(key):
        return image

    async def main(segmenter):
        core = SegmenterCore(source, segmenter=segmenter)
        return [await core.segment("k", p) for p in
                ({"box": (10.0, 14.0, 70.0, 78.0)}, {"point": (40.0, 45.0)},
                 {"points": [(40.0, 45.0), (90.0, 50.0)], "labels": [1, 0]})], core

    sam_like, core = asyncio.run(main(SamLike()))
    assert [r["score"] for r in sam_like] == [0.875, 0.625, 0.625]
    assert all(type(r["score"]) is float for r in sam_like)
    assert core.cache.bytes == image.nbytes  # a state holding the image only
    answer = json.loads(json.dumps(segment_answer(sam_like[0], "k")))
    assert answer == {"mask": sam_like[0]["mask"], "score": 0.875, "bbox": [10, 14, 60, 64],
                      "area": 60 * 64, "image_id": "k"}
    fallback, _ = asyncio.run(main(None))  # build_segmenter(): no weights, the fallback
    assert [r["score"] for r in fallback] == [None, None, None]
    assert json.loads(json.dumps(segment_answer(fallback[0], "k")))["score"] is None


def test_assessor_core_caches_each_images_image_state():
    """The Assessor's cache holds the predictor's ``ImageState`` per image, its bytes are the
    state's bytes, and answers from cached states equal set_image + assess on each image."""
    import torch

    from seagull.model import ImageState, SeagullModel, SeagullPredictor
    from seagull.regions.rle import encode
    from serve.models import AssessorCore

    torch.manual_seed(0)
    model = SeagullModel.from_preset("tiny").eval()
    images = {"one": scene(), "two": np.ascontiguousarray(scene(seed=3)[::-1])}
    mask = np.zeros(images["one"].shape[:2], dtype=bool)
    mask[20:72, 16:64] = True
    other = np.zeros_like(mask)
    other[0:30, 50:90] = True
    tasks = ("quality", "importance")

    async def source(key):
        return images[key]

    core = AssessorCore(source, predictor=SeagullPredictor(model), cache_entries=4,
                        cache_bytes=1 << 30)
    items = [("one", encode(mask), tasks), ("two", encode(mask), tasks),
             ("one", encode(other), tasks), ("two", encode(other), ("quality",))]
    answers = asyncio.run(core.assess_many(items))
    assert [a["cache"] for a in answers] == ["miss", "miss", "miss", "hit"]
    states = {key: value for key, (value, _) in core.cache._items.items()}
    assert all(isinstance(s, ImageState) for s in states.values())
    tensors = {key: images[key].nbytes + sum(
        t.numel() * t.element_size()
        for t in (*s.features, *s.keys, s.prefix_embeds, *(x for kv in s.prefix_kv for x in kv)))
        for key, s in states.items()}
    assert {key: s.nbytes for key, s in states.items()} == tensors
    assert core.cache.bytes == sum(tensors.values())
    # The core assesses each (image, tasks) group in one call: so does the reference.
    reference = SeagullPredictor(model)
    groups = {("one", tasks): [mask, other], ("two", tasks): [mask], ("two", ("quality",)): [other]}
    expected_by_group = {}
    for (key, asked), masks in groups.items():
        reference.set_image(images[key])
        expected_by_group[key, asked] = reference.assess(masks, tasks=asked)
    expected_answers = [expected_by_group["one", tasks][0], expected_by_group["two", tasks][0],
                        expected_by_group["one", tasks][1], expected_by_group["two", ("quality",)][0]]
    for (_, _, asked), answer, expected in zip(items, answers, expected_answers):
        for task in asked:
            assert answer[task]["score"] == expected[task]["score"]
            assert answer[task]["level"] == expected[task]["level"]
        assert answer["text"] == expected["text"]
    again = asyncio.run(core.assess_many(items))  # the same groups, now from the cache
    assert again == [dict(a, cache="hit") for a in answers]
    assert core.cache.stats()["misses"] == 2 and len(core.cache) == 2


def test_segmenter_core_caches_per_image_and_reports_unknown_images():
    from serve.models import SegmenterCore

    images = {"one": scene(), "two": scene(seed=3)}
    fetched = []

    async def source(key):
        fetched.append(key)
        return images.get(key)

    async def main():
        core = SegmenterCore(source, cache_entries=1, cache_bytes=1 << 30)
        a = await core.segment("one", {"point": (40.0, 45.0)})
        b = await core.segment("one", {"box": (10.0, 14.0, 70.0, 78.0)})
        c = await core.segment("two", {"point": (40.0, 45.0)})
        d = await core.segment("one", {"point": (40.0, 45.0)})  # evicted by "two": a miss
        with pytest.raises(UnknownImageError):
            await core.segment("three", {"point": (1.0, 1.0)})
        with pytest.raises(InvalidInputError, match="outside"):
            await core.segment("one", {"point": (1000.0, 1.0)})
        return a, b, c, d

    a, b, c, d = asyncio.run(main())
    assert [r["cache"] for r in (a, b, c, d)] == ["miss", "hit", "miss", "miss"]
    assert a["score"] is None  # the classical fallback has no confidence to give
    assert fetched == ["one", "two", "one", "three"]
    assert a["mask"] == d["mask"]
    x0, y0, x1, y1 = RECT
    x, y, w, h = a["bbox"]  # the rectangle, give or take the segmenter's smoothing
    assert max(abs(x - x0), abs(y - y0), abs(x + w - x1), abs(y + h - y1)) <= 2


# ---- errors and configuration -----------------------------------------------------------------

def test_errors_map_to_statuses():
    from serve.errors import (
        MalformedRequestError,
        ServiceTimeoutError,
        UnauthorizedError,
        UnsupportedMediaError,
    )

    assert classify(PayloadTooLargeError("x")) == (413, "too_large")
    assert classify(UnknownImageError("x")) == (404, "unknown_image")
    assert classify(ImageDecodeError("x")) == (400, "bad_image")
    assert classify(EmptyMaskError("x")) == (422, "empty_mask")
    assert classify(MaskShapeError("x")) == (422, "mask_shape")
    assert classify(InvalidInputError("x")) == (422, "invalid_input")
    assert classify(MalformedRequestError("x")) == (400, "bad_request")
    assert classify(UnsupportedMediaError("x")) == (415, "unsupported_media_type")
    assert classify(UnauthorizedError("x")) == (401, "unauthorized")
    assert classify(ServiceTimeoutError("x")) == (504, "timeout")
    assert classify(RuntimeError("x")) is None
    wrapped = RuntimeError("outer")
    wrapped.__cause__ = EmptyMaskError("inner")
    assert classify(wrapped) == (422, "empty_mask")


def test_settings_from_args():
    from serve.app import ServeSettings

    settings = ServeSettings.from_args({"max_pixels": 10, "api_key": "k"})
    assert settings.max_pixels == 10
    assert settings.api_key_digest() == __import__("hashlib").sha256(b"k").hexdigest()
    assert ServeSettings.from_args({"api_key_env": "NO_SUCH_VARIABLE_SET"}).api_key_digest() is None
    with pytest.raises(ConfigError, match="unknown"):
        ServeSettings.from_args({"max_pixel": 10})
    with pytest.raises(ConfigError, match="positive"):
        ServeSettings.from_args({"max_prompts": 0})


def test_production_config_and_local_overrides():
    from serve.app import ServeSettings
    from serve.local import app_args, deployment_options, local_options, read_config

    config = read_config()
    app = config["applications"][0]
    assert app["import_path"] == "serve.app:build_app"
    ServeSettings.from_args(app["args"])  # every arg is a setting
    production = deployment_options(config)
    assert set(production) == {"Gateway", "ImageStore", "Segmenter", "Assessor"}
    assert production["Segmenter"]["ray_actor_options"]["num_gpus"] > 0
    assert production["Assessor"]["autoscaling_config"]["max_replicas"] > 1
    local = local_options(config)
    total = 0.0
    for options in local.values():
        actor = options["ray_actor_options"]
        assert "num_gpus" not in actor and 0 < actor["num_cpus"] < 1
        total += actor["num_cpus"]
        if "autoscaling_config" in options:
            scaling = options["autoscaling_config"]
            assert scaling["min_replicas"] == scaling["initial_replicas"] == 1
            assert scaling["max_replicas"] == 1
        else:
            assert options["num_replicas"] == 1
    assert total <= 1.0  # leaves room on 2 CPUs for Serve's own actors and Ray's tasks
    assert production["Segmenter"]["ray_actor_options"]["num_gpus"] > 0  # not mutated
    assert app_args(config, model_dir="m", sam_checkpoint=None)["model_dir"] == "m"


def test_local_resources_come_from_local_yaml(tmp_path):
    """A local run's ray_actor_options are serve/local.yaml's, deployment by deployment; the
    rest of each deployment's options are config.yaml's. A deployment missing from (or
    unknown to) the local file is a ConfigError, not a silent default."""
    import yaml

    from serve.local import (
        LOCAL_PATH,
        deployment_options,
        local_options,
        read_config,
        read_local_resources,
    )

    config = read_config()
    written = {d["name"]: d["ray_actor_options"]
               for d in yaml.safe_load(LOCAL_PATH.read_text())["deployments"]}
    assert read_local_resources() == written
    assert written == {"Gateway": {"num_cpus": 0.2}, "ImageStore": {"num_cpus": 0.05},
                       "Segmenter": {"num_cpus": 0.3}, "Assessor": {"num_cpus": 0.3}}
    production = deployment_options(config)
    local = local_options(config, max_replicas=3)
    for name, options in local.items():
        assert options["ray_actor_options"] == written[name]
        rest = {k: v for k, v in options.items() if k not in ("ray_actor_options",
                                                                "autoscaling_config",
                                                                "num_replicas")}
        assert rest == {k: v for k, v in production[name].items()
                        if k not in ("ray_actor_options", "autoscaling_config", "num_replicas")}
    assert local["Assessor"]["autoscaling_config"]["max_replicas"] == 3
    assert local["Assessor"]["autoscaling_config"]["target_ongoing_requests"] == \
        production["Assessor"]["autoscaling_config"]["target_ongoing_requests"]
    assert local_options(config, resources={**written, "Gateway": {"num_cpus": 0.5}}
                         )["Gateway"]["ray_actor_options"] == {"num_cpus": 0.5}
    without = {k: v for k, v in written.items() if k != "Assessor"}
    with pytest.raises(ConfigError, match=r"missing \['Assessor'\]"):
        local_options(config, resources=without)
    with pytest.raises(ConfigError, match=r"unknown \['Segmentor'\]"):
        local_options(config, resources={**written, "Segmentor": {"num_cpus": 0.1}})
    bad = tmp_path / "local.yaml"
    gateway = "  - name: Gateway\n    ray_actor_options:\n      num_cpus: 0.1\n"
    for text, message in (("deployments: []\n", "non-empty list"),
                          ("deployments:\n  - name: Gateway\n", "num_cpus"),
                          ("deployments:\n" + gateway * 2, "listed twice"),
                          ("deployments: [", "cannot read")):
        bad.write_text(text)
        with pytest.raises(ConfigError, match=message):
            read_local_resources(bad)


def test_config_is_accepted_by_serve_schema():
    """serve/config.yaml validates against Ray Serve's own deploy schema."""
    from ray.serve.schema import ServeDeploySchema

    from serve.local import read_config

    schema = ServeDeploySchema.model_validate(read_config()) if hasattr(
        ServeDeploySchema, "model_validate") else ServeDeploySchema.parse_obj(read_config())
    names = {d.name for d in schema.applications[0].deployments}
    assert names == {"Gateway", "ImageStore", "Segmenter", "Assessor"}
    # The builder is called with the config's args the way `serve run`/`serve deploy` call it.
    import importlib

    from ray.serve import Application
    from ray.serve._private.api import call_user_app_builder_with_args_if_necessary

    module, _, attr = schema.applications[0].import_path.partition(":")
    builder = getattr(importlib.import_module(module), attr)
    app = call_user_app_builder_with_args_if_necessary(builder, schema.applications[0].args)
    assert isinstance(app, Application)


def test_build_app_builds_the_graph():
    from ray.serve import Application

    from serve.app import build_app

    app = build_app({"max_pixels": 1000})
    assert isinstance(app, Application)


@pytest.mark.slow
def test_assessor_core_loads_a_saved_model_and_default_model_dir_finds_it(tmp_path):
    """The Assessor serves a save_pretrained folder through from_pretrained, and answers as
    the saved model does; the main job's model is found under its output folder."""
    import torch

    from seagull.model import SeagullModel, SeagullPredictor
    from seagull.regions.rle import encode
    from serve.models import AssessorCore, default_model_dir

    torch.manual_seed(0)
    model = SeagullModel.from_preset("tiny")
    model_dir = tmp_path / "demo" / "train" / "model"
    model.save_pretrained(model_dir)
    assert default_model_dir(tmp_path / "demo") == model_dir
    assert default_model_dir(tmp_path / "elsewhere") is None

    image = scene()
    mask = np.zeros(image.shape[:2], dtype=bool)
    mask[20:72, 16:64] = True
    reference = SeagullPredictor(model)
    reference.set_image(image)
    expected = reference.assess(mask, tasks=("quality", "importance"))

    async def source(key):
        return image

    core = AssessorCore(source, model_dir=str(model_dir))
    assert core.info()["source"] == str(model_dir) and core.info()["name"] == "seagull-tiny"
    (answer,) = asyncio.run(core.assess_many([("k", encode(mask), ("quality", "importance"))]))
    assert answer["cache"] == "miss" and "distortions" not in answer
    assert answer["quality"]["score"] == pytest.approx(expected["quality"]["score"], abs=1e-5)
    assert answer["importance"]["level"] == expected["importance"]["level"]


@pytest.mark.slow
def test_segmenter_core_caches_sam_embeddings(tiny_sam_file):
    """With SAM, a cached image keeps its own embedding after another image was encoded."""
    import torch

    from seagull.regions import build_segmenter
    from serve.models import SegmenterCore

    torch.set_num_threads(1)
    images = {"one": scene(), "two": scene(seed=5)[::-1].copy()}

    async def source(key):
        return images[key]

    async def main():
        core = SegmenterCore(source, sam_checkpoint=str(tiny_sam_file))
        first = await core.segment("one", {"box": (10.0, 14.0, 70.0, 78.0)})
        await core.segment("two", {"box": (10.0, 14.0, 70.0, 78.0)})
        again = await core.segment("one", {"box": (10.0, 14.0, 70.0, 78.0)})
        return core, first, again

    core, first, again = asyncio.run(main())
    assert core.info()["name"].startswith("sam-") and core.info()["weights"] != "fallback"
    assert (first["cache"], again["cache"]) == ("miss", "hit")
    assert core.cache.stats()["misses"] == 2
    # The same answer as a SAM set to image one from scratch.
    reference = build_segmenter(sam_checkpoint=str(tiny_sam_file))
    reference.set_image(images["one"])
    from seagull.regions.rle import decode

    expected = reference.predict(box=(10.0, 14.0, 70.0, 78.0))
    assert (decode(again["mask"]) == expected).all()
    assert first["mask"] == again["mask"]
    # SAM's predicted IoU is the answer's score (the classical fallback has none: None).
    _, iou = reference.predict_with_score(box=(10.0, 14.0, 70.0, 78.0))
    assert isinstance(iou, float) and first["score"] == again["score"] == iou
