"""modules/eks applied on moto: cluster, node group, IAM roles, KMS key, log group and OIDC provider.

moto implements those, so they are created for real and read back through boto3; a second plan must
be empty, and destroy (the `terraform_copy` fixture's teardown, also when an assertion failed) must
leave nothing. What moto does not implement (add-ons, access entries, pod identity, access_config,
upgrade_policy) is switched off by tests/modules/eks/fixtures/moto_apply_override.tf and asserted in
the plan tests next to this one.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.modules.eks.conftest import ACCOUNT, eks_client

pytestmark = pytest.mark.slow

ALL_LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
AWS_POLICY = "arn:aws:iam::aws:policy/"


def _statements(document) -> dict[str, dict]:
    parsed = json.loads(document) if isinstance(document, str) else document
    return {statement.get("Sid", str(index)): statement for index, statement in enumerate(parsed["Statement"])}


def _role(iam, name: str) -> dict:
    return {
        "trust": iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"],
        "inline": {policy: iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]
                   for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]},
        "attached": sorted(p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]),
    }


def _role_exists(iam, name: str) -> bool:
    return any(role["RoleName"] == name for role in iam.list_roles()["Roles"])


def test_module_applies_cluster_nodes_roles_key_and_logs(cluster_network, eks_module, cluster_name, aws_client,
                                                         aws_session, moto):
    # Apply: what moto implements, with every setting a test can read back (fixtures/apply.tfvars).
    tf = eks_module("apply", cluster_name=cluster_name, subnet_ids=cluster_network["subnet_ids"], apply_shims=True)
    tf.apply()
    module = tf.output()
    eks, iam, kms, logs = (eks_client(aws_session, moto), aws_client("iam"), aws_client("kms"), aws_client("logs"))
    cluster = eks.describe_cluster(name=cluster_name)["cluster"]

    # The outputs a kubernetes/helm provider configuration needs, and the identity outputs.
    assert module["cluster_name"] == cluster_name
    assert module["cluster_endpoint"] == cluster["endpoint"]
    assert module["cluster_certificate_authority_data"] == cluster["certificateAuthority"]["data"]
    assert module["cluster_arn"] == cluster["arn"]
    assert module["cluster_version"] == cluster["version"] == "1.35"
    assert module["cluster_oidc_issuer_url"] == cluster["identity"]["oidc"]["issuer"]
    assert module["oidc_provider_arn"].endswith(cluster["identity"]["oidc"]["issuer"].removeprefix("https://"))

    # Cluster: role, secrets encryption with the module's key, all log types, private endpoint only.
    assert cluster["roleArn"] == module["cluster_iam_role_arn"]
    assert cluster["encryptionConfig"] == [{"resources": ["secrets"], "provider": {"keyArn": module["kms_key_arn"]}}]
    enabled = sorted(t for setup in cluster["logging"]["clusterLogging"] if setup["enabled"] for t in setup["types"])
    assert enabled == sorted(ALL_LOG_TYPES)
    vpc = cluster["resourcesVpcConfig"]
    assert (vpc["endpointPrivateAccess"], vpc["endpointPublicAccess"]) == (True, False)
    assert sorted(vpc["subnetIds"]) == sorted(cluster_network["subnet_ids"])
    assert cluster["tags"] == {"suite": "tests/modules/eks"}

    # Managed node group: sizes, instance type, AL2023, capacity type, node role, labels, version.
    group = eks.describe_nodegroup(clusterName=cluster_name, nodegroupName="workers")["nodegroup"]
    assert group["scalingConfig"] == {"minSize": 1, "maxSize": 4, "desiredSize": 2}
    assert (group["instanceTypes"], group["amiType"], group["capacityType"]) == (
        ["m6i.large"], "AL2023_x86_64_STANDARD", "ON_DEMAND")
    assert group["nodeRole"] == module["node_iam_role_arn"]
    assert group["labels"] == {"role": "workers"}
    assert group["version"] == "1.35"

    # IAM: who may assume the roles, and what they carry.
    cluster_role_name = module["cluster_iam_role_arn"].rsplit("/", 1)[1]
    node_role_name = module["node_iam_role_arn"].rsplit("/", 1)[1]
    cluster_role, node_role = _role(iam, cluster_role_name), _role(iam, node_role_name)
    trust = cluster_role["trust"]["Statement"][0]
    assert trust["Principal"] == {"Service": "eks.amazonaws.com"}
    assert sorted(trust["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    assert cluster_role["attached"] == [AWS_POLICY + "AmazonEKSClusterPolicy"]
    encryption = _statements(cluster_role["inline"]["secrets-encryption"])["EnvelopeEncryptSecrets"]
    assert encryption["Resource"] == module["kms_key_arn"]
    assert sorted(encryption["Action"]) == ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:ListGrants"]
    assert node_role["trust"]["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    assert node_role["attached"] == sorted(AWS_POLICY + name for name in (
        "AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly", "AmazonEKS_CNI_Policy"))

    # KMS: enabled, rotating, aliased; the key policy delegates to IAM and lets CloudWatch Logs use the
    # key for this cluster's log group only.
    key_id = module["kms_key_arn"]
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
    assert f"alias/eks/{cluster_name}" in [alias["AliasName"] for alias in kms.list_aliases(KeyId=key_id)["Aliases"]]
    key_policy = _statements(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
    assert key_policy["AccountAdministersKeyThroughIam"]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    assert key_policy["CloudWatchLogsEncryptsThisClusterLogGroup"]["Condition"] == {"ArnEquals": {
        "kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/eks/{cluster_name}/cluster"
    }}

    # Control-plane log group: created by the module, with retention and the key.
    (log_group,) = logs.describe_log_groups(logGroupNamePrefix=f"/aws/eks/{cluster_name}/cluster")["logGroups"]
    assert (log_group["retentionInDays"], log_group["kmsKeyId"]) == (90, module["kms_key_arn"])

    # IRSA: the OIDC provider trusts the cluster's issuer for STS.
    oidc = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=module["oidc_provider_arn"])
    assert oidc["ClientIDList"] == ["sts.amazonaws.com"]

    # Terratest's rule: right after the apply, a plan of the same inputs proposes nothing.
    second = tf.execute_command("plan", "-input=false", "-no-color", "-detailed-exitcode")
    assert second.retcode == 0, f"the second plan is not empty:\n{second.out}"

    # Destroy now and read back: nothing left. The fixture's teardown destroys whatever a failure
    # before this line left behind; after a successful destroy the empty state is dropped, so the
    # teardown does not start the provider a second time for nothing.
    tf.destroy()
    Path(tf.tfdir, "terraform.tfstate").unlink()
    assert cluster_name not in eks.list_clusters()["clusters"]
    assert not _role_exists(iam, cluster_role_name) and not _role_exists(iam, node_role_name)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    assert not logs.describe_log_groups(logGroupNamePrefix=f"/aws/eks/{cluster_name}/cluster")["logGroups"]
    assert module["oidc_provider_arn"] not in [
        p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
