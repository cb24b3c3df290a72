"""Terraform → chart: the values the module hands to Helm, computed by real Terraform, rendered by the real Helm engine.

modules/kubernetes-app/modules/values has no providers, so it applies offline here. The chart is rendered from
exactly its `values_yaml` plus the module's set_sensitive entries (parsed the way Helm parses `--set-string`).
The parent module's own variables (validations, secrets) are exercised through a wrapper that keeps everything
of it except the helm_release, whose provider cannot be installed here.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import hcl2
import helm_python
import pytest
import tftest
import yaml

from harness import terraform
from tests.chart import support
from tests.chart.support import KUBE_VERSIONS, MODULE_DIR, VALUES_MODULE_DIR

UPLOAD_TOKEN = "tok3n_Only-In-Secrets/0123456789+abc="
EMULATOR_KEY_ID = "emulator-key-id-ci"
EMULATOR_SECRET = "emulator-secret-key-ci-0123456789"
SECRETS = (UPLOAD_TOKEN, EMULATOR_KEY_ID, EMULATOR_SECRET)

# What envs/local (Minikube + emulator) and envs/aws (EKS, Pod Identity) hand to the module, minus secrets.
ENVIRONMENT_INPUTS = {
    "local": {
        "release_name": "mirror", "environment": "dev",
        "image_repository": "mirror-service", "image_tag": "e2e-1a2b3c",
        "s3_bucket": "mirror-staging-local", "s3_endpoint_url": "http://host.minikube.internal:5000",
        "replicas": 1, "log_level": "DEBUG", "pdb": {"enabled": False},
        "network_policy": {"pod_identity_agent": False, "s3_endpoint_cidr": "192.168.49.1/32"},
        "resources": {"requests": {"cpu": "50m", "memory": "192Mi"}, "limits": {"cpu": "500m", "memory": "384Mi"}},
    },
    "aws": {
        "release_name": "mirror", "environment": "prod",
        "image_repository": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mirror-service", "image_tag": "1.4.2",
        "image_digest": "sha256:" + "ab" * 32, "image_pull_secrets": ["registry-credentials"],
        "s3_bucket": "mirror-staging-123456789012", "s3_region": "eu-west-1",
        "autoscaling": {"enabled": True, "min_replicas": 3, "max_replicas": 10},
        "pdb": {"min_available": "50%"},
        "ingress": {"enabled": True, "class_name": "alb", "host": "mirror.example.com",
                    "tls_secret_name": "mirror-tls", "annotations": {"alb.ingress.kubernetes.io/target-type": "ip"}},
        "http_route": {"enabled": True, "parent_refs": [{"name": "public", "namespace": "gateway-system"}],
                       "hostnames": ["mirror.example.com"]},
        "network_policy": {"allow_external": False,
                           "ingress_namespace_labels": {"kubernetes.io/metadata.name": "ingress"}},
        "topology_spread_when_unsatisfiable": "DoNotSchedule",
        "extra_env": {"FEATURE_FLAGS": "none"},
    },
}
# The secrets each environment passes to the parent module (set_sensitive), never to the values module.
ENVIRONMENT_SECRETS = {
    "local": {"upload_token": UPLOAD_TOKEN, "s3_access_key_id": EMULATOR_KEY_ID,
              "s3_secret_access_key": EMULATOR_SECRET},
    "aws": {"upload_token": UPLOAD_TOKEN},
}


def _hcl(path: Path) -> dict:
    with path.open() as handle:
        return hcl2.load(handle)


def _unquote(value):
    return value[1:-1] if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"' else value


def _secret_entries() -> list[dict]:
    """The set_sensitive entries of modules/kubernetes-app/main.tf: name, the variable behind the value, type."""
    main = _hcl(MODULE_DIR / "main.tf")
    local_values = next(block for block in main["locals"] if "secret_values" in block)["secret_values"]
    entries = []
    for entry in local_values:
        variables = set(re.findall(r"var\.(\w+)", entry["value"]))
        assert len(variables) == 1, entry
        entries.append({"name": _unquote(entry["name"]), "variable": variables.pop(), "type": _unquote(entry["type"])})
    return entries


def _helm_values(values_yaml: str, secrets: dict[str, str]) -> dict:
    """What helm_release merges: the values document, then each set_sensitive entry as `--set-string`."""
    values = yaml.safe_load(values_yaml)
    for entry in _secret_entries():
        assert entry["type"] == "string"
        value = secrets.get(entry["variable"]) or ""
        values = support.merged(values, helm_python.parse_set_string_values(f"{entry['name']}={value}"))
    return values


@pytest.fixture(scope="module")
def applied_values(tmp_path_factory) -> dict[str, dict]:
    """Environment → {values_yaml, apply output}: the values module applied once per environment, then destroyed."""
    results = {}
    for name, inputs in ENVIRONMENT_INPUTS.items():
        root = terraform.copy_root(VALUES_MODULE_DIR, tmp_path_factory.mktemp(f"values-{name}") / "values")
        tf = tftest.TerraformTest(str(root), binary="terraform", env=terraform.terraform_env())
        tf.setup(cleanup_on_exit=False)
        tf_vars = {**inputs, "chart_dir": str(support.CHART_DIR)}
        try:
            plan_text = tf.plan(tf_vars=tf_vars)
            apply_text = tf.apply(tf_vars=tf_vars)
            outputs = tf.output()
        finally:
            tf.destroy(tf_vars=tf_vars)
        results[name] = {"values_yaml": outputs["values_yaml"], "chart_sha256": outputs["chart_sha256"],
                         "terraform_output": plan_text + apply_text + json.dumps(dict(outputs))}
    return results


def test_values_module_declares_no_secret_inputs():
    variables = {_unquote(name): body for block in _hcl(VALUES_MODULE_DIR / "variables.tf")["variable"]
                 for name, body in block.items()}
    secret_variables = {entry["variable"] for entry in _secret_entries()}
    assert not secret_variables & variables.keys()
    assert not [name for name, body in variables.items() if body.get("sensitive")]
    assert not [name for name in variables if re.search(r"token|secret_access|access_key|password", name)]


@pytest.mark.parametrize("environment", sorted(ENVIRONMENT_INPUTS))
def test_chart_renders_valid_hardened_manifests_from_the_module_values(applied_values, environment):
    values_yaml = applied_values[environment]["values_yaml"]
    manifests = support.render(_helm_values(values_yaml, ENVIRONMENT_SECRETS[environment]))
    for manifest in manifests:
        for kube_version in KUBE_VERSIONS:
            support.validate(manifest, kube_version)
    for key, spec in support.pod_specs(manifests).items():
        assert support.restricted_violations(spec) == [], f"{environment} {key}"
    deployment = support.only(manifests, "Deployment")
    assert deployment["metadata"]["name"] == "mirror", "fullnameOverride = release_name: names the module outputs"
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["checksum/chart"] == applied_values[environment]["chart_sha256"]


def test_local_values_reach_the_emulator(applied_values):
    manifests = support.render(_helm_values(applied_values["local"]["values_yaml"], ENVIRONMENT_SECRETS["local"]))
    env = support.env_of(manifests)
    assert env["S3_ENDPOINT_URL"] == "http://host.minikube.internal:5000"
    assert env["AWS_ACCESS_KEY_ID"] == "secret:AWS_ACCESS_KEY_ID" and env["UPLOAD_TOKEN"] == "secret:UPLOAD_TOKEN"
    assert support.only(manifests, "Deployment")["spec"]["replicas"] == 1
    assert "imagePullSecrets" not in support.only(manifests, "Deployment")["spec"]["template"]["spec"]
    assert not support.of_kind(manifests, "PodDisruptionBudget")
    policy = support.only(manifests, "NetworkPolicy", hook=False)
    assert {"to": [{"ipBlock": {"cidr": "192.168.49.1/32"}}], "ports": [{"port": 5000, "protocol": "TCP"}]} \
        in policy["spec"]["egress"]


def test_aws_values_scale_pin_and_route(applied_values):
    manifests = support.render(_helm_values(applied_values["aws"]["values_yaml"], ENVIRONMENT_SECRETS["aws"]))
    deployment = support.only(manifests, "Deployment")
    assert "replicas" not in deployment["spec"]
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"].endswith("@sha256:" + "ab" * 32)
    assert deployment["spec"]["template"]["spec"]["imagePullSecrets"] == [{"name": "registry-credentials"}]
    assert support.only(manifests, "HorizontalPodAutoscaler")["spec"]["minReplicas"] == 3
    assert support.only(manifests, "PodDisruptionBudget")["spec"]["minAvailable"] == "50%"
    assert support.only(manifests, "Ingress")["spec"]["tls"][0]["secretName"] == "mirror-tls"
    route = support.only(manifests, "HTTPRoute")
    assert route["spec"]["parentRefs"] == [{"name": "public", "namespace": "gateway-system"}]
    env = support.env_of(manifests)
    assert "S3_ENDPOINT_URL" not in env and "AWS_ACCESS_KEY_ID" not in env
    assert env["AWS_REGION"] == "eu-west-1" and env["FEATURE_FLAGS"] == "none"


@pytest.mark.parametrize("environment", sorted(ENVIRONMENT_INPUTS))
def test_no_secret_in_values_configmaps_or_terraform_output(applied_values, environment):
    result = applied_values[environment]
    manifests = support.render(_helm_values(result["values_yaml"], ENVIRONMENT_SECRETS[environment]))
    configmaps = support.dump_all(support.of_kind(manifests, "ConfigMap"))
    for secret in SECRETS:
        assert secret not in result["values_yaml"]
        assert secret not in result["terraform_output"]
        assert secret not in configmaps
    # The token does reach the pods, through the Secret only.
    secret_manifest = support.only(manifests, "Secret")
    assert "UPLOAD_TOKEN" in secret_manifest["data"] and UPLOAD_TOKEN not in support.dump_all([secret_manifest])


@pytest.mark.parametrize("token", [UPLOAD_TOKEN, "A" * 16, "abc.DEF_ghi~jkl+mno/pqr=stu-vwx", "0123456789" * 51 + "ab",
                                   "=/+-_.~0123456789abcdef"])
def test_allowed_secret_alphabet_passes_helm_set_string_unchanged(token):
    """The variables' token alphabet survives Helm's `--set-string` parser byte for byte."""
    assert re.fullmatch(r"[A-Za-z0-9._~+/=-]{16,512}", token)
    assert helm_python.parse_set_string_values(f"secrets.uploadToken={token}") == {"secrets": {"uploadToken": token}}


def test_a_chart_edit_changes_the_values(tmp_path, terraform_copy):
    """helm_release notices no edit of a local chart; the checksum/chart annotation makes every edit an upgrade."""
    chart_copy = tmp_path / "chart"
    shutil.copytree(support.CHART_DIR, chart_copy)
    tf = terraform_copy(VALUES_MODULE_DIR, emulator=False)
    # As a tfvars file, so the fixture's teardown `destroy` has the inputs too.
    Path(tf.tfdir, "inputs.auto.tfvars.json").write_text(
        json.dumps({**ENVIRONMENT_INPUTS["local"], "chart_dir": str(chart_copy)}))
    tf.apply()
    before = tf.output()["values_yaml"]
    second = terraform.run(["plan", "-input=false", "-no-color", "-detailed-exitcode"], cwd=Path(tf.tfdir), env=tf.env,
                           check=False)
    assert second.returncode == 0, f"a second plan is not empty:\n{second.stdout}{second.stderr}"
    notes = chart_copy / "templates" / "NOTES.txt"
    notes.write_text(notes.read_text() + "\n")
    tf.apply()
    after = tf.output()["values_yaml"]
    before, after = yaml.safe_load(before), yaml.safe_load(after)
    assert before.pop("podAnnotations")["checksum/chart"] != after.pop("podAnnotations")["checksum/chart"]
    assert before == after, "only the chart digest changed"


# --- The parent module's variables, through a wrapper without the helm_release -------------------------------

def _wrapper_root(destination: Path) -> Path:
    """destination/root calls destination/kubernetes-app: the real module minus helm_release, versions and outputs.

    The wrapper root declares the secrets `sensitive` without validations, as a calling root should, so Terraform
    treats them exactly as in envs/*: marked values reaching the module's validations. The module call itself
    (app.tf) is written per plan, with only the inputs a case sets, so every other input keeps its default."""
    module = destination / "kubernetes-app"
    terraform.copy_root(MODULE_DIR, module)
    shutil.rmtree(module / "examples")
    main = (module / "main.tf").read_text()
    start = main.index('resource "helm_release" "this" {')
    end = main.index("\n}\n", start) + 3
    (module / "main.tf").write_text(main[:start] + main[end:])
    (module / "versions.tf").unlink()
    (module / "outputs.tf").write_text(
        'output "values_yaml" {\n  value = module.values.values_yaml\n}\n\n'
        'output "secret_entry_names" {\n  value = [for entry in local.secret_values : entry.name]\n}\n')
    root = destination / "root"
    root.mkdir()
    secret_variables = "".join(
        f'variable "{entry["variable"]}" {{\n  type      = string\n  default   = null\n  sensitive = true\n}}\n\n'
        for entry in _secret_entries())
    (root / "main.tf").write_text(secret_variables + """output "values_yaml" {
  value = module.app.values_yaml
}

output "secret_entry_names" {
  value = module.app.secret_entry_names
}
""")
    _write_module_call(root, {"release_name": "mirror"})
    return root


def _write_module_call(root: Path, inputs: dict) -> None:
    # JSON literals are HCL literals; None leaves the input out, so the module's default applies.
    arguments = "\n".join(f"  {name} = {json.dumps(value)}" for name, value in sorted(inputs.items())
                          if value is not None)
    secrets = "\n".join(f"  {entry['variable']} = var.{entry['variable']}" for entry in _secret_entries())
    (root / "app.tf").write_text(f'module "app" {{\n  source    = "../kubernetes-app"\n  namespace = "mirror"\n'
                                 f"{secrets}\n{arguments}\n}}\n")


@pytest.fixture(scope="module")
def parent_module(tmp_path_factory):
    """The wrapper, initialised once; each call plans it with one environment's inputs and the given secrets."""
    root = _wrapper_root(tmp_path_factory.mktemp("parent"))
    terraform.run(["init", "-input=false", "-no-color"], cwd=root, env=terraform.terraform_env())

    def plan(environment: str, overrides: dict | None = None, secrets: dict | None = None):
        _write_module_call(root, {**ENVIRONMENT_INPUTS[environment], **(overrides or {})})
        env = {f"TF_VAR_{name}": value for name, value in (secrets or {}).items()}
        return terraform.run(["plan", "-input=false", "-no-color"], cwd=root, env=terraform.terraform_env(**env),
                             check=False, timeout=120)

    return plan


@pytest.mark.parametrize("environment", sorted(ENVIRONMENT_INPUTS))
def test_parent_module_plans_without_showing_a_secret(parent_module, environment):
    result = parent_module(environment, secrets=ENVIRONMENT_SECRETS[environment])
    assert result.returncode == 0, result.stderr
    for secret in SECRETS:
        assert secret not in result.stdout + result.stderr
    assert '"secrets.uploadToken"' in result.stdout  # the set_sensitive names are planned; their values are not


PARENT_REFUSALS = [
    ("emulator keys in prod", "aws", {}, {"upload_token": UPLOAD_TOKEN, "s3_access_key_id": EMULATOR_KEY_ID,
                                         "s3_secret_access_key": EMULATOR_SECRET},
     'are not allowed when environment = "prod"'),
    ("prod without a token", "aws", {}, {}, 'environment "prod" needs upload_token'),
    ("prod with one replica", "aws", {"autoscaling": {"enabled": False}, "replicas": 1}, {"upload_token": UPLOAD_TOKEN},
     'environment "prod" needs replicas >= 2 or autoscaling.enabled = true'),
    ("endpoint not a URL", "local", {"s3_endpoint_url": "host.minikube.internal:5000"}, {},
     "s3_endpoint_url must be an http:// or https:// URL"),
    ("token with a comma", "local", {}, {"upload_token": "has,comma-0123456789"},
     "upload_token must be 16-512 characters"),
    ("half a key pair", "local", {}, {"s3_access_key_id": EMULATOR_KEY_ID}, "go together"),
    ("bad bucket", "local", {"s3_bucket": "Not_A_Bucket"}, {}, "s3_bucket must be a valid S3 bucket name"),
    ("ingress without host", "local", {"ingress": {"enabled": True}}, {}, "ingress.enabled needs ingress.host"),
    ("both PDB bounds", "local", {"pdb": {"min_available": "1", "max_unavailable": "1"}}, {}, "not both"),
    ("managed variable in extra_env", "local", {"extra_env": {"S3_BUCKET": "x"}}, {}, "extra_env must not set"),
]


@pytest.mark.parametrize(("why", "environment", "overrides", "secrets", "message"), PARENT_REFUSALS,
                         ids=[case[0] for case in PARENT_REFUSALS])
def test_parent_module_refuses(parent_module, why, environment, overrides, secrets, message):
    result = parent_module(environment, overrides, secrets)
    assert result.returncode != 0, f"{why}: plan succeeded"
    text = " ".join((result.stdout + result.stderr).split())  # Terraform wraps long messages
    assert message in text, text[-3000:]
    for secret in SECRETS + ("has,comma-0123456789",):
        assert secret not in result.stdout + result.stderr, f"{why}: a secret reached the diagnostics"
