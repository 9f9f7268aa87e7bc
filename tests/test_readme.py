"""The README's two commands are what .ci/run runs: the main job first, then the test suite."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CI_RUN = ROOT / ".ci" / "run"


FENCED_BASH = re.compile(r"^```bash[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


def bash_blocks(text: str) -> list[list[str]]:
    """The non-blank lines of each ```bash fenced block, in order."""
    return [[line for line in block.splitlines() if line.strip()]
            for block in FENCED_BASH.findall(text)]


def readme_blocks() -> list[list[str]]:
    blocks = bash_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(blocks) >= 2, blocks
    return blocks


def test_first_block_is_the_one_line_main_job():
    first = readme_blocks()[0]
    assert len(first) == 1, first
    assert "pip install -e . " in first[0] + " "
    assert "python -m pipelines.demo" in first[0]
    assert first[0].index("pip install -e .") < first[0].index("python -m pipelines.demo")


def test_second_block_is_the_one_line_test_suite():
    second = readme_blocks()[1]
    assert len(second) == 1, second
    assert "pip install -e '.[test]'" in second[0]
    assert "pytest" in second[0]


def test_ci_reads_the_main_job_from_the_readme():
    script = CI_RUN.read_text(encoding="utf-8")
    assert "pipelines.demo" not in script
    assert "README.md" in script and 'bash -c "$main_job"' in script
    for number, block in enumerate(readme_blocks()[:2], start=1):
        out = subprocess.run(["bash", str(CI_RUN), "--readme-block", str(number)], check=True,
                             capture_output=True, text=True, timeout=30)
        assert out.stdout == block[0] + "\n"


def test_ci_refuses_a_block_the_readme_does_not_have():
    out = subprocess.run(["bash", str(CI_RUN), "--readme-block", "99"], check=False,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 1
    assert out.stdout == ""
    assert "99. ```bash block is not one command line" in out.stderr


def test_bash_blocks_reads_fences_as_ci_does():
    text = ("intro\n```bash\nfirst command\n```\n\n```python\nprint()\n```\n"
            "```bash\n\nsecond --flag\n\n```\n")
    assert bash_blocks(text) == [["first command"], ["second --flag"]]
