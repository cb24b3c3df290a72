"""modules/eks: applied on moto where moto can, planned where it cannot.

moto implements EKS clusters and node groups, IAM, KMS, CloudWatch Logs and OIDC providers, so the
apply test (tests/modules/roots/eks, in the background) creates all of those for real and reads them
back through boto3. EKS add-ons, access entries, access-policy associations, pod identity
associations and the cluster's access_config / upgrade_policy are not implemented by moto (404s, or
fields it neither stores nor returns); the plan test asserts them value by value on the complete
example instead.
"""

from __future__ import annotations

import pytest

from tests.modules.support import Root, assert_second_plan_empty, planned_resources, policy_statements, workspace

ALL_LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
AWS_POLICY = "arn:aws:iam::aws:policy/"


def test_module_applies_cluster_nodes_roles_key_and_logs(eks_apply_run, record_property):
    observed = eks_apply_run.get()
    record_property("apply_seconds", observed["apply_seconds"])
    record_property("destroy_seconds", observed["destroy_seconds"])
    name, module = observed["cluster_name"], observed["outputs"]["eks"]
    cluster = observed["cluster"]

    # The outputs a kubernetes/helm provider configuration needs, and the identity outputs.
    assert module["cluster_name"] == name
    assert module["cluster_endpoint"] == cluster["endpoint"]
    assert module["cluster_certificate_authority_data"] == cluster["certificateAuthority"]["data"]
    assert module["cluster_arn"] == cluster["arn"]
    assert module["cluster_version"] == "1.33"
    assert module["cluster_oidc_issuer_url"] == cluster["identity"]["oidc"]["issuer"]
    assert module["oidc_provider_arn"].endswith(cluster["identity"]["oidc"]["issuer"].removeprefix("https://"))
    assert "cluster_security_group_id" in module
    assert module["addon_names"] == [] and module["access_entry_principal_arns"] == {}

    # Cluster: version, role, secrets encryption with the module's key, all log types, private endpoint.
    assert cluster["version"] == "1.33"
    assert cluster["roleArn"] == module["cluster_iam_role_arn"]
    assert cluster["encryptionConfig"] == [{"resources": ["secrets"], "provider": {"keyArn": module["kms_key_arn"]}}]
    enabled = sorted(t for setup in cluster["logging"]["clusterLogging"] if setup["enabled"] for t in setup["types"])
    assert enabled == sorted(ALL_LOG_TYPES)
    vpc = cluster["resourcesVpcConfig"]
    assert vpc["endpointPrivateAccess"] is True
    assert vpc["endpointPublicAccess"] is False
    assert sorted(vpc["subnetIds"]) == sorted(observed["outputs"]["subnet_ids"])
    assert cluster["tags"] == {"suite": "tests/modules"}

    # Managed node group: sizes, instance type, AL2023, capacity type, node role, labels.
    group = observed["node_groups"]["workers"]
    assert group["scalingConfig"] == {"minSize": 1, "maxSize": 4, "desiredSize": 2}
    assert group["instanceTypes"] == ["m6i.large"]
    assert group["amiType"] == "AL2023_x86_64_STANDARD"
    assert group["capacityType"] == "ON_DEMAND"
    assert group["nodeRole"] == module["node_iam_role_arn"]
    assert group["labels"] == {"role": "workers"}
    assert group["version"] == "1.33"
    assert module["node_groups"]["workers"]["min_size"] == 1 and module["node_groups"]["workers"]["max_size"] == 4

    # IAM: who may assume the roles, and what they carry.
    cluster_role = observed["cluster_role"]
    trust = cluster_role["trust"]["Statement"][0]
    assert trust["Principal"] == {"Service": "eks.amazonaws.com"}
    assert sorted(trust["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    assert cluster_role["attached_policies"] == [AWS_POLICY + "AmazonEKSClusterPolicy"]
    encryption = policy_statements(cluster_role["inline_policies"]["secrets-encryption"])["EnvelopeEncryptSecrets"]
    assert encryption["Resource"] == module["kms_key_arn"]
    assert sorted(encryption["Action"]) == ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:ListGrants"]
    node_role = observed["node_role"]
    assert node_role["trust"]["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    assert node_role["attached_policies"] == sorted(
        AWS_POLICY + name for name in ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly",
                                       "AmazonEKS_CNI_Policy")
    )

    # KMS: enabled, rotating, aliased; the key policy delegates to IAM and lets CloudWatch Logs use the
    # key for this cluster's log group only.
    assert observed["kms_key"]["KeyState"] == "Enabled"
    assert observed["kms_rotation"] is True
    assert f"alias/eks/{name}" in observed["kms_aliases"]
    key_policy = policy_statements(observed["kms_policy"])
    assert key_policy["AccountAdministersKeyThroughIam"]["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    logs = key_policy["CloudWatchLogsEncryptsThisClusterLogGroup"]
    assert logs["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}
    assert logs["Condition"] == {"ArnEquals": {
        "kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:us-east-1:123456789012:log-group:/aws/eks/{name}/cluster"
    }}

    # Control-plane log group: created by the module, with retention and the key.
    assert observed["log_group"]["logGroupName"] == f"/aws/eks/{name}/cluster"
    assert observed["log_group"]["retentionInDays"] == 90
    assert observed["log_group"]["kmsKeyId"] == module["kms_key_arn"]

    # IRSA: the OIDC provider trusts the cluster's issuer for STS.
    assert observed["oidc_provider"]["ClientIDList"] == ["sts.amazonaws.com"]

    assert_second_plan_empty(observed["second_plan"])
    assert observed["after_destroy"] == {
        "cluster_exists": False, "cluster_role_exists": False, "node_role_exists": False,
        "kms_key_state": "PendingDeletion", "log_group_exists": False, "oidc_provider_exists": False,
    }


# ----------------------------------------------------------------------------------------------------
# What moto cannot create, verified by plan (the complete example: default add-ons, access entries,
# the Pod Identity association of the service, API authentication, standard support policy)
# ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def example_plan(tmp_path_factory, aws_env) -> dict:
    ws = workspace(tmp_path_factory.mktemp("eks-example"), ["modules/eks", "modules/s3-staging"])
    root = Root(ws / "modules/eks/examples/complete", aws_env, provider="override").init()
    return root.plan_json()


@pytest.fixture(scope="module")
def planned(example_plan) -> dict[str, dict]:
    return {change["address"]: change for change in example_plan["resource_changes"]}


def after(planned: dict, address: str) -> dict:
    assert address in planned, f"{address} is not planned; planned: {sorted(planned)}"
    assert planned[address]["change"]["actions"] == ["create"], planned[address]["change"]["actions"]
    return planned[address]["change"]["after"]


def test_example_plans_api_authentication_and_standard_support(planned):
    cluster = after(planned, "module.eks.aws_eks_cluster.this")
    assert cluster["access_config"] == [{"authentication_mode": "API", "bootstrap_cluster_creator_admin_permissions": False}]
    assert cluster["upgrade_policy"] == [{"support_type": "STANDARD"}]
    assert cluster["version"] == "1.33"
    assert sorted(cluster["enabled_cluster_log_types"]) == sorted(ALL_LOG_TYPES)
    assert cluster["vpc_config"][0]["endpoint_private_access"] is True
    assert cluster["vpc_config"][0]["endpoint_public_access"] is False
    assert cluster["encryption_config"][0]["resources"] == ["secrets"]
    assert after(planned, "module.eks.aws_kms_key.this[0]")["enable_key_rotation"] is True
    assert after(planned, "module.eks.aws_cloudwatch_log_group.this")["retention_in_days"] == 365
    assert "module.eks.aws_iam_openid_connect_provider.this[0]" not in planned  # enable_irsa defaults to false


def test_example_plans_default_addons_around_the_node_group(planned, example_plan):
    before = {a.split('"')[1] for a in planned if a.startswith("module.eks.aws_eks_addon.before_compute[")}
    later = {a.split('"')[1] for a in planned if a.startswith("module.eks.aws_eks_addon.this[")}
    assert before == {"vpc-cni", "kube-proxy", "eks-pod-identity-agent"}
    assert later == {"coredns"}
    for name in before:
        addon = after(planned, f'module.eks.aws_eks_addon.before_compute["{name}"]')
        assert addon["addon_name"] == name
        assert addon["resolve_conflicts_on_create"] == "OVERWRITE"
        assert addon["resolve_conflicts_on_update"] == "OVERWRITE"
    assert after(planned, 'module.eks.aws_eks_addon.this["coredns"]')["addon_name"] == "coredns"

    # Ordering, from the configuration: nodes wait for networking and the Pod Identity agent; CoreDNS
    # waits for nodes.
    resources = {r["address"]: r for r in
                 example_plan["configuration"]["root_module"]["module_calls"]["eks"]["module"]["resources"]}
    assert "aws_eks_addon.before_compute" in resources["aws_eks_node_group.this"]["depends_on"]
    assert "aws_eks_node_group.this" in resources["aws_eks_addon.this"]["depends_on"]
    assert "aws_eks_addon.before_compute" in resources["aws_eks_pod_identity_association.this"]["depends_on"]


def test_example_plans_access_entries_and_policy_associations(planned, aws_client):
    operators = after(planned, 'module.eks.aws_eks_access_entry.this["operators"]')
    assert operators["type"] == "STANDARD"
    creator = after(planned, 'module.eks.aws_eks_access_entry.this["cluster_creator"]')
    # The identity running Terraform, as a normal access entry (an IAM user here, so the session context
    # resolves to the caller's own ARN; an assumed-role session would resolve to its role's ARN).
    caller = aws_client("sts").get_caller_identity()["Arn"]
    assert creator["principal_arn"] == caller

    view = after(planned, 'module.eks.aws_eks_access_policy_association.this["operators/view"]')
    assert view["policy_arn"] == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
    assert view["access_scope"] == [{"type": "namespace", "namespaces": ["mirror"]}]
    admin = after(planned, 'module.eks.aws_eks_access_policy_association.this["cluster_creator/admin"]')
    assert admin["policy_arn"] == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
    assert admin["principal_arn"] == caller
    assert admin["access_scope"] == [{"type": "cluster", "namespaces": None}]


def test_example_plans_the_pod_identity_association_of_the_service(planned):
    address = 'module.eks.aws_eks_pod_identity_association.this["mirror-service"]'
    association = after(planned, address)
    assert association["namespace"] == "mirror"
    assert association["service_account"] == "mirror-service"
    # The staging bucket's service role, created in the same apply.
    assert planned[address]["change"]["after_unknown"]["role_arn"] is True
    role = after(planned, "module.staging_bucket.aws_iam_role.service[0]")
    assert '"pods.eks.amazonaws.com"' in role["assume_role_policy"]


def test_example_plans_the_node_group(example_plan):
    group = planned_resources(example_plan)['module.eks.aws_eks_node_group.this["default"]']
    assert group["scaling_config"] == [{"min_size": 1, "max_size": 3, "desired_size": 2}]
    assert group["ami_type"] == "AL2023_x86_64_STANDARD"
    assert group["capacity_type"] == "ON_DEMAND"
    assert group["instance_types"] == ["t3.large"]
    assert group["version"] == "1.33"
