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


def assert_single_variable_rules(terraform_copy, directory: Path, module: Path, cases: dict, valid: dict) -> None:
    """`terraform validate` of one root calling `module` once per case: each bad input draws its message."""
    root = write_cases_root(directory, module, {**{name: inputs for name, (inputs, _) in cases.items()}, **valid})
    tf = terraform_copy(root, name="validate")

    errors = refused(lambda: tf.execute_command("validate", "-no-color"))

    for case, (_, expected) in cases.items():
        assert any(expected in error for error in errors.get(case, [])), f"{case}: expected {expected!r}, got {errors}"
        assert all(error.startswith("Invalid value for variable") for error in errors[case]), errors[case]
    assert not set(valid) & set(errors), errors


def assert_cross_variable_rules(terraform_copy, directory: Path, module: Path, cases: dict, valid: dict) -> None:
    """A plan of one root calling `module` once per case: rules comparing variables run only at plan time."""
    root = write_cases_root(directory, module, {**{name: inputs for name, (inputs, _) in cases.items()}, **valid})
    tf = terraform_copy(root, name="plan")

    errors = refused(lambda: tf.plan(refresh=False))

    for case, (_, expected) in cases.items():
        # A rule on one variable that reads another is reported against the module call or without one.
        messages = errors.get(case, []) + errors.get("", [])
        assert any(expected in message for message in messages), f"{case}: expected {expected!r}, got {errors}"
    assert not set(valid) & set(errors), errors
