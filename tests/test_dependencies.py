"""Every module the library, the Ray jobs and the service import is a plain dependency.

A module imported only inside a function (serve/local.py's httpx was one) fails only when that
function runs, so a fresh ``pip install -e .`` can pass every import-time check and still die at
the main job's last step. This reads the sources instead of importing them: every absolute
import anywhere in a file counts, and each must come from a distribution that
``[project].dependencies`` names directly (an extra such as ``test`` does not count, and
neither does a package that only arrives as someone else's dependency).
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DISTRIBUTION = "seagull-ray"
SOURCE_DIRS = ("seagull", "seagull_cli", "pipelines", "serve")
OWN_PACKAGES = frozenset(SOURCE_DIRS)


def normalise(name: str) -> str:
    """A distribution name as PEP 503 compares it."""
    return re.sub(r"[-_.]+", "-", name).lower()


def direct_requirements(requires: Iterable[str] | None) -> set[str]:
    """Normalised names of the requirements that hold without any extra."""
    names = set()
    for line in requires or ():
        requirement, _, marker = line.partition(";")
        if re.search(r"\bextra\s*==", marker):
            continue
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
        assert match, f"unreadable requirement {line!r}"
        names.add(normalise(match.group(1)))
    return names


def _literal_import_module(node: ast.Call) -> str | None:
    """The module named by ``importlib.import_module("x")`` or ``__import__("x")``, if literal."""
    func = node.func
    named = (isinstance(func, ast.Attribute) and func.attr == "import_module"
             and isinstance(func.value, ast.Name) and func.value.id == "importlib")
    named = named or (isinstance(func, ast.Name) and func.id in ("import_module", "__import__"))
    if not named or not node.args:
        return None
    arg = node.args[0]
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return None if arg.value.startswith(".") else arg.value
    return None


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, top-level module) of every absolute import in ``path``, wherever it stands."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module] if node.level == 0 and node.module else []
        elif isinstance(node, ast.Call):
            name = _literal_import_module(node)
            names = [name] if name else []
        else:
            continue
        found.extend((node.lineno, name.split(".")[0]) for name in names)
    return sorted(found)


def find_violations(files: Iterable[Path], requirements: set[str],
                    providers: Mapping[str, list[str]], root: Path = ROOT) -> list[str]:
    """One line ``file:line → module → distribution (why)`` per import the requirements miss."""
    problems = []
    for path in sorted(files):
        shown = path.relative_to(root) if path.is_relative_to(root) else path
        for lineno, module in imported_modules(path):
            if module in sys.stdlib_module_names or module in OWN_PACKAGES:
                continue
            distributions = sorted({normalise(d) for d in providers.get(module, ())})
            if not distributions:
                problems.append(f"{shown}:{lineno} → {module} → no installed distribution "
                                "provides it")
            elif not requirements.intersection(distributions):
                problems.append(f"{shown}:{lineno} → {module} → {' or '.join(distributions)} "
                                "(not in [project].dependencies)")
    return problems


def source_files() -> list[Path]:
    files = [p for d in SOURCE_DIRS for p in (ROOT / d).rglob("*.py")]
    assert len(files) > 50, f"only {len(files)} source files found under {SOURCE_DIRS}"
    return files


def test_every_runtime_import_is_a_plain_dependency():
    try:
        requires = importlib.metadata.requires(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        pytest.fail(f"{DISTRIBUTION} is not installed: pip install -e .")
    requirements = direct_requirements(requires)
    assert {"torch", "ray", "numpy"} <= requirements, sorted(requirements)
    problems = find_violations(source_files(), requirements,
                               importlib.metadata.packages_distributions())
    assert not problems, (
        f"{len(problems)} import(s) of the project's packages that a plain install of "
        f"{DISTRIBUTION} does not bring (add them to [project].dependencies in pyproject.toml, "
        "then reinstall with pip install -e .):\n  " + "\n  ".join(problems))


def test_installed_requirements_match_pyproject():
    """The check above reads the installed metadata; it is only as fresh as the last install."""
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = direct_requirements(project["dependencies"])
    installed = direct_requirements(importlib.metadata.requires(DISTRIBUTION))
    assert installed == declared, (
        "the installed seagull-ray's requirements differ from pyproject.toml; reinstall with "
        f"pip install -e . (only installed: {sorted(installed - declared)}, only in pyproject: "
        f"{sorted(declared - installed)})")


def test_direct_requirements_drop_extras_and_normalise():
    requires = ["Pillow>=10.0", "ray[data,serve]>=2.40", "segment_anything>=1.0",
                "scikit.Image ; python_version >= '3.10'", 'httpx>=0.27; extra == "test"',
                "pytest>=8.0 ; extra=='test'"]
    assert direct_requirements(requires) == {"pillow", "ray", "segment-anything", "scikit-image"}
    assert direct_requirements(None) == set()


def test_checker_catches_imports_missing_from_the_requirements(tmp_path):
    module = tmp_path / "client.py"
    module.write_text(
        "import os\n"
        "from pathlib import Path\n"
        "import numpy as np\n"
        "from . import sibling\n"
        "from seagull.errors import SeagullError\n"
        "\n"
        "def post():\n"
        "    import httpx\n"
        "    try:\n"
        "        from yaml import safe_load\n"
        "    except ImportError:\n"
        "        safe_load = None\n"
        "    import importlib\n"
        "    return importlib.import_module('not_a_real_module_anywhere.sub')\n",
        encoding="utf-8")
    providers = {"numpy": ["numpy"], "httpx": ["httpx"], "yaml": ["PyYAML"]}

    assert imported_modules(module) == [(1, "os"), (2, "pathlib"), (3, "numpy"),
                                        (5, "seagull"), (8, "httpx"), (10, "yaml"),
                                        (13, "importlib"),
                                        (14, "not_a_real_module_anywhere")]
    problems = find_violations([module], {"numpy", "pyyaml"}, providers, root=tmp_path)
    assert problems == [
        "client.py:8 → httpx → httpx (not in [project].dependencies)",
        "client.py:14 → not_a_real_module_anywhere → no installed distribution provides it",
    ]
    # Declared under any spelling PEP 503 treats as the same name, the import is fine.
    requirements = direct_requirements(["NumPy", "PyYAML", "HTTPX>=0.27"])
    assert find_violations([module], requirements, providers, root=tmp_path) == [
        "client.py:14 → not_a_real_module_anywhere → no installed distribution provides it"]
