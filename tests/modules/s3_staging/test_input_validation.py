"""Bad inputs to modules/s3-staging are refused, with the message that says what to fix.

Every case is a call of the real module with one bad input, and all the cases sit in one generated
root, so one Terraform run checks them all (each run costs seconds of provider start-up):

- `terraform validate` reports every rule that looks at its own variable, for every module call;
- rules that compare variables (force_destroy vs environment, IRSA vs service account) are evaluated
  only during a plan, and only once validate passed, so those cases get a root of their own and a plan.

Each root also calls the module with valid inputs, which must draw no error at all. What is matched is
Terraform's own error output, as an engineer reads it in a terminal.
"""

from __future__ import annotations

from harness.paths import REPO_ROOT
from tests.input_validation import assert_cross_variable_rules, assert_single_variable_rules

MODULE = REPO_ROOT / "modules" / "s3-staging"
ARN = "arn:aws:iam::123456789012"

# case -> (inputs, expected message fragment)
SINGLE_VARIABLE_CASES = {
    "uppercase_name": ({"bucket_name": "Mirror_Staging"},
                       "bucket_name may only contain lower-case letters, digits, hyphens and dots"),
    "short_name": ({"bucket_name": "ab"}, "bucket_name must be 3 to 63 characters long"),
    "ip_address_name": ({"bucket_name": "192.168.5.4"}, "bucket_name must not be formatted as an IP address"),
    "adjacent_dots": ({"bucket_name": "mirror..staging"}, "bucket_name must not contain two adjacent dots"),
    "reserved_prefix": ({"bucket_name": "xn--mirror-staging"}, "that S3 reserves; drop it from the name"),
    "prefix_without_slash": ({"bucket_name": "mirror-staging-a", "object_prefix": "uploads"},
                             'object_prefix must be a non-empty key prefix ending in "/"'),
    "prefix_wildcard": ({"bucket_name": "mirror-staging-b", "object_prefix": "up*/"}, "(no wildcards * or ?)"),
    "kms_alias": ({"bucket_name": "mirror-staging-c", "kms_key_arn": "alias/staging"},
                  "key IDs and aliases are not accepted"),
    "zero_expiration": ({"bucket_name": "mirror-staging-d", "object_expiration_days": 0},
                        "object_expiration_days must be a whole number of days, at least 1, or null"),
    "fractional_noncurrent_expiration": ({"bucket_name": "mirror-staging-e", "noncurrent_version_expiration_days": 1.5},
                                         "noncurrent_version_expiration_days must be a whole number of days"),
}

CROSS_VARIABLE_CASES = {
    "force_destroy_in_production": ({"bucket_name": "mirror-staging-f", "force_destroy": True,
                                     "environment": "prod-eu"},
                                    "force_destroy = true is refused for a production environment"),
    "irsa_without_service_account": ({"bucket_name": "mirror-staging-g",
                                      "irsa_oidc_provider_arn": f"{ARN}:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/X"},
                                     "service_account_namespace is required when irsa_oidc_provider_arn is set"),
}

VALID_CALLS = {
    "valid_production": {"bucket_name": "mirror-staging-ok", "environment": "production",
                         "kms_key_arn": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"},
    "valid_kept_objects": {"bucket_name": "tfstate-123456789012-us-east-1", "object_expiration_days": None},
}


def test_single_variable_rules_refuse_bad_inputs_with_their_messages(terraform_copy, tmp_path):
    assert_single_variable_rules(terraform_copy, tmp_path / "cases", MODULE, SINGLE_VARIABLE_CASES, VALID_CALLS)


def test_cross_variable_rules_refuse_bad_inputs_with_their_messages(terraform_copy, tmp_path):
    assert_cross_variable_rules(terraform_copy, tmp_path / "cases", MODULE, CROSS_VARIABLE_CASES, VALID_CALLS)
