"""The chart README's parameter table matches values.yaml, as Bitnami's readme-generator-for-helm writes it."""

from __future__ import annotations

import difflib
import os
import shutil

import pytest

from harness import chart_readme


@pytest.fixture(scope="module")
def generator_available() -> None:
    if shutil.which("npm") is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"npm is missing in CI: {chart_readme.INSTALL_HINT}")
        pytest.skip(f"npm is missing: {chart_readme.INSTALL_HINT}")


def test_chart_readme_parameters_match_values_yaml(generator_available):
    readme = chart_readme.CHART_DIR / "README.md"

    expected = chart_readme.generated(readme)

    actual = readme.read_text()
    diff = "".join(difflib.unified_diff(actual.splitlines(True), expected.splitlines(True), "README.md", "generated"))
    assert actual == expected, f"chart/README.md is out of date: run `make docs`\n{diff[:4000]}"
    assert "| `secrets.registryPassword`" in actual and "| `ingress.alb.scheme`" in actual


def test_the_generator_refuses_an_undocumented_value(generator_available, tmp_path):
    """Guards the guard: a value without its `## @param` line stops the generator instead of vanishing."""
    values = tmp_path / "values.yaml"
    values.write_text((chart_readme.CHART_DIR / "values.yaml").read_text() + "\nundocumentedSetting: 1\n")

    with pytest.raises(RuntimeError, match="Missing metadata for key: undocumentedSetting"):
        chart_readme.generated(values=values)
