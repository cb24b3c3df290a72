"""A fixture that says it mirrors an environment's module call is held to that call, read with python-hcl2.

A fixture file whose first line is `# mirrors: envs/<name>/main.tf module "<call>"` (fixtures/local.tf,
fixtures/aws.tf: what test_terraform_to_chart.py applies as "what envs/local and envs/aws hand the module")
must agree with that call in the environment's main.tf:

- every argument the environment sets to a literal, directly or through one of its `locals`, is in the fixture
  with the same value (issue #20: the fixture said 192Mi where envs/local says 128Mi);
- the fixture sets no argument the environment does not set (it had a DEBUG log level and a NetworkPolicy
  envs/local does not set, and trusted forwarders envs/aws leaves untrusted);
- the fixture's own values are literals, except the secrets, which it passes from root variables as the
  environments do.

Where the environment passes one of its variables or a computed value (`var.image_tag`, `merge(...)`, a
conditional), the fixture may hold any value: that is the environment's input, and its header says which it took.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.paths import REPO_ROOT
from tests.hcl import load, module_call, unquote

MIRROR_LINE = re.compile(r'\A# mirrors: (?P<path>\S+) module "(?P<call>[^"]+)"\n')
# Meta-arguments and what the fixture root passes from its own sensitive variables, as the environments do.
NOT_INPUTS = {"source", "depends_on", "providers", "count", "for_each", "version"}
SECRETS = {"upload_token", "s3_access_key_id", "s3_secret_access_key", "image_pull_credentials"}


def _mirrors() -> list[Path]:
    return sorted(path for path in (REPO_ROOT / "tests").rglob("fixtures/**/*.tf") if MIRROR_LINE.match(path.read_text()))


def _is_expression(value) -> bool:
    """Anything python-hcl2 gives as `${...}`, anywhere inside the value: not a literal."""
    if isinstance(value, str):
        return "${" in value
    if isinstance(value, list):
        return any(_is_expression(item) for item in value)
    if isinstance(value, dict):
        return any(_is_expression(item) for item in value.values())
    return False


def _literal(value, local_values: dict):
    """The value as a Python literal, following `local.x` references; None when it is not a literal."""
    reference = re.fullmatch(r"\$\{local\.(\w+)\}", value) if isinstance(value, str) else None
    if reference:
        return _literal(local_values[reference.group(1)], local_values) if reference.group(1) in local_values else None
    return None if _is_expression(value) else unquote(value)


def test_the_fixtures_that_mirror_an_environment_are_found():
    """Discovery must not lose one: the two test_terraform_to_chart.py applies as envs/local and envs/aws."""
    found = {path.relative_to(REPO_ROOT).as_posix() for path in _mirrors()}
    assert {"tests/modules/kubernetes_app/fixtures/local.tf", "tests/modules/kubernetes_app/fixtures/aws.tf"} <= found


@pytest.mark.parametrize("fixture", _mirrors(), ids=lambda path: path.relative_to(REPO_ROOT).as_posix())
def test_fixture_sets_what_the_environment_sets_with_its_literal_values(fixture):
    claim = MIRROR_LINE.match(fixture.read_text())
    environment = load(REPO_ROOT / claim["path"])
    local_values = {key: value for block in environment.get("locals", []) for key, value in block.items()}
    expected = module_call(environment, claim["call"])
    mirrored = module_call(load(fixture), claim["call"])

    inputs = set(expected) - NOT_INPUTS
    assert set(mirrored) - NOT_INPUTS - inputs == set(), f"{fixture.name} sets inputs {claim['path']} does not set"
    literals = {name: _literal(expected[name], local_values) for name in inputs}
    literals = {name: value for name, value in literals.items() if value is not None}
    assert literals, f"no literal argument found in {claim['path']}: the check would check nothing"
    assert {name: unquote(mirrored.get(name)) for name in literals} == literals, (
        f"{fixture.name} differs from the literal arguments of {claim['path']}'s module \"{claim['call']}\"")

    for name in set(mirrored) - NOT_INPUTS:
        if name in SECRETS:
            assert mirrored[name] == f"${{var.{name}}}", f"{fixture.name}: {name} from a sensitive root variable"
        else:
            assert not _is_expression(mirrored[name]), f"{fixture.name}: {name} is not a literal"
