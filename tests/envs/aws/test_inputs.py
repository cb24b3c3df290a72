"""envs/aws's own inputs, planned for real: the ingress it builds, the API endpoint's escape hatch,
who administers the cluster, each refusal with what to set.

envs/aws needs the helm provider and a cluster, which cannot run here, so these tests plan a root of
just the environment's `variables.tf` and `ingress.tf` (the derivations live there for this reason)
plus an outputs file that exposes the derived values. Real Terraform evaluates every validation (the
cross-variable ones included) and every expression; what they cannot show is the helm release itself,
which `terraform validate` against the helm provider's schema covers (tests/envs/test_validate.py).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import tftest

from harness import processes

ENV = processes.REPO_ROOT / "envs" / "aws"
OUTPUTS = Path(__file__).parent / "fixtures" / "derived_outputs.tf"  # local.ingress, the endpoint CIDRs
REQUIRED = Path(__file__).parent / "fixtures" / "required.tfvars"  # under each case's own inputs
CERTIFICATE = "arn:aws:acm:eu-west-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"


@pytest.fixture
def env_inputs(tmp_path, terraform_copy):
    """`env_inputs(**inputs)`: plan envs/aws's inputs; the derived outputs, or the error text."""
    root = tmp_path / "inputs-of-envs-aws"
    root.mkdir()
    for name in ("variables.tf", "ingress.tf"):
        shutil.copy(ENV / name, root)
    shutil.copy(OUTPUTS, root / "outputs.tf")
    # The token comes from the environment, as the README asks (a tfvars line would be echoed in errors).
    tf = terraform_copy(root, emulator=False, name="envs-aws-inputs", env={"TF_VAR_upload_token": "not-a-real-token"})
    shutil.copy(REQUIRED, Path(tf.tfdir, "0-required.auto.tfvars"))

    def plan(**inputs) -> dict:
        Path(tf.tfdir, "test.auto.tfvars.json").write_text(json.dumps(inputs))  # after 0-required.auto.tfvars
        try:
            tf.execute_command("plan", "-input=false", "-no-color", "-out=inputs.tfplan")
        except tftest.TerraformTestError as error:
            return {"error": " ".join(" ".join(str(part) for part in error.args).split())}
        shown = json.loads(tf.execute_command("show", "-json", "inputs.tfplan").out)
        return {name: output["value"] for name, output in shown["planned_values"]["outputs"].items()}

    return plan


def test_hostname_and_certificate_build_an_alb_ingress_that_serves_https(env_inputs):
    ingress = env_inputs(hostname="mirror.example.com", certificate_arn=CERTIFICATE)["ingress"]
    # What this environment decides; the controller's annotations (ip targets for the ClusterIP Service,
    # listeners 80 + 443 with the redirect, the health-check path) are set once, by the chart, for
    # class_name "alb": tests/modules/kubernetes_app's ALB render tests assert them from these inputs.
    assert (ingress["enabled"], ingress["class_name"], ingress["host"]) == (True, "alb", "mirror.example.com")
    assert (ingress["scheme"], ingress["certificate_arn"]) == ("internet-facing", CERTIFICATE)
    assert ingress["annotations"] == {"alb.ingress.kubernetes.io/ssl-policy": "ELBSecurityPolicy-TLS13-1-2-2021-06"}

    internal = env_inputs(hostname="mirror.internal.example.com", certificate_arn=CERTIFICATE,
                          load_balancer_scheme="internal")["ingress"]
    assert internal["scheme"] == "internal"

    # No hostname: no Ingress (reach the Service with kubectl port-forward), and a private API endpoint.
    default = env_inputs()
    assert default["ingress"]["enabled"] is False and default["ingress"]["annotations"] == {}
    assert default["endpoint_public_access_cidrs"] == []


def test_the_api_endpoint_opens_to_everyone_only_through_the_explicit_exception(env_inputs):
    assert env_inputs(endpoint_public_access_cidrs=["203.0.113.0/24"])["endpoint_public_access_cidrs"] == [
        "203.0.113.0/24"]
    assert env_inputs(endpoint_public_access_from_anywhere=True)["endpoint_public_access_cidrs"] == ["0.0.0.0/0"]


def test_missing_or_contradictory_inputs_are_refused_with_what_to_set(env_inputs):
    error = env_inputs(cluster_admin_role_arns={}, hostname="mirror.example.com",
                       endpoint_public_access_from_anywhere=True,
                       endpoint_public_access_cidrs=["203.0.113.0/24"])["error"]
    assert 'Set cluster_admin_role_arns = { apply = "arn:aws:iam::ACCOUNT:role/ROLE" } to the role terraform apply runs as' in error
    assert "hostname needs certificate_arn: request or import an ACM certificate" in error
    assert "endpoint_public_access_from_anywhere = true opens the endpoint to 0.0.0.0/0: remove endpoint_public_access_cidrs" in error

    url = env_inputs(hostname="https://mirror.example.com/", certificate_arn=CERTIFICATE)["error"]
    assert "hostname must be a lower-case DNS name such as mirror.example.com (no scheme, no path)" in url
    name = env_inputs(hostname="mirror.example.com", certificate_arn="mirror-cert")["error"]
    assert "certificate_arn must be an ACM certificate ARN" in name


def test_the_tfvars_example_the_readme_copies_plans(tmp_path, terraform_copy):
    """`cp terraform.tfvars.example terraform.tfvars` is step 7 of the README: it must plan as it is."""
    root = tmp_path / "example-of-envs-aws"
    root.mkdir()
    for name in ("variables.tf", "ingress.tf"):
        shutil.copy(ENV / name, root)
    tf = terraform_copy(root, emulator=False, name="envs-aws-example", env={"TF_VAR_upload_token": "not-a-real-token"})
    shutil.copy(ENV / "terraform.tfvars.example", Path(tf.tfdir, "terraform.tfvars"))  # the copy skips *.tfvars
    # The image tag comes from the pipeline (or the engineer) on the command line, never from the file.
    result = tf.execute_command("plan", "-input=false", "-no-color", "-var", "image_tag=0123abc")
    assert result.retcode == 0
    assert "undeclared variable" not in result.out + result.err, (
        f"terraform.tfvars.example sets variables envs/aws does not have:\n{result.out}{result.err}")
