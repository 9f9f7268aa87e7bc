"""Helpers of the build tests: a RAW folder with bad files mixed in, row snapshots, and a
driver script that runs the build with the stand-in components of tests/data."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pyarrow.dataset as pads

REPO = Path(__file__).resolve().parents[2]
TESTS_DATA = REPO / "tests" / "pipelines"
GOOD = ("chelsea.dng", "flower.dng", "china.dng")
BAD = ("corrupt.dng", "levels.dng", "sub/gone.dng", "sub/notraw.NEF")
SMALL = ["--types", "noise,compression", "--levels", "0,19", "--long-side", "128",
         "--points", "8", "--no-progress"]


def make_raw_dir(sample_dir: Path, target: Path, n_good: int = 2) -> Path:
    """``n_good`` sample RAWs (one in a subfolder), a truncated DNG, a DNG whose black level is
    above its white level, a symbolic link named .dng whose target is gone, a text file named
    .NEF and a non-RAW file that must be ignored."""
    import numpy as np

    from seagull.isp.dng import write_dng
    from seagull.isp.inverse import SensorModel

    (target / "sub").mkdir(parents=True)
    for i, name in enumerate(GOOD[:n_good]):
        shutil.copy(sample_dir / name, target / ("sub" if i == 1 else ".") / name)
    (target / "corrupt.dng").write_bytes((sample_dir / "chelsea.dng").read_bytes()[:4096])
    (target / "sub" / "notraw.NEF").write_text("not a raw file\n")
    sensor = SensorModel()

    class Corrupt:  # the file's tags say black 5000, white 4000
        cfa, color_matrix, as_shot_neutral = (sensor.cfa, sensor.color_matrix,
                                              sensor.as_shot_neutral)
        black_level, white_level = 5000, 4000

    write_dng(target / "levels.dng", np.full((64, 96), 4500, np.uint16), Corrupt)
    (target / "sub" / "gone.dng").symlink_to(target / "moved-away.dng")
    (target / "readme.txt").write_text("ignored: not a RAW name\n")
    return target


def rows(out: Path, table: str) -> list[dict]:
    """All rows of a table, sorted by their id (for set-wise comparison of two builds)."""
    key = {"images": "image_id", "rois": "image_id", "errors": "source"}[table]
    folder = out / table
    if not folder.is_dir() or not any(folder.glob("*.parquet")):
        return []
    return sorted(pads.dataset(str(folder)).to_table().to_pylist(), key=lambda r: r[key])


def env() -> dict:
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join([str(REPO), str(TESTS_DATA), e.get("PYTHONPATH", "")])
    e["RAY_AUTH_MODE"] = "disabled"
    e.pop("RAY_ADDRESS", None)
    return e


STAND_IN_DRIVER = """
import os
import sys
import factory_fakes
from pipelines.build_100w import build, Resources
from seagull.data.factory import FactoryParams

params = FactoryParams(types=("noise", "compression"), levels=(0, 19), long_side=128, points=8)
address = sys.argv[3] if len(sys.argv) > 3 else None
# STAND_IN_GATE: a folder; every source but the first is then held (factory_fakes.GatedLabeller).
components = factory_fakes.components(gate=os.environ.get("STAND_IN_GATE"))
manifest = build(sys.argv[1], sys.argv[2], params, components=components,
                 address=address, progress=False)
print("COUNTS", manifest["counts"])
"""


def stand_in_command(tmp: Path, raw: Path, out: Path, address: str | None = None) -> list[str]:
    script = tmp / "stand_in_driver.py"
    script.write_text(STAND_IN_DRIVER)
    return [sys.executable, str(script), str(raw), str(out)] + ([address] if address else [])


def real_command(raw: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "seagull", "build-100w", "--raw-dir", str(raw),
            "--out", str(out), *SMALL]
