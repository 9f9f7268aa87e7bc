"""What the frozen encoder's features can say about unseen photos: a ridge read-out.

    python -m bench.probe --train DATASET --test DATASET [--sizes 384] [--json out.json]

For every region of the training dataset's ``train`` split and the test dataset's ``test``
split: the frozen encoder (the ``small`` preset's, or ``--encoder``) at each input size, each
stage's features mask-pooled on the region (the MFE's pooling, ``seagull.model.mfe.mask_pool``),
then a ridge regression fit on the training regions and scored on the test regions (Spearman of
predicted and labelled quality and importance). Rows:

- ``stages 1-4`` (all four stages), ``stage 4`` (what the image tokens see), ``stages 1-2``;
- ``mean and sd``: beside each stage's mean inside the mask, its standard deviation there;
- ``+ geometry``: the region's area share and box beside the features;
- ``render (type, level)``: a one-hot of the render's distortion and level, no image at all
  (what knowing the render's recipe alone ranks: a reference point, not a model).

The ridge strength is chosen on the training photos alone (leave-one-photo-out). The numbers
bound what a read-out of these features transfers to photos it never saw, before any LLM.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np


def region_table(root: str, split: str) -> list[dict]:
    """The regions of ``split`` with their render (decoded once per row)."""
    from seagull.data.factory import decode_image, decode_mask
    from seagull.data.reader import table_dataset

    rows = table_dataset(root, "rois").to_table(
        columns=["image_id", "source_id", "split", "distortion", "level", "encoded",
                 "regions"]).to_pylist()
    out = []
    for row in rows:
        if row["split"] != split or not row["regions"]:
            continue
        image = decode_image(row["encoded"])
        for region in row["regions"]:
            if region["quality"] is None:
                continue
            out.append({"image_id": row["image_id"], "source": row["source_id"],
                        "distortion": row["distortion"], "level": row["level"] or 0,
                        "image": image, "mask": decode_mask(region["mask"]),
                        "quality": float(region["quality"]),
                        "importance": float(region["importance"] or 0.0)})
    return out


def pooled_features(regions: list[dict], encoder, size: int, mean, std) -> dict[int, np.ndarray]:
    """Per stage (1…4): R×C mask-pooled features, and (keys -1…-4) R×C standard deviations of
    the features inside the mask (the same cells); each image encoded once."""
    import torch

    from seagull.model.encoder import preprocess_image
    from seagull.model.mfe import mask_pool, resize_mask

    by_image: dict[str, list[int]] = {}
    for i, r in enumerate(regions):
        by_image.setdefault(r["image_id"], []).append(i)
    stages: dict[int, list] = {s: [None] * len(regions) for s in (1, 2, 3, 4, -1, -2, -3, -4)}
    for idx in by_image.values():
        pixels = preprocess_image(regions[idx[0]]["image"], size, mean, std)[None]
        feats = encoder(pixels)
        coverage = torch.stack([resize_mask(regions[i]["mask"], size) for i in idx])
        for s, f in enumerate(feats, start=1):
            many = f.expand(len(idx), -1, -1, -1)
            pooled = mask_pool(many, coverage)
            second = mask_pool(many * many, coverage)
            spread = (second - pooled * pooled).clamp_min(0).sqrt().numpy()
            for j, i in enumerate(idx):
                stages[s][i] = pooled[j].numpy()
                stages[-s][i] = spread[j]
    return {s: np.stack(v) for s, v in stages.items()}


def geometry(regions: list[dict]) -> np.ndarray:
    rows = []
    for r in regions:
        m = r["mask"]
        ys, xs = np.nonzero(m)
        h, w = m.shape
        share = max(m.mean(), 1e-6)
        rows.append([np.log(share), np.sqrt(share), xs.mean() / w, ys.mean() / h,
                     (xs.max() - xs.min() + 1) / w, (ys.max() - ys.min() + 1) / h])
    return np.asarray(rows)


def region_statistics(regions: list[dict]) -> np.ndarray:
    """Weight-free statistics of the region's pixels at the render's own resolution (no
    reference): each image's maps computed once, averaged inside each region's mask."""
    from scipy.ndimage import gaussian_filter, laplace, sobel

    cache: dict[str, list[np.ndarray]] = {}
    rows = []
    for r in regions:
        maps = cache.get(r["image_id"])
        if maps is None:
            rgb = r["image"].astype(np.float64) / 255.0
            gray = rgb @ np.array([0.299, 0.587, 0.114])
            maps = []
            for scale in (1, 2):
                g = gray if scale == 1 else gaussian_filter(gray, 1.0)[::2, ::2]
                mu = gaussian_filter(g, 7 / 6)
                sigma = np.sqrt(np.abs(gaussian_filter(g * g, 7 / 6) - mu * mu))
                mscn = (g - mu) / (sigma + 1 / 255)
                grad = np.hypot(sobel(g, 0), sobel(g, 1))
                lap = laplace(g)
                pair_h = mscn * np.roll(mscn, 1, axis=1)
                pair_v = mscn * np.roll(mscn, 1, axis=0)
                for m in (np.abs(mscn), mscn * mscn, sigma, grad, lap * lap, pair_h, pair_v):
                    if scale == 2:
                        m = np.kron(m, np.ones((2, 2)))[:gray.shape[0], :gray.shape[1]]
                        m = np.pad(m, ((0, gray.shape[0] - m.shape[0]),
                                       (0, gray.shape[1] - m.shape[1])), mode="edge")
                    maps.append(m)
            sat = rgb.max(2) - rgb.min(2)
            maps += [gray, gray * gray, sat]
            cache[r["image_id"]] = maps
        mask = r["mask"]
        values = [float(m[mask].mean()) for m in maps]
        values.append(float(np.sqrt(max(values[-2] - values[-3] ** 2, 0))))  # luminance sd
        rows.append(values)
    out = np.asarray(rows)
    return np.concatenate([out, np.log(np.abs(out) + 1e-4)], 1)


def recipe_onehot(regions: list[dict]) -> np.ndarray:
    from seagull.labels.levels import DISTORTION_TYPES

    kinds = ["reference", *DISTORTION_TYPES]
    out = np.zeros((len(regions), len(kinds) * 20))
    for i, r in enumerate(regions):
        k = kinds.index(r["distortion"]) if r["distortion"] in kinds else 0
        out[i, k * 20 + min(int(r["level"]), 19)] = 1
    return out


def ridge_fit(x: np.ndarray, y: np.ndarray, alpha: float):
    mu, sd = x.mean(0), x.std(0) + 1e-6
    z = (x - mu) / sd
    a = z.T @ z + alpha * len(z) * np.eye(z.shape[1])
    w = np.linalg.solve(a, z.T @ (y - y.mean()))
    return lambda q: ((q - mu) / sd) @ w + y.mean()


def spearman(a, b) -> float:
    from scipy.stats import spearmanr

    v = spearmanr(a, b).statistic
    return float(v) if np.isfinite(v) else 0.0


ALPHAS = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)


def choose_alpha(x, y, groups) -> float:
    """Leave-one-photo-out on the training photos: the alpha of the best mean Spearman."""
    best, best_score = ALPHAS[0], -2.0
    photos = sorted(set(groups))
    for alpha in ALPHAS:
        scores = []
        for p in photos:
            held = np.asarray([g == p for g in groups])
            if held.all() or not held.any():
                continue
            f = ridge_fit(x[~held], y[~held], alpha)
            scores.append(spearman(f(x[held]), y[held]))
        score = float(np.mean(scores)) if scores else -1.0
        if score > best_score:
            best, best_score = alpha, score
    return best


def probe(train_x, train_y, train_groups, test_x, test_y) -> tuple[float, float]:
    alpha = choose_alpha(train_x, train_y, train_groups)
    return spearman(ridge_fit(train_x, train_y, alpha)(test_x), test_y), alpha


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.probe", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", required=True, help="dataset whose train split fits")
    parser.add_argument("--test", required=True, help="dataset whose test split scores")
    parser.add_argument("--preset", default="small", help="the encoder of this preset")
    parser.add_argument("--sizes", default="384", help="input sizes (comma list)")
    parser.add_argument("--json", help="write the table as JSON here")
    args = parser.parse_args(argv)

    import torch

    from seagull.model import SeagullModel

    torch.set_num_threads(2)
    model = SeagullModel.from_preset(args.preset)
    encoder, cfg = model.encoder, model.config
    t0 = time.perf_counter()
    train, test = region_table(args.train, "train"), region_table(args.test, "test")
    print(f"{len(train)} training regions of {len({r['source'] for r in train})} photos, "
          f"{len(test)} test regions of {len({r['source'] for r in test})} photos", flush=True)
    groups = [r["source"] for r in train]
    rows = []
    for task in ("quality", "importance"):
        ytr = np.asarray([r[task] for r in train])
        yte = np.asarray([r[task] for r in test])
        score, alpha = probe(recipe_onehot(train), ytr, groups, recipe_onehot(test), yte)
        rows.append({"features": "render (type, level)", "size": "-", "task": task,
                     "srocc": score, "alpha": alpha})
        score, alpha = probe(geometry(train), ytr, groups, geometry(test), yte)
        rows.append({"features": "geometry only", "size": "-", "task": task, "srocc": score,
                     "alpha": alpha})
        score, alpha = probe(region_statistics(train), ytr, groups, region_statistics(test), yte)
        rows.append({"features": "pixel statistics", "size": "-", "task": task,
                     "srocc": score, "alpha": alpha})
    stats_train, stats_test = region_statistics(train), region_statistics(test)
    for size in [int(s) for s in args.sizes.split(",")]:
        ftr = pooled_features(train, encoder, size, cfg.pixel_mean, cfg.pixel_std)
        fte = pooled_features(test, encoder, size, cfg.pixel_mean, cfg.pixel_std)
        print(f"  features at {size}² in {time.perf_counter() - t0:.0f} s", flush=True)
        sets = {"stages 1-4": (1, 2, 3, 4), "stage 4": (4,), "stages 1-2": (1, 2),
                "stages 1-4, mean and sd": (1, 2, 3, 4, -1, -2, -3, -4),
                "stages 1-2, mean and sd": (1, 2, -1, -2)}
        for name, stages in sets.items():
            xtr = np.concatenate([ftr[s] for s in stages], 1)
            xte = np.concatenate([fte[s] for s in stages], 1)
            for task in ("quality", "importance"):
                ytr = np.asarray([r[task] for r in train])
                yte = np.asarray([r[task] for r in test])
                score, alpha = probe(xtr, ytr, groups, xte, yte)
                rows.append({"features": name, "size": size, "task": task, "srocc": score,
                             "alpha": alpha})
                if name in ("stages 1-4", "stages 1-4, mean and sd"):
                    gtr = np.concatenate([xtr, geometry(train)], 1)
                    gte = np.concatenate([xte, geometry(test)], 1)
                    score, alpha = probe(gtr, ytr, groups, gte, yte)
                    rows.append({"features": name + " + geometry", "size": size, "task": task,
                                 "srocc": score, "alpha": alpha})
                    gtr = np.concatenate([gtr, stats_train], 1)
                    gte = np.concatenate([gte, stats_test], 1)
                    score, alpha = probe(gtr, ytr, groups, gte, yte)
                    rows.append({"features": name + " + geometry + pixel statistics",
                                 "size": size, "task": task, "srocc": score, "alpha": alpha})
    print("\n| features | input | task | held-out SROCC | ridge α |\n|---|---|---|---:|---:|")
    for r in rows:
        print(f"| {r['features']} | {r['size']} | {r['task']} | {r['srocc']:.3f} | "
              f"{r['alpha']:g} |")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"rows": rows, "train_regions": len(train), "test_regions": len(test)},
                      fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
