"""modules/eks's whole apply → read back → re-plan → destroy → read back run, for the background.

What is left here serves tests/modules/test_eks.py only (the eks module's tests). The run returns what
it observed; it never asserts, and it always destroys what it applied, also when it fails half-way
(the error then reaches the test).
"""

from __future__ import annotations

import json

from tests.modules.support import Aws, Root


def _role_snapshot(aws: Aws, role_name: str) -> dict:
    iam = aws.iam
    role = iam.get_role(RoleName=role_name)["Role"]
    return {
        "arn": role["Arn"],
        "trust": role["AssumeRolePolicyDocument"],
        "max_session_duration": role.get("MaxSessionDuration"),
        "inline_policies": {
            name: iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
            for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]
        },
        "attached_policies": sorted(
            policy["PolicyArn"] for policy in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]
        ),
        "tags": {tag["Key"]: tag["Value"] for tag in iam.list_role_tags(RoleName=role_name)["Tags"]},
    }


# ----------------------------------------------------------------------------------------------------
# modules/eks through tests/modules/roots/eks
# ----------------------------------------------------------------------------------------------------


def eks_apply(root: Root, aws: Aws, cluster_name: str) -> dict:
    """Apply the eks module (what moto implements), read it back, re-plan, destroy, read back."""
    observed: dict = {"cluster_name": cluster_name}
    try:
        root.set_vars(cluster_name=cluster_name)
        observed["apply_seconds"] = root.apply()
        observed["outputs"] = outputs = root.outputs()
        module = outputs["eks"]

        observed["cluster"] = aws.eks.describe_cluster(name=cluster_name)["cluster"]
        observed["node_groups"] = {
            name: aws.eks.describe_nodegroup(clusterName=cluster_name, nodegroupName=name)["nodegroup"]
            for name in aws.eks.list_nodegroups(clusterName=cluster_name)["nodegroups"]
        }
        cluster_role = module["cluster_iam_role_arn"].rsplit("/", 1)[1]
        node_role = module["node_iam_role_arn"].rsplit("/", 1)[1]
        observed["cluster_role"] = _role_snapshot(aws, cluster_role)
        observed["node_role"] = _role_snapshot(aws, node_role)

        key_id = module["kms_key_arn"]
        observed["kms_key"] = aws.kms.describe_key(KeyId=key_id)["KeyMetadata"]
        observed["kms_rotation"] = aws.kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"]
        observed["kms_policy"] = json.loads(aws.kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
        observed["kms_aliases"] = [
            alias["AliasName"] for alias in aws.kms.list_aliases(KeyId=key_id)["Aliases"]
        ]
        log_groups = aws.logs.describe_log_groups(logGroupNamePrefix=module["cloudwatch_log_group_name"])["logGroups"]
        observed["log_group"] = log_groups[0] if log_groups else None
        observed["oidc_provider"] = aws.iam.get_open_id_connect_provider(
            OpenIDConnectProviderArn=module["oidc_provider_arn"]
        )

        observed["second_plan"] = root.changes()

        observed["destroy_seconds"] = root.destroy()
        clusters = aws.eks.list_clusters()["clusters"]
        observed["after_destroy"] = {
            "cluster_exists": cluster_name in clusters,
            "cluster_role_exists": aws.role_exists(cluster_role),
            "node_role_exists": aws.role_exists(node_role),
            "kms_key_state": aws.kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"],
            "log_group_exists": bool(
                aws.logs.describe_log_groups(logGroupNamePrefix=module["cloudwatch_log_group_name"])["logGroups"]
            ),
            "oidc_provider_exists": module["oidc_provider_arn"]
            in [p["Arn"] for p in aws.iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]],
        }
    finally:
        leftover = root.destroy_quietly()
        if leftover:
            raise RuntimeError(f"destroy after a failed run also failed: {leftover}")
    return observed
