"""A serving setting is declared once per language (issue #20): adding one touches the service, the chart's values
(one line with its `## @param`) and the docs generated from them, and nothing else.

In a copy of the working tree (a git repository of its own, to list what changed), the test adds
GUNICORN_MAX_REQUESTS the way a developer would: a field and one read in app/mirror_service/config.py, the line
that hands it to gunicorn in app/gunicorn.conf.py, and one line in the chart's values.yaml. Then it regenerates
the docs as `make docs` does, renders the copy's chart with the real Helm CLI, and checks that the pod's
environment carries the setting, that the copy's service reads it (config.load_all, and gunicorn's own
configuration module), and that git sees exactly those files changed: no schema, template, Terraform or test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness import chart_readme, helm
from harness.paths import REPO_ROOT
from tests.modules.kubernetes_app import rendering

NAME = "GUNICORN_MAX_REQUESTS"
EXPECTED_CHANGES = {
    "app/mirror_service/config.py",  # name, type, bound, default
    "app/gunicorn.conf.py",  # gunicorn is told
    "modules/kubernetes-app/chart/values.yaml",  # one line and its @param
    "modules/kubernetes-app/chart/README.md",  # generated from the @param
}


def _git(copy: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=test", "-c", "user.email=test@example.com", *args], cwd=copy,
                          check=True, capture_output=True, text=True).stdout


def _copy_of_the_working_tree(destination: Path) -> Path:
    """The tracked and the new (not ignored) files as they are now, committed in a repository of their own."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO_ROOT,
                            check=True, capture_output=True, text=True).stdout.split("\0")
    for name in filter(None, listed):
        source = REPO_ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    _git(destination, "init", "-q")
    _git(destination, "add", "-A")
    _git(destination, "commit", "-q", "-m", "copy")
    return destination


def _edit(path: Path, anchor: str, addition: str) -> None:
    text = path.read_text()
    assert text.count(anchor) == 1, f"{path}: the anchor {anchor!r} moved; update this test's edit"
    path.write_text(text.replace(anchor, anchor + addition))


def _add_the_setting(copy: Path) -> None:
    config = copy / "app" / "mirror_service" / "config.py"
    _edit(config, "    forwarded_allow_ips: tuple[str, ...] = ()\n",
          "    # Requests a worker serves before gunicorn replaces it; 0: never.\n    max_requests: int = 0\n")
    _edit(config, "        keepalive=keepalive,\n",
          f'        max_requests=read.integer("{NAME}", ServerSettings.max_requests, 0, 1_000_000),\n')
    _edit(copy / "app" / "gunicorn.conf.py", "timeout = SERVER_SETTINGS.timeout\n",
          "max_requests = SERVER_SETTINGS.max_requests\n")
    _edit(copy / "modules" / "kubernetes-app" / "chart" / "values.yaml", "server:\n",
          f"  ## @param server.{NAME} Requests a worker serves before it is replaced; empty: never\n"
          f"  {NAME}: 5000\n")


def _regenerate_docs(copy: Path) -> None:
    """`make docs` in the copy: the chart's parameter table and the Terraform tables."""
    env = {**os.environ, "PYTHONPATH": f"{copy}{os.pathsep}{copy / 'app'}",
           "REPO_CACHE_DIR": os.environ.get("REPO_CACHE_DIR", str(REPO_ROOT / ".cache"))}
    for module in ("harness.terraform_docs", "harness.chart_readme"):
        subprocess.run([sys.executable, "-m", module, "--write"], cwd=copy, env=env, check=True, capture_output=True,
                       text=True, timeout=600)


def _service_reads(copy: Path, environ: dict[str, str]) -> dict:
    """What the copy's service makes of `environ`: its config, and gunicorn's configuration module."""
    script = (
        "import importlib.util, json, sys\n"
        "from mirror_service.config import load_all\n"
        "server = load_all()[1]\n"
        "spec = importlib.util.spec_from_file_location('conf', sys.argv[1])\n"
        "conf = importlib.util.module_from_spec(spec); spec.loader.exec_module(conf)\n"
        "print(json.dumps({'config': server.max_requests, 'gunicorn': conf.max_requests}))\n")
    result = subprocess.run([sys.executable, "-c", script, str(copy / "app" / "gunicorn.conf.py")],
                            env={"PATH": os.environ["PATH"], "PYTHONPATH": str(copy / "app"), **environ},
                            cwd=copy, check=True, capture_output=True, text=True, timeout=60)
    return json.loads(result.stdout)


@pytest.mark.slow
def test_a_new_server_setting_touches_only_the_service_the_values_and_the_generated_docs(tmp_path):
    if shutil.which("npm") is None and not os.environ.get("CI"):
        pytest.skip(f"npm is missing: {chart_readme.INSTALL_HINT}")
    copy = _copy_of_the_working_tree(tmp_path / "repo")

    _add_the_setting(copy)
    _regenerate_docs(copy)

    changed = {line[3:] for line in _git(copy, "status", "--porcelain").splitlines()}
    assert changed == EXPECTED_CHANGES
    assert f"server.{NAME}" in (copy / "modules" / "kubernetes-app" / "chart" / "README.md").read_text()
    chart = copy / "modules" / "kubernetes-app" / "chart"
    manifests = helm.render(rendering.ci_value_sets()["minimal"], chart=chart).manifests()
    env = rendering.env_of(manifests)
    assert env[NAME] == "5000", "the pod gets the setting as an environment variable"
    assert _service_reads(copy, env) == {"config": 5000, "gunicorn": 5000}
    # And a Terraform caller reaches it with no change to the module: its `server` map passes through.
    values = rendering.merged(rendering.ci_value_sets()["minimal"], {"server": {NAME: "100"}})
    assert rendering.env_of(helm.render(values, chart=chart).manifests())[NAME] == "100"
