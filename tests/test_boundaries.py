"""The library's boundary: ``seagull/`` imports neither Ray nor the recipes nor the service (the
command line, ``seagull_cli``, is the edge that joins them)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FORBIDDEN = ("ray", "pipelines", "serve")
# The old spelling ``python -m seagull.cli`` hands over to the command line, lazily.
CLI_ALIASES = {"seagull/cli/__init__.py"}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def test_the_library_imports_neither_ray_nor_the_recipes_nor_the_service():
    files = sorted((REPO / "seagull").rglob("*.py"))
    assert len(files) > 50  # the walk found the library
    bad = []
    for path in files:
        rel = path.relative_to(REPO).as_posix()
        for line, module in _imports(path):
            top = module.split(".")[0]
            if top in FORBIDDEN or (top == "seagull_cli" and rel not in CLI_ALIASES):
                bad.append(f"{rel}:{line}: import {module}")
    assert bad == []


def test_the_walk_would_see_a_forbidden_import(tmp_path):
    sample = tmp_path / "m.py"
    sample.write_text("def f():\n    import ray.data\n    from serve.app import x\n")
    assert _imports(sample) == [(2, "ray.data"), (3, "serve.app")]


def test_importing_the_library_loads_no_ray():
    code = ("import sys, seagull.data.reader, seagull.data.inspect, seagull.data.audit, "
            "seagull.model, seagull.evaluation, seagull.cli\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('ray', 'pipelines', 'serve', 'seagull_cli')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, check=True).stdout
    assert out.strip() == "[]"
