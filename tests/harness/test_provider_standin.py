"""The helm and kubernetes providers as `terraform validate` sees them: wrong syntax, names and values fail.

Runs against whatever harness/terraform.py installs: the real hashicorp/helm 3.1.x where the registry is
reachable, the schema-only stand-in (harness/provider_standin) offline. Every message asserted is
Terraform's or terraform-plugin-framework's own, so the same test holds for both; the stand-in's own
promises (schema provenance, refusing to plan) are tested only where it is in use.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness import terraform
from harness.processes import REPO_ROOT
from harness.provider_standin import STANDIN_VERSIONS, extract_helm_schema

HELM_VERSIONS = """terraform {
  required_providers {
    helm = { source = "hashicorp/helm", version = "~> 3.1" }
  }
}
"""
PROVIDER_V3 = """provider "helm" {
  kubernetes = {
    config_path = "~/.kube/config"
  }
}
"""
RELEASE_V3 = """resource "helm_release" "app" {
  name          = "mirror"
  chart         = "./chart"
  set           = [{ name = "replicas", value = "2", type = "string" }]
  set_sensitive = [{ name = "secrets.uploadToken", value = "not-a-real-token" }]
}

output "revision" {
  value = helm_release.app.metadata.revision
}
"""


def validate(tmp_path: Path, config: str, versions: str = HELM_VERSIONS) -> subprocess.CompletedProcess:
    """init + validate `config` in a directory of its own; `.message` is the output unwrapped."""
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "main.tf").write_text(versions + config)
    env = terraform.terraform_env()
    terraform.run(["init", "-backend=false", "-input=false", "-no-color"], cwd=tmp_path, env=env)
    result = terraform.run(["validate", "-no-color"], cwd=tmp_path, env=env, check=False)
    result.message = " ".join((result.stdout + result.stderr).split())  # Terraform wraps its lines
    return result


def test_helm_3_syntax_validates(tmp_path):
    result = validate(tmp_path, PROVIDER_V3 + RELEASE_V3)
    assert result.returncode == 0, result.message


def test_v2_kubernetes_block_in_provider_helm_is_rejected(tmp_path):
    result = validate(tmp_path, 'provider "helm" {\n  kubernetes {\n    config_path = "~/.kube/config"\n  }\n}\n'
                      + RELEASE_V3)
    assert result.returncode == 1
    assert 'Blocks of type "kubernetes" are not expected here. Did you mean to define argument "kubernetes"?' \
        in result.message


def test_v2_set_sensitive_blocks_are_rejected(tmp_path):
    release = RELEASE_V3.replace(
        'set_sensitive = [{ name = "secrets.uploadToken", value = "not-a-real-token" }]',
        'set_sensitive {\n    name  = "secrets.uploadToken"\n    value = "not-a-real-token"\n  }')
    result = validate(tmp_path, PROVIDER_V3 + release)
    assert result.returncode == 1
    assert 'Blocks of type "set_sensitive" are not expected here. Did you mean to define argument "set_sensitive"?' \
        in result.message


def test_wrong_attribute_name_is_rejected(tmp_path):
    result = validate(tmp_path, PROVIDER_V3 + RELEASE_V3.replace('chart         =', 'chart_path    ='))
    assert result.returncode == 1
    assert 'An argument named "chart_path" is not expected here.' in result.message
    assert 'The argument "chart" is required, but no definition was found.' in result.message


def test_provider_validators_and_read_only_attributes_are_enforced(tmp_path):
    """What Terraform core cannot know and the provider checks: helm_release name ≤ 53, set type, status."""
    release = (RELEASE_V3.replace('"mirror"', '"' + "m" * 54 + '"').replace('type = "string"', 'type = "yaml"')
               .replace('  chart ', '  status        = "deployed"\n  chart '))
    result = validate(tmp_path, PROVIDER_V3 + release)
    assert result.returncode == 1
    assert "Attribute name string length must be between 1 and 53, got: 54" in result.message
    assert 'Attribute set[0].type value must be one of: ["\\"auto\\"" "\\"string\\"" "\\"literal\\""], got: "yaml"' \
        in result.message
    assert "Invalid Configuration for Read-Only Attribute" in result.message


@pytest.fixture
def standin_in_use():
    if terraform.standin_mirror() is None:
        pytest.skip("the public registry is reachable: Terraform installs the real hashicorp/helm, not the stand-in")


def test_standin_refuses_to_plan_with_a_clear_error(tmp_path, standin_in_use):
    (tmp_path / "chart").mkdir()
    validate(tmp_path, PROVIDER_V3 + RELEASE_V3)
    result = terraform.run(["plan", "-input=false", "-no-color"], cwd=tmp_path, env=terraform.terraform_env(),
                           check=False)
    message = " ".join(result.stderr.split())
    assert result.returncode == 1
    assert "stand-in cannot connect to a cluster" in message and "TF_PROVIDER_STANDIN=0" in message


def test_standin_schemas_name_their_pinned_sources_and_keep_each_providers_shapes():
    """Regenerate with `python -m harness.provider_standin.extract_helm_schema <clone>` / `extract_cdktf_schema
    <unpacked npm package>`; the diff of the JSON is the review of a new pin."""
    document = json.loads((Path(extract_helm_schema.__file__).parent / f"schemas/helm-{STANDIN_VERSIONS['helm']}.json")
                          .read_text())
    assert document["source"].startswith(f"{extract_helm_schema.SOURCE_REPO} tag v{STANDIN_VERSIONS['helm']}")
    release = document["provider_schemas"]["registry.terraform.io/hashicorp/helm"]["resource_schemas"]["helm_release"]
    assert release["block"]["attributes"]["set_sensitive"]["nested_type"]["nesting_mode"] == "list"
    assert release["block"]["attributes"]["set_sensitive"]["nested_type"]["attributes"]["value"]["sensitive"] is True
    kubernetes = json.loads((Path(extract_helm_schema.__file__).parent /
                             f"schemas/kubernetes-{STANDIN_VERSIONS['kubernetes']}.json").read_text())
    assert kubernetes["source"] == (f"npm @cdktf/provider-kubernetes@12.1.1 (bindings generated from "
                                    f"hashicorp/kubernetes {STANDIN_VERSIONS['kubernetes']})")
    provider = kubernetes["provider_schemas"]["registry.terraform.io/hashicorp/kubernetes"]["provider"]["block"]
    assert provider["block_types"]["exec"]["max_items"] == 1 and "exec" not in provider["attributes"]


def _cli_config_with(tmp_path: Path, standin: str) -> str:
    """The CLI configuration a fresh process generates with TF_PROVIDER_STANDIN=<standin>."""
    env = {**os.environ, "TF_PROVIDER_STANDIN": standin, "REPO_CACHE_DIR": str(tmp_path / standin)}
    if terraform.provider_mirror():
        env["TF_PROVIDER_MIRROR"] = str(terraform.provider_mirror())
    code = "from harness import terraform; print(terraform.cli_config_file().read_text())"
    return subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          check=True, timeout=120).stdout


def test_standin_is_wired_only_when_asked_or_offline(tmp_path):
    forced = _cli_config_with(tmp_path, "1")
    assert str(tmp_path / "1" / "terraform" / "provider-standin") in forced
    assert 'include = ["registry.terraform.io/hashicorp/helm", "registry.terraform.io/hashicorp/kubernetes"]' in forced
    assert "registry.terraform.io/hashicorp/helm" in forced.split("direct {")[1]
    assert "provider-standin" not in _cli_config_with(tmp_path, "0")


KUBERNETES_VERSIONS = """terraform {
  required_providers {
    kubernetes = { source = "hashicorp/kubernetes", version = "~> 2.38" }
  }
}
"""
KUBERNETES_CONFIG = """provider "kubernetes" {
  host = "https://cluster.example.invalid"
  exec {
    api_version = "client.authentication.k8s.io/v1beta1"
    command     = "aws"
    args        = ["eks", "get-token", "--cluster-name", "mirror"]
  }
}

resource "kubernetes_namespace_v1" "app" {
  metadata {
    name = "mirror"
  }
}

resource "kubernetes_secret_v1" "pull" {
  metadata {
    name      = "registry-pull"
    namespace = kubernetes_namespace_v1.app.metadata[0].name
  }
  type = "kubernetes.io/dockerconfigjson"
  data = { ".dockerconfigjson" = jsonencode({ auths = {} }) }
}
"""


def validate_kubernetes(tmp_path: Path, config: str) -> subprocess.CompletedProcess:
    return validate(tmp_path, config, versions=KUBERNETES_VERSIONS)


def test_kubernetes_2_syntax_validates(tmp_path):
    result = validate_kubernetes(tmp_path, KUBERNETES_CONFIG)
    assert result.returncode == 0, result.message


def test_kubernetes_provider_wants_blocks_where_helm_3_has_attributes(tmp_path):
    """The opposite trap to helm 3.x: the kubernetes provider (SDKv2) keeps `exec { }` and `metadata { }` blocks."""
    attribute_exec = validate_kubernetes(tmp_path / "exec", KUBERNETES_CONFIG.replace("  exec {", "  exec = {"))
    assert attribute_exec.returncode == 1
    assert 'An argument named "exec" is not expected here. Did you mean to define a block of type "exec"?' \
        in attribute_exec.message
    no_metadata = validate_kubernetes(tmp_path / "metadata", KUBERNETES_CONFIG.replace(
        'resource "kubernetes_namespace_v1" "app" {\n  metadata {\n    name = "mirror"\n  }\n}',
        'resource "kubernetes_namespace_v1" "app" {\n}'))
    assert no_metadata.returncode == 1
    assert "Insufficient metadata blocks" in no_metadata.message
    assert 'At least 1 "metadata" blocks are required.' in no_metadata.message


def test_kubernetes_computed_only_attribute_is_refused(tmp_path):
    result = validate_kubernetes(tmp_path, KUBERNETES_CONFIG.replace('    name = "mirror"', '    name = "mirror"\n    uid  = "1"'))
    assert result.returncode == 1
    assert "Value for unconfigurable attribute" in result.message and 'Can\'t configure a value for "uid"' in result.message
