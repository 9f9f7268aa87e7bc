"""Facts with one home: each is spelled in one module and read everywhere else."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CODE = [p for top in ("seagull", "seagull_cli", "pipelines", "serve")
        for p in sorted((REPO / top).rglob("*.py"))]


def _where(pattern: str) -> list[str]:
    regex = re.compile(pattern)
    return [p.relative_to(REPO).as_posix() for p in CODE if regex.search(p.read_text())]


def test_a_masks_box_is_computed_in_one_place():
    assert _where(r"\.any\(axis=1\)") == ["seagull/regions/rle.py"]


def test_the_region_kinds_are_spelled_once():
    assert _where(r"\(\s*\"object\",\s*\"component\"\s*\)") == ["seagull/data/schema.py"]


def test_the_level_range_and_the_splits_have_their_homes():
    assert _where(r"<=\s*19\b|range\(20\)") == []
    assert _where(r"\(\s*\"train\",\s*\"test\"\s*\)") == ["seagull/data/split.py"]


def _options(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, list[str]]:
    """``{command: [option strings of every action]}`` over the subcommands."""
    out = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out.update(_options(sub, f"{prefix}{name} "))
    out[prefix.strip() or "seagull"] = [o for a in parser._actions for o in a.option_strings]
    return out


def test_weight_flags_have_one_spelling_everywhere():
    """``--sam`` and ``--encoder-weights``; the old spellings stay as aliases of the same
    option, never as options of their own."""
    from seagull_cli import build_parser

    parser = build_parser()
    for command, options in _options(parser).items():
        if "--sam-checkpoint" in options:
            assert "--sam" in options, command
        if "--encoder" in options:
            assert "--encoder-weights" in options, command
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    args = sub.choices["assess"].parse_args(["img.png", "--point", "1,2",
                                             "--sam-checkpoint", "s.pth"])
    assert args.sam == "s.pth"
    args = sub.choices["train"].parse_args(["--stage", "1", "--data", "d", "--out", "o",
                                            "--encoder", "c.pt"])
    assert args.encoder_weights == "c.pt"


def _deployment_decorators() -> dict[str, list[str]]:
    """deployment name → keyword names of its ``@serve.deployment(...)`` decorator, over serve/."""
    import ast

    out = {}
    for path in sorted((REPO / "serve").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ClassDef):
                continue
            for deco in node.decorator_list:
                call = deco if isinstance(deco, ast.Call) else None
                func = call.func if call is not None else deco
                if ast.unparse(func) not in ("serve.deployment", "deployment"):
                    continue
                keywords = {k.arg: k.value for k in call.keywords} if call else {}
                name = keywords.get("name")
                key = name.value if isinstance(name, ast.Constant) else node.name
                out[key] = sorted(k for k in keywords if k is not None)
                if call is not None:
                    assert not any(isinstance(k.value, ast.Dict) and "num_cpus" in ast.unparse(
                        k.value) for k in call.keywords), f"{path.name}: {key} sets num_cpus"
    return out


def test_replica_resources_live_in_the_serve_yaml_files():
    """No ``@serve.deployment`` in serve/ sets replica resources; serve/config.yaml (production)
    and serve/local.yaml (a local run) give every deployment its resources."""
    import yaml

    decorators = _deployment_decorators()
    assert set(decorators) == {"Gateway", "ImageStore", "Segmenter", "Assessor"}
    resource_options = {"ray_actor_options", "num_cpus", "num_gpus", "memory", "resources",
                        "placement_group_bundles"}
    for name, keywords in decorators.items():
        assert not resource_options & set(keywords), (name, keywords)
    text = "\n".join(p.read_text() for p in sorted((REPO / "serve").glob("*.py")))
    assert "LOCAL_CPUS" not in text and '"num_cpus":' not in text
    config = yaml.safe_load((REPO / "serve" / "config.yaml").read_text())
    production = {d["name"]: d for d in config["applications"][0]["deployments"]}
    local = {d["name"]: d for d in
             yaml.safe_load((REPO / "serve" / "local.yaml").read_text())["deployments"]}
    assert set(production) == set(local) == set(decorators)
    for name in decorators:
        assert production[name]["ray_actor_options"]["num_cpus"] > 0, name
        assert local[name]["ray_actor_options"]["num_cpus"] > 0, name
        assert "num_gpus" not in local[name]["ray_actor_options"], name
    assert {n for n, d in production.items() if d["ray_actor_options"].get("num_gpus")} == \
        {"Segmenter", "Assessor"}
