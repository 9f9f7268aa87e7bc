"""Cluster manifests: they parse, carry what their consumers need, name real entrypoints, and
the generated ones are up to date with their sources."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml

from pipelines import cluster_manifests as cm
from seagull_cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
KUBERAY = ROOT / "cluster" / "kuberay"


def load(path: Path):
    return yaml.safe_load(path.read_text())


def test_launcher_yaml_has_the_schema_keys():
    cfg = load(ROOT / "cluster" / "launcher" / "aws.yaml")
    for key in ("cluster_name", "max_workers", "provider", "auth", "available_node_types",
                "head_node_type", "setup_commands", "head_start_ray_commands",
                "worker_start_ray_commands"):
        assert key in cfg, key
    types = cfg["available_node_types"]
    head = types[cfg["head_node_type"]]
    assert head["resources"] == {"CPU": 0}, "the head schedules no work"
    assert any("--num-cpus=0" in c for c in cfg["head_start_ray_commands"])
    for name, node in types.items():
        assert {"node_config", "min_workers", "max_workers", "resources"} <= set(node), name
        assert node["min_workers"] <= node["max_workers"] <= cfg["max_workers"]
    assert {"render", "label_gpu", "train_gpu"} <= {r for t in types.values()
                                                      for r in t["resources"]}
    assert any("pip install" in c and "seagull" in c for c in cfg["setup_commands"])


def _kuberay_docs():
    return {p.name: load(p) for p in sorted(KUBERAY.glob("*.yaml"))}


def test_kuberay_manifests_have_kind_and_spec():
    docs = _kuberay_docs()
    kinds = {d["kind"] for d in docs.values()}
    assert {"RayCluster", "RayJob", "RayService"} <= kinds
    for name, doc in docs.items():
        assert {"apiVersion", "kind", "metadata"} <= set(doc), name
        assert "spec" in doc, name
        if doc["kind"] in ("RayCluster", "RayJob", "RayService"):
            assert doc["apiVersion"] == "ray.io/v1", name
    jobs = {d["metadata"]["name"] for d in docs.values() if d["kind"] == "RayJob"}
    assert jobs == {f"seagull-{n}" for n in
                    ("build-100w", "ingest-3k", "train-stage1", "train-stage2", "evaluate")}


def test_generated_manifests_are_up_to_date():
    assert cm.main(["--check"]) == 0


@pytest.mark.parametrize("name", sorted(cm.JOBS))
def test_every_rayjob_entrypoint_is_a_real_invocation(name):
    doc = load(KUBERAY / f"rayjob-{name}.yaml")
    argv = shlex.split(doc["spec"]["entrypoint"])
    assert argv[:3] == ["python", "-m", "seagull_cli"]
    # The project's own parser accepts exactly these arguments (a dry run of the command line).
    args = build_parser().parse_args(argv[3:])
    assert callable(args._run)
    runtime_env = yaml.safe_load(doc["spec"]["runtimeEnvYAML"])
    assert runtime_env["env_vars"]["HF_HUB_OFFLINE"] == "1"


def test_rayservice_embeds_serve_config():
    service = load(KUBERAY / "rayservice.yaml")
    embedded = yaml.safe_load(service["spec"]["serveConfigV2"])
    source = load(ROOT / "serve" / "config.yaml")
    assert embedded == source

    def shape(cfg):
        return [(a["name"], a["import_path"], sorted(d["name"] for d in a["deployments"]))
                for a in cfg["applications"]]

    assert shape(embedded) == shape(source)


def test_runtime_env_ships_the_project():
    env = load(ROOT / "cluster" / "runtime_env.yaml")
    assert env["working_dir"] == "."
    assert ".venv" in env["excludes"] and ".git" in env["excludes"]
