"""The command line's old home, kept so that job scripts running ``python -m seagull.cli`` still
work. The command line is ``seagull_cli``: it sits outside the library because it is the edge
over the library, the recipes (``pipelines``) and the service (``serve``), and the library
imports none of them."""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    from seagull_cli import main as seagull

    return seagull(argv)
