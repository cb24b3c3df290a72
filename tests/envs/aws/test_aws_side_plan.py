"""envs/aws without its Helm release, planned on moto: what the environment asks of AWS, for real.

The AWS side alone, in a plan: the whole root is applied onto the single-node cluster by
tests/e2e/test_kubernetes_environments.py, but there moto's missing APIs (access entries, add-ons, pod identity)
are shimmed away, so what the environment asks of them is read here. The test copies envs/aws and the modules it
calls, removes what needs helm (the helm provider block, the `app` module call and the outputs that read it, the helm
requirement) and the S3 backend, and plans the rest with the real AWS provider against moto. What is
left is everything the environment creates in AWS, with its own inputs and wiring: who gets cluster
access, the API endpoint's exception, the environment name the bucket sees, the add-on the HPA needs.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from harness import processes
from tests.hcl import load, unquote
from tests.node_sizing import assert_fits_a_rollout

REPO = processes.REPO_ROOT
INPUTS = Path(__file__).parent / "fixtures" / "side_plan.tfvars"
ROLES = unquote(load(INPUTS))
APPLY_ROLE, PLAN_ROLE = ROLES["cluster_admin_role_arns"]["apply"], ROLES["cluster_viewer_role_arns"]["plan"]
EMULATOR = Path(__file__).parent / "fixtures" / "emulator.tf"  # the provider on moto, and one derived output


def _drop_block(text: str, header: str) -> str:
    """Remove one top-level block (`module "app" {...}`) by matching its braces."""
    start = text.index(header)
    depth, index = 0, text.index("{", start)
    while True:
        depth += {"{": 1, "}": -1}.get(text[index], 0)
        index += 1
        if depth == 0:
            return text[:start] + text[index:]


def test_envs_aws_plans_explicit_access_the_internet_exception_and_metrics_server(terraform_copy, aws_env):
    # The copy brings the modules envs/aws calls along, laid out as in the checkout.
    tf = terraform_copy(REPO / "envs" / "aws", emulator=False, env=aws_env, name="envs-aws", init=False)
    root = Path(tf.tfdir)
    (root / "providers.tf").unlink()
    (root / "main.tf").write_text(_drop_block((root / "main.tf").read_text(), 'module "app" {'))
    outputs = re.split(r'(?=^output ")', (root / "outputs.tf").read_text(), flags=re.M)
    (root / "outputs.tf").write_text("".join(block for block in outputs if "module.app" not in block))
    versions = (root / "versions.tf").read_text()
    versions = _drop_block(versions.replace('backend "s3" {}', ""), "helm = {")
    (root / "versions.tf").write_text(versions)
    shutil.copy(EMULATOR, root)
    shutil.copy(INPUTS, root / "side_plan.auto.tfvars")
    tf.env["TF_VAR_upload_token"] = "not-a-real-token"
    tf.setup(cleanup_on_exit=False)
    tf.execute_command("plan", "-input=false", "-no-color", "-out=aws.tfplan")
    plan = json.loads(tf.execute_command("show", "-json", "aws.tfplan").out)
    changes = {change["address"]: change["change"]["after"] for change in plan["resource_changes"]}

    # Access: exactly the two roles, admin and read-only; not the identity that planned.
    entries = sorted(after["principal_arn"] for address, after in changes.items() if ".aws_eks_access_entry." in address)
    assert entries == [APPLY_ROLE, PLAN_ROLE]

    # The reviewed exception reaches the module together with its CIDR, and the module accepts it.
    vpc = changes["module.eks.aws_eks_cluster.this"]["vpc_config"][0]
    assert (vpc["endpoint_public_access"], vpc["public_access_cidrs"]) == (True, ["0.0.0.0/0"])

    # One environment name: the bucket treats it as production (lifecycle rules, no force_destroy).
    assert changes["module.staging_bucket.aws_s3_bucket.this"]["force_destroy"] is False
    assert "module.staging_bucket.aws_s3_bucket_lifecycle_configuration.this" in changes

    # The default nodes, at their minimum, hold a rolling update of the release (the sizing rule).
    group = changes['module.eks.aws_eks_node_group.this["default"]']
    assert_fits_a_rollout(group["instance_types"][0], group["scaling_config"][0]["min_size"])

    # The HPA is switched on because the cluster gets metrics-server.
    assert 'module.eks.aws_eks_addon.this["metrics-server"]' in changes
    assert plan["planned_values"]["outputs"]["autoscaling_enabled"]["value"] is True
