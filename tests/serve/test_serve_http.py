"""Real HTTP round trips against the running service (local Ray, Ray Serve, httpx)."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from serve_helpers import RECT, png_bytes, scene

pytestmark = [pytest.mark.ray, pytest.mark.slow]

LEVEL_WORDS_QUALITY = {"bad", "poor", "fair", "good", "excellent"}


def decode(rle):
    from seagull.regions.rle import decode as rle_decode

    return rle_decode(rle)


@pytest.fixture(scope="module")
def client(service):
    with service.client() as c:
        yield c


@pytest.fixture(scope="module")
def uploaded(client):
    """The scene uploaded once: its image_id."""
    r = client.post("/v1/images", files={"image": ("scene.png", png_bytes(scene()), "image/png")})
    assert r.status_code == 200, r.text
    return r.json()["image_id"]


def assert_assessment(body: dict, tasks=("quality", "importance", "distortion")):
    if "quality" in tasks:
        q = body["quality"]
        assert q["level"] in LEVEL_WORDS_QUALITY
        assert 0.0 <= q["score"] <= 1.0
        assert set(q["probabilities"]) == LEVEL_WORDS_QUALITY
        assert abs(sum(q["probabilities"].values()) - 1.0) < 1e-4
    else:
        assert "quality" not in body
    if "importance" in tasks:
        assert 0.0 <= body["importance"]["score"] <= 1.0
    else:
        assert "importance" not in body
    if "distortion" in tasks:
        assert isinstance(body["distortions"], list)
        for d in body["distortions"]:
            assert set(d) >= {"type", "severity", "level"}
    else:
        assert "distortions" not in body
    assert isinstance(body["text"], str)
    assert body["model"]["name"] == "seagull-small" and body["model"]["version"]
    assert body["mask"]["size"] == [96, 128]


def test_healthz_names_the_models(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["model"]["name"] == "seagull-small"
    assert body["model"]["segmenter"]["name"].startswith("classical")


def test_upload_multipart_and_base64_give_the_same_content_id(client, uploaded):
    image = scene()
    r = client.post("/v1/images", json={"image": base64.b64encode(png_bytes(image)).decode()})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["image_id"] == uploaded
    assert (body["width"], body["height"]) == (128, 96)
    assert body["model"]["version"]


def test_segment_point_returns_the_clicked_object(client, uploaded):
    r = client.post("/v1/segment", json={"image_id": uploaded, "point": [40, 45]})
    assert r.status_code == 200, r.text
    body = r.json()
    mask = decode(body["mask"])
    assert mask.shape == (96, 128)
    x0, y0, x1, y1 = RECT
    inside = mask[y0:y1, x0:x1].mean()
    outside = (mask.sum() - mask[y0:y1, x0:x1].sum()) / (mask.size - (y1 - y0) * (x1 - x0))
    assert inside > 0.9 and outside < 0.05
    x, y, w, h = body["bbox"]
    assert abs(x - x0) <= 2 and abs(y - y0) <= 2 and abs(x + w - x1) <= 2 and abs(y + h - y1) <= 2
    assert body["area"] == int(mask.sum())
    assert body["model"]["name"].startswith("classical")
    assert "score" in body and body["score"] is None  # the classical fallback has no score
    assert "overlay_png" not in body


def test_segment_box_as_form_fields_with_overlay(client, uploaded):
    import io

    from PIL import Image

    r = client.post("/v1/segment", data={"image_id": uploaded, "box": "10,14,70,78",
                                         "overlay": "true"})
    assert r.status_code == 200, r.text
    body = r.json()
    mask = decode(body["mask"])
    assert mask[30:60, 25:55].all()
    overlay = np.asarray(Image.open(io.BytesIO(base64.b64decode(body["overlay_png"]))))
    assert overlay.shape == (96, 128, 3)
    original = scene()
    assert (overlay[~mask] == original[~mask]).all()  # only the mask is tinted
    assert (overlay[40, 40] != original[40, 40]).any()


def test_segment_points_with_labels_multipart_with_image(client):
    r = client.post("/v1/segment", files={"image": ("s.png", png_bytes(scene()), "image/png")},
                    data={"points": "40,45;96,48", "labels": "1,1"})
    assert r.status_code == 200, r.text
    mask = decode(r.json()["mask"])
    assert mask[45, 40] and mask[48, 96]  # both objects


def test_second_click_is_served_from_both_caches(client, service):
    image = scene(seed=11)  # an image no other test uploads
    r = client.post("/v1/images", files={"image": ("s.png", png_bytes(image), "image/png")})
    image_id = r.json()["image_id"]
    stats0 = client.get("/v1/stats").json()
    first = client.post("/v1/assess", json={"image_id": image_id, "point": [40, 45]})
    assert first.status_code == 200, first.text
    assert first.headers["X-Seagull-Cache"] == "segmenter=miss, assessor=miss"
    second = client.post("/v1/assess", json={"image_id": image_id, "point": [96, 48]})
    assert second.status_code == 200, second.text
    assert second.headers["X-Seagull-Cache"] == "segmenter=hit, assessor=hit"
    stats1 = client.get("/v1/stats").json()
    # Exactly one encoder run per model for the two clicks.
    assert stats1["segmenter"]["misses"] - stats0["segmenter"]["misses"] == 1
    assert stats1["assessor"]["misses"] - stats0["assessor"]["misses"] == 1
    assert stats1["assessor"]["hits"] - stats0["assessor"]["hits"] >= 1
    # Different regions, so different masks.
    assert first.json()["mask"] != second.json()["mask"]


def test_assess_point_json(client, uploaded):
    r = client.post("/v1/assess", json={"image_id": uploaded, "point": [40, 45]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert_assessment(body)
    assert body["image_id"] == uploaded
    assert decode(body["mask"])[45, 40]


def test_assess_box_multipart_with_tasks(client):
    r = client.post("/v1/assess", files={"image": ("s.png", png_bytes(scene()), "image/png")},
                    data={"box": "10,14,70,78", "tasks": "quality,importance"})
    assert r.status_code == 200, r.text
    assert_assessment(r.json(), tasks=("quality", "importance"))


def test_assess_given_mask_is_used_as_is(client, uploaded):
    from seagull.regions.rle import encode

    mask = np.zeros((96, 128), dtype=bool)
    mask[5:15, 100:120] = True
    rle = encode(mask)
    r = client.post("/v1/assess", json={"image_id": uploaded, "mask": rle, "tasks": ["quality"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["mask"] == rle
    assert_assessment(body, tasks=("quality",))
    # The same region asked as a multipart field gives the same scores (deterministic model).
    r2 = client.post("/v1/assess", data={"image_id": uploaded, "mask": json.dumps(rle),
                                         "tasks": "quality"})
    assert r2.status_code == 200, r2.text
    assert r2.json()["quality"] == body["quality"]


def test_assess_list_of_prompts(client, uploaded):
    from seagull.regions.rle import encode

    mask = np.zeros((96, 128), dtype=bool)
    mask[60:90, 80:120] = True
    prompts = [{"point": [40, 45]}, {"box": [78, 30, 115, 66]}, {"mask": encode(mask)}]
    r = client.post("/v1/assess", json={"image_id": uploaded, "prompts": prompts,
                                        "tasks": ["quality", "distortion"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"]["name"] == "seagull-small"
    assert len(body["results"]) == 3
    for result in body["results"]:
        assert_assessment(result, tasks=("quality", "distortion"))
    assert body["results"][2]["mask"] == encode(mask)
    assert decode(body["results"][0]["mask"])[45, 40]
    # A region answers the same alone as in a list (batching does not mix regions up).
    alone = client.post("/v1/assess", json={"image_id": uploaded, "mask": encode(mask),
                                            "tasks": ["quality", "distortion"]}).json()
    assert np.allclose(alone["quality"]["score"], body["results"][2]["quality"]["score"],
                       atol=1e-5)


def test_openapi_and_docs(client):
    spec = client.get("/openapi.json").json()
    for path in ("/v1/images", "/v1/segment", "/v1/assess", "/healthz"):
        assert path in spec["paths"]
    content = spec["paths"]["/v1/assess"]["post"]["requestBody"]["content"]
    assert "image" in content["multipart/form-data"]["schema"]["properties"]
    assert set(content) == {"application/json", "multipart/form-data"}
    assert client.get("/docs").status_code == 200


def test_page_and_its_files_only(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "/static/app.js" in page.text
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/style.css").status_code == 200
    for name in ("index.html", "..%2Fapp.py", "config.yaml"):
        r = client.get(f"/static/{name}")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


# ---- bad requests ------------------------------------------------------------------------

def _truncated_png() -> bytes:
    data = png_bytes(scene())
    return data[: len(data) // 2]


def _bomb_png() -> bytes:
    """A tiny file that declares 2000×2000 pixels (over the test service's 600×600 limit)."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (2000, 2000)).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


MALFORMED = [
    # (name, request kwargs builder, status, code)
    ("not an image", lambda i: {"url": "/v1/images", "files": {"image": ("a.png", b"hello, not an image", "image/png")}}, 400, "bad_image"),
    ("truncated upload", lambda i: {"url": "/v1/images", "files": {"image": ("a.png", _truncated_png(), "image/png")}}, 400, "bad_image"),
    ("empty upload", lambda i: {"url": "/v1/images", "files": {"image": ("a.png", b"", "image/png")}}, 400, "bad_image"),
    ("no image part", lambda i: {"url": "/v1/images", "data": {"x": "1"}}, 422, "invalid_input"),
    ("bad base64", lambda i: {"url": "/v1/images", "json": {"image": "***not base64***"}}, 400, "bad_image"),
    ("oversize upload", lambda i: {"url": "/v1/images", "files": {"image": ("a.png", b"\x89PNG" + b"0" * 300_000, "image/png")}}, 413, "too_large"),
    ("oversize pixels", lambda i: {"url": "/v1/images", "files": {"image": ("a.png", _bomb_png(), "image/png")}}, 413, "too_large"),
    ("bad JSON", lambda i: {"url": "/v1/assess", "content": b'{"image_id": ', "headers": {"Content-Type": "application/json"}}, 400, "bad_request"),
    ("JSON not an object", lambda i: {"url": "/v1/assess", "json": [1, 2]}, 400, "bad_request"),
    ("unsupported content type", lambda i: {"url": "/v1/assess", "content": b"x", "headers": {"Content-Type": "text/plain"}}, 415, "unsupported_media_type"),
    ("unknown image_id", lambda i: {"url": "/v1/assess", "json": {"image_id": "0" * 32, "point": [1, 1]}}, 404, "unknown_image"),
    ("malformed image_id", lambda i: {"url": "/v1/assess", "json": {"image_id": "../../etc/passwd", "point": [1, 1]}}, 422, "invalid_input"),
    ("point outside the image", lambda i: {"url": "/v1/assess", "json": {"image_id": i, "point": [500, 10]}}, 422, "invalid_input"),
    ("negative point", lambda i: {"url": "/v1/segment", "json": {"image_id": i, "point": [-1, 10]}}, 422, "invalid_input"),
    ("point not numbers", lambda i: {"url": "/v1/assess", "json": {"image_id": i, "point": ["a", 1]}}, 422, "invalid_input"),
    ("point form text", lambda i: {"url": "/v1/assess", "data": {"image_id": i, "point": "12"}}, 422, "invalid_input"),
    ("box without area", lambda i: {"url": "/v1/segment", "json": {"image_id": i, "box": [10, 10, 10, 40]}}, 422, "invalid_input"),
    ("empty mask", lambda i: {"url": "/v1/assess", "json": {"image_id": i, "mask": _empty_mask_rle()}}, 422, "empty_mask"),
    ("mask of another size", lambda i: {"url": "/v1/assess", "json": {"image_id": i, "mask": {"size": [10, 10], "counts": "0<"}}}, 422, "mask_shape"),
    ("mask as a segment prompt", lambda i: {"url": "/v1/segment", "json": {"image_id": i, "mask": {"size": [96, 128], "counts": "0PP<"}}}, 422, "invalid_input"),
    ("no prompt", lambda i: {"url": "/v1/assess", "json": {"image_id": i}}, 422, "invalid_input"),
    ("unknown task", lambda i: {"url": "/v1/assess", "json": {"image_id": i, "point": [5, 5], "tasks": ["beauty"]}}, 422, "invalid_input"),
    ("too many prompts", lambda i: {"url": "/v1/assess", "json": {"image_id": i, "prompts": [{"point": [5, 5]}] * 9}}, 422, "invalid_input"),
    ("image and image_id", lambda i: {"url": "/v1/assess", "files": {"image": ("a.png", png_bytes(scene()), "image/png")}, "data": {"image_id": i, "point": "5,5"}}, 422, "invalid_input"),
    ("unknown route", lambda i: {"url": "/v1/nothing", "json": {}}, 404, "not_found"),
]


def _empty_mask_rle() -> dict:
    from seagull.regions.rle import encode

    return encode(np.zeros((96, 128), dtype=bool), allow_empty=True)


@pytest.mark.parametrize("name,build,status,code", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_request_gets_a_4xx_json_error(client, uploaded, name, build, status, code):
    kwargs = build(uploaded)
    url = kwargs.pop("url")
    r = client.post(url, **kwargs)
    assert r.status_code == status, (name, r.status_code, r.text)
    error = r.json()["error"]
    assert error["code"] == code, (name, error)
    assert error["message"] and "\n" not in error["message"]
    assert "Traceback" not in r.text
    # …and the service is still up.
    assert client.get("/healthz").status_code == 200


def test_api_key_is_required_when_configured(service, uploaded):
    import httpx

    with httpx.Client(base_url=service.url, timeout=60) as anonymous:
        r = anonymous.post("/v1/assess", json={"image_id": uploaded, "point": [40, 45]})
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
        r = anonymous.post("/v1/images", headers={"X-API-Key": "wrong"},
                           files={"image": ("s.png", png_bytes(scene()), "image/png")})
        assert r.status_code == 401
        # The page and the health check stay open.
        assert anonymous.get("/healthz").status_code == 200
        assert anonymous.get("/").status_code == 200
