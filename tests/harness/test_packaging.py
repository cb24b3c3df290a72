"""`harness` and `mirror_service` install like Python packages: importable from anywhere, no sys.path patching.

`make tools` installs both editable into .venv (pyproject.toml, app/pyproject.toml); the image installs
the service from app/ as a regular wheel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile

from harness.paths import APP_DIR, REPO_ROOT


def test_both_packages_import_from_outside_the_checkout_without_pythonpath(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", "import harness.terraform, mirror_service; print(harness.terraform.__file__);"
                               " print(mirror_service.__file__)"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    harness_file, service_file = result.stdout.split()
    assert harness_file == str(REPO_ROOT / "harness" / "terraform.py")
    assert service_file == str(APP_DIR / "mirror_service" / "__init__.py")


def test_nothing_puts_the_sources_on_sys_path():
    pytest_options = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "pythonpath" not in pytest_options
    assert "sys.path" not in (APP_DIR / "gunicorn.conf.py").read_text()


def test_the_service_builds_as_a_wheel_of_its_own(tmp_path):
    """What the image installs: app/ alone, as a regular (not editable) wheel with the whole package.

    Built from a copy: setuptools writes its build/ directory next to the sources.
    """
    source = tmp_path / "app"
    shutil.copytree(APP_DIR, source, ignore=shutil.ignore_patterns("*.egg-info", "__pycache__", "build"))
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(tmp_path), str(source)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (wheel,) = tmp_path.glob("mirror_service-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"mirror_service/{path.name}" for path in (APP_DIR / "mirror_service").glob("*.py")}
    expected.add("mirror_service/openapi.json")  # package data: the API's contract, served at /api/openapi.json
    assert expected <= names, expected - names
    assert not {name for name in names if name.startswith(("tests/", "harness/"))}
