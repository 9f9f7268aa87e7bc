"""Labelling throughput: the shared, batched labeller against naive per-region pyiqa calls.

Both sides label the same regions of the same renders of one source image, in the same run:

- naive: for every render, FR(distorted, reference) and FR(reference, reference); for every
  region of every render, FR(masked distorted crop, masked reference crop) and
  FR(replaced image, reference) — each a plain ``pyiqa`` metric call;
- ours: ``Labeller.prepare`` once per source (reference features, reference crops, FR(ref, ref)),
  then ``Labeller.label`` per render (crops batched by size, the replaced images through the
  windowed pass).

Reported: regions/s and the speed-up, for TOPIQ-FR (random weights: speed does not depend on
them) and for the GMSD fallback; and the error of the windowed importance pass against the exact
one (TOPIQ-FR raw scores, several margins). Targets (issue 4): ≥ 3× with TOPIQ-FR, ≥ 10× with
the fallback.

Also: the hot path's regions/s one region (or one image) at a time against batched — GMSD at
``--batching-sizes``, TOPIQ-FR (``label_many``) at batch 1 against ``--topiq-batch``
(``--batching-only``: just that table).

    PYTHONPATH=. python bench/labels.py [--size 384] [--renders 3] [--regions 10] [--quick]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import time
from pathlib import Path

import numpy as np


def source_image(size: int) -> np.ndarray:
    from skimage import data, transform

    img = data.astronaut()
    return (transform.resize(img, (size, size), anti_aliasing=True) * 255).astype(np.uint8)


def renders(image: np.ndarray, count: int) -> list[tuple[str, np.ndarray]]:
    from PIL import Image, ImageEnhance, ImageFilter

    pil = Image.fromarray(image)
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    pil.save(buf, "JPEG", quality=20)
    out = [
        ("blur", np.array(pil.filter(ImageFilter.GaussianBlur(2.0)))),
        ("noise", np.clip(image + rng.normal(0, 12, image.shape), 0, 255).astype(np.uint8)),
        ("compression", np.array(Image.open(buf).convert("RGB"))),
        ("colorfulness", np.array(ImageEnhance.Color(pil).enhance(0.3))),
        ("contrast", np.array(ImageEnhance.Contrast(pil).enhance(0.6))),
        ("exposure", np.array(ImageEnhance.Brightness(pil).enhance(1.4))),
    ]
    return out[:count]


def region_masks(image: np.ndarray, count: int) -> list[np.ndarray]:
    """``count`` proposals spread over the range of sizes (smallest to largest)."""
    from seagull.regions.segmenter import ClassicalSegmenter

    regions = sorted(ClassicalSegmenter().propose(image, n_points=64, seed=0),
                     key=lambda r: r.area)
    picks = np.unique(np.linspace(0, len(regions) - 1, count).round().astype(int))
    return [regions[i].mask for i in picks]


def gmsd_on_mask(scorer):
    """A region's GMSD quality, one region per call: the whole render's similarity map, the
    deviation pooled over the mask's cells (pyiqa has no mask pooling, so the scorer's own
    plain path)."""
    def quality(dist, ref, mask, box):
        prepared = scorer.references([ref], [mask])[0]
        return scorer.score(dist, prepared)
    return quality


def best_of(fn, *args, repeats: int = 3) -> float:
    """The fastest of ``repeats`` timings of ``fn(*args)`` (the machine is shared: the minimum
    is the least disturbed)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return min(times)


def batching(sizes, n_renders: int, n_regions: int, topiq_net, topiq_size: int,
             topiq_regions: int, topiq_batch: int) -> list[dict]:
    """Regions/s of the labelling hot path: GMSD per region (``batched=False``, the reference
    path) against batched (one map per render, one sparse product, one gathered replaced
    pass), and TOPIQ-FR ``label_many`` at batch 1 against ``topiq_batch``. ``prepare`` is
    outside the timing (once per source); importance is computed for every region (epsilon
    −1: random TOPIQ-FR weights show almost no whole-image drop)."""
    from seagull.labels.fr import GMSDScorer
    from seagull.labels.labeller import Labeller
    from seagull.labels.topiq import TopiqScorer

    rows = []
    for size in sizes:
        reference = source_image(size)
        rendered = [(image, kind) for kind, image in renders(reference, n_renders)]
        masks = region_masks(reference, n_regions)
        n = len(masks) * len(rendered)
        row = {"metric": f"gmsd ({size}², {len(masks)} regions)", "region_labels": n}
        labels = {}
        for key, batched in (("one", False), ("batched", True)):
            labeller = Labeller(GMSDScorer(), batched=batched)
            context = labeller.prepare(reference, masks)
            row[f"{key}_s"] = best_of(labeller.label_many, context, rendered)
            labels[key] = labeller.label_many(context, rendered)
        row["quality_max_diff"] = label_diff(labels["one"], labels["batched"])
        rows.append(row)
    reference = source_image(topiq_size)
    rendered = [(image, kind) for kind, image in renders(reference, n_renders)]
    masks = region_masks(reference, topiq_regions)
    topiq_net = into_unit_range(topiq_net)
    row = {"metric": f"topiq_fr ({topiq_size}², {len(masks)} regions, batch {topiq_batch})",
           "region_labels": len(masks) * len(rendered)}
    labels = {}
    for key, bs in (("one", 1), ("batched", topiq_batch)):
        labeller = Labeller(TopiqScorer(topiq_net, "random", batch_size=bs), epsilon=-1.0)
        context = labeller.prepare(reference, masks)
        labels[key] = labeller.label_many(context, rendered)
        row[f"{key}_s"] = best_of(labeller.label_many, context, rendered, repeats=1)
    row["quality_max_diff"] = label_diff(labels["one"], labels["batched"])
    rows.append(row)
    for row in rows:
        row["one_regions_per_s"] = row["region_labels"] / row["one_s"]
        row["batched_regions_per_s"] = row["region_labels"] / row["batched_s"]
        row["speedup"] = row["one_s"] / row["batched_s"]
    return rows


def label_diff(one: list, other: list) -> float:
    """The largest |difference| of ``quality`` and ``importance_pair[0]`` between two runs."""
    return max(max(abs(a["quality"] - b["quality"]),
                   abs(a["importance_pair"][0] - b["importance_pair"][0]))
               for ra, rb in zip(one, other) for a, b in zip(ra, rb))


def print_batching(rows: list[dict], threads: int) -> None:
    print(f"\nBatched hot path ({threads} torch thread(s); label_many over the renders, "
          f"prepare excluded)")
    print(f"{'metric':42s} {'1-by-1 r/s':>10s} {'batched r/s':>11s} {'speed-up':>9s} "
          f"{'|Δ| max':>9s}")
    for row in rows:
        print(f"{row['metric']:42s} {row['one_regions_per_s']:10.1f} "
              f"{row['batched_regions_per_s']:11.1f} {row['speedup']:8.1f}× "
              f"{row['quality_max_diff']:9.1e}")


def naive(metric, reference, rendered, masks, unit, region_quality=None) -> tuple[float, list]:
    """Per-region calls (pyiqa's, or ``region_quality(dist, ref, mask, box)`` for the region's
    quality); returns (seconds, qualities of the first render)."""
    import torch

    from seagull.labels.labeller import masked_crop, to_tensor
    from seagull.regions.rle import mask_bbox

    ref = to_tensor(reference)
    first = []
    start = time.perf_counter()
    with torch.inference_mode():
        for k, (_, image) in enumerate(rendered):
            dist = to_tensor(image)
            float(metric(dist, ref))
            float(metric(ref, ref))
            for mask in masks:
                box = mask_bbox(mask)
                q = (region_quality(dist, ref, mask, box) if region_quality else
                     unit(float(metric(masked_crop(dist, mask, box), masked_crop(ref, mask, box)))))
                m = torch.from_numpy(mask)[None, None]
                float(metric(torch.where(m, dist, ref).contiguous(), ref))
                if k == 0:
                    first.append(q)
    return time.perf_counter() - start, first


def ours(labeller, reference, rendered, masks) -> tuple[float, list]:
    start = time.perf_counter()
    context = labeller.prepare(reference, masks)
    labels = [labeller.label(context, image, kind) for kind, image in rendered]
    return time.perf_counter() - start, [lab["quality"] for lab in labels[0]]


def importance_error(scorer, reference, rendered, masks, margins) -> list[dict]:
    """|window − exact| of the replaced-image raw score, and of the importance share."""

    from seagull.labels.labeller import to_tensor
    from seagull.regions.rle import mask_bbox

    ref = to_tensor(reference)
    prepared = scorer.reference(ref)
    boxes = [mask_bbox(m) for m in masks]
    rows = []
    exact_by_render, whole_drop = [], []
    s_ref = scorer.scores([ref], [prepared], raw=True)[0]
    t0 = time.perf_counter()
    for _, image in rendered:
        dist = to_tensor(image)
        whole_drop.append(s_ref - scorer.scores([dist], [prepared], raw=True)[0])
        exact_by_render.append(scorer.replaced_scores(dist, ref, prepared, boxes, masks,
                                                      "exact", raw=True))
    exact_s = time.perf_counter() - t0
    for margin in margins:
        scorer.margin = margin
        errs, share_errs = [], []
        t0 = time.perf_counter()
        for (_, image), exact, drop in zip(rendered, exact_by_render, whole_drop):
            window = scorer.replaced_scores(to_tensor(image), ref, prepared, boxes, masks,
                                            "window", raw=True)
            errs += [abs(a - b) for a, b in zip(window, exact)]
            if abs(drop) > 1e-6:
                share_errs += [abs(a - b) / abs(drop) for a, b in zip(window, exact)]
        rows.append({"margin_px": margin, "seconds": time.perf_counter() - t0,
                     "exact_seconds": exact_s,
                     "score_abs_err_mean": float(np.mean(errs)),
                     "score_abs_err_max": float(np.max(errs)),
                     "share_err_mean": float(np.mean(share_errs)) if share_errs else None,
                     "share_err_max": float(np.max(share_errs)) if share_errs else None})
    return rows


def into_unit_range(net, shift: float = 0.6):
    """A copy of ``net`` with ``shift`` added to its output: a random net's raw scores lie
    below 0 and would all clip to 0 (every drop 0); the speed does not change."""
    import copy

    import torch

    net = copy.deepcopy(net)
    last = [m for m in net.score_linear.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.bias += shift
    return net


def with_active_residuals(net, scale: float = 0.5):
    """A copy of ``net`` whose backbone's residual branches are switched on.

    timm initialises the last BatchNorm of every ResNet bottleneck to zero, so a randomly
    initialised backbone is little more than its downsampling path and its response to a local
    change stays within a cell or two — which would make any window look exact. Setting that
    scale to ``scale`` gives the backbone the receptive field of its architecture, a harder
    (more trained-like) case for measuring the windowed pass's error.
    """
    import copy

    net = copy.deepcopy(net)
    for module in net.semantic_model.modules():
        if type(module).__name__ == "Bottleneck":
            module.bn3.weight.data.fill_(scale)
    return net


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512, help="image side for GMSD (pixels)")
    parser.add_argument("--topiq-size", type=int, default=320, help="image side for TOPIQ-FR")
    parser.add_argument("--renders", type=int, default=3, help="distorted renders per source")
    parser.add_argument("--regions", type=int, default=16, help="regions per image (GMSD)")
    parser.add_argument("--topiq-regions", type=int, default=8, help="regions per image (TOPIQ)")
    parser.add_argument("--topiq-weights", help="a real TOPIQ-FR file (default: random weights)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--margins", default="32,64,96", help="window margins to measure")
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--batching-sizes", default="256,512",
                        help="image sides of the GMSD per-region/batched comparison")
    parser.add_argument("--topiq-batch", type=int, default=8,
                        help="TOPIQ-FR batch size set against batch 1")
    parser.add_argument("--batching-only", action="store_true",
                        help="only the per-region/batched comparison")
    parser.add_argument("--out", default="bench/results/labels.json")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.quick:
        args.size, args.topiq_size, args.renders, args.regions, args.topiq_regions = (
            192, 128, 2, 4, 3)
    import pyiqa
    import torch

    from seagull.labels.fr import GMSDScorer
    from seagull.labels.labeller import Labeller
    from seagull.labels.topiq import TopiqScorer, build_cfanet, load_cfanet

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    net = load_cfanet(args.topiq_weights) if args.topiq_weights else build_cfanet()
    sizes = [int(v) for v in args.batching_sizes.split(",")]
    if args.quick:
        sizes = [128]
    batch_rows = batching(sizes, args.renders, args.regions, net, args.topiq_size,
                          args.topiq_regions, args.topiq_batch)
    if args.batching_only:
        print_batching(batch_rows, args.threads)
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"threads": args.threads, "batching": batch_rows}, indent=1)
                       + "\n")
        print(f"\nwritten {out}")
        return
    reference = source_image(args.size)
    rendered = renders(reference, args.renders)
    masks = region_masks(reference, args.regions)
    n = len(masks) * len(rendered)
    results = {"gmsd": {"size": args.size, "renders": len(rendered), "regions": len(masks),
                        "region_areas": [int(m.sum()) for m in masks]},
               "threads": args.threads, "rows": []}

    # ---- fallback: GMSD --------------------------------------------------------------------
    gmsd = pyiqa.create_metric("gmsd", test_y_channel=False, device="cpu")
    scorer = GMSDScorer()
    naive_s, naive_q = naive(gmsd, reference, rendered, masks, scorer.to_unit,
                             gmsd_on_mask(scorer))
    ours_s, ours_q = ours(Labeller(scorer), reference, rendered, masks)
    results["rows"].append({"metric": f"gmsd fallback ({args.size}²)", "region_labels": n,
                            "naive_s": naive_s, "ours_s": ours_s,
                            "naive_regions_per_s": n / naive_s, "ours_regions_per_s": n / ours_s,
                            "speedup": naive_s / ours_s, "target": 10.0,
                            "quality_max_diff": float(np.max(np.abs(np.subtract(naive_q, ours_q))))})

    # ---- TOPIQ-FR (random weights unless given) --------------------------------------------
    reference = source_image(args.topiq_size)
    rendered = renders(reference, args.renders)
    masks = region_masks(reference, args.topiq_regions)
    n = len(masks) * len(rendered)
    results["topiq"] = {"size": args.topiq_size, "renders": len(rendered), "regions": len(masks),
                        "region_areas": [int(m.sum()) for m in masks],
                        "weights": args.topiq_weights or "random"}
    topiq = pyiqa.create_metric("topiq_fr", pretrained=False, backbone_pretrain=False,
                                device="cpu")
    topiq.net.load_state_dict(net.state_dict())
    tscorer = TopiqScorer(net, "random")
    naive_s, naive_q = naive(topiq, reference, rendered, masks, tscorer.to_unit)
    for method in ("window", "exact"):
        ours_s, ours_q = ours(Labeller(tscorer, importance_method=method), reference, rendered,
                              masks)
        results["rows"].append({
            "metric": f"topiq_fr {method} ({args.topiq_size}²)", "region_labels": n,
            "naive_s": naive_s, "ours_s": ours_s,
            "naive_regions_per_s": n / naive_s, "ours_regions_per_s": n / ours_s,
            "speedup": naive_s / ours_s, "target": 3.0,
            "quality_max_diff": float(np.max(np.abs(np.subtract(naive_q, ours_q))))})
    margins = [int(m) for m in args.margins.split(",")]
    results["importance_error"] = importance_error(tscorer, reference, rendered, masks, margins)
    if not args.topiq_weights:
        active = TopiqScorer(with_active_residuals(net), "random-active")
        results["importance_error_active_residuals"] = importance_error(
            active, reference, rendered, masks, margins)

    print(f"\nLabelling regions of {len(rendered)} renders per source "
          f"(GMSD: {results['gmsd']['regions']} regions, TOPIQ-FR: {len(masks)}; "
          f"{args.threads} thread(s))")
    print(f"{'metric':30s} {'naive r/s':>10s} {'ours r/s':>10s} {'speed-up':>9s} {'target':>7s}"
          f" {'|Δq| max':>9s}")
    for row in results["rows"]:
        print(f"{row['metric']:30s} {row['naive_regions_per_s']:10.2f} "
              f"{row['ours_regions_per_s']:10.2f} {row['speedup']:8.1f}× {row['target']:6.0f}×"
              f" {row['quality_max_diff']:9.1e}")
    tables = [(f"TOPIQ-FR ({results['topiq']['weights']} weights)", "importance_error"),
              ("TOPIQ-FR (random weights, residual branches on)",
               "importance_error_active_residuals")]
    for title, key in tables:
        if key not in results:
            continue
        print(f"\n{title}: windowed importance against the exact pass (raw scores)")
        print(f"{'margin':>7s} {'|Δs| mean':>10s} {'|Δs| max':>10s} {'Δshare mean':>12s} "
              f"{'Δshare max':>11s} {'window s':>9s} {'exact s':>8s}")
        for row in results[key]:
            fmt = lambda v: f"{v:.4f}" if v is not None else "n/a"
            print(f"{row['margin_px']:7d} {row['score_abs_err_mean']:10.5f} "
                  f"{row['score_abs_err_max']:10.5f} {fmt(row['share_err_mean']):>12s} "
                  f"{fmt(row['share_err_max']):>11s} {row['seconds']:9.1f} "
                  f"{row['exact_seconds']:8.1f}")
    print_batching(batch_rows, args.threads)
    results["batching"] = batch_rows
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"\nwritten {out}")


if __name__ == "__main__":
    main()
