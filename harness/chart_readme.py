"""The chart README's parameter table, generated from values.yaml's `## @param` comments by Bitnami's
readme-generator-for-helm (npm), pinned with its whole dependency tree in harness/node/readme-generator/package-lock.json.

`python -m harness.chart_readme --write` (part of `make docs`) installs the pinned
generator with `npm ci` into .cache/readme-generator (git-ignored; its own prefix, apart from other npm
tools under .cache) and rewrites the table in modules/kubernetes-app/chart/README.md. `generated()`
returns what the README should be, for the drift test (tests/modules/kubernetes_app/test_chart_readme.py).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from harness import npm_tools
from harness.processes import REPO_ROOT

NODE_PROJECT = Path(__file__).parent / "node" / "readme-generator"
NODE_PREFIX = Path(os.environ.get("REPO_CACHE_DIR", REPO_ROOT / ".cache")) / "readme-generator"
CHART_DIR = REPO_ROOT / "modules" / "kubernetes-app" / "chart"
INSTALL_HINT = "apt-get install nodejs npm (Node >= 18), then `make docs` installs the pinned generator"


def install() -> Path:
    """The pinned generator, installed into NODE_PREFIX (harness/npm_tools.py); its path."""
    return npm_tools.install(NODE_PROJECT, NODE_PREFIX, "readme-generator")


def generated(readme: Path = CHART_DIR / "README.md", values: Path = CHART_DIR / "values.yaml") -> str:
    """README.md as the generator writes it (it edits in place, so it works on a copy)."""
    generator = install()
    with tempfile.TemporaryDirectory(prefix="chart-readme-") as scratch:
        copy = Path(scratch, "README.md")
        shutil.copy(readme, copy)
        result = subprocess.run([str(generator), "--values", str(values), "--readme", str(copy)],
                                capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"readme-generator refused values.yaml:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
        return copy.read_text()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite chart/README.md (default: check only)")
    args = parser.parse_args()
    if shutil.which("npm") is None:
        print(f"npm is missing: {INSTALL_HINT}", file=sys.stderr)
        return 1
    readme = CHART_DIR / "README.md"
    expected = generated(readme)
    if expected == readme.read_text():
        return 0
    if args.write:
        readme.write_text(expected)
        print(f"chart_readme: updated {readme.relative_to(REPO_ROOT)}")
        return 0
    print(f"{readme.relative_to(REPO_ROOT)} is out of date: run `make docs`", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
