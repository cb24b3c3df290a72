"""Bad inputs refused with their messages: shared pieces of the modules' input-validation tests.

Each such test calls the real module once per case from one generated root, so one Terraform run checks
every case (a run costs seconds of provider start-up), and matches Terraform's own error output, as an
engineer reads it in a terminal.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import tftest


def write_cases_root(directory: Path, module: Path, cases: dict[str, dict]) -> Path:
    """A root calling `module` once per case (`module "<case>" { ...inputs }`); JSON literals are HCL."""
    directory.mkdir()
    source = os.path.relpath(module, directory)
    blocks = []
    for name, inputs in cases.items():
        lines = [f'module "{name}" {{', f'  source = "{source}"']
        lines += [f"  {key} = {json.dumps(value)}" for key, value in inputs.items()]
        blocks.append("\n".join(lines) + "\n}\n")
    (directory / "main.tf").write_text("\n".join(blocks))
    return directory


def errors_by_case(output: str) -> dict[str, list[str]]:
    """Terraform's error blocks grouped by the module call they name ("" when they name none)."""
    text = " ".join(output.replace("│", " ").replace("╷", " ").replace("╵", " ").split())
    grouped: dict[str, list[str]] = {}
    for block in text.split("Error: ")[1:]:
        called = re.search(r'in module "([^"]+)"', block)
        grouped.setdefault(called.group(1) if called else "", []).append(block)
    return grouped


def refused(run) -> dict[str, list[str]]:
    """Run a Terraform command that must fail; its errors by case."""
    with pytest.raises(tftest.TerraformTestError) as failure:
        run()
    return errors_by_case(failure.value.cmd_error)
