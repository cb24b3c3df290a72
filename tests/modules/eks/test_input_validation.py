"""Bad inputs to modules/eks are refused, with the message that says what to fix.

Every case is a call of the real module with one bad input, and all the cases sit in one checked-in
root (fixtures/single_variable_rules/main.tf, fixtures/cross_variable_rules/main.tf), so one Terraform run
checks them all (tests/input_validation.py):

- `terraform validate` reports every rule that looks at its own variable, for every module call;
- rules that compare variables (public endpoint vs CIDRs, associations vs add-ons) are only evaluated
  during a plan, and only once validate passed, so those cases get a root of their own and a plan.

Each root also gets the calls of fixtures/valid_calls.tf, with valid inputs, which must draw no error at all.
"""

from __future__ import annotations

from pathlib import Path

from tests.input_validation import assert_cross_variable_rules, assert_single_variable_rules

FIXTURES = Path(__file__).parent / "fixtures"

# case (the module call's label in the fixture root) -> the message fragment it must draw
SINGLE_VARIABLE_CASES = {
    "eks_one_subnet": "subnet_ids needs at least two subnets in different Availability Zones",
    "eks_subnet_names": "subnet_ids must contain subnet IDs such as subnet-0123456789abcdef0",
    "eks_patch_version": "kubernetes_version must be a major.minor version such as 1.33",
    "eks_config_map_auth": "authentication_mode must be API or API_AND_CONFIG_MAP",
    "eks_log_retention": "cloudwatch_log_group_retention_in_days must be one of 1, 3, 5",
    "eks_log_type_case": "(mind the camel case)",
    "eks_node_sizes": "Each node group needs 0 <= min_size <= desired_size <= max_size",
    "eks_al2_ami": "must be an Amazon Linux 2023 type",
    "eks_session_principal": "must be an IAM role or user ARN",
    "eks_namespace_scope_without_namespaces": "with at least one namespace",
}

CROSS_VARIABLE_CASES = {
    "eks_public_without_cidrs": "endpoint_public_access = true needs the allowed source ranges",
    "eks_public_to_internet": "endpoint_public_access_cidrs must not contain 0.0.0.0/0",
    "eks_association_without_agent": "pod_identity_associations need the eks-pod-identity-agent add-on",
    "eks_nobody_can_enter": "The cluster would have no administrator: nobody could enter it",
    "eks_admin_only_in_a_namespace": "Set cluster_admin_role_arns = { apply = \"arn:aws:iam::111122223333:role/gitlab-apply\" }",
}


def test_single_variable_rules_refuse_bad_inputs_with_their_messages(terraform_copy):
    assert_single_variable_rules(terraform_copy, FIXTURES, SINGLE_VARIABLE_CASES)


def test_cross_variable_rules_refuse_bad_inputs_with_their_messages(terraform_copy):
    assert_cross_variable_rules(terraform_copy, FIXTURES, CROSS_VARIABLE_CASES)
