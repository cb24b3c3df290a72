"""Bad inputs refused with their messages: shared pieces of the modules' input-validation tests.

Each such test has a checked-in root (tests/modules/<module>/fixtures/*_rules/main.tf) calling the real module
once per case, plus the valid calls (fixtures/valid_calls.tf), so one Terraform run checks every case (a run
costs seconds of provider start-up), and matches Terraform's own error output, as an engineer reads it in a
terminal. The test names, per case (the module call's label), the message it must draw.
"""

from __future__ import annotations

import re
from pathlib import Path

import hcl2
import pytest
import tftest


def module_calls(*files: Path) -> set[str]:
    """The labels of the `module` blocks in `files`."""
    labels = set()
    for path in files:
        with path.open() as handle:
            labels |= {label.strip('"') for block in hcl2.load(handle).get("module", []) for label in block}
    return labels


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


def _cases_root(terraform_copy, fixtures: Path, kind: str, expected: dict[str, str], name: str):
    """fixtures/<kind>/ copied with fixtures/valid_calls.tf beside it; its every call is a case the test expects."""
    root, valid_calls = fixtures / kind, fixtures / "valid_calls.tf"
    calls, valid = module_calls(root / "main.tf"), module_calls(valid_calls)
    assert calls == set(expected), f"{root}/main.tf calls {sorted(calls)}, the test expects messages for {sorted(expected)}"
    return terraform_copy(root, name=name, extra_files=(valid_calls,)), valid


def assert_single_variable_rules(terraform_copy, fixtures: Path, expected: dict[str, str]) -> None:
    """`terraform validate` of fixtures/single_variable_rules (one call per case): each bad input draws its message,
    the valid calls none."""
    tf, valid = _cases_root(terraform_copy, fixtures, "single_variable_rules", expected, "validate")

    errors = refused(lambda: tf.execute_command("validate", "-no-color"))

    for case, message in expected.items():
        assert any(message in error for error in errors.get(case, [])), f"{case}: expected {message!r}, got {errors}"
        assert all(error.startswith("Invalid value for variable") for error in errors[case]), errors[case]
    assert not valid & set(errors), errors


def assert_cross_variable_rules(terraform_copy, fixtures: Path, expected: dict[str, str]) -> None:
    """A plan of fixtures/cross_variable_rules (one call per case): rules comparing variables run only at plan time."""
    tf, valid = _cases_root(terraform_copy, fixtures, "cross_variable_rules", expected, "plan")

    errors = refused(lambda: tf.plan(refresh=False))

    for case, message in expected.items():
        # A rule on one variable that reads another is reported against the module call or without one.
        messages = errors.get(case, []) + errors.get("", [])
        assert any(message in text for text in messages), f"{case}: expected {message!r}, got {errors}"
    assert not valid & set(errors), errors
