"""The Seagull-100w build on a local Ray: tables, counts, value ranges, bad sources, resume
after SIGKILL and parameter checks. (``ray job submit`` on a two-node Ray is in tests/cluster.)

The kill-and-resume test uses the stand-ins: what it checks — a source counts only once all its
rows are written — is the pipeline's, and the stand-ins make it fast.

Tests named ``stand_in`` run the real pipeline with the small stand-in ISP, segmenter and
labeller of ``tests/pipelines/factory_fakes.py``; the others run the real ``seagull.isp``,
``seagull.regions`` and ``seagull.labels``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from pathlib import Path

import pyarrow.dataset as pads
import pytest
from build_helpers import (
    BAD,
    REPO,
    SMALL,
    env,
    make_raw_dir,
    rows,
    stand_in_command,
)
from process_tree import kill_tree

from seagull.data.schema import ERRORS_SCHEMA, IMAGES_SCHEMA, ROIS_SCHEMA, check_schema
from seagull.labels.levels import SEVERITY_WORDS

N_IMAGES_PER_SOURCE = 1 + 2 * 2  # reference + 2 types × 2 levels


def _stand_in_components():
    import factory_fakes
    import ray.cloudpickle

    # The stand-ins live in a test folder that Ray's workers do not import from: ship by value.
    ray.cloudpickle.register_pickle_by_value(factory_fakes)
    return factory_fakes.components()


def check_build(out: Path, raw: Path, n_good: int) -> dict:
    """Everything a finished build must satisfy; returns the manifest."""
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["schema_version"] == 1
    for table, schema in (("images", IMAGES_SCHEMA), ("rois", ROIS_SCHEMA),
                          ("errors", ERRORS_SCHEMA)):
        names = os.listdir(out / table)
        assert names and all(n.endswith(".parquet") for n in names), names
        ds = pads.dataset(str(out / table))
        check_schema(ds.schema, table, table)
        assert ds.schema.equals(schema, check_metadata=False)
    assert not (out / "_staging").exists() or os.listdir(out / "_staging") == []

    images, rois, errors = rows(out, "images"), rows(out, "rois"), rows(out, "errors")
    assert len(images) == n_good * N_IMAGES_PER_SOURCE
    assert len(rois) == n_good * (N_IMAGES_PER_SOURCE - 1)
    assert sorted(e["source"] for e in errors) == sorted(str(raw / b) for b in BAD)
    stages = {e["source"]: (e["stage"], e["error"]) for e in errors}
    assert stages.pop(str(raw / "sub/gone.dng")) == ("discover", "FileNotFoundError")
    assert {s for s, _ in stages.values()} == {"render"}
    assert {e for _, e in stages.values()} <= {"RawDecodeError", "UnsupportedSensorError"}
    assert "corrupt sensor metadata" in next(e["message"] for e in errors
                                             if e["source"] == str(raw / "levels.dng"))
    counts = manifest["counts"]
    assert counts["images"] == len(images) and counts["rois"] == len(rois)
    assert counts["errors"] == counts["sources_bad"] == len(BAD)
    assert counts["regions"] == sum(len(r["regions"]) for r in rois) > 0

    references = {i["image_id"]: i for i in images if i["distortion"] == "reference"}
    assert len(references) == n_good
    assert all(r["encoded"] for r in references.values())
    assert all(i["encoded"] is None for i in images if i["distortion"] != "reference")
    assert len({i["image_id"] for i in images}) == len(images)
    split_of_source = {}
    for row in rois:
        assert row["reference_id"] in references
        assert row["distortion"] in ("noise", "compression") and row["level"] in (0, 19)
        assert max(row["width"], row["height"]) == 128
        assert row["format"] == ("jpeg" if row["distortion"] == "compression" else "png")
        assert split_of_source.setdefault(row["source_id"], row["split"]) == row["split"]
        for region in row["regions"]:
            assert 0.0 <= region["quality"] <= 1.0
            assert region["importance"] is None or 0.0 <= region["importance"] <= 1.0
            assert region["kind"] in ("object", "component") and region["area"] >= 1
            assert region["mask"]["size"] == [row["height"], row["width"]]
            assert len(region["distortions"]) <= 1
            for d in region["distortions"]:
                assert d["type"] == row["distortion"] and d["level"] in SEVERITY_WORDS
                assert 0.0 <= d["severity"] <= 1.0
    assert set(split_of_source.values()) <= {"train", "test"}
    for name in ("isp", "segmenter", "labeller"):
        assert manifest["producers"][name]["weights"]
    return manifest


@pytest.fixture(scope="module")
def raw_dir(sample_dir, tmp_path_factory) -> Path:
    return make_raw_dir(sample_dir, tmp_path_factory.mktemp("raw"))


@pytest.fixture(scope="module")
def stand_in_build(raw_dir, ray_session, tmp_path_factory) -> Path:
    from pipelines.build_100w import build
    from seagull.data.factory import FactoryParams

    out = tmp_path_factory.mktemp("stand-in") / "out"
    params = FactoryParams(types=("noise", "compression"), levels=(0, 19), long_side=128,
                           points=8)
    build(str(raw_dir), str(out), params, components=_stand_in_components(), progress=False)
    return out


@pytest.mark.ray
def test_stand_in_build_writes_the_tables_and_lists_exactly_the_bad_files(stand_in_build,
                                                                          raw_dir):
    manifest = check_build(stand_in_build, raw_dir, n_good=2)
    assert manifest["producers"]["segmenter"] == {"name": "fake-grid", "version": "1",
                                                  "weights": "fallback"}
    assert manifest["producers"]["labeller"]["weights"] == "abc123"
    assert manifest["params"]["levels"] == [0, 19] and manifest["params"]["long_side"] == 128


@pytest.mark.ray
def test_stand_in_rerun_skips_written_sources_and_refuses_other_parameters(
        stand_in_build, raw_dir):
    from pipelines.build_100w import build
    from seagull.data.factory import FactoryParams
    from seagull.errors import DatasetError

    before = {p: p.stat().st_mtime_ns for p in stand_in_build.rglob("*.parquet")}
    params = FactoryParams(types=("noise", "compression"), levels=(0, 19), long_side=128,
                           points=8)
    build(str(raw_dir), str(stand_in_build), params, components=_stand_in_components(),
          progress=False)
    assert {p: p.stat().st_mtime_ns for p in stand_in_build.rglob("*.parquet")} == before
    other = FactoryParams(types=("noise", "compression"), levels=(0, 10, 19), long_side=128,
                          points=8)
    with pytest.raises(DatasetError, match="other parameters"):
        build(str(raw_dir), str(stand_in_build), other, components=_stand_in_components(),
              progress=False)
    # The same parameters over another source folder with other files would merge two
    # datasets into one.
    elsewhere = raw_dir.parent / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    (elsewhere / "chelsea.dng").write_bytes((raw_dir / "chelsea.dng").read_bytes()[:-1] + b"!")
    with pytest.raises(DatasetError) as err:
        build(str(elsewhere), str(stand_in_build), params, components=_stand_in_components(),
              progress=False)
    assert str(err.value) == (f"{stand_in_build} was built from {raw_dir}, not {elsewhere}; "
                              "rerun with that source to resume, or use another folder or "
                              "--overwrite")
    # A rerun limited to fewer sources still counts what the folder holds.
    manifest = build(str(raw_dir), str(stand_in_build), params, max_sources=1,
                     components=_stand_in_components(), progress=False)
    assert manifest["counts"]["sources"] == 2 + len(BAD)
    assert {p: p.stat().st_mtime_ns for p in stand_in_build.rglob("*.parquet")} == before


@pytest.mark.ray
def test_stand_in_resume_with_another_labeller_is_refused(stand_in_build, raw_dir, tmp_path):
    import shutil

    import factory_fakes

    from pipelines.build_100w import build
    from seagull.data.factory import FactoryParams
    from seagull.errors import DatasetError

    out = tmp_path / "copy"
    shutil.copytree(stand_in_build, out)
    next((out / "rois").glob("*.parquet")).unlink()  # one source left to do

    class Retrained(factory_fakes.FakeLabeller):
        weights_hash = "ffff0000"

    comps = _stand_in_components()
    comps.build_labeller = Retrained
    params = FactoryParams(types=("noise", "compression"), levels=(0, 19), long_side=128,
                           points=8)
    with pytest.raises(DatasetError, match="other components.*ffff0000"):
        build(str(raw_dir), str(out), params, components=comps, progress=False)


@pytest.mark.ray
def test_stand_in_reader_streams_samples_of_the_build(stand_in_build, ray_session):
    from pipelines.read_rois import read_samples
    from seagull.data.reader import iter_samples

    plain = list(iter_samples(str(stand_in_build), decode=True))
    assert len(plain) == json.loads((stand_in_build / "manifest.json").read_text())[
        "counts"]["regions"]
    first = plain[0]
    assert first.image.shape[:2] == first.mask.shape and first.mask.sum() == first.area
    ds = read_samples(str(stand_in_build))
    on_ray = ds.take_all()
    assert sorted(r["roi_id"] for r in on_ray) == sorted(s.roi_id for s in plain)
    row = next(r for r in on_ray if r["roi_id"] == first.roi_id)
    assert row["image"].shape == first.image.shape and (row["mask"] == first.mask).all()
    assert row["quality"] == first.quality


def _kill_part_way_and_resume(command, out: Path, n_good: int, tmp: Path) -> None:
    """Run ``command`` until one source is written, SIGKILL it (and its local Ray), rerun.

    The killed run holds every source but the first (``STAND_IN_GATE``), so it is killed
    part-way however fast the machine; the rerun runs free.
    """
    gated = {**env(), "STAND_IN_GATE": str(tmp / "gate")}
    with open(tmp / "killed.log", "w") as log:
        proc = subprocess.Popen(command, env=gated, cwd=REPO, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline and proc.poll() is None:
        written = list((out / "rois").glob("*.parquet")) if (out / "rois").is_dir() else []
        if written:
            break
        time.sleep(0.05)
    assert proc.poll() is None, f"the build ended before it could be killed: {proc.returncode}"
    kill_tree(proc.pid)  # the driver and the local Ray it started, workers included
    proc.wait()
    assert len(list((out / "rois").glob("*.parquet"))) < n_good  # really part-way
    assert (tmp / "gate" / "first").is_file()  # the gated labeller ran in the killed build
    done = subprocess.run(command, env=env(), cwd=REPO, capture_output=True, text=True,
                          timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.slow
@pytest.mark.ray
def test_stand_in_killed_build_resumes_to_the_same_rows(stand_in_build, raw_dir, tmp_path):
    # Same sources (ids hash their bytes), another output folder.
    out = tmp_path / "out"
    _kill_part_way_and_resume(stand_in_command(tmp_path, raw_dir, out), out, 2, tmp_path)
    check_build(out, raw_dir, n_good=2)
    for table in ("images", "rois", "errors"):
        assert rows(out, table) == rows(stand_in_build, table)  # same ids, same values


@pytest.mark.ray
def test_stand_in_moved_folder_builds_the_same_rows_and_a_changed_file_is_rebuilt(
        stand_in_build, raw_dir, tmp_path):
    """Ids follow the bytes: the same RAWs in another folder give rows identical in every
    column but ``images.source`` and ``errors.source``; into the same dataset they are not
    another source folder and nothing is rebuilt; a file changed under its name is rebuilt
    and its old rows leave."""
    import shutil

    from pipelines.build_100w import build
    from seagull.data.factory import FactoryParams

    params = FactoryParams(types=("noise", "compression"), levels=(0, 19), long_side=128,
                           points=8)
    moved = tmp_path / "moved"
    shutil.copytree(raw_dir, moved, symlinks=True)  # the dangling link stays a dangling link
    out = tmp_path / "out"
    build(str(moved), str(out), params, components=_stand_in_components(), progress=False)
    check_build(out, moved, n_good=2)

    def without(table, root, column):
        return [{k: v for k, v in r.items() if k != column} for r in rows(root, table)]

    assert rows(out, "rois") == rows(stand_in_build, "rois")
    assert without("images", out, "source") == without("images", stand_in_build, "source")
    assert without("errors", out, "source") == without("errors", stand_in_build, "source")
    assert {r["source"] for r in rows(out, "images")} == {
        str(moved / n) for n in ("chelsea.dng", "sub/flower.dng")}

    copy = tmp_path / "copy"
    shutil.copytree(stand_in_build, copy)
    before = {p: p.stat().st_mtime_ns for p in copy.rglob("*.parquet")}
    manifest = build(str(moved), str(copy), params, components=_stand_in_components(),
                     progress=False)  # the same contents from another folder: resumes
    assert manifest["source"] == str(moved)
    assert {p: p.stat().st_mtime_ns for p in copy.rglob("*.parquet")} == before

    chelsea = moved / "chelsea.dng"
    old_id = manifest["sources"][str(chelsea)]["source_id"]
    data = bytearray(chelsea.read_bytes())
    data[-8] ^= 0xFF  # one pixel of the mosaic
    chelsea.write_bytes(bytes(data))
    manifest = build(str(moved), str(copy), params, components=_stand_in_components(),
                     progress=False)
    new_id = manifest["sources"][str(chelsea)]["source_id"]
    assert new_id != old_id
    assert manifest["sources"][str(chelsea)]["sha256"] == hashlib.sha256(data).hexdigest()
    ids = {r["source_id"] for r in rows(copy, "images")}
    assert new_id in ids and old_id not in ids and len(ids) == 2
    assert not (copy / "rois" / f"{old_id}.parquet").exists()
    assert len(rows(copy, "images")) == manifest["counts"]["images"] == 2 * N_IMAGES_PER_SOURCE
    assert {r["source"] for r in rows(copy, "images") if r["source_id"] == new_id} == {
        str(chelsea)}  # rebuilt rows name where the file is now
    untouched = [p for p in before if old_id not in p.name and p.exists()]
    assert untouched and all(p.stat().st_mtime_ns == before[p] for p in untouched)


# --- the real ISP, segmenter and labeller -------------------------------------------------

@pytest.fixture(scope="module")
def real_build(raw_dir, ray_session, tmp_path_factory) -> Path:
    from seagull_cli import main as seagull

    out = tmp_path_factory.mktemp("real") / "out"
    assert seagull(["build-100w", "--raw-dir", str(raw_dir), "--out", str(out), *SMALL]) == 0
    return out


@pytest.mark.slow
@pytest.mark.ray
def test_build_on_the_sample_raws(real_build, raw_dir):
    manifest = check_build(real_build, raw_dir, n_good=2)
    from seagull.isp import ISP_VERSION

    assert manifest["producers"]["isp"]["version"] == ISP_VERSION
    assert manifest["params"]["isp_version"] == ISP_VERSION
