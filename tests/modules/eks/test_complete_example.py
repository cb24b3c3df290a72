"""modules/eks/examples/complete, planned on moto: the service's cluster as a consumer writes it.

What the example adds to the module's defaults: an admin role for the deploying identity (explicit,
never the caller), a namespace-scoped read-only entry, and the Pod Identity association that binds the
service account to the staging bucket's role created in the same apply. Access entries and Pod
Identity are not implemented by moto, so the plan is read.
"""

from __future__ import annotations

import json

from harness import processes
from tests.modules.eks.conftest import created, planned_changes

REPO = processes.REPO_ROOT
# The example's own provider block stays; this override points it at moto.
PROVIDER_OVERRIDE = REPO / "tests" / "fixtures" / "emulator_provider_override.tf"


def test_example_plans_explicit_admins_scoped_viewers_and_the_service_pod_identity(terraform_copy, aws_env):
    # The example refers to ../../ and ../../../s3-staging: the copy brings both along, laid out as here.
    tf = terraform_copy(REPO / "modules" / "eks" / "examples" / "complete", emulator=False,
                        extra_files=(PROVIDER_OVERRIDE,), env=aws_env, name="eks-complete-example")
    deployer_arn = "arn:aws:iam::123456789012:role/platform-deployer"
    tf.execute_command("plan", "-input=false", "-no-color", "-out=test.tfplan", f"-var=cluster_admin_role_arn={deployer_arn}")
    changes = planned_changes(json.loads(tf.execute_command("show", "-json", "test.tfplan").out))

    deployer = created(changes, 'module.eks.aws_eks_access_entry.this["admin-deployer"]')
    assert (deployer["principal_arn"], deployer["type"]) == (deployer_arn, "STANDARD")
    entries = [c["change"]["after"].get("principal_arn") for c in changes.values() if c["type"] == "aws_eks_access_entry"]
    assert len(entries) == 2  # the deployer and the operators, nobody else
    admin = created(changes, 'module.eks.aws_eks_access_policy_association.this["admin-deployer/admin"]')
    assert admin["policy_arn"] == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
    view = created(changes, 'module.eks.aws_eks_access_policy_association.this["operators/view"]')
    assert view["policy_arn"] == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
    assert view["access_scope"] == [{"type": "namespace", "namespaces": ["mirror"]}]
    assert not any("cluster_creator" in address for address in changes)

    association = created(changes, 'module.eks.aws_eks_pod_identity_association.this["mirror-service"]')
    assert (association["namespace"], association["service_account"]) == ("mirror", "mirror-service")
    assert changes['module.eks.aws_eks_pod_identity_association.this["mirror-service"]']["change"]["after_unknown"][
        "role_arn"] is True  # the staging bucket's service role, created in the same apply
    role = created(changes, "module.staging_bucket.aws_iam_role.service[0]")
    assert '"pods.eks.amazonaws.com"' in role["assume_role_policy"]

    group = created(changes, 'module.eks.aws_eks_node_group.this["default"]')
    assert group["scaling_config"] == [{"min_size": 1, "max_size": 3, "desired_size": 2}]
    assert (group["ami_type"], group["version"]) == ("AL2023_x86_64_STANDARD", "1.35")
