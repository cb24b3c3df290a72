"""The README tables of every module and root, written and checked by the real terraform-docs: `make docs`.

    python -m harness.terraform_docs --write [DIR ...]   # inject the tables between the markers
    python -m harness.terraform_docs --check [DIR ...]   # change nothing; exit 1 with a diff when stale

terraform-docs is built by `make tools` at the version tools/terraform-docs/go.mod pins, and reads the one
configuration at the repository root (.terraform-docs.yml: markdown table, injected between
`<!-- BEGIN_TF_DOCS -->` and `<!-- END_TF_DOCS -->`, no lock file). This module only decides which
directories carry tables and turns terraform-docs' output into a readable diff.

Directories covered: modules/*, modules/*/modules/* and envs/* (each must have a README with the
markers), plus modules/*/examples/* whose README opts in by carrying the markers.
"""

from __future__ import annotations

import argparse
import difflib
import subprocess
import sys
from pathlib import Path

from harness import tools
from harness.paths import REPO_ROOT

BEGIN = "<!-- BEGIN_TF_DOCS -->"
END = "<!-- END_TF_DOCS -->"
CONFIG = REPO_ROOT / ".terraform-docs.yml"
REQUIRED_GLOBS = ("modules/*", "modules/*/modules/*", "envs/*")
OPT_IN_GLOBS = ("modules/*/examples/*",)


def _has_markers(readme: Path) -> bool:
    return readme.exists() and BEGIN in (text := readme.read_text()) and END in text


def discover(root: Path = REPO_ROOT) -> list[Path]:
    """Every directory whose README must carry the generated tables."""
    found = set()
    for pattern in REQUIRED_GLOBS:
        found.update(p for p in root.glob(pattern) if p.is_dir() and any(p.glob("*.tf")))
    for pattern in OPT_IN_GLOBS:
        found.update(p for p in root.glob(pattern)
                     if p.is_dir() and any(p.glob("*.tf")) and _has_markers(p / "README.md"))
    return sorted(found)


def _terraform_docs(directory: Path, *extra: str) -> subprocess.CompletedProcess:
    binary = tools.path("terraform-docs")
    return subprocess.run([str(binary), "--config", str(CONFIG), *extra, str(directory)],
                          capture_output=True, text=True, timeout=120, check=False)


def generated(directory: Path) -> str:
    """What terraform-docs prints for `directory`: the text that belongs between the markers."""
    result = _terraform_docs(directory, "--output-file", "")
    if result.returncode != 0:
        raise RuntimeError(f"terraform-docs failed for {directory}:\n{result.stderr}")
    return result.stdout.strip("\n")


def _block(readme_text: str) -> str | None:
    if BEGIN not in readme_text or END not in readme_text:
        return None
    return readme_text.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n")


def check(directories: list[Path], root: Path = REPO_ROOT) -> list[str]:
    """One problem per README that is missing, lacks the markers or differs from terraform-docs' output."""
    problems = []
    for directory in directories:
        readme = directory / "README.md"
        name = readme.relative_to(root).as_posix() if readme.is_relative_to(root) else str(readme)
        committed = _block(readme.read_text()) if readme.exists() else None
        if committed is None:
            problems.append(f"{name} has no {BEGIN} ... {END} block; run `make docs`")
            continue
        expected = generated(directory)
        if committed != expected:
            diff = difflib.unified_diff(committed.splitlines(), expected.splitlines(),
                                        f"{name} (committed)", f"{name} (terraform-docs)", lineterm="")
            problems.append(f"{name} is out of date; run `make docs`\n" + "\n".join(diff))
    return problems


def write(directories: list[Path]) -> list[Path]:
    """Inject terraform-docs' tables into each README (a README without markers gets them appended, as
    terraform-docs' inject mode does); the directories whose README changed."""
    changed = []
    for directory in directories:
        readme = directory / "README.md"
        before = readme.read_text() if readme.exists() else None
        result = _terraform_docs(directory)
        if result.returncode != 0:
            raise RuntimeError(f"terraform-docs failed for {directory}:\n{result.stderr}")
        if readme.read_text() != before:
            changed.append(directory)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true")
    mode.add_argument("--check", action="store_true")
    parser.add_argument("directories", nargs="*", type=Path)
    args = parser.parse_args(argv)
    directories = [d.resolve() for d in args.directories] or discover()
    if args.check:
        problems = check(directories)
        print("\n\n".join(problems) if problems else f"{len(directories)} READMEs match terraform-docs")
        return 1 if problems else 0
    for directory in write(directories):
        print(f"updated {directory.relative_to(REPO_ROOT) if directory.is_relative_to(REPO_ROOT) else directory}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
