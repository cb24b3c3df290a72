"""moto's server, with one fix to how it evaluates S3 bucket policies.

moto 5.2.5 treats a policy condition it cannot evaluate as holding (moto/iam/policy_conditions.py:
"If the evaluation operation is not supported, ignore condition evaluation"), and it has no value for
request context keys such as aws:SecureTransport. So the standard TLS-only statement (Deny when
aws:SecureTransport is "false") denies every object request, over HTTP and HTTPS alike, and no bucket
built by modules/s3-staging could take an upload. AWS evaluates a condition on a key it has no value
for as not holding, so the statement does not apply.

Here bucket policies are evaluated without their conditional statements; unconditional statements
(Allow or Deny) are enforced by moto exactly as before. IAM, STS and trust policies are untouched.
The policy itself is still applied and read back in the tests; what the emulator cannot judge is
whether a request used TLS.

Run as `python -m harness.moto_server -H 127.0.0.1 -p 4566` (the same arguments as `moto_server`).
"""

from __future__ import annotations

import json
import sys

from moto.iam.access_control import IAMPolicy, PermissionResult
from moto.s3.models import FakeBucket
from moto.server import main


def _get_permission(self: FakeBucket, action: str, resource: str) -> PermissionResult:
    if self.policy is None:
        return PermissionResult.NEUTRAL
    policy = json.loads(self.policy)
    statements = policy["Statement"] if isinstance(policy["Statement"], list) else [policy["Statement"]]
    unconditional = [statement for statement in statements if not statement.get("Condition")]
    if not unconditional:
        return PermissionResult.NEUTRAL
    return IAMPolicy(json.dumps({**policy, "Statement": unconditional})).is_action_permitted(action, resource)


FakeBucket.get_permission = _get_permission

if __name__ == "__main__":
    sys.exit(main())
