"""The ``seagull`` command line: the one edge of the project.

It is a package of its own, beside ``seagull`` (the library), ``pipelines`` (the recipes) and
``serve`` (the service), because it is the one part that needs all three: a subcommand parses
its flags, resolves and checks everything it will load, and calls a recipe or starts the
service. Outside the library, it keeps the library free of Ray and of the recipes (a test
checks that ``seagull/`` imports neither), while ``seagull X`` and ``python -m pipelines.X``
still share this one parser and one error edge.

Each subcommand lives in its own module of this package with two functions:
``add_arguments(parser)`` (cheap: no heavy imports) and ``run(args) -> int``. Heavy libraries
(torch, ray, pyiqa …) are imported inside ``run`` so that ``--help`` and argument errors answer
at once. Errors of the project (``seagull.errors``) and OS errors become one line on stderr and
a non-zero exit; nothing else is swallowed.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from seagull import __version__
from seagull.errors import SeagullError

# (subcommand, module, one-line help), in the order of the help text.
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("doctor", "doctor", "check the installation, Ray, and which weights or fallbacks are used"),
    ("samples", "samples", "make the sample RAW (DNG) files the project uses"),
    ("render", "render", "render a RAW file: the reference and 6 distortions x 20 levels"),
    ("regions", "regions", "segment an image into object- and component-level regions"),
    ("label", "label", "full-reference labels for the regions of a distorted image"),
    ("build-100w", "build_100w", "build the Seagull-100w dataset on Ray Data"),
    ("inspect", "inspect", "quality report of a built dataset"),
    ("ingest-3k", "ingest_3k", "ingest Seagull-3k style human ratings"),
    ("train", "train", "train Seagull on Ray Train with DeepSpeed"),
    ("evaluate", "evaluate", "evaluate a model on a dataset split"),
    ("reproduce", "reproduce", "mini-reproduction of the paper's tables"),
    ("assess", "assess", "assess one region of an image"),
    ("serve", "serve", "run the HTTP service on Ray Serve"),
    ("submit", "submit", "submit a pipeline to a Ray cluster as a job"),
)

log = logging.getLogger("seagull")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seagull",
        description="Region-of-interest image quality assessment (Seagull) at cluster scale.",
    )
    parser.add_argument("--version", action="version", version=f"seagull {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output (-vv for debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module, help_text in COMMANDS:
        mod = importlib.import_module(f"seagull_cli.{module}")
        p = sub.add_parser(name, help=help_text, description=help_text)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def setup_logging(verbose: int = 0, quiet: bool = False) -> None:
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("seagull").setLevel(level)
    logging.getLogger("pipelines").setLevel(level)
    logging.getLogger("serve").setLevel(level)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    setup_logging(args.verbose, args.quiet)
    try:
        return int(args._run(args) or 0)
    except SeagullError as exc:
        print(f"seagull {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # unwritable folders, missing files: the OS says which
        print(f"seagull {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"seagull {args.command}: interrupted", file=sys.stderr)
        return 130
