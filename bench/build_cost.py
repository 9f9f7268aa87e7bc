"""Cost model of the full Seagull-100w build with the paper's components (TOPIQ-FR labels, SAM
masks), from measurements, and the projection table of docs/dataset.md.

    python bench/build_cost.py [--sizes 256,512,1024] [--photos 3] [--json FILE]
                               [--write-docs docs/dataset.md]

Every figure is measured here or derived from a measured count; each assumption is printed as
one. What is measured:

- **Regions**: the sample photos are rendered at each long side and the classical segmenter
  proposes their regions (32 point prompts + objects, as the build does); their bounding boxes
  are the region sizes of the model (the paper's ~34 regions per image set the count).
- **FLOPs** of the labeller's work, per region, from the shapes it runs on: TOPIQ-FR's real
  architecture with random weights, counted by ``torch.utils.flop_counter`` on the meta device
  (no arithmetic done) for every shape a build at that size runs — the region's masked crop
  pair (the reference side once per source), the replaced-image window and the head on the
  spliced full-size maps, plus each render's whole-image pass shared by its regions. The
  model is checked against the FLOPs counted while the real labeller labels one render.
- **CPU throughput**: the real labeller (fp32, this machine's threads) on one render per size:
  regions/s and the GFLOP/s it reaches.
- **Half precision**: the same render labelled under bfloat16 autocast on the CPU against fp32:
  the largest change of a quality and of an importance label (random weights: the network's
  sensitivity is not a trained one; rerun with ``--topiq-weights`` for the real tolerance).
- **SAM** ViT-H: FLOPs of the image encoder at 1024² and of the mask decoder per prompt (meta
  device), once per source.
- **Rendering**: CPU-seconds per render (reference and distortions) of the real ISP at 1024.

The projection divides the total FLOPs by a GPU throughput that is *assumed*: at most 20 % of
the device's peak (H200 datasheet: bf16 dense 989 TFLOP/s, TF32 495, fp32 67), since no GPU
efficiency was measured; rendering runs on the node's CPU cores at the Ray efficiency measured
by ``bench/factory.py`` (its JSON, when present; else 1.0, printed). The stages stream, so a
node's hours are those of its slower side.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from pathlib import Path

import numpy as np

FULL_SOURCES = 8146
RENDERS_PER_SOURCE = 120  # 6 types × 20 levels (the reference is rendered besides)
PAPER_REGIONS = 33_000_000
GPU_EFFICIENCY = 0.20  # the largest share of peak assumed where none was measured
H200_PEAK_TFLOPS = {"bf16": 989.0, "tf32": 495.0, "fp32": 67.0}
RAY_EFFICIENCY_FILE = Path(__file__).parent / "results" / "factory.json"
DOC_BEGIN = "<!-- build-cost projection: begin (python bench/build_cost.py --write-docs) -->"
DOC_END = "<!-- build-cost projection: end -->"


# --- FLOPs on the meta device -------------------------------------------------------------

class MetaFlops:
    """FLOPs of TOPIQ-FR's parts on given shapes, counted on the meta device (cached)."""

    def __init__(self) -> None:
        import torch

        from seagull.labels.topiq import build_cfanet

        with torch.device("meta"):
            self.net = build_cfanet()
        self._cache: dict = {}

    def _count(self, fn) -> float:
        from torch.utils.flop_counter import FlopCounterMode

        with FlopCounterMode(display=False) as counter:
            fn()
        return float(counter.get_total_flops())

    def _x(self, h: int, w: int):
        import torch

        return torch.zeros(1, 3, h, w, device="meta")

    def backbone(self, h: int, w: int) -> float:
        from seagull.labels.topiq import features

        key = ("backbone", h, w)
        if key not in self._cache:
            self._cache[key] = self._count(lambda: features(self.net, self._x(h, w)))
        return self._cache[key]

    def head(self, h: int, w: int) -> float:
        """The head on the features of an h×w pair (gating at every level, then attention)."""
        from seagull.labels.topiq import features, head

        key = ("head", h, w)
        if key not in self._cache:
            feats = features(self.net, self._x(h, w))
            self._cache[key] = self._count(lambda: head(self.net, feats, feats))
        return self._cache[key]

    def gates(self, h: int, w: int, blocks: list[tuple[int, int]]) -> float:
        """Gating of one block per level (``blocks``: its cells h×w per level) of an h×w
        image's feature maps."""
        from seagull.labels.topiq import features, gate

        key = ("gates", h, w, tuple(blocks))
        if key not in self._cache:
            feats = features(self.net, self._x(h, w))
            self._cache[key] = self._count(lambda: [
                gate(self.net, i, f[:, :, :bh, :bw], f[:, :, :bh, :bw])
                for i, (f, (bh, bw)) in enumerate(zip(feats, blocks))])
        return self._cache[key]

    def head_from_gated(self, h: int, w: int) -> float:
        """The attention head alone on already gated maps of an h×w image."""
        from seagull.labels.topiq import features, gate, head_from_gated

        key = ("gated", h, w)
        if key not in self._cache:
            feats = features(self.net, self._x(h, w))
            gated = [gate(self.net, i, f, f) for i, f in enumerate(feats)]
            self._cache[key] = self._count(lambda: head_from_gated(self.net, gated))
        return self._cache[key]


def window_geometry(box, H: int, W: int, margin: int) -> tuple[tuple[int, int], list]:
    """The backbone window (h, w) of a replaced image and the gated block (cells h×w) of each
    of the five feature levels (``TopiqScorer._window_gated``'s geometry)."""
    from seagull.labels.topiq import GATE_REACH, _ceil, _floor

    x, y, bw, bh = box
    ix0, iy0 = _floor(max(0, x - margin)), _floor(max(0, y - margin))
    ix1, iy1 = min(W, _ceil(x + bw + margin)), min(H, _ceil(y + bh + margin))
    wx0, wy0 = _floor(max(0, ix0 - margin)), _floor(max(0, iy0 - margin))
    wx1, wy1 = min(W, _ceil(ix1 + margin)), min(H, _ceil(iy1 + margin))
    blocks = []
    for level in range(5):
        s = 2 ** (level + 1)
        h, w = -(-H // s), -(-W // s)
        r0, r1 = iy0 // s, min(h, -(-iy1 // s))
        c0, c1 = ix0 // s, min(w, -(-ix1 // s))
        a0, a1 = max(0, r0 - 2 * GATE_REACH), min(h, r1 + 2 * GATE_REACH)
        b0, b1 = max(0, c0 - 2 * GATE_REACH), min(w, c1 + 2 * GATE_REACH)
        blocks.append((a1 - a0, b1 - b0))
    return (wy1 - wy0, wx1 - wx0), blocks


def render_flops(meta: MetaFlops, boxes, H: int, W: int, margin: int) -> dict:
    """FLOPs of labelling one render with these regions, by part (the reference side is
    per source: it is shared by the source's 120 renders)."""
    crops = sum(meta.backbone(bh, bw) + meta.head(bh, bw) for _, _, bw, bh in boxes)
    windows = 0.0
    for b in boxes:
        window, blocks = window_geometry(b, H, W, margin)
        windows += meta.backbone(*window) + meta.gates(H, W, blocks)
    spliced = len(boxes) * meta.head_from_gated(H, W)
    whole = meta.backbone(H, W) + meta.head(H, W)
    reference = (meta.backbone(H, W) + meta.head(H, W)
                 + sum(meta.backbone(bh, bw) for _, _, bw, bh in boxes))
    return {"quality_crops": crops, "replaced_windows": windows, "replaced_heads": spliced,
            "whole_render": whole, "reference_per_source": reference}


# --- measurements on the real code ----------------------------------------------------------

def photos(n: int, sample_dir: str | None) -> list[Path]:
    from seagull.samples import make_samples

    folder = Path(sample_dir) if sample_dir else Path(tempfile.mkdtemp(prefix="build-cost-"))
    paths = sorted(folder.glob("*.dng"))
    if len(paths) < n:
        paths = make_samples(folder)
    return sorted(paths)[:n]


def render_pair(path: Path, long_side: int):
    """(reference, blurred render, CPU-seconds per render) at ``long_side``."""
    from seagull.isp import render_variants

    start = time.process_time()
    renders = list(render_variants(str(path), types=("blur", "noise"), levels=(10,),
                                   long_side=long_side, seed=0))
    per_render = (time.process_time() - start) / len(renders)
    return renders[0].image, renders[1].image, per_render


def camera_raw(path: Path, megapixels: float, folder: Path) -> Path:
    """A DNG of a camera's size: the sample photo behind ``path`` resized to ``megapixels``
    and taken back to a mosaic by the ISP's inverse (the sample RAWs are far smaller than a
    camera's, and decoding and demosaicing scale with the sensor's pixels)."""
    from PIL import Image

    from seagull.isp.dng import dng_bytes
    from seagull.isp.inverse import SensorModel, unprocess
    from seagull.samples import available_samples, source_photo

    spec = next(s for s in available_samples() if s.filename == path.name)
    photo = Image.fromarray(source_photo(spec))
    scale = (megapixels * 1e6 / (photo.width * photo.height)) ** 0.5
    size = (round(photo.width * scale / 2) * 2, round(photo.height * scale / 2) * 2)
    big = np.asarray(photo.resize(size, Image.Resampling.BICUBIC))
    sensor = SensorModel(bits=14)
    out = folder / f"camera-{megapixels:g}mp.dng"
    out.write_bytes(dng_bytes(unprocess(big, sensor, np.random.default_rng(0)), sensor))
    return out


def render_cost(path: Path, long_side: int) -> dict:
    """CPU-seconds of one source at a camera's size: the decode (once per source) and each
    render (one per type at a middle level; a source has 121)."""
    from seagull.isp import render_variants
    from seagull.isp.distortions import DISTORTION_TYPES

    start = time.process_time()
    renders = render_variants(str(path), types=DISTORTION_TYPES, levels=(10,),
                              long_side=long_side, seed=0)
    decode = time.process_time() - start
    each = []
    while True:
        start = time.process_time()
        if next(renders, None) is None:
            break
        each.append(time.process_time() - start)
    per_render = float(np.mean(each))
    return {"decode_cpu_s": decode, "render_cpu_s": per_render,
            "source_cpu_s": decode + (RENDERS_PER_SOURCE + 1) * per_render}


def regions_of(image: np.ndarray) -> list[np.ndarray]:
    from seagull.regions.segmenter import ClassicalSegmenter

    return [r.mask for r in ClassicalSegmenter().propose(image, n_points=32, seed=0)]


def label_run(scorer, reference, distorted, masks, *, bf16: bool = False):
    """The labeller's work on one render, importance included for every region (a build skips
    it only where the whole render shows no drop; random weights show none): the whole render,
    the quality crops and the replaced images, as ``Labeller.label`` calls them. Returns the
    seconds, the FLOPs counted, and the raw scores (TOPIQ-FR's output before clipping to
    [0, 1], which would hide a change of precision)."""
    import contextlib

    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from seagull.labels.labeller import Labeller, region_crops, to_tensor

    cast = (torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext())
    with cast:
        context = Labeller(scorer).prepare(reference, masks)
        with FlopCounterMode(display=False) as counter:
            start = time.perf_counter()
            dist = to_tensor(distorted)
            raw = scorer.scores([dist], [context.reference_prepared], raw=True)
            raw += scorer.scores(region_crops(scorer, dist, context.masks, context.boxes),
                                 context.crop_references, raw=True)
            raw += scorer.replaced_scores(dist, context.reference, context.reference_prepared,
                                          context.boxes, context.masks, raw=True)
            seconds = time.perf_counter() - start
    return seconds, float(counter.get_total_flops()), raw


def sam_flops(points: int) -> dict:
    """SAM ViT-H's encoder at 1024² and its decoder for ``points`` prompts (meta device)."""
    import torch
    import torch.fx.experimental._config as fx_config
    from segment_anything import sam_model_registry
    from torch.utils.flop_counter import FlopCounterMode

    # The prompt encoder picks padding points by a boolean mask; on the meta device that needs
    # a stand-in count (every element kept), which changes no FLOP of the networks.
    fx_config.meta_nonzero_assume_all_nonzero = True
    with torch.device("meta"):
        sam = sam_model_registry["vit_h"]()
        image = torch.zeros(1, 3, 1024, 1024)
        with FlopCounterMode(display=False) as counter:
            embedding = sam.image_encoder(image)
        encoder = float(counter.get_total_flops())
        coords = torch.zeros(points, 1, 2)
        labels = torch.ones(points, 1)
        with FlopCounterMode(display=False) as counter:
            sparse, dense = sam.prompt_encoder(points=(coords, labels), boxes=None, masks=None)
            sam.mask_decoder(image_embeddings=embedding,
                             image_pe=sam.prompt_encoder.get_dense_pe(),
                             sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense,
                             multimask_output=True)
        decoder = float(counter.get_total_flops())
    return {"encoder": encoder, "decoder_per_prompt": decoder / points}


def ray_efficiency() -> tuple[float, str]:
    try:
        data = json.loads(RAY_EFFICIENCY_FILE.read_text())
        return float(data["ray_efficiency"]), "measured by bench/factory.py"
    except (OSError, KeyError, ValueError, TypeError):
        return 1.0, "assumed: no bench/factory.py result"


# --- the projection -------------------------------------------------------------------------

def projection(per_region_flops: float, sam: dict, source_cpu_s: float, cpu_regions_per_s:
               float, eff: float, eff_how: str, points: int) -> dict[str, list[dict]]:
    """The full build at long side 1024: ``{"nodes": rows, "precision": rows}``, each row
    ``{config, hours, how}``; ``nodes`` has one row per node configuration (GPUs in bf16, their
    default), ``precision`` the 8-GPU node in each precision."""
    label_flops = per_region_flops * PAPER_REGIONS
    sam_total = FULL_SOURCES * (sam["encoder"] + points * sam["decoder_per_prompt"])
    gpu_flops = label_flops + sam_total
    render_cpu = source_cpu_s * FULL_SOURCES

    def name(nodes: int, gpus: int, cores: int) -> str:
        return f"{nodes} node{'s' if nodes > 1 else ''}: {gpus} GPUs + {cores} cores"

    def gpu_node(nodes: int, gpus: int, cores: int, precision: str) -> dict:
        rate = gpus * nodes * GPU_EFFICIENCY * H200_PEAK_TFLOPS[precision] * 1e12
        gpu_h = gpu_flops / rate / 3600
        cpu_h = render_cpu / (cores * nodes * eff) / 3600
        bound = "GPU" if gpu_h >= cpu_h else "CPU"
        return {"config": name(nodes, gpus * nodes, cores * nodes), "precision": precision,
                "hours": max(gpu_h, cpu_h), "gpu_hours_wall": gpu_h, "cpu_hours_wall": cpu_h,
                "how": f"derived ({precision}, {bound}-bound): TOPIQ-FR and SAM FLOPs counted, "
                       f"at {GPU_EFFICIENCY:.0%} of the H200's {precision} peak (assumed); "
                       f"renders at the measured CPU-s, Ray efficiency {eff:.2f} ({eff_how})"}

    def cpu_node(nodes: int, cores: int) -> dict:
        label_s = PAPER_REGIONS / cpu_regions_per_s  # core-seconds
        hours = (label_s + render_cpu) / (cores * nodes * eff) / 3600
        return {"config": name(nodes, 0, cores * nodes), "hours": hours,
                "how": f"derived: TOPIQ-FR at the measured CPU regions/s per core, renders at "
                       f"the measured CPU-s, Ray efficiency {eff:.2f}"}

    return {"nodes": [gpu_node(1, 8, 256, "bf16"), gpu_node(1, 8, 64, "bf16"),
                      cpu_node(1, 256), cpu_node(8, 256)],
            "precision": [gpu_node(1, 8, 256, p) for p in ("bf16", "tf32", "fp32")]}


def table(rows: list[dict], first: str = "configuration") -> str:
    lines = [f"| {first} | hours | how |", "|---|---:|---|"]
    lines += [f"| {r['config']} | {r['hours']:,.1f} | {r['how']} |" for r in rows]
    return "\n".join(lines)


def project(result: dict) -> str:
    """The projection's text (the tables and the assumptions) from a result of ``measure``."""
    full, sam, cost = result["sizes"]["1024"], result["sam"], result["render_1024"]
    eff, eff_how = result["ray_efficiency"]
    threads = result["threads"]
    rows = projection(full["flops_per_region"], sam, cost["source_cpu_s"],
                      full["cpu_regions_per_s"] / threads, eff, eff_how, points=32)
    result["projection"] = rows
    assumptions = [
        (f"GPU throughput: {GPU_EFFICIENCY:.0%} of the H200's datasheet peak "
         f"({', '.join(f'{k} {v:g} TFLOP/s' for k, v in H200_PEAK_TFLOPS.items())}); "
         "no GPU efficiency was measured"),
        (f"{PAPER_REGIONS:,} regions (the paper's count) of the measured mean FLOPs, "
         f"{full['flops_per_region'] / 1e9:.1f} GFLOP each at 1024 px; {FULL_SOURCES:,} sources "
         f"× {RENDERS_PER_SOURCE + 1} renders; SAM ViT-H {sam['encoder'] / 1e12:.2f} TFLOP per "
         f"source and {sam['decoder_per_prompt'] / 1e9:.2f} GFLOP per prompt (32 prompts)"),
        ("region sizes: the classical segmenter's proposals on the sample photos stand in "
         "for SAM's"),
        "the stages stream: a node's wall time is that of its slower side (GPUs or CPUs)",
        (f"RAWs of {cost['raw_megapixels']:g} MP: rendering timed on a synthetic DNG of that "
         f"size ({cost['source_cpu_s']:.0f} CPU-s per source)"),
        f"CPU labelling: the measured GFLOP/s on {threads} thread(s), per core",
    ]
    result["assumptions"] = assumptions
    lines = [("Measured, per long side (TOPIQ-FR with random weights on this CPU, "
              f"{threads} thread(s); bf16: autocast against fp32 on the same render, the "
              "largest change of a raw score):"), "",
             ("| long side | regions per image | GFLOP per region | model / counted FLOPs | "
              "CPU regions/s | CPU GFLOP/s | bf16 max Δ quality | bf16 max Δ replaced |"),
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for size, r in result["sizes"].items():
        run = r["cpu_run"]
        lines.append(f"| {size} | {r['regions_per_image']:.1f} | {r['flops_per_region'] / 1e9:.1f}"
                     f" | {run['modelled_flops'] / run['counted_flops']:.3f} | "
                     f"{r['cpu_regions_per_s']:.2f} | {run['gflops_per_s']:.1f} | "
                     f"{run['bf16_max_quality_diff']:.4f} | {run['bf16_max_replaced_diff']:.4f} |")
    lines += ["", (f"Rendering ({cost['raw_megapixels']:g} MP RAW → 1024 px): decode "
                   f"{cost['decode_cpu_s']:.1f} CPU-s per source, {cost['render_cpu_s']:.2f} "
                   "CPU-s per render."), "",
              "Projection of the full build (8,146 RAWs, 33 M regions, long side 1024):", ""]
    return ("\n".join(lines) + "\n" + table(rows["nodes"])
            + "\n\nThe 8-GPU node in each precision (bf16 is the GPU default: see \"Device and "
            "precision\" below):\n\n"
            + table(rows["precision"]) + "\n\nAssumptions:\n\n"
            + "\n".join(f"- {a}" for a in assumptions))


def write_docs(path: str, text: str) -> None:
    doc = Path(path).read_text()
    block = f"{DOC_BEGIN}\n{text}\n{DOC_END}"
    pattern = re.compile(re.escape(DOC_BEGIN) + ".*?" + re.escape(DOC_END), re.DOTALL)
    if not pattern.search(doc):
        raise SystemExit(f"{path}: no projection block ({DOC_BEGIN!r} … {DOC_END!r})")
    Path(path).write_text(pattern.sub(lambda _: block, doc))


def finish(result: dict, docs: str | None) -> None:
    """Print the projection of ``result`` (and write it into ``docs``)."""
    cost, sam = result["render_1024"], result["sam"]
    full = result["sizes"]["1024"]
    print(f"\nISP at {cost['raw_megapixels']:g} MP → 1024 px: decode {cost['decode_cpu_s']:.1f} "
          f"CPU-s per source, {cost['render_cpu_s']:.2f} CPU-s per render, "
          f"{cost['source_cpu_s']:.0f} CPU-s per source of {RENDERS_PER_SOURCE + 1} renders")
    print(f"SAM ViT-H: encoder {sam['encoder'] / 1e12:.2f} TFLOP per 1024² image, decoder "
          f"{sam['decoder_per_prompt'] / 1e9:.2f} GFLOP per prompt")
    print(f"labelling at 1024: {full['flops_per_region'] / 1e9:.1f} GFLOP per region → "
          f"{full['flops_per_region'] * PAPER_REGIONS / 1e18:.2f} EFLOP for the build\n")
    text = project(result)
    print(text)
    if docs:
        write_docs(docs, text)
        print(f"\nwrote the projection into {docs}")


def main(argv=None) -> int:
    import torch
    from seagull.cli._args import int_list, positive_int

    from seagull.labels.topiq import DEFAULT_MARGIN, TopiqScorer, build_cfanet, load_cfanet
    from seagull.regions.rle import mask_bbox

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int_list, default=[256, 512, 1024])
    p.add_argument("--photos", type=positive_int, default=3)
    p.add_argument("--samples", default=None, help="a folder of sample DNGs (default: made)")
    p.add_argument("--cpu-regions", type=positive_int, default=6,
                   help="regions labelled for the CPU timing at each size")
    p.add_argument("--topiq-weights", default=None, help="a real TOPIQ-FR file")
    p.add_argument("--threads", type=positive_int, default=None, help="torch threads")
    p.add_argument("--raw-megapixels", type=float, default=16.0,
                   help="sensor size of the RAWs whose rendering is timed (an assumption about "
                        "the full build's cameras; default 16)")
    p.add_argument("--json", default=str(Path(__file__).parent / "results" / "build_cost.json"))
    p.add_argument("--write-docs", default=None, metavar="MARKDOWN",
                   help="replace the projection block of this file with the table")
    p.add_argument("--from-json", default=None, metavar="FILE",
                   help="measure nothing: the projection of an earlier run's JSON")
    args = p.parse_args(argv)
    if args.from_json:
        result = json.loads(Path(args.from_json).read_text())
        finish(result, args.write_docs)
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    net = load_cfanet(args.topiq_weights) if args.topiq_weights else build_cfanet()
    scorer = TopiqScorer(net, "random" if not args.topiq_weights else "file")
    meta = MetaFlops()
    paths = photos(args.photos, args.samples)
    print(f"TOPIQ-FR labelling cost on {len(paths)} sample photos, "
          f"{torch.get_num_threads()} thread(s), weights: {args.topiq_weights or 'random'}")
    result = {"threads": torch.get_num_threads(), "photos": [q.name for q in paths],
              "sizes": {}}
    print(f"{'size':>5} {'regions/img':>11} {'GFLOP/region':>12} {'model/counted':>13} "
          f"{'CPU r/s':>8} {'CPU GFLOP/s':>11} {'render CPU-s':>12} {'bf16 |Δq|':>9} "
          f"{'bf16 |Δrep|':>11} {'raw range':>15}")
    for size in args.sizes:
        per_region, n_regions, render_s = [], [], []
        timing = None
        for k, path in enumerate(paths):
            reference, distorted, cpu_s = render_pair(path, size)
            render_s.append(cpu_s)
            masks = regions_of(reference)
            boxes = [mask_bbox(m) for m in masks]
            H, W = reference.shape[:2]
            parts = render_flops(meta, boxes, H, W, DEFAULT_MARGIN)
            per_render = (parts["quality_crops"] + parts["replaced_windows"]
                          + parts["replaced_heads"] + parts["whole_render"]
                          + parts["reference_per_source"] / RENDERS_PER_SOURCE)
            per_region.append(per_render / len(boxes))
            n_regions.append(len(boxes))
            if k == 0:  # the real labeller on a few of its regions: time, FLOPs, bf16
                pick = np.unique(np.linspace(0, len(masks) - 1, args.cpu_regions)
                                 .round().astype(int))
                sub = [masks[i] for i in pick]
                seconds, counted, raw = label_run(scorer, reference, distorted, sub)
                sub_parts = render_flops(meta, [boxes[i] for i in pick], H, W, DEFAULT_MARGIN)
                modelled = (sub_parts["quality_crops"] + sub_parts["replaced_windows"]
                            + sub_parts["replaced_heads"] + sub_parts["whole_render"])
                _, _, raw_half = label_run(scorer, reference, distorted, sub, bf16=True)
                diff = np.abs(np.subtract(raw, raw_half))
                dq = float(diff[1:1 + len(sub)].max())  # the quality crops
                di = float(diff[1 + len(sub):].max())  # the replaced images (importance)
                per_region_cpu = counted / len(sub)  # this render's FLOPs per region
                timing = {"regions": len(sub), "seconds": seconds, "counted_flops": counted,
                          "modelled_flops": modelled, "gflops_per_s": counted / seconds / 1e9,
                          "regions_per_s": len(sub) / seconds,
                          "flops_per_region_of_run": per_region_cpu,
                          "bf16_max_quality_diff": dq, "bf16_max_replaced_diff": di,
                          "raw_score_range": [float(min(raw)), float(max(raw))]}
        row = {"regions_per_image": float(np.mean(n_regions)),
               "flops_per_region": float(np.mean(per_region)),
               "render_cpu_s": float(np.mean(render_s)), "cpu_run": timing}
        # CPU regions/s for the build's mean region: the measured GFLOP/s over its FLOPs.
        row["cpu_regions_per_s"] = timing["gflops_per_s"] * 1e9 / row["flops_per_region"]
        result["sizes"][str(size)] = row
        print(f"{size:5d} {row['regions_per_image']:11.1f} {row['flops_per_region'] / 1e9:12.1f} "
              f"{timing['modelled_flops'] / timing['counted_flops']:13.3f} "
              f"{row['cpu_regions_per_s']:8.3f} {timing['gflops_per_s']:11.1f} "
              f"{row['render_cpu_s']:12.2f} {timing['bf16_max_quality_diff']:9.4f} "
              f"{timing['bf16_max_replaced_diff']:11.4f} "
              f"{timing['raw_score_range'][0]:7.3f}…{timing['raw_score_range'][1]:.3f}")

    if "1024" not in result["sizes"]:
        print("\nno 1024 px row: no projection (add 1024 to --sizes)")
    else:
        result["sam"] = sam_flops(points=32)
        with tempfile.TemporaryDirectory() as folder:
            cost = render_cost(camera_raw(paths[0], args.raw_megapixels, Path(folder)), 1024)
        result["render_1024"] = cost | {"raw_megapixels": args.raw_megapixels}
        result["ray_efficiency"] = ray_efficiency()
        finish(result, args.write_docs)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2))
    print(f"written {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
