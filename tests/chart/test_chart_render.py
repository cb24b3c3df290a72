"""The chart, rendered by the real Helm engine for every value set and checked object by object.

No cluster here: what a cluster would refuse is caught by Kubernetes' own schemas (strict: unknown fields
fail) for every supported minor, and what Pod Security "restricted" would refuse is asserted field by field.
"""

from __future__ import annotations

import base64
import http.server
import subprocess
import sys
import threading

import helm_python
import pytest
import yaml

from harness import processes
from tests.chart import support
from tests.chart.support import KUBE_VERSIONS

VALUE_SETS = sorted(support.ci_value_sets())
SELECTOR = {"app.kubernetes.io/name": "mirror-service", "app.kubernetes.io/instance": support.RELEASE}
CONTRACT_SETTINGS = {"S3_BUCKET", "S3_PREFIX", "AWS_REGION", "APP_VERSION", "LOG_LEVEL", "MAX_WORD_LENGTH",
                     "WEB_CONCURRENCY", "GUNICORN_THREADS", "GUNICORN_TIMEOUT", "GUNICORN_GRACEFUL_TIMEOUT",
                     "GUNICORN_KEEPALIVE", "PORT", "TMPDIR", "PROMETHEUS_MULTIPROC_DIR"}


def test_the_expected_value_sets_exist():
    assert {"minimal", "prod", "local", "httproute", "existing-secret"} <= set(VALUE_SETS)


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_lint_is_clean_in_strict_mode(kube_version):
    for name, values in support.ci_value_sets().items():
        report = helm_python.lint(support.CHART_DIR, values=values, strict=True, kube_version=f"v{kube_version}.0")
        findings = [m for m in report["messages"] if m["severity"] >= 2]
        assert not report["errors"] and not findings, f"{name} on {kube_version}: {report}"
        # The only remark is the optional icon.
        assert {m["error"] for m in report["messages"]} <= {"icon is recommended"}, report


def test_chart_declares_the_oldest_kubernetes_it_is_tested_on():
    # Helm enforces kubeVersion at install time (lint does not), so a 1.29 cluster gets a clear refusal
    # instead of a preStop sleep action it does not enable by default.
    metadata = yaml.safe_load((support.CHART_DIR / "Chart.yaml").read_text())
    assert metadata["kubeVersion"] == f">={KUBE_VERSIONS[0]}.0-0"


@pytest.mark.parametrize("name", VALUE_SETS)
def test_every_manifest_is_valid_for_every_supported_kubernetes(name, rendered_sets):
    manifests = rendered_sets[name]
    for manifest in manifests:
        for kube_version in KUBE_VERSIONS:
            support.validate(manifest, kube_version)


@pytest.mark.parametrize("name", VALUE_SETS)
def test_every_pod_spec_meets_pod_security_restricted(name, rendered_sets):
    specs = support.pod_specs(rendered_sets[name])
    assert {key.split("/")[0] for key in specs} == {"Deployment", "Pod"}, specs.keys()  # the app and the test hook
    for key, spec in specs.items():
        assert support.restricted_violations(spec) == [], f"{name} {key}"


@pytest.mark.parametrize("name", VALUE_SETS)
def test_every_namespaced_object_names_the_release_namespace(name, rendered_sets):
    for manifest in rendered_sets[name]:
        assert manifest["metadata"].get("namespace") == support.NAMESPACE, manifest["metadata"]


@pytest.mark.parametrize("name", VALUE_SETS)
def test_labels_follow_helm_practice_and_selectors_stay_minimal(name, rendered_sets):
    manifests = rendered_sets[name]
    deployment = support.only(manifests, "Deployment")
    assert deployment["spec"]["selector"]["matchLabels"] == SELECTOR
    assert support.only(manifests, "Service")["spec"]["selector"] == SELECTOR
    for manifest in manifests:
        labels = manifest["metadata"]["labels"]
        assert labels["helm.sh/chart"] == "mirror-service-0.1.0"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["app.kubernetes.io/instance"] == support.RELEASE
        assert "app.kubernetes.io/version" in labels
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert SELECTOR.items() <= pod_labels.items()
    # The helm-test Pod must not match the Service's selector, or the Service would route traffic to it.
    test_pod = support.only(manifests, "Pod")
    assert not SELECTOR.items() <= test_pod["metadata"]["labels"].items()


def _app_container(manifests):
    return support.only(manifests, "Deployment")["spec"]["template"]["spec"]["containers"][0]


def test_defaults_render_a_complete_hardened_deployment(rendered_sets):
    manifests = rendered_sets["minimal"]
    assert sorted(m["kind"] for m in manifests if not support.is_hook(m)) == [
        "ConfigMap", "Deployment", "NetworkPolicy", "PodDisruptionBudget", "Service", "ServiceAccount"]
    deployment = support.only(manifests, "Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 2
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    pod = spec["template"]["spec"]
    container = pod["containers"][0]
    assert container["image"] == "mirror-service:0.1.0" and container["imagePullPolicy"] == "IfNotPresent"
    assert container["ports"] == [{"name": "http", "containerPort": 4545, "protocol": "TCP"}]
    assert container["startupProbe"]["httpGet"] == {"path": "/api/health", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/api/health", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/api/ready", "port": "http"}
    # Liveness restarts only a stuck process: more patience than readiness.
    assert container["livenessProbe"]["failureThreshold"] > container["readinessProbe"]["failureThreshold"]
    assert set(container["resources"]) == {"requests", "limits"}
    for group in ("requests", "limits"):
        assert set(container["resources"][group]) == {"cpu", "memory"}
    assert container["lifecycle"]["preStop"] == {"sleep": {"seconds": 5}}
    # preStop 5 + GUNICORN_GRACEFUL_TIMEOUT 20 + margin 5
    assert pod["terminationGracePeriodSeconds"] == 30
    assert pod["enableServiceLinks"] is False
    spread = pod["topologySpreadConstraints"]
    assert [c["topologyKey"] for c in spread] == ["kubernetes.io/hostname", "topology.kubernetes.io/zone"]
    assert all(c["whenUnsatisfiable"] == "ScheduleAnyway" and c["labelSelector"]["matchLabels"] == SELECTOR
               for c in spread)
    assert support.only(manifests, "ServiceAccount")["automountServiceAccountToken"] is False
    service = support.only(manifests, "Service")
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]


@pytest.mark.parametrize("name", VALUE_SETS)
def test_writable_paths_are_emptydirs_named_by_the_environment(name, rendered_sets):
    manifests = rendered_sets[name]
    env = support.env_of(manifests)
    assert CONTRACT_SETTINGS <= env.keys()
    pod = support.only(manifests, "Deployment")["spec"]["template"]["spec"]
    mounts = {m["mountPath"]: m["name"] for m in pod["containers"][0]["volumeMounts"]}
    empty_dirs = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
    for variable in ("TMPDIR", "PROMETHEUS_MULTIPROC_DIR"):
        assert mounts.get(env[variable]) in empty_dirs, f"{variable}={env[variable]} is not an emptyDir mount"
    assert env["TMPDIR"] != env["PROMETHEUS_MULTIPROC_DIR"]
    assert all("sizeLimit" in v["emptyDir"] for v in pod["volumes"] if "emptyDir" in v)


@pytest.mark.parametrize("name", VALUE_SETS)
def test_grace_period_covers_prestop_and_gunicorn_drain(name, rendered_sets):
    manifests = rendered_sets[name]
    pod = support.only(manifests, "Deployment")["spec"]["template"]["spec"]
    pre_stop = pod["containers"][0].get("lifecycle", {}).get("preStop", {})
    pre_stop_seconds = pre_stop["sleep"]["seconds"] if "sleep" in pre_stop else int(pre_stop["exec"]["command"][-1]) \
        if pre_stop else 0
    graceful = int(support.env_of(manifests)["GUNICORN_GRACEFUL_TIMEOUT"])
    assert pod["terminationGracePeriodSeconds"] >= pre_stop_seconds + graceful + 1


def test_grace_period_is_computed_from_the_drain_settings():
    drain = {"gunicorn": {"gracefulTimeout": 40}, "shutdown": {"preStopSeconds": 8, "marginSeconds": 2}}
    values = support.merged(support.ci_value_sets()["minimal"], drain)
    pod = support.only(support.render(values), "Deployment")["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == 50


def test_exec_prestop_uses_the_images_sleep(rendered_sets):
    container = _app_container(rendered_sets["local"])
    assert container["lifecycle"]["preStop"] == {"exec": {"command": ["/bin/sleep", "2"]}}


def test_prestop_can_be_turned_off(rendered_sets):
    assert "lifecycle" not in _app_container(rendered_sets["httproute"])


def test_prod_set_scales_with_hpa_and_pins_the_digest(rendered_sets):
    manifests = rendered_sets["prod"]
    deployment = support.only(manifests, "Deployment")
    assert "replicas" not in deployment["spec"], "with an HPA the Deployment must leave replicas alone"
    hpa = support.only(manifests, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "name": deployment["metadata"]["name"]}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 12)
    assert {m["resource"]["name"] for m in hpa["spec"]["metrics"]} == {"cpu", "memory"}
    container = _app_container(manifests)
    assert container["image"].endswith(":1.4.2@sha256:" + "0123456789abcdef" * 4)
    assert container["resources"]["requests"]["cpu"], "CPU utilisation needs a CPU request"
    pdb = support.only(manifests, "PodDisruptionBudget")
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"]["minAvailable"] == 2 and "maxUnavailable" not in pdb["spec"]
    assert pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
    assert pdb["spec"]["selector"]["matchLabels"] == SELECTOR
    assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 45
    assert all(c["whenUnsatisfiable"] == "DoNotSchedule"
               for c in deployment["spec"]["template"]["spec"]["topologySpreadConstraints"])


def test_ingress_sends_port_80_to_the_service(rendered_sets):
    manifests = rendered_sets["prod"]
    ingress = support.only(manifests, "Ingress")
    assert ingress["apiVersion"] == "networking.k8s.io/v1"
    assert ingress["spec"]["ingressClassName"] == "alb"
    assert ingress["spec"]["tls"] == [{"hosts": ["mirror.example.com"], "secretName": "mirror-example-com-tls"}]
    path = ingress["spec"]["rules"][0]["http"]["paths"][0]
    assert path["backend"]["service"] == {"name": support.only(manifests, "Service")["metadata"]["name"],
                                          "port": {"number": 80}}


def test_httproute_attaches_to_the_gateway_and_sends_port_80_to_the_service(rendered_sets):
    manifests = rendered_sets["httproute"]
    route = support.only(manifests, "HTTPRoute")
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert route["spec"]["parentRefs"] == [{"name": "public", "namespace": "gateway-system", "sectionName": "https"}]
    assert route["spec"]["hostnames"] == ["mirror.example.com"]
    rule = route["spec"]["rules"][0]
    assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": "/api"}}]
    assert rule["backendRefs"] == [{"name": support.only(manifests, "Service")["metadata"]["name"], "port": 80,
                                    "weight": 1}]
    assert not support.of_kind(manifests, "Ingress")


def test_strict_validation_refuses_unknown_fields(rendered_sets):
    """Guards the guard: the validation above would catch a misspelt field in a core object."""
    deployment = support.only(rendered_sets["minimal"], "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    broken = {**deployment, "spec": {**deployment["spec"], "template": {
        **deployment["spec"]["template"], "spec": {**pod, "terminationGracePeriod": 30}}}}
    with pytest.raises(Exception, match="terminationGracePeriod"):
        support.validate(broken, "1.30")


def test_vendored_httproute_schema_refuses_unknown_fields(rendered_sets):
    route = support.only(rendered_sets["httproute"], "HTTPRoute")
    broken = {**route, "spec": {**route["spec"], "rules": [{**route["spec"]["rules"][0], "backendRef": []}]}}
    with pytest.raises(Exception, match="backendRef"):
        support.validate(broken, "1.33")


def test_irsa_annotates_the_service_account_and_pod_identity_needs_nothing(rendered_sets):
    irsa = support.only(rendered_sets["httproute"], "ServiceAccount")
    role = "arn:aws:iam::123456789012:role/mirror-service"
    assert irsa["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": role}
    assert "annotations" not in support.only(rendered_sets["prod"], "ServiceAccount")["metadata"]


def test_an_existing_service_account_is_used_not_created(rendered_sets):
    manifests = rendered_sets["existing-secret"]
    assert not support.of_kind(manifests, "ServiceAccount")
    assert support.only(manifests, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"] == "mirror-service"


def test_network_policy_admits_only_the_service_port_and_needed_egress(rendered_sets):
    policy = support.only(rendered_sets["minimal"], "NetworkPolicy", hook=False)
    assert policy["spec"]["podSelector"]["matchLabels"] == SELECTOR
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert policy["spec"]["ingress"] == [{"ports": [{"port": 4545, "protocol": "TCP"}]}]
    egress_ports = {(p["port"], p["protocol"]) for rule in policy["spec"]["egress"] for p in rule["ports"]}
    assert egress_ports == {(53, "UDP"), (53, "TCP"), (443, "TCP"), (80, "TCP")}
    pod_identity = [r for r in policy["spec"]["egress"] if r.get("to") == [{"ipBlock": {"cidr": "169.254.170.23/32"}}]]
    assert pod_identity and pod_identity[0]["ports"] == [{"port": 80, "protocol": "TCP"}]


def test_closed_network_policy_admits_the_ingress_namespace_and_the_test_client(rendered_sets):
    manifests = rendered_sets["prod"]
    policy = support.only(manifests, "NetworkPolicy", hook=False)
    sources = policy["spec"]["ingress"][0]["from"]
    client_label = f"{support.only(manifests, 'Service')['metadata']['name']}-client"
    assert {"podSelector": {"matchLabels": {client_label: "true"}}} in sources
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress"}}} in sources
    assert support.only(manifests, "Pod")["metadata"]["labels"][client_label] == "true"


@pytest.mark.parametrize(("name", "cidr", "port"), [("local", "192.168.49.1/32", 5000),
                                                     ("existing-secret", "10.0.0.0/8", 443)])
def test_network_policy_opens_the_emulator_port(rendered_sets, name, cidr, port):
    policy = support.only(rendered_sets[name], "NetworkPolicy", hook=False)
    rule = {"to": [{"ipBlock": {"cidr": cidr}}], "ports": [{"port": port, "protocol": "TCP"}]}
    assert rule in policy["spec"]["egress"]


def test_configmap_carries_the_contract_settings(rendered_sets):
    env = support.env_of(rendered_sets["local"])
    assert env["S3_ENDPOINT_URL"] == "http://host.minikube.internal:5000"
    assert env["S3_BUCKET"] == "mirror-uploads-local"
    assert env["MAX_WORD_LENGTH"] == "64" and env["LOG_LEVEL"] == "DEBUG"
    assert env["APP_VERSION"] == "local" and env["PORT"] == "4545"
    assert "S3_ENDPOINT_URL" not in support.env_of(rendered_sets["prod"])
    assert support.env_of(rendered_sets["prod"])["FEATURE_FLAGS"] == "none"


def test_secrets_live_in_a_secret_and_never_in_the_configmap(rendered_sets):
    manifests = rendered_sets["local"]
    values = support.ci_value_sets()["local"]["secrets"]
    secret = support.only(manifests, "Secret")
    assert set(secret["data"]) == {"UPLOAD_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    configmap_text = support.dump_all(support.of_kind(manifests, "ConfigMap"))
    assert values["uploadToken"] not in configmap_text
    env = support.env_of(manifests)
    assert env["UPLOAD_TOKEN"] == "secret:UPLOAD_TOKEN" and env["AWS_ACCESS_KEY_ID"] == "secret:AWS_ACCESS_KEY_ID"
    secret_refs = [e["valueFrom"]["secretKeyRef"] for e in _app_container(manifests)["env"]]
    assert all(ref["name"] == secret["metadata"]["name"] and ref["optional"] is False for ref in secret_refs)


def test_without_secret_values_there_is_no_secret(rendered_sets):
    manifests = rendered_sets["minimal"]
    assert not support.of_kind(manifests, "Secret")
    assert "env" not in _app_container(manifests)
    assert "checksum/secret" not in support.only(manifests, "Deployment")["spec"]["template"]["metadata"]["annotations"]


def test_prod_reads_an_existing_secret_and_never_references_emulator_keys(rendered_sets):
    manifests = rendered_sets["prod"]
    assert not support.of_kind(manifests, "Secret")
    env = _app_container(manifests)["env"]
    assert env == [{"name": "UPLOAD_TOKEN", "valueFrom": {"secretKeyRef": {
        "name": "mirror-service-secrets", "key": "UPLOAD_TOKEN", "optional": False}}}]


def test_dev_existing_secret_may_carry_emulator_keys(rendered_sets):
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in _app_container(rendered_sets["existing-secret"])["env"]}
    assert set(refs) == {"UPLOAD_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    assert all(ref["name"] == "mirror-service-env" and ref["optional"] is True for ref in refs.values())


def _pod_annotations(values):
    return support.only(support.render(values), "Deployment")["spec"]["template"]["metadata"]["annotations"]


def test_config_and_secret_changes_roll_the_pods():
    base = support.ci_value_sets()["local"]
    before = _pod_annotations(base)
    same = _pod_annotations(base)
    config_changed = _pod_annotations(support.merged(base, {"config": {"logLevel": "INFO"}}))
    secret_changed = _pod_annotations(support.merged(base, {"secrets": {"uploadToken": "another-token-0123456789"}}))
    assert before == same, "rendering is deterministic"
    assert config_changed["checksum/config"] != before["checksum/config"]
    assert config_changed["checksum/secret"] == before["checksum/secret"]
    assert secret_changed["checksum/secret"] != before["checksum/secret"]
    assert secret_changed["checksum/config"] == before["checksum/config"]


def test_pod_annotations_from_values_reach_the_pods():
    values = support.merged(support.ci_value_sets()["minimal"], {"podAnnotations": {"checksum/chart": "abc"}})
    assert _pod_annotations(values)["checksum/chart"] == "abc"


def test_helm_test_hook_calls_the_service_with_its_own_image(rendered_sets):
    manifests = rendered_sets["prod"]
    pod = support.only(manifests, "Pod")
    annotations = pod["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "test"
    assert "hook-succeeded" in annotations["helm.sh/hook-delete-policy"]
    container = pod["spec"]["containers"][0]
    assert container["image"] == _app_container(manifests)["image"], "no extra image (busybox) to pull"
    assert container["command"][:2] == ["python", "-c"]
    assert {"name": "BASE_URL", "value": f"http://{support.only(manifests, 'Service')['metadata']['name']}:80"} \
        in container["env"]
    assert pod["spec"]["restartPolicy"] == "Never"
    # Its own NetworkPolicy, created before it: egress to DNS and the app pods only.
    policy = support.only(manifests, "NetworkPolicy", hook=True)
    assert policy["metadata"]["annotations"]["helm.sh/hook-weight"] == "-1"
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert "ingress" not in policy["spec"]
    assert {"to": [{"podSelector": {"matchLabels": SELECTOR}}], "ports": [{"port": 4545, "protocol": "TCP"}]} \
        in policy["spec"]["egress"]


class _FakeService(http.server.BaseHTTPRequestHandler):
    """Answers like the service (or wrongly, when `mirror` says so) for the helm-test script."""

    mirror = "52RAbOoF"

    def do_GET(self):  # noqa: N802 - http.server's naming
        body = {"/api/health": b'{"status": "ok"}',
                "/api/mirror?word=fOoBar25": b'{"transformed": "%s"}' % self.mirror.encode()}.get(self.path)
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body or b"{}")

    def log_message(self, *args):
        pass


@pytest.mark.parametrize(("answer", "passes"), [("52RAbOoF", True), ("fOoBar25", False)])
def test_helm_test_script_passes_only_on_the_right_answer(rendered_sets, answer, passes):
    """Runs the hook's Python, as rendered, against a local stand-in for the Service."""
    script = support.only(rendered_sets["minimal"], "Pod")["spec"]["containers"][0]["command"][2]
    handler = type("Handler", (_FakeService,), {"mirror": answer})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                                env={"BASE_URL": f"http://127.0.0.1:{server.server_address[1]}"})
    finally:
        server.shutdown()
        server.server_close()
    assert (result.returncode == 0) == passes, result.stdout + result.stderr
    if passes:
        assert "52RAbOoF" in result.stdout


@pytest.mark.parametrize("name", ["local", "prod"])
def test_the_real_service_accepts_the_rendered_environment_and_the_hook_passes(rendered_sets, name, tmp_path):
    """The service (gunicorn, checked-in config) started with the ConfigMap's variables and the Secret's values,
    then the helm-test script run against it: the names and values the chart renders are ones the app accepts."""
    manifests = rendered_sets[name]
    configmap = support.only(manifests, "ConfigMap")["data"]
    secrets = {key: base64.b64decode(value).decode()
               for manifest in support.of_kind(manifests, "Secret") for key, value in manifest["data"].items()}
    if name == "prod":
        secrets = {"UPLOAD_TOKEN": "an-existing-secret-token-0123"}  # the existing Secret's stand-in
    # The container's emptyDir mount points become private directories here.
    paths = {"TMPDIR": tmp_path / "tmp", "PROMETHEUS_MULTIPROC_DIR": tmp_path / "prometheus"}
    for path in paths.values():
        path.mkdir()
    env = processes.service_environment(**{**configmap, **secrets, **{k: str(v) for k, v in paths.items()}})
    service = processes.start_service(env, tmp_path / "logs")
    try:
        script = support.only(manifests, "Pod")["spec"]["containers"][0]["command"][2]
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                                env={"BASE_URL": service.url})
    finally:
        service.stop(timeout=10)
    assert result.returncode == 0, result.stdout + result.stderr + service.log()[-2000:]


def test_notes_explain_how_to_reach_and_test_the_release():
    notes = support.render_templates(support.ci_value_sets()["minimal"])["mirror-service/templates/NOTES.txt"]
    assert "port-forward svc/" in notes and f"helm test {support.RELEASE}" in notes
    assert "set image.digest" in notes
