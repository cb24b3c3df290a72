"""What `terraform validate` cannot check in the environment roots, read with python-hcl2.

Whether a root's code is valid (module calls match the modules' variables and outputs, arguments exist
with the right syntax, required ones are set, the helm provider is configured in 3.x syntax) is proved
by `terraform validate` against the providers' schemas in tests/envs/test_validate.py. What stays here is
policy that validate accepts either way: Terraform and every provider pinned, variables typed and
described, secrets sensitive and never output, the AWS root's state in S3 with native locking and no
credentials, the helm provider on short-lived tokens (aws) or an explicit kube context (local), `fmt`
clean, and a variable validation that only a plan evaluates.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import hcl2
import pytest

from harness import terraform
from tests.hcl import unquote

REPO_ROOT = Path(__file__).resolve().parents[2]
ENVS = REPO_ROOT / "envs"
ROOTS = sorted(path.name for path in ENVS.iterdir() if path.is_dir() and any(path.glob("*.tf")))
CLUSTER_ROOTS = ["local", "aws"]
SECRET_VARIABLES = {"upload_token", "s3_access_key_id", "s3_secret_access_key"}


def load(directory: Path) -> dict[str, list]:
    """All top-level blocks of a directory's *.tf files, merged by block type."""
    merged: dict[str, list] = {}
    for path in sorted(directory.glob("*.tf")):
        with path.open() as handle:
            for block_type, blocks in unquote(hcl2.load(handle)).items():
                merged.setdefault(block_type, []).extend(blocks)
    return merged


def labelled(blocks: list[dict]) -> dict[str, dict]:
    return {name: body for block in blocks for name, body in block.items()}


def module_calls(root: Path) -> dict[str, dict]:
    return labelled(load(root).get("module", []))


@pytest.mark.parametrize("root", ROOTS)
def test_root_pins_terraform_and_every_provider(root):
    settings = load(ENVS / root)["terraform"][0]
    assert re.match(r">= ?1\.1[0-9]", settings["required_version"]), "Terraform >= 1.10 is required (use_lockfile)"
    providers = settings["required_providers"][0]
    for name, requirement in providers.items():
        assert requirement["source"].startswith("hashicorp/"), name
        assert re.search(r"[~<>=]", requirement["version"]), f"{root}: provider {name} is not version-constrained"
    used = {block_name for block in load(ENVS / root).get("provider", []) for block_name in block}
    assert used <= set(providers), f"{root} configures providers it does not pin: {used - set(providers)}"


@pytest.mark.parametrize("root", ROOTS)
def test_every_variable_is_typed_and_described(root):
    for name, body in labelled(load(ENVS / root).get("variable", [])).items():
        assert body.get("description"), f"{root}: variable {name} has no description"
        assert "type" in body, f"{root}: variable {name} has no type"


@pytest.mark.parametrize("root", ROOTS)
def test_secrets_are_sensitive_and_never_output(root):
    config = load(ENVS / root)
    variables = labelled(config.get("variable", []))
    for name in SECRET_VARIABLES & set(variables):
        assert variables[name].get("sensitive") is True, f"{root}: {name} must be sensitive"
        assert "default" not in variables[name] or variables[name]["default"] is None, f"{root}: {name} has a default"
    for name, output in labelled(config.get("output", [])).items():
        referenced = set(re.findall(r"var\.([a-z_]+)", str(output.get("value"))))
        assert not referenced & SECRET_VARIABLES, f"{root}: output {name} exposes {referenced & SECRET_VARIABLES}"
    for example in (ENVS / root).glob("*.example"):
        assert not re.search(r"^\s*(upload_token|s3_secret_access_key|access_key|secret_key)\s*=", example.read_text(),
                             re.M), f"{example.name} carries a secret"


@pytest.mark.parametrize("backend_file", ["backend.s3.tfbackend.example", "pipeline.s3.tfbackend"])
def test_aws_root_keeps_state_in_s3_with_native_locking(backend_file):
    """The engineers' example and the file the pipeline's plan and apply jobs (`make plan|apply ENV=aws`,
    harness/ci_plan.py) pass to `terraform init -backend-config=`."""
    settings = load(ENVS / "aws")["terraform"][0]
    assert settings["backend"] == [{"s3": {}}], "the backend must be a partial `backend \"s3\" {}` block"
    if backend_file == "pipeline.s3.tfbackend":
        from harness import ci_plan

        assert ci_plan.PIPELINE_BACKEND == backend_file
    text = (ENVS / "aws" / backend_file).read_text()
    backend = {k: v.strip().strip('"') for k, v in re.findall(r"^\s*([a-z_]+)\s*=\s*(.+?)\s*(?:#.*)?$", text, re.M)}
    assert backend["use_lockfile"] == "true" and backend["encrypt"] == "true"
    assert backend["key"].endswith(".tfstate")
    assert "dynamodb_table" not in backend, "DynamoDB locking is deprecated; use_lockfile replaces it"
    assert not {"access_key", "secret_key", "token", "profile"} & set(backend), "credentials never go in backend files"


def test_aws_root_gives_helm_short_lived_tokens_and_pods_no_static_keys():
    config = load(ENVS / "aws")
    helm = labelled(config["provider"])["helm"]["kubernetes"]
    exec_config = helm["exec"]
    assert exec_config["command"] == "aws" and exec_config["args"][:2] == ["eks", "get-token"]
    assert "module.eks.cluster_endpoint" in helm["host"]
    assert "token" not in helm and "config_path" not in helm
    app = module_calls(ENVS / "aws")["app"]
    assert not {"s3_access_key_id", "s3_secret_access_key", "s3_endpoint_url"} & set(app), "EKS pods use Pod Identity"
    association = module_calls(ENVS / "aws")["eks"]["pod_identity_associations"]["mirror-service"]
    assert "module.staging_bucket.service_role_arn" in association["role_arn"]
    assert module_calls(ENVS / "aws")["staging_bucket"]["enable_pod_identity"] is True


def test_local_root_targets_a_kube_context_and_the_emulator_by_default():
    config = load(ENVS / "local")
    helm = labelled(config["provider"])["helm"]["kubernetes"]
    assert "var.kube_context" in helm["config_context"] and "var.kube_config_path" in helm["config_path"]
    variables = labelled(config["variable"])
    assert variables["kube_context"]["default"] == "minikube"
    assert variables["use_real_s3"]["default"] is False


@pytest.mark.parametrize("root", ROOTS)
def test_root_is_terraform_fmt_clean(root):
    result = subprocess.run(["terraform", "fmt", "-check", "-diff", "-recursive", str(ENVS / root)],
                            capture_output=True, text=True, env=terraform.terraform_env(), timeout=60)
    assert result.returncode == 0, result.stdout


def test_sandbox_root_rejects_a_malformed_emulator_endpoint_at_plan(tmp_path):
    """A variable validation runs at plan, not validate (validate treats root variables as unknown)."""
    root = tmp_path / "envs" / "sandbox"
    for relative in ("envs/sandbox", "modules/s3-staging"):
        terraform.copy_root(REPO_ROOT / relative, tmp_path / relative)
    env = terraform.terraform_env()
    terraform.run(["init", "-input=false", "-no-color"], cwd=root, env=env)  # local backend: offline too
    bad = terraform.run(["plan", "-input=false", "-no-color", "-var=emulator_endpoint=localhost:4566"], cwd=root,
                        env=env, check=False)
    assert bad.returncode != 0 and "emulator_endpoint must be a plain http(s) URL" in " ".join(bad.stderr.split())
