"""Bad inputs to modules/eks are refused, with the message that says what to fix.

(modules/s3-staging's cases are in tests/modules/s3_staging/test_input_validation.py.)

Every case is a call of the real module with one bad input, and all the cases sit in one generated
root, so two Terraform runs cover them all (each run costs seconds of provider start-up):

- `terraform validate` reports every rule that looks at its own variable, for every module call;
- rules that compare variables (public endpoint vs CIDRs, associations vs add-ons) are only evaluated during a plan, and only when validate passed, so those cases get a root
  of their own and a `plan`.

Each root also calls the module with valid inputs, which must draw no diagnostic at all.
"""

from __future__ import annotations

import json

import pytest

from tests.modules.support import Root, diagnostics, workspace

ARN = "arn:aws:iam::123456789012"
SUBNETS = ["subnet-0a1b2c3d", "subnet-1a2b3c4d"]
EKS = "../modules/eks"

# name -> (module source, inputs, expected message fragment)
SINGLE_VARIABLE_CASES = {
    "eks_one_subnet": (EKS, {"cluster_name": "c1", "subnet_ids": ["subnet-0a1b2c3d"]},
                       "subnet_ids needs at least two subnets in different Availability Zones"),
    "eks_subnet_names": (EKS, {"cluster_name": "c2", "subnet_ids": ["private-a", "private-b"]},
                         "subnet_ids must contain subnet IDs such as subnet-0123456789abcdef0"),
    "eks_patch_version": (EKS, {"cluster_name": "c3", "subnet_ids": SUBNETS, "kubernetes_version": "1.33.1"},
                          "kubernetes_version must be a major.minor version such as 1.33"),
    "eks_config_map_auth": (EKS, {"cluster_name": "c4", "subnet_ids": SUBNETS, "authentication_mode": "CONFIG_MAP"},
                            "authentication_mode must be API or API_AND_CONFIG_MAP"),
    "eks_log_retention": (EKS, {"cluster_name": "c5", "subnet_ids": SUBNETS,
                                "cloudwatch_log_group_retention_in_days": 10},
                          "cloudwatch_log_group_retention_in_days must be one of 1, 3, 5"),
    "eks_log_type_case": (EKS, {"cluster_name": "c6", "subnet_ids": SUBNETS, "enabled_log_types": ["controllermanager"]},
                          "(mind the camel case)"),
    "eks_node_sizes": (EKS, {"cluster_name": "c7", "subnet_ids": SUBNETS,
                             "node_groups": {"default": {"min_size": 3, "desired_size": 2, "max_size": 4}}},
                       "Each node group needs 0 <= min_size <= desired_size <= max_size"),
    "eks_al2_ami": (EKS, {"cluster_name": "c8", "subnet_ids": SUBNETS,
                          "node_groups": {"default": {"ami_type": "AL2_x86_64"}}},
                    "must be an Amazon Linux 2023 type"),
    "eks_session_principal": (EKS, {"cluster_name": "c9", "subnet_ids": SUBNETS,
                                    "access_entries": {"ci": {"principal_arn": "arn:aws:sts::123456789012:assumed-role/ci/run"}}},
                              "must be an IAM role or user ARN"),
    "eks_namespace_scope_without_namespaces": (
        EKS, {"cluster_name": "c10", "subnet_ids": SUBNETS, "access_entries": {"ops": {
            "principal_arn": f"{ARN}:role/ops",
            "policy_associations": {"view": {
                "policy_arn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
                "access_scope": {"type": "namespace"}}}}}},
        "with at least one namespace"),
}

CROSS_VARIABLE_CASES = {
    "eks_public_without_cidrs": (EKS, {"cluster_name": "c11", "subnet_ids": SUBNETS, "endpoint_public_access": True},
                                 "endpoint_public_access = true needs the allowed source ranges"),
    "eks_public_to_internet": (EKS, {"cluster_name": "c12", "subnet_ids": SUBNETS, "endpoint_public_access": True,
                                     "endpoint_public_access_cidrs": ["0.0.0.0/0"]},
                               "endpoint_public_access_cidrs must not contain 0.0.0.0/0"),
    "eks_association_without_agent": (EKS, {"cluster_name": "c13", "subnet_ids": SUBNETS, "addons": {},
                                            "pod_identity_associations": {"app": {
                                                "namespace": "mirror", "service_account": "mirror-service",
                                                "role_arn": f"{ARN}:role/mirror-service"}}},
                                      "pod_identity_associations need the eks-pod-identity-agent add-on"),
}

VALID_CALLS = {
    "eks_valid": (EKS, {"cluster_name": "ok", "subnet_ids": SUBNETS, "endpoint_public_access": True,
                        "endpoint_public_access_cidrs": ["203.0.113.10/32"]}, None),
    "eks_valid_internet_exception": (EKS, {"cluster_name": "ok2", "subnet_ids": SUBNETS, "endpoint_public_access": True,
                                           "endpoint_public_access_cidrs": ["0.0.0.0/0"],
                                           "endpoint_public_access_allow_internet": True}, None),
}


def _module_blocks(cases: dict) -> str:
    """HCL for one module call per case; JSON literals are valid HCL expressions."""
    blocks = []
    for name, (source, inputs, _) in cases.items():
        lines = [f'module "{name}" {{', f'  source = "{source}"']
        lines += [f"  {key} = {json.dumps(value)}" for key, value in inputs.items()]
        blocks.append("\n".join(lines) + "\n}\n")
    return "\n".join(blocks)


def _by_case(found: list[dict]) -> dict[str, list[str]]:
    """Diagnostic details grouped by the module call they point at ("" when they name none)."""
    grouped: dict[str, list[str]] = {}
    for diagnostic in found:
        context = (diagnostic.get("snippet") or {}).get("context") or ""
        case = context.removeprefix('module "').removesuffix('"') if context.startswith("module ") else ""
        grouped.setdefault(case, []).append(diagnostic["summary"] + ": " + diagnostic.get("detail", ""))
    return grouped


@pytest.fixture(scope="module")
def validation_runs(tmp_path_factory, aws_env) -> dict[str, dict[str, list[str]]]:
    ws = workspace(tmp_path_factory.mktemp("validation"), ["modules/eks"])
    results = {}
    for kind, cases in (("validate", SINGLE_VARIABLE_CASES), ("plan", CROSS_VARIABLE_CASES)):
        path = ws / f"root-{kind}"
        path.mkdir()
        (path / "main.tf").write_text(_module_blocks({**cases, **VALID_CALLS}))
        root = Root(path, aws_env, provider="module").init()
        if kind == "validate":
            run = root.run("validate", "-json", "-no-color", check=False)
            found = json.loads(run.stdout)["diagnostics"]
        else:
            run = root.run("plan", "-json", "-input=false", "-no-color", "-refresh=false", check=False)
            found = diagnostics(run.stdout)
        assert run.returncode != 0, f"terraform {kind} accepted every bad input:\n{run.stdout[-2000:]}"
        results[kind] = _by_case(found)
    return results


@pytest.mark.parametrize("case", sorted(SINGLE_VARIABLE_CASES))
def test_single_variable_rule_refuses_bad_input_with_its_message(validation_runs, case):
    expected = SINGLE_VARIABLE_CASES[case][2]
    messages = validation_runs["validate"].get(case, [])
    assert any(expected in message for message in messages), f"{case}: expected {expected!r}, got {messages}"
    assert all(message.startswith("Invalid value for variable") for message in messages), messages


@pytest.mark.parametrize("case", sorted(CROSS_VARIABLE_CASES))
def test_cross_variable_rule_refuses_bad_input_with_its_message(validation_runs, case):
    expected = CROSS_VARIABLE_CASES[case][2]
    grouped = validation_runs["plan"]
    # Rules on one variable that look at another one are reported without a module context.
    messages = grouped.get(case, []) + grouped.get("", [])
    assert any(expected in message for message in messages), f"{case}: expected {expected!r}, got {grouped}"


@pytest.mark.parametrize("kind", ["validate", "plan"])
def test_valid_inputs_draw_no_diagnostic(validation_runs, kind):
    for case in VALID_CALLS:
        assert case not in validation_runs[kind], validation_runs[kind][case]
