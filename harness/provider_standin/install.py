"""Lay the stand-ins out as a Terraform filesystem mirror (unpacked layout) under the repository's .cache/.

    <mirror>/registry.terraform.io/hashicorp/<name>/<version>/<os>_<arch>/terraform-provider-<name>_v<version>

https://developer.hashicorp.com/terraform/cli/config/config-file#filesystem_mirror . Each executable is a
small shell script that runs `python -m harness.provider_standin.server <name>` with the Python that
installed it (the project's venv, which has `tf`), so the mirror is machine-local and lives only in the
ignored .cache/ directory, never in a module or root.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import shlex
import sys
from pathlib import Path

from harness.provider_standin import STANDIN_VERSIONS

REPO_ROOT = Path(__file__).resolve().parents[2]
_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def terraform_platform() -> str:
    return f"{platform.system().lower()}_{_ARCH.get(platform.machine().lower(), platform.machine().lower())}"


def install(mirror: Path, python: str = sys.executable) -> Path:
    """Write (idempotently, atomically: parallel test workers call this) every stand-in into `mirror`."""
    if importlib.util.find_spec("tf") is None:
        raise RuntimeError("the provider stand-in needs the PyPI package `tf` (pinned in requirements/dev.txt): "
                           "run `make tools` and use .venv/bin/python")
    for name, version in STANDIN_VERSIONS.items():
        directory = mirror / "registry.terraform.io" / "hashicorp" / name / version / terraform_platform()
        directory.mkdir(parents=True, exist_ok=True)
        executable = directory / f"terraform-provider-{name}_v{version}"
        script = ("#!/bin/sh\n"
                  f"# STAND-IN for hashicorp/{name} {version}: validates against its schema, never plans or applies.\n"
                  f"PYTHONPATH={shlex.quote(str(REPO_ROOT))} exec {shlex.quote(python)} "
                  f"-m harness.provider_standin.server {name} \"$@\"\n")
        if executable.exists() and executable.read_text() == script:
            continue
        staging = executable.with_name(f".{executable.name}.{os.getpid()}")
        staging.write_text(script)
        staging.chmod(0o755)
        os.replace(staging, executable)
    return mirror
