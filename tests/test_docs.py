"""What the code cites from the method and the measured stack is in this repository
(docs/method.md), and every section it names is there."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [p for folder in ("seagull", "seagull_cli", "pipelines", "serve", "tests", "bench")
           for p in (ROOT / folder).rglob("*.py")]


def test_no_reference_to_documents_outside_the_repository():
    outside = re.compile(r"\b(PROBES|SEAGULL|DESIGN|STYLE)\.md\b")
    hits = [f"{p.relative_to(ROOT)}:{n}" for p in [*SOURCES, *(ROOT / "docs").glob("*.md"),
                                                   ROOT / "README.md"]
            for n, line in enumerate(p.read_text().splitlines(), 1) if outside.search(line)]
    assert hits == []


def test_every_cited_section_of_the_method_page_exists():
    page = (ROOT / "docs" / "method.md").read_text()
    names = {m.strip() for m in re.findall(r"^#+ (.+)$", page, re.MULTILINE)}
    names |= {m.strip() for m in re.findall(r"\*\*([^*]+?)\*\*", page)}
    names |= {n.split(":")[0] for n in list(names)}
    cited = {}
    for p in SOURCES:
        text = " ".join(p.read_text().split())  # a citation may wrap
        for name in re.findall(r'docs/method\.md,? "([^"]+)"', text):
            cited.setdefault(name, str(p.relative_to(ROOT)))
    assert cited, "the code cites the method page"
    missing = {n: f for n, f in cited.items()
               if not any(n == m or m.startswith(n) for m in names)}
    assert missing == {}
