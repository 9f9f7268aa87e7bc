"""The cluster image holds every package of the project (a package left out would install but
fail to import on the nodes)."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_image_copies_every_top_level_package():
    packages = sorted(p.parent.name for p in REPO.glob("*/__init__.py")
                      if p.parent.name not in ("tests", "bench"))
    assert {"seagull", "seagull_cli", "pipelines", "serve"} <= set(packages)
    copied = set(re.findall(r"^COPY\s+(?:--\S+\s+)*(\S+)\s", (REPO / "cluster" / "Dockerfile")
                            .read_text(), re.MULTILINE))
    assert [p for p in packages if p not in copied] == []
