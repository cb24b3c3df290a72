"""Bad inputs to modules/s3-staging are refused, with the message that says what to fix.

Every case is a call of the real module with one bad input, and all the cases sit in one checked-in
root (fixtures/single_variable_rules/main.tf, fixtures/cross_variable_rules/main.tf), so one Terraform run
checks them all (each run costs seconds of provider start-up):

- `terraform validate` reports every rule that looks at its own variable, for every module call;
- rules that compare variables (force_destroy vs environment, IRSA vs service account) are evaluated
  only during a plan, and only once validate passed, so those cases get a root of their own and a plan.

Each root also gets the calls of fixtures/valid_calls.tf, with valid inputs, which must draw no error at all. What is matched is
Terraform's own error output, as an engineer reads it in a terminal.
"""

from __future__ import annotations

from pathlib import Path

from tests.input_validation import assert_cross_variable_rules, assert_single_variable_rules

FIXTURES = Path(__file__).parent / "fixtures"

# case (the module call's label in the fixture root) -> the message fragment it must draw
SINGLE_VARIABLE_CASES = {
    "uppercase_name": "bucket_name may only contain lower-case letters, digits, hyphens and dots",
    "short_name": "bucket_name must be 3 to 63 characters long",
    "ip_address_name": "bucket_name must not be formatted as an IP address",
    "adjacent_dots": "bucket_name must not contain two adjacent dots",
    "reserved_prefix": "that S3 reserves; drop it from the name",
    "prefix_without_slash": "object_prefix must be a non-empty key prefix ending in \"/\"",
    "prefix_wildcard": "(no wildcards * or ?)",
    "kms_alias": "key IDs and aliases are not accepted",
    "zero_expiration": "object_expiration_days must be a whole number of days, at least 1, or null",
    "fractional_noncurrent_expiration": "noncurrent_version_expiration_days must be a whole number of days",
}

CROSS_VARIABLE_CASES = {
    "force_destroy_in_production": "force_destroy = true is refused for a production environment",
    "irsa_without_service_account": "service_account_namespace is required when irsa_oidc_provider_arn is set",
}


def test_single_variable_rules_refuse_bad_inputs_with_their_messages(terraform_copy):
    assert_single_variable_rules(terraform_copy, FIXTURES, SINGLE_VARIABLE_CASES)


def test_cross_variable_rules_refuse_bad_inputs_with_their_messages(terraform_copy):
    assert_cross_variable_rules(terraform_copy, FIXTURES, CROSS_VARIABLE_CASES)
