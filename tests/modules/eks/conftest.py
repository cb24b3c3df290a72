"""What every modules/eks test needs: the module copied as a Terraform root, and a network for it.

Each test copies `modules/eks` itself as its root through the shared `terraform_copy` fixture
(tests/conftest.py: tftest, the session's moto server, destroy in teardown), with its inputs from checked-in
files (fixtures/*.tfvars, copied in as *.auto.tfvars) and only what is unique to the run (the cluster name, the
subnets it created) in `test.auto.tfvars.json`, so plan, apply and the teardown's destroy all see the same values. The module
has no provider block; `terraform_copy(..., emulator=True)` adds the one that targets moto.

The network the module consumes (a VPC and two subnets) is created with boto3, outside Terraform, and
deleted after the test's destroy. Inside Terraform it used to fail on a busy machine: the AWS provider
timed out on a CreateSubnet the slow emulator had already carried out, retried it, and got
`InvalidSubnet.Conflict` for its own subnet. Here each create is sent exactly once (no retries) and
waits as long as the emulator needs.
"""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
import tftest
from botocore.config import Config

from harness import processes
from tests.hcl import load, unquote

MODULE = processes.REPO_ROOT / "modules" / "eks"
FIXTURES = Path(__file__).parent / "fixtures"
# Only for applying on moto; plans need no shim (see the file's comments).
MOTO_APPLY_OVERRIDE = FIXTURES / "moto_apply_override.tf"
ACCOUNT = "123456789012"  # moto's account
PLAN_SUBNETS = unquote(load(FIXTURES / "plan.tfvars"))["subnet_ids"]


@pytest.fixture
def cluster_name() -> str:
    return f"eks-{secrets.token_hex(3)}"


@pytest.fixture
def eks_module(terraform_copy) -> Callable[..., tftest.TerraformTest]:
    """`eks_module("plan", "access_entries", cluster_name=..., apply_shims=False, extra_files=())`: an initialised copy
    of the module reading fixtures/plan.tfvars, then fixtures/access_entries.tfvars (a later file's variable replaces
    an earlier one's), then the keyword values (what is unique to the run)."""

    def make(*fixtures: str, apply_shims: bool = False, extra_files=(), name: str = "eks",
             **values) -> tftest.TerraformTest:
        shims = (MOTO_APPLY_OVERRIDE,) if apply_shims else ()
        tf = terraform_copy(MODULE, extra_files=shims + tuple(extra_files), name=name)
        # Every cluster needs an administrator (the module refuses one nobody can enter); a fixture may name its own.
        Path(tf.tfdir, "0-default-admin.auto.tfvars.json").write_text(json.dumps(
            {"cluster_admin_role_arns": {"admin": f"arn:aws:iam::{ACCOUNT}:role/test-admin"}}))
        for index, fixture in enumerate(fixtures, start=1):  # *.auto.tfvars load in lexical order
            shutil.copy(FIXTURES / f"{fixture}.tfvars", Path(tf.tfdir, f"{index}-{fixture}.auto.tfvars"))
        Path(tf.tfdir, "test.auto.tfvars.json").write_text(json.dumps(values, indent=2))
        return tf

    return make


def plan_json(tf: tftest.TerraformTest) -> dict:
    """`plan -out` and `show -json`: planned values, resource changes, checks, configuration."""
    tf.execute_command("plan", "-input=false", "-no-color", "-out=test.tfplan")
    return json.loads(tf.execute_command("show", "-json", "test.tfplan").out)


def planned_changes(plan: dict) -> dict[str, dict]:
    """Every resource change by address."""
    return {change["address"]: change for change in plan["resource_changes"]}


def created(changes: dict[str, dict], address: str) -> dict:
    """The planned values of a resource the plan creates."""
    assert address in changes, f"{address} is not planned; planned: {sorted(changes)}"
    assert changes[address]["change"]["actions"] == ["create"], changes[address]["change"]["actions"]
    return changes[address]["change"]["after"]


def failed_plan(tf: tftest.TerraformTest) -> str:
    """Run a plan that must fail; Terraform's error text, whitespace-normalised."""
    with pytest.raises(tftest.TerraformTestError) as error:
        tf.execute_command("plan", "-input=false", "-no-color")
    return " ".join(" ".join(str(part) for part in error.value.args).split())


def create_network(session: boto3.Session, endpoint_url: str, second_octet: int = 77) -> tuple[object, dict]:
    """A VPC (10.<second_octet>.0.0/16) with two subnets in different zones on the emulator; (ec2 client, network)."""
    # One attempt per call: a retried create is what made Terraform conflict with itself.
    ec2 = session.client("ec2", endpoint_url=endpoint_url,
                         config=Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=300))
    vpc_id = ec2.create_vpc(CidrBlock=f"10.{second_octet}.0.0/16")["Vpc"]["VpcId"]
    subnet_ids = [
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.{second_octet}.{index * 16}.0/20",
                          AvailabilityZone=zone)["Subnet"]["SubnetId"]
        for index, zone in enumerate(["us-east-1a", "us-east-1b"])
    ]
    return ec2, {"vpc_id": vpc_id, "subnet_ids": subnet_ids}


@pytest.fixture
def cluster_network(aws_session, moto) -> Iterator[dict]:
    """A VPC with two subnets in different zones, for one test; deleted after the test's destroy."""
    ec2, network = create_network(aws_session, moto.url)
    vpc_id, subnet_ids = network["vpc_id"], network["subnet_ids"]
    yield network
    for subnet_id in subnet_ids:
        ec2.delete_subnet(SubnetId=subnet_id)
    ec2.delete_vpc(VpcId=vpc_id)


def eks_client(aws_session: boto3.Session, moto) -> object:
    return aws_session.client("eks", endpoint_url=moto.url)
