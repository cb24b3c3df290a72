"""What depends on what: benchmarks and the harness never import the tests (a benchmark must run from a
checkout without its test suite's helpers changing under it)."""

from __future__ import annotations

import ast

import pytest

from harness.paths import REPO_ROOT


@pytest.mark.parametrize("tree", ["bench", "harness"])
def test_nothing_outside_tests_imports_tests(tree):
    offenders = []
    for path in sorted((REPO_ROOT / tree).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.relative_to(REPO_ROOT)}: {name}" for name in names
                          if name == "tests" or name.startswith("tests.")]
    assert offenders == []
