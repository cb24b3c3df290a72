"""How envs/aws wires the Helm release, read from the configuration with python-hcl2.

A static check of the one call that cannot be planned here (the `app` module needs the helm provider
and a cluster): the values the plan-level tests verify (test_inputs.py, test_aws_side_plan.py) are the
ones that reach the release. The types and
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


def test_autoscaling_is_on_only_with_metrics_server_and_the_ingress_is_built_here():
    app = _calls()["app"]
    assert 'contains(module.eks.addon_names, "metrics-server")' in _expression(app["autoscaling"])
    assert _expression(app["ingress"]) == "${local.ingress}"
    assert 'variable "ingress"' not in (ENV / "variables.tf").read_text(), "a copy of kubernetes-app's ingress type"


def test_environment_means_one_thing_in_the_bucket_and_the_release():
    calls = _calls()
    assert _expression(calls["staging_bucket"]["environment"]) == _expression(calls["app"]["environment"]) == (
        "${local.environment}")
