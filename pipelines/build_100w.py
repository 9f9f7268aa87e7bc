"""Seagull-100w on Ray Data: RAW → reference + distortions → regions → labels → Parquet.

    python -m pipelines.build_100w --raw-dir URI --out URI [options]    (or: seagull build-100w)

The recipe, in order (every stage is a function of ``seagull.data.factory``):

    sources ─ render_reference (tasks) ─ SegmentStage (actor pool) ─ render_distorted (tasks)
            ─ LabelStage (actor pool; stages each part's rows) ─ driver: finalise complete sources

Stages stream: a source's parts are labelled while later sources are still rendering. The
segmenter and the labeller load their models once per actor. Actors ask for fractional CPUs by
default: on a 2-CPU machine a pool that reserves every CPU starves the tasks that feed it and
the pipeline never finishes (docs/method.md).

Resume: a source is done when its ``rois`` (or ``errors``) shard exists; a rerun with the same
parameters skips those and redoes the rest, so a killed run loses nothing and writes nothing
twice. A rerun with other parameters is refused unless ``overwrite``.
"""

from __future__ import annotations

import logging
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field

from seagull.data.factory import FactoryParams

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Resources:
    """Per-stage resources. Fractions of a CPU are allowed (and needed on small machines)."""

    render_cpus: float = 0.5
    render_memory_mb: int = 512
    segment_actors: int = 1
    segment_cpus: float = 0.5
    segment_gpus: float = 0.0
    label_actors: int = 1
    label_cpus: float = 0.5
    label_gpus: float = 0.0
    finalise_cpus: float = 0.1


def _producers(existing: dict | None, isp_version: str) -> dict:
    from seagull.data.store import producer

    producers = dict((existing or {}).get("producers", {}))
    producers["isp"] = producer("seagull.isp", isp_version, None) | {"weights": "none"}
    return producers


def _finalise(out: str, source_id: str, error_row: dict | None) -> dict:
    from seagull.data.store import DatasetLayout

    return DatasetLayout.open(out).finalise_source(source_id, error_row)


def build(raw: str, out: str, params=None, *, max_sources: int | None = None,
          address: str | None = None, overwrite: bool = False,
          resources: Resources = Resources(), components=None, progress: bool = True) -> dict:
    """Build (or resume) the dataset at ``out`` from the sources named by ``raw``.

    ``params`` is a ``seagull.data.factory.FactoryParams``; ``components`` replaces the real
    ISP/segmenter/labeller (tests only). Returns the manifest written.
    """
    import ray

    from seagull.data.factory import DATASET_100W, Components, FactoryParams
    from seagull.data.sources import discover_sources, hash_sources
    from seagull.data.store import DatasetLayout, absolute_location, check_rerun, new_manifest
    from seagull.errors import DatasetError

    params = params or FactoryParams()
    good, bad = discover_sources(raw, max_sources)  # bad input fails before anything loads
    comps = (components or Components()).resolved()  # the real modules unless a test says
    layout = DatasetLayout.open(out)
    run_params = params.as_dict(comps.isp_version)
    existing = layout.read_manifest()
    check_rerun(existing, DATASET_100W, run_params, out, overwrite)
    recorded = {} if overwrite or existing is None else existing.get("sources", {})
    good, duplicates = hash_sources(good, recorded, _hash_progress(progress))
    bad = sorted(bad + duplicates, key=lambda b: b.location)
    raw = absolute_location(raw)  # the manifest records it; a rerun is compared with it
    if existing is not None and not overwrite and existing.get("source") not in (None, raw):
        # Another folder is another dataset, unless it holds the same files (moved, copied).
        contents = {r.get("sha256") for r in recorded.values()}
        if not all(s.sha256 in contents for s in good):
            raise DatasetError(f"{out} was built from {existing['source']}, not {raw}; rerun "
                               "with that source to resume, or use another folder or "
                               "--overwrite")
    if overwrite:
        layout.drop_all()
        existing = None

    records = {s.location: s.record() for s in [*good, *bad]}
    current = {r["source_id"] for r in records.values()}
    for location, rec in recorded.items():  # changed under the same name: old rows go
        if location in records and rec.get("source_id") not in current:
            log.info("%s changed since it was built: its old rows are removed", location)
            layout.drop_source(rec["source_id"])
    done = layout.completed_sources()
    for b in bad:
        if b.source_id not in done:
            layout.finalise_source(b.source_id, b.row())
    todo = [s for s in good if s.source_id not in done]
    layout.drop_staging()  # parts of sources a killed run left unfinished: redone below
    log.info("%d sources (%d bad at discovery); %d already written, %d to build",
             len(good) + len(bad), len(bad), len(good) - len(todo), len(todo))

    manifest = new_manifest(DATASET_100W, run_params, _producers(existing, comps.isp_version))
    manifest["source"] = raw
    # Each found file's content hash (its id) with the size and time it had when hashed.
    same_folder = existing is not None and existing.get("source") == raw
    manifest["sources"] = {**(recorded if same_folder else {}), **records}
    manifest["resources"] = asdict(resources)
    layout.write_manifest(manifest)

    if todo:
        if not ray.is_initialized():
            ray.init(address=address, configure_logging=False, log_to_driver=False)
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = progress
        _run(layout, todo, params, comps, resources, manifest, existing, progress)

    counts = {t: layout.shard_counts(t) for t in ("images", "rois", "errors")}
    manifest["counts"] = {  # what the folder holds, whichever runs wrote it
        "sources": len(layout.completed_sources()), "sources_bad": counts["errors"]["rows"],
        "images": counts["images"]["rows"], "rois": counts["rois"]["rows"],
        "regions": counts["rois"]["regions"], "errors": counts["errors"]["rows"],
    }
    manifest["status"] = "complete"
    layout.write_manifest(manifest)
    return manifest


def _run(layout, todo, params, comps, resources: Resources, manifest, existing, progress) -> None:
    import json

    import ray
    from ray.data import ActorPoolStrategy

    from seagull.data.factory import (
        LabelStage,
        SegmentStage,
        render_distorted,
        render_reference,
        source_row,
    )
    from seagull.data.store import check_producers

    items = [source_row(s.location, s.source_id, params, s.name) for s in todo]
    # Render tasks reserve memory: they hold a decoded RAW and every render of a source. The
    # reservation also differs from the actors' resources, which keeps Ray Data from fusing the
    # render stages into the actor stages after them (it fuses stages whose resources match):
    # fused, the renders would run inside the segmentation/labelling actors, one at a time.
    render_args = {"num_cpus": resources.render_cpus,
                   "memory": resources.render_memory_mb * 2**20}
    ds = ray.data.from_items(items, override_num_blocks=len(items))
    ds = ds.map(render_reference, fn_kwargs={"params": params, "comps": comps}, **render_args)
    ds = ds.map(SegmentStage, fn_constructor_kwargs={"params": params, "comps": comps},
                compute=ActorPoolStrategy(size=resources.segment_actors),
                num_cpus=resources.segment_cpus, num_gpus=resources.segment_gpus)
    ds = ds.flat_map(render_distorted, fn_kwargs={"params": params, "comps": comps},
                     **render_args)
    ds = ds.map(LabelStage, fn_constructor_kwargs={"out_uri": layout.uri, "comps": comps},
                compute=ActorPoolStrategy(size=resources.label_actors),
                num_cpus=resources.label_cpus, num_gpus=resources.label_gpus)

    finalise = ray.remote(num_cpus=resources.finalise_cpus)(_finalise)
    statuses: dict[str, list[dict]] = defaultdict(list)
    pending = []
    bar = _progress(len(todo), progress)
    started = time.monotonic()
    seen_producers = False
    for status in ds.iter_rows():
        sid = status["source_id"]
        if status["segmenter"] and not seen_producers:
            # The actors report which segmenter and labeller they loaded; rows of other
            # components must not join an existing dataset.
            producers = {"segmenter": json.loads(status["segmenter"]),
                         "labeller": json.loads(status["labeller"])}
            check_producers(existing, producers, layout.uri)
            manifest["producers"].update(producers)
            layout.write_manifest(manifest)
            seen_producers = True
        statuses[sid].append(status)
        if len(statuses[sid]) < status["n_parts"]:
            continue
        errors = [s for s in statuses.pop(sid) if s["status"] == "error"]
        error_row = None if not errors else {k: errors[0][k] for k in
                                             ("source", "source_id", "stage", "error", "message")}
        pending.append(finalise.remote(layout.uri, sid, error_row))
        bar(sid, error_row)
    ray.get(pending)
    log.info("built %d sources in %.1f s", len(todo), time.monotonic() - started)


def _hash_progress(enabled: bool):
    """A line every 10 % of the files hashed (content ids), on stderr."""
    def update(done: int, todo: int) -> None:
        if enabled and (done % max(1, todo // 10) == 0 or done == todo):
            print(f"[build-100w] hashed {done}/{todo} source files", file=sys.stderr,
                  flush=True)
    return update


def _progress(total: int, enabled: bool):
    """A per-source progress line on stderr (Ray Data shows the per-stage bars)."""
    count = {"done": 0, "bad": 0}

    def update(source_id: str, error_row: dict | None) -> None:
        count["done"] += 1
        if error_row:
            count["bad"] += 1
            log.warning("bad source %s: %s (%s)", error_row["source"], error_row["message"],
                        error_row["stage"])
        if enabled:
            print(f"[build-100w] sources {count['done']}/{total} ({count['bad']} bad)",
                  file=sys.stderr, flush=True)
    return update


# --- the recipe's config: its fields are the command line's flags (seagull_cli._config) ---

_PARAMS = FactoryParams()  # the one home of the data parameters' defaults


@dataclass(frozen=True)
class BuildConfig:
    """Everything ``seagull build-100w`` takes; ``run(config)`` builds it."""

    raw_dir: str = field(metadata={
        "metavar": "URI", "help": "RAW sources: a folder (recursive), a glob, a list file "
                                  "(.txt), or a pyarrow filesystem URI (s3://, gs://)"})
    out: str = field(metadata={"metavar": "URI", "help": "dataset folder or URI"})
    types: tuple[str, ...] | None = field(default=_PARAMS.types, metadata={
        "help": "comma list of distortion types (default: all six)"})
    levels: tuple[int, ...] | None = field(default=_PARAMS.levels, metadata={
        "help": "comma list of levels 0…19 (default: all 20)"})
    long_side: int = field(default=_PARAMS.long_side, metadata={
        "help": "resize every render to this long side in pixels"})
    max_sources: int | None = field(default=None, metadata={
        "help": "use only the first N sources (sorted by location)"})
    points: int = field(default=_PARAMS.points, metadata={
        "help": "random point prompts per reference for component regions"})
    seed: int = field(default=_PARAMS.seed, metadata={"help": "seed of noise, points and split"})
    test_fraction: float = field(default=_PARAMS.test_fraction, metadata={
        "help": "share of sources in the test split"})
    address: str | None = field(default=None, metadata={
        "help": "Ray cluster address (default: $RAY_ADDRESS, else a local Ray)"})
    segment_actors: int = field(default=Resources.segment_actors, metadata={
        "help": "segmentation actors"})
    label_actors: int = field(default=Resources.label_actors, metadata={
        "help": "labelling actors"})
    cpus_per_actor: float = field(default=Resources.label_cpus, metadata={
        "help": "CPUs each segmentation/labelling actor reserves (fractions allowed)"})
    gpus_per_actor: float = field(default=Resources.label_gpus, metadata={
        "help": "GPUs each segmentation/labelling actor reserves (fractions allowed)"})
    render_cpus: float = field(default=Resources.render_cpus, metadata={
        "help": "CPUs per render task"})
    overwrite: bool = field(default=False, metadata={
        "help": "rebuild from scratch when OUT was built with other parameters"})
    no_progress: bool = field(default=False, metadata={"help": "no progress bars"})

    def __post_init__(self) -> None:
        from seagull.errors import InvalidArgumentError

        for name in ("cpus_per_actor", "render_cpus"):
            if not getattr(self, name) > 0:
                raise InvalidArgumentError(f"--{name.replace('_', '-')} must be positive")
        if self.gpus_per_actor < 0:
            raise InvalidArgumentError("--gpus-per-actor must not be negative")
        if not 0 <= self.seed < 2**32:
            raise InvalidArgumentError(f"--seed {self.seed} is outside 0 … 2**32-1")
        for name in ("long_side", "points", "segment_actors", "label_actors", "max_sources"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise InvalidArgumentError(f"--{name.replace('_', '-')} must be positive, "
                                           f"got {value}")

    def params(self) -> FactoryParams:
        return FactoryParams(types=self.types, levels=self.levels, long_side=self.long_side,
                             points=self.points, seed=self.seed,
                             test_fraction=self.test_fraction)

    def resources(self) -> Resources:
        return Resources(render_cpus=self.render_cpus, segment_actors=self.segment_actors,
                         segment_cpus=self.cpus_per_actor, segment_gpus=self.gpus_per_actor,
                         label_actors=self.label_actors, label_cpus=self.cpus_per_actor,
                         label_gpus=self.gpus_per_actor)


def run(config: BuildConfig, components=None) -> dict:
    """Build (or resume) the dataset ``config`` describes; returns its manifest."""
    return build(config.raw_dir, config.out, config.params(), max_sources=config.max_sources,
                 address=config.address, overwrite=config.overwrite,
                 resources=config.resources(), components=components,
                 progress=not config.no_progress)


def summary(manifest: dict, out: str) -> str:
    c = manifest["counts"]
    return (f"wrote {c['images']} images, {c['rois']} rois rows with {c['regions']} regions, "
            f"{c['errors']} bad sources to {out}")


def main(argv: list[str] | None = None) -> int:
    """``python -m pipelines.build_100w`` is ``seagull build-100w``: one parser, and one error
    edge (a project error is one line and exit 2)."""
    from seagull_cli import main as seagull

    return seagull(["build-100w", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
