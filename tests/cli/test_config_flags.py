"""Flags generated from a recipe's typed config: one home for each default, the recipe's own
checks on what the user typed."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

import pytest

from pipelines.build_100w import BuildConfig
from seagull.data.factory import FactoryParams
from seagull.errors import InvalidArgumentError
from seagull_cli import main as seagull
from seagull_cli._config import add_config_arguments, from_args


@dataclass(frozen=True)
class Recipe:
    data: str = field(metadata={"metavar": "DIR", "help": "the data"})
    steps: int = field(default=10, metadata={"help": "training steps"})
    rate: float = field(default=0.5, metadata={"help": "a rate"})
    types: tuple[str, ...] | None = field(default=None, metadata={"help": "types"})
    levels: tuple[int, ...] = field(default=(0, 19), metadata={"help": "levels"})
    dry_run: bool = field(default=False, metadata={"help": "do nothing"})
    internal: str = "not a flag"

    def __post_init__(self) -> None:
        if self.steps <= 0:
            raise InvalidArgumentError(f"--steps must be positive, got {self.steps}")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="recipe")
    add_config_arguments(p, Recipe)
    return p


def test_fields_become_flags_with_their_types_defaults_and_help():
    p = _parser()
    config = from_args(Recipe, p.parse_args(["--data", "d"]))
    assert config == Recipe(data="d")
    config = from_args(Recipe, p.parse_args(["--data", "d", "--steps", "3", "--rate", "0.25",
                                             "--types", "blur,noise", "--levels", "1,2",
                                             "--dry-run"]))
    assert config == Recipe("d", 3, 0.25, ("blur", "noise"), (1, 2), True)
    text = p.format_help()
    assert "training steps (default 10)" in text and "levels (default 0,19)" in text
    assert "--internal" not in text and "--data DIR" in text
    with pytest.raises(SystemExit):
        p.parse_args([])  # --data has no default: required
    with pytest.raises(InvalidArgumentError, match="--steps must be positive, got 0"):
        from_args(Recipe, p.parse_args(["--data", "d", "--steps", "0"]))


def test_build_100w_flags_are_its_config_and_its_defaults_the_factorys():
    p = argparse.ArgumentParser()
    add_config_arguments(p, BuildConfig)
    config = from_args(BuildConfig, p.parse_args(["--raw-dir", "r", "--out", "o"]))
    defaults = FactoryParams()
    assert config.params() == defaults and config.long_side == defaults.long_side == 1024
    assert config.resources().label_cpus == 0.5
    assert f"(default {defaults.long_side})" in p.format_help()


def test_build_100w_bad_values_are_one_line_errors(tmp_path, capsys):
    raw = tmp_path / "raw"
    raw.mkdir()
    assert seagull(["build-100w", "--raw-dir", str(raw), "--out", str(tmp_path / "o"),
                    "--cpus-per-actor", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["seagull build-100w: error: --cpus-per-actor must be positive"]


def test_every_recipe_is_a_typed_config_and_run():
    """build-100w, ingest-3k, train, evaluate, reproduce and the main job: a frozen dataclass
    whose fields are the flags, and ``run(config)``."""
    import dataclasses
    import inspect
    import typing

    from pipelines import build_100w, demo, evaluate, ingest_3k, reproduce, train

    for module, cls in ((build_100w, build_100w.BuildConfig),
                        (ingest_3k, ingest_3k.IngestConfig),
                        (train, train.TrainRunConfig), (evaluate, evaluate.EvaluateConfig),
                        (reproduce, reproduce.ReproduceConfig), (demo, demo.DemoConfig)):
        assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen, cls
        param, *more = inspect.signature(module.run).parameters.values()
        assert typing.get_type_hints(module.run)[param.name] is cls, module.__name__
        assert all(m.default is not inspect.Parameter.empty for m in more)  # test seams only
        p = argparse.ArgumentParser()
        add_config_arguments(p, cls)  # every field has a command-line type
        assert not hasattr(module, "add_arguments"), module.__name__  # no hand-written flags


def test_train_flags_leave_the_presets_defaults_to_the_preset(tmp_path, capsys):
    from pipelines.train import TrainRunConfig

    p = argparse.ArgumentParser()
    add_config_arguments(p, TrainRunConfig)
    config = from_args(TrainRunConfig, p.parse_args(["--stage", "1", "--data", "d", "--out",
                                                     "o"]))
    assert (config.preset, config.lr, config.batch_size, config.jir_fraction) == (
        "small", None, None, None)
    assert (config.checkpoint_every, config.zero, config.max_failures) == (50, 2, 3)
    old = from_args(TrainRunConfig, p.parse_args(["--stage", "1", "--data", "d", "--out", "o",
                                                  "--encoder", "w.pt"]))
    assert old.encoder_weights == "w.pt"  # the old spelling is an alias
    for flags, message in ((["--max-steps", "0"], "--max-steps must be positive, got 0"),
                           (["--jir-fraction", "1.5"], "--jir-fraction 1.5 is outside 0 … 1"),
                           (["--seed", "-1"], "--seed -1 is outside 0 … 2**32-1"),
                           (["--stage", "2"], "stage 2 starts from a stage-1 model")):
        argv = ["train", "--stage", "1", "--data", str(tmp_path), "--out", str(tmp_path / "r"),
                *flags]
        assert seagull(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err


def test_reproduce_flags_are_its_config():
    from pipelines.reproduce import DEFAULT_MODELS, ReproduceConfig

    p = argparse.ArgumentParser()
    add_config_arguments(p, ReproduceConfig)
    config = from_args(ReproduceConfig, p.parse_args(["--out", "o", "--seeds", "3,5",
                                                      "--models", "no_jir,crop"]))
    assert config.seeds == (3, 5) and config.models == ("no_jir", "crop")
    assert ReproduceConfig(out="o").models == DEFAULT_MODELS and config.preset == "small"
    with pytest.raises(Exception, match="--levels must be in 0…19"):
        ReproduceConfig(out="o", levels=(0, 20))
    with pytest.raises(Exception, match="--seeds must name distinct seeds"):
        ReproduceConfig(out="o", seeds=(1, 1))
