"""Bad inputs to modules/eks are refused, with the message that says what to fix.

Every case is a call of the real module with one bad input, and all the cases sit in one generated
root, so one Terraform run checks them all (tests/input_validation.py):

- `terraform validate` reports every rule that looks at its own variable, for every module call;
- rules that compare variables (public endpoint vs CIDRs, associations vs add-ons) are only evaluated
  during a plan, and only once validate passed, so those cases get a root of their own and a plan.

Each root also calls the module with valid inputs, which must draw no error at all.
"""

from __future__ import annotations

from harness.paths import REPO_ROOT
from tests.input_validation import assert_cross_variable_rules, assert_single_variable_rules

MODULE = REPO_ROOT / "modules" / "eks"
ARN = "arn:aws:iam::123456789012"
SUBNETS = ["subnet-0a1b2c3d", "subnet-1a2b3c4d"]

# case -> (inputs, expected message fragment)
SINGLE_VARIABLE_CASES = {
    "eks_one_subnet": (
        {"cluster_name": "c1", "subnet_ids": ["subnet-0a1b2c3d"]},
        "subnet_ids needs at least two subnets in different Availability Zones",
    ),
    "eks_subnet_names": (
        {"cluster_name": "c2", "subnet_ids": ["private-a", "private-b"]},
        "subnet_ids must contain subnet IDs such as subnet-0123456789abcdef0",
    ),
    "eks_patch_version": (
        {"cluster_name": "c3", "subnet_ids": SUBNETS, "kubernetes_version": "1.33.1"},
        "kubernetes_version must be a major.minor version such as 1.33",
    ),
    "eks_config_map_auth": (
        {"cluster_name": "c4", "subnet_ids": SUBNETS, "authentication_mode": "CONFIG_MAP"},
        "authentication_mode must be API or API_AND_CONFIG_MAP",
    ),
    "eks_log_retention": (
        {"cluster_name": "c5", "subnet_ids": SUBNETS, "cloudwatch_log_group_retention_in_days": 10},
        "cloudwatch_log_group_retention_in_days must be one of 1, 3, 5",
    ),
    "eks_log_type_case": (
        {"cluster_name": "c6", "subnet_ids": SUBNETS, "enabled_log_types": ["controllermanager"]},
        "(mind the camel case)",
    ),
    "eks_node_sizes": (
        {
            "cluster_name": "c7",
            "subnet_ids": SUBNETS,
            "node_groups": {"default": {"min_size": 3, "desired_size": 2, "max_size": 4}},
        },
        "Each node group needs 0 <= min_size <= desired_size <= max_size",
    ),
    "eks_al2_ami": (
        {"cluster_name": "c8", "subnet_ids": SUBNETS, "node_groups": {"default": {"ami_type": "AL2_x86_64"}}},
        "must be an Amazon Linux 2023 type",
    ),
    "eks_session_principal": (
        {
            "cluster_name": "c9",
            "subnet_ids": SUBNETS,
            "access_entries": {"ci": {"principal_arn": "arn:aws:sts::123456789012:assumed-role/ci/run"}},
        },
        "must be an IAM role or user ARN",
    ),
    "eks_namespace_scope_without_namespaces": (
        {
            "cluster_name": "c10",
            "subnet_ids": SUBNETS,
            "access_entries": {
                "ops": {
                    "principal_arn": f"{ARN}:role/ops",
                    "policy_associations": {
                        "view": {
                            "policy_arn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
                            "access_scope": {"type": "namespace"},
                        }
                    },
                }
            },
        },
        "with at least one namespace",
    ),
}

CROSS_VARIABLE_CASES = {
    "eks_public_without_cidrs": (
        {"cluster_name": "c11", "subnet_ids": SUBNETS, "endpoint_public_access": True},
        "endpoint_public_access = true needs the allowed source ranges",
    ),
    "eks_public_to_internet": (
        {
            "cluster_name": "c12",
            "subnet_ids": SUBNETS,
            "endpoint_public_access": True,
            "endpoint_public_access_cidrs": ["0.0.0.0/0"],
        },
        "endpoint_public_access_cidrs must not contain 0.0.0.0/0",
    ),
    "eks_association_without_agent": (
        {
            "cluster_name": "c13",
            "subnet_ids": SUBNETS,
            "addons": {},
            "pod_identity_associations": {
                "app": {
                    "namespace": "mirror",
                    "service_account": "mirror-service",
                    "role_arn": f"{ARN}:role/mirror-service",
                }
            },
        },
        "pod_identity_associations need the eks-pod-identity-agent add-on",
    ),
    # No admin at all, or only a namespaced one: a cluster nobody can enter.
    "eks_nobody_can_enter": (
        {"cluster_name": "c14", "subnet_ids": SUBNETS},
        "The cluster would have no administrator: nobody could enter it",
    ),
    "eks_admin_only_in_a_namespace": (
        {
            "cluster_name": "c15",
            "subnet_ids": SUBNETS,
            "access_entries": {"ops": {"principal_arn": f"{ARN}:role/ops", "policy_associations": {"admin": {
                "policy_arn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
                "access_scope": {"type": "namespace", "namespaces": ["mirror"]}}}}},
        },
        "Set cluster_admin_role_arns = { apply = \"arn:aws:iam::111122223333:role/gitlab-apply\" }",
    ),
}

ADMINS = {"apply": f"{ARN}:role/gitlab-apply"}

VALID_CALLS = {
    "eks_valid": {
        "cluster_name": "ok",
        "subnet_ids": SUBNETS,
        "cluster_admin_role_arns": ADMINS,
        "endpoint_public_access": True,
        "endpoint_public_access_cidrs": ["203.0.113.10/32"],
    },
    "eks_valid_internet_exception": {
        "cluster_name": "ok2",
        "subnet_ids": SUBNETS,
        "endpoint_public_access": True,
        "endpoint_public_access_cidrs": ["0.0.0.0/0"],
        "endpoint_public_access_allow_internet": True,
        "cluster_admin_role_arns": ADMINS,
    },
    # The administrator may come from an access entry instead.
    "eks_valid_admin_entry": {
        "cluster_name": "ok3",
        "subnet_ids": SUBNETS,
        "access_entries": {"ops": {"principal_arn": f"{ARN}:role/ops", "policy_associations": {"admin": {
            "policy_arn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"}}}},
    },
}


def test_single_variable_rules_refuse_bad_inputs_with_their_messages(terraform_copy, tmp_path):
    assert_single_variable_rules(terraform_copy, tmp_path / "cases", MODULE, SINGLE_VARIABLE_CASES, VALID_CALLS)


def test_cross_variable_rules_refuse_bad_inputs_with_their_messages(terraform_copy, tmp_path):
    assert_cross_variable_rules(terraform_copy, tmp_path / "cases", MODULE, CROSS_VARIABLE_CASES, VALID_CALLS)
