"""How envs/aws wires its modules together, read from the configuration with python-hcl2.

A static check, because envs/aws cannot be planned here (helm provider, cluster): it asserts that the
values the plan-level tests verify in the modules actually reach them from this root. The types and
references themselves are checked by `terraform validate` against the providers' schemas
(tests/envs/test_validate.py); the module behaviour by tests/modules/eks and tests/envs/aws/test_inputs.py.
"""

from __future__ import annotations

import re

import hcl2

from harness import processes

ENV = processes.REPO_ROOT / "envs" / "aws"


def _calls() -> dict[str, dict]:
    with (ENV / "main.tf").open() as handle:
        config = hcl2.load(handle)
    return {name.strip('"'): body for block in config["module"] for name, body in block.items()}


def _expression(value) -> str:
    return re.sub(r"\s+", " ", str(value))


def test_cluster_access_goes_to_the_given_roles_and_never_to_the_caller():
    eks = _calls()["eks"]
    assert _expression(eks["cluster_admin_role_arns"]) == "${var.cluster_admin_role_arns}"
    assert _expression(eks["cluster_viewer_role_arns"]) == "${var.cluster_viewer_role_arns}"
    assert "enable_cluster_creator_admin_permissions" not in eks
    assert "caller_identity" not in _expression(eks)


def test_the_internet_exception_reaches_the_module_together_with_its_cidr():
    eks = _calls()["eks"]
    assert _expression(eks["endpoint_public_access_allow_internet"]) == "${var.endpoint_public_access_from_anywhere}"
    assert _expression(eks["endpoint_public_access_cidrs"]) == "${local.endpoint_public_access_cidrs}"


def test_autoscaling_is_on_only_with_metrics_server_and_the_ingress_is_built_here():
    app = _calls()["app"]
    assert 'contains(module.eks.addon_names, "metrics-server")' in _expression(app["autoscaling"])
    assert _expression(app["ingress"]) == "${local.ingress}"
    assert 'variable "ingress"' not in (ENV / "variables.tf").read_text(), "a copy of kubernetes-app's ingress type"


def test_environment_means_one_thing_in_every_module():
    calls = _calls()
    assert _expression(calls["staging_bucket"]["environment"]) == _expression(calls["app"]["environment"]) == (
        "${local.environment}")
