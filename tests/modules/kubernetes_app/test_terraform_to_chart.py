"""Terraform → chart: what modules/kubernetes-app hands to Helm, computed by real Terraform and rendered by the
real Helm CLI.

The module keeps everything helm_release receives in provider-free files: variables.tf (every input, once),
values.tf (`local.values_yaml`) and secrets.tf (`local.secret_values`, the set_sensitive entries). Each test
here applies exactly those files offline, as the child module of a checked-in root (fixtures/offline: the
secrets as sensitive root variables without validations, set as TF_VAR_*, the way envs/* take them, and the
outputs), then renders the chart from exactly the values_yaml and set_sensitive entries Terraform computed.

The module call is a checked-in file too, the root's main.tf: fixtures/local.tf or fixtures/aws.tf, what
envs/local and envs/aws hand the module (test_env_fixtures.py holds them to the environments' main.tf). A test
that changes some of those inputs names the change: a checked-in override file (fixtures/*_override.tf) or a
small dict written as a JSON override file (Terraform merges override files into the call). Left out are main.tf (the helm_release, which passes
those two locals: test_module_source.py checks it) and the helm provider requirement, which cannot be installed
here.
"""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest
import tftest
import yaml

from harness import helm
from tests.hcl import load, module_call, unquote
from tests.modules.kubernetes_app import rendering
from tests.modules.kubernetes_app.rendering import CHART_DIR, KUBE_VERSIONS, MODULE_DIR

FIXTURES = Path(__file__).parent / "fixtures"
PROVIDER_FREE_FILES = ("variables.tf", "values.tf", "secrets.tf")
UPLOAD_TOKEN = "tok3n_Only-In-Secrets/0123456789+abc="
EMULATOR_KEY_ID = "emulator-key-id-ci"
EMULATOR_SECRET = "emulator-secret-key-ci-0123456789"
REGISTRY_PASSWORD = "glpat-registry-Only-In-Secrets-0123"
REGISTRY_CREDENTIALS = {"registry": "registry.gitlab.com", "username": "gitlab+deploy-token-7",
                        "password": REGISTRY_PASSWORD}
SECRETS = (UPLOAD_TOKEN, EMULATOR_KEY_ID, EMULATOR_SECRET, REGISTRY_PASSWORD)
CERTIFICATE_ARN = "arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"

# The secrets each environment passes (TF_VAR_*); its other inputs are fixtures/<environment>_override.tf.
LOCAL_SECRETS = {"upload_token": UPLOAD_TOKEN, "s3_access_key_id": EMULATOR_KEY_ID,
                 "s3_secret_access_key": EMULATOR_SECRET}
AWS_SECRETS = {"upload_token": UPLOAD_TOKEN}


def fixture_inputs(name: str) -> dict:
    """The module arguments of fixtures/<name>.tf as Python values, for a test that changes part of one input."""
    return unquote(module_call(load(FIXTURES / f"{name}.tf"), "app"))


def offline_module(terraform_copy, tmp_path: Path, inputs: str = "local", overrides: tuple[str, ...] = (),
                   change: dict | None = None, secrets: dict | None = None) -> tftest.TerraformTest:
    """fixtures/offline with fixtures/<inputs>.tf as its main.tf and the module's provider-free files and chart as
    ./kubernetes-app, copied and initialised by `terraform_copy`.

    `overrides` names checked-in override files (fixtures/<name>_override.tf) merged into the module call, in
    order; `change` sets whole arguments after them (a JSON override file, merged last); `secrets` go in as
    TF_VAR_*, never in a file."""
    source = tmp_path / "offline-source"
    shutil.copytree(FIXTURES / "offline", source)
    shutil.copy(FIXTURES / f"{inputs}.tf", source / "main.tf")
    child = source / "kubernetes-app"
    child.mkdir()
    for name in PROVIDER_FREE_FILES:
        shutil.copy(MODULE_DIR / name, child / name)
    shutil.copy(FIXTURES / "offline_outputs.tf", child)
    shutil.copytree(CHART_DIR, child / "chart")
    for index, name in enumerate(overrides):  # override files merge in lexical order
        shutil.copy(FIXTURES / f"{name}_override.tf", source / f"{index}_{name}_override.tf")
    if change:
        (source / "9_change_override.tf.json").write_text(json.dumps({"module": {"app": change}}, indent=2))
    env = {f"TF_VAR_{name}": _tf_var(value) for name, value in (secrets or {}).items()}
    return terraform_copy(source, emulator=False, env=env, name="offline")


def _tf_var(value) -> str:
    if isinstance(value, dict):  # an object variable takes HCL syntax in TF_VAR_*
        return "{" + ", ".join(f"{key} = {json.dumps(item)}" for key, item in value.items()) + "}"
    return value


def helm_inputs(outputs) -> dict:
    """What helm_release hands Helm: the values document, and each set_sensitive entry as `--set-string`."""
    assert all(entry["type"] == "string" for entry in outputs["secret_values"]), outputs["secret_values"]
    return {"values": yaml.safe_load(outputs["values_yaml"]),
            "set_string": {entry["name"]: entry["value"] for entry in outputs["secret_values"]}}


def _assert_valid_and_restricted(manifests: list[dict]) -> None:
    for manifest in manifests:
        for kube_version in KUBE_VERSIONS:
            rendering.validate(manifest, kube_version)
    for key, spec in rendering.pod_specs(manifests).items():
        assert rendering.restricted_violations(spec) == [], key


def test_local_inputs_render_a_release_that_reaches_the_emulator(terraform_copy, tmp_path):
    tf = offline_module(terraform_copy, tmp_path, "local", secrets=LOCAL_SECRETS)
    tf.apply()
    outputs = tf.output()

    manifests = rendering.render(**helm_inputs(outputs))

    _assert_valid_and_restricted(manifests)
    deployment = rendering.only(manifests, "Deployment")
    assert deployment["metadata"]["name"] == "mirror", "fullnameOverride = release_name: the names the module outputs"
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["template"]["metadata"]["annotations"]["checksum/chart"] == outputs["chart_sha256"]
    assert "imagePullSecrets" not in deployment["spec"]["template"]["spec"]
    env = rendering.env_of(manifests)
    assert env["S3_ENDPOINT_URL"] == "http://host.minikube.internal:4566"
    assert env["AWS_ACCESS_KEY_ID"] == "secret:AWS_ACCESS_KEY_ID" and env["UPLOAD_TOKEN"] == "secret:UPLOAD_TOKEN"
    assert not rendering.of_kind(manifests, "PodDisruptionBudget")
    assert not rendering.of_kind(manifests, "HorizontalPodAutoscaler")
    policy = rendering.only(manifests, "NetworkPolicy", hook=False)
    # envs/local leaves network_policy at the module's default: the emulator's port, on any address (the host's
    # address from inside Minikube is not fixed).
    assert {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"port": 4566, "protocol": "TCP"}]} \
        in policy["spec"]["egress"]
    assert outputs.get("url") is None, "no Ingress, no URL (Terraform stores no null output)"
    assert outputs["curl_commands"][0] == "kubectl -n mirror port-forward svc/mirror 8080:80 &"
    assert outputs["curl_commands"][1] == "curl http://127.0.0.1:8080/api/health"
    # The module's defaults are the service's own (app/mirror_service/config.py): gevent, none trusted to
    # forward; one worker for the chart's 1-CPU limit.
    assert rendering.server_settings(env) == rendering.pod_server_defaults()


def test_aws_inputs_render_a_scaled_pinned_release_behind_an_https_alb(terraform_copy, tmp_path):
    tf = offline_module(terraform_copy, tmp_path, "aws", ("beyond_aws",), secrets=AWS_SECRETS)
    tf.apply()
    outputs = tf.output()

    manifests = rendering.render(**helm_inputs(outputs))

    _assert_valid_and_restricted(manifests)
    deployment = rendering.only(manifests, "Deployment")
    assert "replicas" not in deployment["spec"]
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"].endswith("@sha256:" + "ab" * 32)
    assert "imagePullSecrets" not in deployment["spec"]["template"]["spec"], "ECR: the nodes' role pulls"
    assert rendering.only(manifests, "HorizontalPodAutoscaler")["spec"]["minReplicas"] == 3
    assert rendering.only(manifests, "PodDisruptionBudget")["spec"]["minAvailable"] == "50%"
    assert all(c["whenUnsatisfiable"] == "DoNotSchedule"
               for c in deployment["spec"]["template"]["spec"]["topologySpreadConstraints"])
    ingress = rendering.only(manifests, "Ingress")
    # The default path publishes the API, never /metrics (a Prefix "/" would route it to the internet).
    assert [path["path"] for rule in ingress["spec"]["rules"] for path in rule["http"]["paths"]] == ["/api"]
    annotations = ingress["metadata"]["annotations"]
    assert annotations["alb.ingress.kubernetes.io/target-type"] == "ip"
    assert annotations["alb.ingress.kubernetes.io/scheme"] == "internet-facing"
    assert annotations["alb.ingress.kubernetes.io/certificate-arn"] == CERTIFICATE_ARN
    assert rendering.only(manifests, "HTTPRoute")["spec"]["parentRefs"] == [{"name": "public",
                                                                              "namespace": "gateway-system"}]
    env = rendering.env_of(manifests)
    assert "S3_ENDPOINT_URL" not in env and "AWS_ACCESS_KEY_ID" not in env
    assert env["AWS_REGION"] == "eu-west-1" and env["FEATURE_FLAGS"] == "none"
    server = rendering.server_settings(env)
    assert server.worker_class == "gevent" and server.worker_connections == 2000
    # envs/aws trusts no forwarder (the service builds no URL from X-Forwarded-*): the service's default.
    assert server.keepalive == 65 and server.forwarded_allow_ips == rendering.pod_server_defaults().forwarded_allow_ips
    assert outputs["url"] == "https://mirror.example.com"
    assert outputs["curl_commands"][0] == "curl https://mirror.example.com/api/health"


ALB_ATTRIBUTES = "alb.ingress.kubernetes.io/load-balancer-attributes"


@pytest.mark.parametrize(("keepalive", "annotations", "warned"), [
    (5, {}, True),  # the ALB's default idle timeout is 60 s
    (5, {ALB_ATTRIBUTES: "idle_timeout.timeout_seconds=4"}, False),
    (65, {ALB_ATTRIBUTES: "deletion_protection.enabled=true,idle_timeout.timeout_seconds=120"}, True),
], ids=["default-alb", "alb-idle-4s", "alb-idle-120s"])
def test_plan_warns_when_the_alb_keeps_connections_longer_than_gunicorn(terraform_copy, tmp_path, keepalive,
                                                                        annotations, warned):
    """AWS: an application's keep-alive shorter than the ALB's idle timeout yields occasional 502s (a warning in the
    plan: a check block, which never stops the apply)."""
    change = {"server": {"GUNICORN_KEEPALIVE": str(keepalive)},
              "ingress": {**fixture_inputs("aws")["ingress"], "annotations": annotations}}
    tf = offline_module(terraform_copy, tmp_path, "aws", change=change, secrets=AWS_SECRETS)

    text = " ".join(tf.plan(output=False).split())

    assert ("is not longer than the ALB's idle timeout" in text) == warned, text[-3000:]
    if warned:
        idle = 120 if annotations else 60
        assert f'Set server = {{ GUNICORN_KEEPALIVE = "{idle + 5}" }}' in text


@pytest.mark.parametrize(("ingress", "url"), [
    ({"class_name": "alb"}, "http://mirror.example.com"),
    ({"class_name": "alb", "certificate_arn": CERTIFICATE_ARN}, "https://mirror.example.com"),
    ({"class_name": "traefik", "tls_secret_name": "mirror-tls"}, "https://mirror.example.com"),
], ids=["alb-without-certificate", "alb-with-certificate", "tls-secret"])
def test_url_is_https_only_where_tls_is_configured(terraform_copy, tmp_path, ingress, url):
    change = {"ingress": {"enabled": True, "host": "mirror.example.com", "path": "/api/", **ingress}}
    tf = offline_module(terraform_copy, tmp_path, "local", change=change)
    tf.apply()
    outputs = tf.output()

    notes = rendering.render_templates(**helm_inputs(outputs))["mirror-service/templates/NOTES.txt"]

    assert outputs["url"] == url
    assert outputs["curl_commands"][0] == f"curl {url}/api/health"
    assert f"Ingress: {url} " in notes, "the chart's NOTES agree with the module's URL"


def test_registry_credentials_reach_only_the_pull_secret(terraform_copy, tmp_path):
    """A private registry on a fresh cluster: the credential goes through set_sensitive into a pull Secret the
    release creates, so the first apply pulls; it appears in no value, plan, output or other manifest."""
    tf = offline_module(terraform_copy, tmp_path, "aws",
                        secrets={**AWS_SECRETS, "image_pull_credentials": REGISTRY_CREDENTIALS})
    terraform_text = tf.plan() + tf.apply()
    outputs = tf.output()

    manifests = rendering.render(**helm_inputs(outputs))

    pull_secrets = [m for m in rendering.of_kind(manifests, "Secret") if m["type"] == "kubernetes.io/dockerconfigjson"]
    assert len(pull_secrets) == 1
    config = json.loads(base64.b64decode(pull_secrets[0]["data"][".dockerconfigjson"]))
    assert config["auths"]["registry.gitlab.com"]["password"] == REGISTRY_PASSWORD
    for key, spec in rendering.pod_specs(manifests).items():
        assert spec["imagePullSecrets"] == [{"name": pull_secrets[0]["metadata"]["name"]}], key
    assert REGISTRY_PASSWORD not in outputs["values_yaml"] + terraform_text
    assert REGISTRY_PASSWORD not in rendering.dump_all([m for m in manifests if m not in pull_secrets])


@pytest.mark.parametrize(("inputs", "secrets"), [("local", LOCAL_SECRETS), ("aws", AWS_SECRETS)],
                         ids=["local", "aws"])
def test_no_secret_in_values_plan_outputs_or_configmaps(terraform_copy, tmp_path, inputs, secrets):
    tf = offline_module(terraform_copy, tmp_path, inputs, secrets=secrets)
    plan_text = tf.plan()
    terraform_text = plan_text + tf.apply() + tf.output(json_format=False)
    outputs = tf.output()

    manifests = rendering.render(**helm_inputs(outputs))

    configmaps = rendering.dump_all(rendering.of_kind(manifests, "ConfigMap"))
    for secret in SECRETS:
        assert secret not in outputs["values_yaml"]
        assert secret not in terraform_text
        assert secret not in configmaps
    assert "secret_values = (sensitive value)" in plan_text, "Terraform carries the entries as sensitive"
    # The token does reach the pods, through the Secret only.
    secret_manifest = rendering.only(manifests, "Secret")
    assert "UPLOAD_TOKEN" in secret_manifest["data"] and UPLOAD_TOKEN not in rendering.dump_all([secret_manifest])


def test_a_chart_edit_changes_the_values(terraform_copy, tmp_path):
    """helm_release notices no edit of a local chart; the checksum/chart annotation makes every edit an upgrade."""
    tf = offline_module(terraform_copy, tmp_path, "local")
    tf.apply()
    before = tf.output()["values_yaml"]
    second = tf.execute_command("plan", "-input=false", "-no-color", "-detailed-exitcode")
    assert second.retcode == 0, f"a second plan is not empty:\n{second.out}"

    notes = Path(tf.tfdir, "kubernetes-app", "chart", "templates", "NOTES.txt")
    notes.write_text(notes.read_text() + "\n")
    tf.apply()
    after = tf.output()["values_yaml"]

    before, after = yaml.safe_load(before), yaml.safe_load(after)
    assert before.pop("podAnnotations")["checksum/chart"] != after.pop("podAnnotations")["checksum/chart"]
    assert before == after, "only the chart digest changed"


@pytest.mark.parametrize("token", [UPLOAD_TOKEN, "A" * 16, "abc.DEF_ghi~jkl+mno/pqr=stu-vwx", "0123456789" * 51 + "ab",
                                   "=/+-_.~0123456789abcdef"])
def test_allowed_secret_alphabet_passes_helm_set_string_unchanged(token):
    """The variables' token alphabet survives Helm's `--set-string` parser byte for byte, into the Secret."""
    minimal = rendering.ci_value_sets()["minimal"]
    values = rendering.merged(minimal, {"secrets": {"existingSecret": "", "uploadToken": ""}})
    secret = next(m for m in rendering.render(values, set_string={"secrets.uploadToken": token})
                  if m["kind"] == "Secret" and "UPLOAD_TOKEN" in {**m.get("data", {}), **m.get("stringData", {})})
    stored = secret.get("stringData", {}).get("UPLOAD_TOKEN") or base64.b64decode(secret["data"]["UPLOAD_TOKEN"]).decode()
    assert stored == token


# Rules across several inputs are the chart's (templates/_validate.tpl), written once: Terraform passes the values,
# and the chart refuses them at install with a message that names the module's inputs too.
AWS_INGRESS = fixture_inputs("aws")["ingress"]
CHART_REFUSALS = [
    # (why, fixture inputs, what the case changes in them, secrets, fragment of the message)
    # envs/local's call in prod (with two replicas, so that only the keys are wrong).
    ("emulator keys in prod", "local", {"environment": "prod", "replicas": 2}, LOCAL_SECRETS,
     "are refused when environment is prod"),
    ("prod without a token", "aws", {}, {}, "(Terraform module: upload_token or existing_secret_name)"),
    # The default environment is the safe one: leaving it out never opens the upload endpoint (environment is
    # `nullable = false`: null stands for leaving it out, the default applies).
    ("default environment without a token", "aws", {"environment": None}, {}, "environment prod requires an upload token"),
    ("half a key pair", "local", {}, {"s3_access_key_id": EMULATOR_KEY_ID},
     "(Terraform module: s3_access_key_id and s3_secret_access_key)"),
    ("prod with one replica", "aws", {"autoscaling": {"enabled": False}, "replicas": 1}, AWS_SECRETS,
     "(Terraform module: replicas, autoscaling)"),
    ("prod autoscaling from one replica", "aws", {"autoscaling": {"enabled": True, "min_replicas": 1}}, AWS_SECRETS,
     "(Terraform module: autoscaling.min_replicas)"),
    ("a token and an existing Secret", "aws", {"existing_secret_name": "mirror-secrets"}, AWS_SECRETS,
     "(Terraform module: existing_secret_name, or upload_token / s3_access_key_id)"),
]


@pytest.mark.parametrize(("why", "inputs", "change", "secrets", "message"), CHART_REFUSALS,
                         ids=[case[0] for case in CHART_REFUSALS])
def test_chart_refuses_what_the_module_passes_with_a_message_naming_the_input(terraform_copy, tmp_path, why, inputs,
                                                                              change, secrets, message):
    tf = offline_module(terraform_copy, tmp_path, inputs, change=change, secrets=secrets)
    tf.apply()

    with pytest.raises(helm.HelmRenderError) as refused:
        rendering.render(**helm_inputs(tf.output()))

    assert message in str(refused.value), str(refused.value)
    for secret in SECRETS:
        assert secret not in str(refused.value), f"{why}: a secret reached the message"


REFUSALS = [
    # (why, fixture inputs, what the case changes in them, secrets, fragment of the message)
    ("ingress publishing /metrics", "aws", {"ingress": {**AWS_INGRESS, "path": "/"}}, AWS_SECRETS,
     'would publish /metrics outside the cluster: use "/api"'),
    ("endpoint not a URL", "local", {"s3_endpoint_url": "host.minikube.internal:4566"}, {},
     "s3_endpoint_url must be an http:// or https:// URL"),
    ("token with a comma", "local", {}, {"upload_token": "has,comma-0123456789"},
     "upload_token must be 16-512 characters"),
    ("registry with a scheme", "aws", {},
     {**AWS_SECRETS, "image_pull_credentials": {**REGISTRY_CREDENTIALS, "registry": "https://registry.gitlab.com"}},
     "image_pull_credentials.registry must be a registry host"),
    ("registry password with a comma", "aws", {},
     {**AWS_SECRETS, "image_pull_credentials": {**REGISTRY_CREDENTIALS, "password": "has,comma-" + REGISTRY_PASSWORD}},
     "image_pull_credentials.username and .password must be"),
    ("bad bucket", "local", {"s3_bucket": "Not_A_Bucket"}, {}, "s3_bucket must be a valid S3 bucket name"),
    ("ingress without host", "local", {"ingress": {"enabled": True}}, {}, "ingress.enabled needs ingress.host"),
    ("ingress scheme", "aws", {"ingress": {**AWS_INGRESS, "scheme": "public"}}, AWS_SECRETS,
     'ingress.scheme must be "internal"'),
    ("certificate without an ALB", "aws", {"ingress": {**AWS_INGRESS, "class_name": "nginx", "annotations": {}}},
     AWS_SECRETS, 'needs ingress.class_name = "alb"'),
    ("TLS Secret on an ALB", "aws", {"ingress": {**AWS_INGRESS, "tls_secret_name": "mirror-tls"}},
     AWS_SECRETS, "ingress.tls_secret_name does not give an ALB a certificate"),
    ("both PDB bounds", "local", {"pdb": {"min_available": "1", "max_unavailable": "1"}}, {}, "not both"),
    ("managed variable in extra_env", "local", {"extra_env": {"S3_BUCKET": "x"}}, {}, "extra_env must not set"),
    ("server setting in extra_env", "local", {"server": {"FORWARDED_ALLOW_IPS": "10.0.0.0/16"},
                                              "extra_env": {"FORWARDED_ALLOW_IPS": "0.0.0.0/0"}}, {},
     "extra_env must not set variables the module manages (use the dedicated inputs and server) or secrets (use "
     "upload_token / existing_secret_name): FORWARDED_ALLOW_IPS."),
    ("server setting not by its variable name", "local", {"server": {"keepalive": "65"}}, {},
     "server takes the service's environment variable names as keys"),
]


@pytest.mark.parametrize(("why", "inputs", "change", "secrets", "message"), REFUSALS, ids=[case[0] for case in REFUSALS])
def test_module_refuses_with_a_message_that_says_what_to_fix(terraform_copy, tmp_path, why, inputs, change, secrets,
                                                             message):
    tf = offline_module(terraform_copy, tmp_path, inputs, change=change, secrets=secrets)

    with pytest.raises(tftest.TerraformTestError) as refused:
        tf.plan()

    text = " ".join(refused.value.args[0].split())  # Terraform wraps long messages
    assert message in text, text[-3000:]
    for secret in SECRETS + ("has,comma-0123456789",):
        assert secret not in str(refused.value), f"{why}: a secret reached the diagnostics"
