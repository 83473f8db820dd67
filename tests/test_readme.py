"""The README's two set-up commands stay true: CI runs the test one verbatim."""

from __future__ import annotations

import re


def _commands(readme: str) -> list[str]:
    return re.findall(r"```bash\n(.+?)\n```", readme)


def test_readme_starts_with_the_demo_and_test_commands(repo):
    readme = (repo / "README.md").read_text()
    demo, test = _commands(readme)[:2]
    assert "snakemake" in demo and "config/demo.yaml" in demo and "pip install" in demo
    assert test.endswith("pytest") and "pip install" in test


def test_ci_runs_the_readme_test_command(repo):
    test = _commands((repo / "README.md").read_text())[1]
    ci = (repo / ".ci" / "run").read_text()
    assert test in ci.splitlines()
