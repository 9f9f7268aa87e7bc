"""``bench/build_cost.py``: the projection it writes into docs/dataset.md comes from its own
numbers, one row per configuration in the documented form."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _bench():
    spec = importlib.util.spec_from_file_location("build_cost", REPO / "bench" / "build_cost.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_docs_table_is_the_projection_of_the_recorded_measurements(tmp_path):
    bench = _bench()
    result = json.loads((REPO / "bench" / "results" / "build_cost.json").read_text())
    doc = tmp_path / "dataset.md"
    doc.write_text(f"before\n{bench.DOC_BEGIN}\nold\n{bench.DOC_END}\nafter\n")
    bench.finish(result, str(doc))
    written = doc.read_text()
    assert written.startswith("before\n") and written.endswith("after\n") and "old" not in written
    block = written[written.index(bench.DOC_BEGIN):written.index(bench.DOC_END)]
    real = (REPO / "docs" / "dataset.md").read_text()
    assert block in real  # docs/dataset.md holds exactly what the bench writes
    rows = re.findall(r"^\| (\d+ nodes?: \d+ GPUs \+ \d+ cores) \| ([\d,.]+) \| (derived.*) \|$",
                      block, re.MULTILINE)
    assert ("1 node: 8 GPUs + 256 cores" in [r[0] for r in rows])
    node = result["projection"]["nodes"][0]
    assert node["config"] == "1 node: 8 GPUs + 256 cores"
    # The hours are the FLOPs over the assumed throughput (or the renders over the cores).
    full, sam = result["sizes"]["1024"], result["sam"]
    flops = (full["flops_per_region"] * bench.PAPER_REGIONS
             + bench.FULL_SOURCES * (sam["encoder"] + 32 * sam["decoder_per_prompt"]))
    gpu_h = flops / (8 * bench.GPU_EFFICIENCY * bench.H200_PEAK_TFLOPS["bf16"] * 1e12) / 3600
    assert abs(node["gpu_hours_wall"] - gpu_h) < 1e-9 and node["hours"] >= gpu_h
    assert f"| {node['hours']:,.1f} |" in block


def test_flops_of_the_meta_model_grow_with_the_region():
    bench = _bench()
    meta = bench.MetaFlops()
    small = bench.render_flops(meta, [(0, 0, 32, 32)], 256, 256, 96)
    large = bench.render_flops(meta, [(0, 0, 160, 160)], 256, 256, 96)
    assert large["quality_crops"] > 10 * small["quality_crops"]
    assert small["whole_render"] == large["whole_render"] > 0
