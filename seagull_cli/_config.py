"""Command-line flags generated from a recipe's typed config (a frozen dataclass).

A recipe declares its config as a dataclass whose fields carry ``metadata={"help": …}`` (and
optionally ``"flags"``, ``"metavar"``); it needs nothing of argparse or of this package. Each
such field becomes one option: ``--its-name`` (or the flags given), typed from its annotation
(``int``, ``float``, ``str``, ``bool``, ``tuple[str, ...]`` and ``tuple[int, ...]`` as comma
lists, each optionally ``| None``), with the field's default (its one home: the dataclass) said
in its help. A field without a default is required; ``"positional": True`` makes it a
positional argument (its ``metavar`` names it); a ``bool`` field defaulting to False is a
switch. ``from_args`` builds the config back from the parsed namespace, so the recipe's own
checks (``__post_init__``) judge what the user typed, and their errors are one line.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import Any

from seagull_cli._args import int_list, str_list

_CONVERTERS = {int: int, float: float, str: str, tuple[str, ...]: str_list,
               tuple[int, ...]: int_list}


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def _plain(hint: Any) -> Any:
    """``X | None`` → ``X``."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return hint


def _shown(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def add_config_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
    """One option per ``help``-carrying field of the dataclass ``cls``, in field order."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if "help" not in f.metadata:
            continue
        default = _default(f)
        required = default is dataclasses.MISSING
        help_text = f.metadata["help"]
        kind = _plain(hints[f.name])
        kwargs: dict[str, Any] = {}
        if kind is bool:
            if default is not False:
                raise TypeError(f"{cls.__name__}.{f.name}: a switch must default to False")
            kwargs["action"] = "store_true"
        else:
            if kind not in _CONVERTERS:
                raise TypeError(f"{cls.__name__}.{f.name}: no command-line type for {kind}")
            kwargs["type"] = _CONVERTERS[kind]
            if "metavar" in f.metadata:
                kwargs["metavar"] = f.metadata["metavar"]
            if "choices" in f.metadata:
                kwargs["choices"] = f.metadata["choices"]
            if not required and default is not None:
                help_text = f"{help_text} (default {_shown(default)})"
        if f.metadata.get("positional"):
            if not required:
                kwargs.update(nargs="?", default=default)
            parser.add_argument(f.name, help=help_text, **kwargs)
            continue
        flags = f.metadata.get("flags") or (f"--{f.name.replace('_', '-')}",)
        if required:
            kwargs["required"] = True
        elif kind is not bool:
            kwargs["default"] = default
        parser.add_argument(*flags, dest=f.name, help=help_text, **kwargs)


def from_args(cls: type, args: argparse.Namespace, **more: Any):
    """The config ``cls`` of the parsed ``args`` (its ``help``-carrying fields), plus ``more``."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls)
              if "help" in f.metadata and hasattr(args, f.name)}
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    return cls(**values, **more)
