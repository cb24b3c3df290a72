"""The Kubernetes version: the default is in EKS standard support, and an AWS-side upgrade never turns
into a planned downgrade (issue #11).

Dates: the module's `end_of_standard_support` map, transcribed from the Amazon EKS Kubernetes release
calendar (docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html#kubernetes-release-calendar:
1.34 ended 2026-12-02, 1.35 ends 2027-03-27).

Downgrade: with upgrade_support_type = STANDARD, EKS upgrades a control plane by itself when its
version leaves standard support. The next refresh reads the new version, and the AWS provider plans
UpdateClusterVersion back to the configured one (hashicorp/terraform-provider-aws,
internal/service/eks/cluster.go, resourceClusterUpdate: `if d.HasChange("version")` sends the
configured version, with no downgrade guard), which EKS refuses in the middle of an apply. moto has no
UpdateClusterVersion, so the test creates the cluster at the newer version with boto3 and imports it
into the module's state, which is exactly the state a refresh after the upgrade produces.
"""

from __future__ import annotations

import datetime

import pytest

from tests.modules.eks.conftest import FIXTURES, PLAN_SUBNETS, eks_client, failed_plan, plan_json

pytestmark = pytest.mark.slow

IMPORT_UPGRADED_CLUSTER = FIXTURES / "import_upgraded_cluster.tf"  # import { id = var.cluster_name }


def test_default_version_is_in_standard_support_today(eks_module, cluster_name):
    tf = eks_module("plan", cluster_name=cluster_name)
    plan = plan_json(tf)

    cluster = next(c for c in plan["resource_changes"] if c["address"] == "aws_eks_cluster.this")["change"]["after"]
    assert cluster["upgrade_policy"] == [{"support_type": "STANDARD"}]
    end = plan["planned_values"]["outputs"]["kubernetes_version_end_of_standard_support"]["value"]
    assert end is not None, f"the module has no end-of-support date for its default {cluster['version']}"
    # Fails the day the default leaves standard support: move the default (and its date) then.
    assert datetime.date.fromisoformat(end) > datetime.datetime.now(datetime.UTC).date(), (
        f"Kubernetes {cluster['version']} left EKS standard support on {end}: move modules/eks's default")
    # The module's own check agrees: no warning on the default.
    check = next(c for c in plan.get("checks", []) if c["address"]["name"] == "kubernetes_version_in_standard_support")
    assert check["status"] == "pass", check


def test_a_version_past_standard_support_draws_a_warning_that_says_what_to_do(eks_module, cluster_name):
    tf = eks_module("plan", cluster_name=cluster_name, kubernetes_version="1.33")
    result = tf.execute_command("plan", "-input=false", "-no-color")
    warning = " ".join(result.out.split())
    assert "Kubernetes 1.33 left EKS standard support on 2026-07-29" in warning
    assert "upgrade kubernetes_version one minor version at a time" in warning


@pytest.fixture
def cluster_upgraded_by_aws(cluster_name, aws_session, moto):
    """A cluster EKS has moved to 1.36 behind Terraform's back (created directly; moto cannot upgrade)."""
    eks = eks_client(aws_session, moto)
    eks.create_cluster(name=cluster_name, version="1.36", roleArn="arn:aws:iam::123456789012:role/eks-cluster",
                       resourcesVpcConfig={"subnetIds": PLAN_SUBNETS})
    yield cluster_name
    eks.delete_cluster(name=cluster_name)


def test_plan_stops_before_downgrading_a_cluster_eks_upgraded(cluster_upgraded_by_aws, eks_module):
    tf = eks_module("plan", cluster_name=cluster_upgraded_by_aws, kubernetes_version="1.35",
                    extra_files=(IMPORT_UPGRADED_CLUSTER,))

    error = failed_plan(tf)
    assert f"The cluster {cluster_upgraded_by_aws} already runs Kubernetes 1.36" in error
    assert "EKS cannot downgrade it: set kubernetes_version = \"1.36\"" in error


def test_the_running_version_plans_no_version_change(cluster_upgraded_by_aws, eks_module):
    """The way out the error names: set the version the cluster runs, and the plan leaves it alone."""
    tf = eks_module("plan", cluster_name=cluster_upgraded_by_aws, kubernetes_version="1.36",
                    extra_files=(IMPORT_UPGRADED_CLUSTER,))
    cluster = next(c for c in plan_json(tf)["resource_changes"] if c["address"] == "aws_eks_cluster.this")["change"]
    assert cluster["before"]["version"] == cluster["after"]["version"] == "1.36"
