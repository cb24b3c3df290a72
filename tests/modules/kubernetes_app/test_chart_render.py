"""The chart, rendered by the real Helm CLI for every value set and checked object by object.

No cluster here: what a cluster would refuse is caught by Kubernetes' own schemas (strict: unknown fields
fail) for every supported minor, and what Pod Security "restricted" would refuse is asserted field by field.
"""

from __future__ import annotations

import base64
import http.server
import json
import math
import subprocess
import sys
import threading

import pytest
import yaml

from harness import helm, processes
from mirror_service import config
from tests.modules.kubernetes_app import rendering
from tests.modules.kubernetes_app.rendering import KUBE_VERSIONS

VALUE_SETS = sorted(rendering.ci_value_sets())
CHART = yaml.safe_load((rendering.CHART_DIR / "Chart.yaml").read_text())
SELECTOR = {"app.kubernetes.io/name": "mirror-service", "app.kubernetes.io/instance": rendering.RELEASE}
# Always rendered; the other server settings only when set (unset, the service's default applies).
CONTRACT_SETTINGS = {"S3_BUCKET", "S3_PREFIX", "AWS_REGION", "APP_VERSION", "LOG_LEVEL", "MAX_WORD_LENGTH",
                     "WEB_CONCURRENCY", "GUNICORN_WORKER_CONNECTIONS", "GUNICORN_GRACEFUL_TIMEOUT",
                     "PORT", "TMPDIR", "PROMETHEUS_MULTIPROC_DIR"}
# gunicorn's gthread worker: the sync class with threads > 1 (app/gunicorn.conf.py), which gevent would ignore.
GTHREAD = {"server": {"GUNICORN_WORKER_CLASS": "sync", "GUNICORN_THREADS": 4}}


def test_the_expected_value_sets_exist():
    assert {"minimal", "prod", "local", "httproute", "existing-secret", "private-registry"} <= set(VALUE_SETS)


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_lint_is_clean_in_strict_mode(kube_version):
    for name, values in rendering.ci_value_sets().items():
        report = helm.lint(values, strict=True, kube_version=f"v{kube_version}.0")
        assert report.ok, f"{name} on {kube_version}:\n{report.output}"
        # The only remark is the optional icon.
        assert set(report.messages) <= {("INFO", "Chart.yaml: icon is recommended")}, report.output


def test_chart_declares_the_oldest_kubernetes_it_is_tested_on():
    # Helm enforces kubeVersion at install time (lint does not), so a 1.29 cluster gets a clear refusal
    # instead of a preStop sleep action it does not enable by default.
    metadata = yaml.safe_load((rendering.CHART_DIR / "Chart.yaml").read_text())
    assert metadata["kubeVersion"] == f">={KUBE_VERSIONS[0]}.0-0"


@pytest.mark.parametrize("name", VALUE_SETS)
def test_every_manifest_is_valid_for_every_supported_kubernetes(name):
    manifests = rendering.rendered_ci_sets()[name]
    for manifest in manifests:
        for kube_version in KUBE_VERSIONS:
            rendering.validate(manifest, kube_version)


@pytest.mark.parametrize("name", VALUE_SETS)
def test_every_pod_spec_meets_pod_security_restricted(name):
    specs = rendering.pod_specs(rendering.rendered_ci_sets()[name])
    assert {key.split("/")[0] for key in specs} == {"Deployment", "Pod"}, specs.keys()  # the app and the test hook
    for key, spec in specs.items():
        assert rendering.restricted_violations(spec) == [], f"{name} {key}"


@pytest.mark.parametrize("name", VALUE_SETS)
def test_every_namespaced_object_names_the_release_namespace(name):
    for manifest in rendering.rendered_ci_sets()[name]:
        assert manifest["metadata"].get("namespace") == rendering.NAMESPACE, manifest["metadata"]


@pytest.mark.parametrize("name", VALUE_SETS)
def test_labels_follow_helm_practice_and_selectors_stay_minimal(name):
    manifests = rendering.rendered_ci_sets()[name]
    deployment = rendering.only(manifests, "Deployment")
    assert deployment["spec"]["selector"]["matchLabels"] == SELECTOR
    assert rendering.only(manifests, "Service")["spec"]["selector"] == SELECTOR
    for manifest in manifests:
        labels = manifest["metadata"]["labels"]
        assert labels["helm.sh/chart"] == f"mirror-service-{CHART['version']}"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["app.kubernetes.io/instance"] == rendering.RELEASE
        assert "app.kubernetes.io/version" in labels
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert SELECTOR.items() <= pod_labels.items()
    # The helm-test Pod must not match the Service's selector, or the Service would route traffic to it.
    test_pod = rendering.only(manifests, "Pod")
    assert not SELECTOR.items() <= test_pod["metadata"]["labels"].items()


def _app_container(manifests):
    return rendering.only(manifests, "Deployment")["spec"]["template"]["spec"]["containers"][0]


def test_defaults_render_a_complete_hardened_deployment():
    manifests = rendering.rendered_ci_sets()["minimal"]
    assert sorted(m["kind"] for m in manifests if not rendering.is_hook(m)) == [
        "ConfigMap", "Deployment", "NetworkPolicy", "PodDisruptionBudget", "Service", "ServiceAccount"]
    deployment = rendering.only(manifests, "Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 2
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    pod = spec["template"]["spec"]
    container = pod["containers"][0]
    # The image tag defaults to the chart's appVersion (what `make release` sets, the tag the pipeline pushes).
    assert container["image"] == f"mirror-service:{CHART['appVersion']}" and container["imagePullPolicy"] == "IfNotPresent"
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
    assert rendering.only(manifests, "ServiceAccount")["automountServiceAccountToken"] is False
    service = rendering.only(manifests, "Service")
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]


@pytest.mark.parametrize("name", VALUE_SETS)
def test_writable_paths_are_emptydirs_named_by_the_environment(name):
    manifests = rendering.rendered_ci_sets()[name]
    env = rendering.env_of(manifests)
    assert CONTRACT_SETTINGS <= env.keys()
    pod = rendering.only(manifests, "Deployment")["spec"]["template"]["spec"]
    mounts = {m["mountPath"]: m["name"] for m in pod["containers"][0]["volumeMounts"]}
    empty_dirs = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
    for variable in ("TMPDIR", "PROMETHEUS_MULTIPROC_DIR"):
        assert mounts.get(env[variable]) in empty_dirs, f"{variable}={env[variable]} is not an emptyDir mount"
    assert env["TMPDIR"] != env["PROMETHEUS_MULTIPROC_DIR"]
    assert all("sizeLimit" in v["emptyDir"] for v in pod["volumes"] if "emptyDir" in v)


@pytest.mark.parametrize("name", VALUE_SETS)
def test_grace_period_covers_prestop_and_gunicorn_drain(name):
    manifests = rendering.rendered_ci_sets()[name]
    pod = rendering.only(manifests, "Deployment")["spec"]["template"]["spec"]
    pre_stop = pod["containers"][0].get("lifecycle", {}).get("preStop", {})
    pre_stop_seconds = pre_stop["sleep"]["seconds"] if "sleep" in pre_stop else int(pre_stop["exec"]["command"][-1]) \
        if pre_stop else 0
    graceful = int(rendering.env_of(manifests)["GUNICORN_GRACEFUL_TIMEOUT"])
    assert pod["terminationGracePeriodSeconds"] >= pre_stop_seconds + graceful + 1


def test_grace_period_is_computed_from_the_drain_settings():
    drain = {"server": {"GUNICORN_GRACEFUL_TIMEOUT": 40}, "shutdown": {"preStopSeconds": 8, "marginSeconds": 2}}
    values = rendering.merged(rendering.ci_value_sets()["minimal"], drain)
    pod = rendering.only(rendering.render(values), "Deployment")["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == 50


def test_exec_prestop_uses_the_images_sleep():
    container = _app_container(rendering.rendered_ci_sets()["local"])
    assert container["lifecycle"]["preStop"] == {"exec": {"command": ["/bin/sleep", "2"]}}


def test_prestop_can_be_turned_off():
    assert "lifecycle" not in _app_container(rendering.rendered_ci_sets()["httproute"])


def test_prod_set_scales_with_hpa_and_pins_the_digest():
    manifests = rendering.rendered_ci_sets()["prod"]
    deployment = rendering.only(manifests, "Deployment")
    assert "replicas" not in deployment["spec"], "with an HPA the Deployment must leave replicas alone"
    hpa = rendering.only(manifests, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "name": deployment["metadata"]["name"]}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 12)
    assert {m["resource"]["name"] for m in hpa["spec"]["metrics"]} == {"cpu", "memory"}
    container = _app_container(manifests)
    assert container["image"].endswith(":1.4.2@sha256:" + "0123456789abcdef" * 4)
    assert container["resources"]["requests"]["cpu"], "CPU utilisation needs a CPU request"
    pdb = rendering.only(manifests, "PodDisruptionBudget")
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"]["minAvailable"] == 2 and "maxUnavailable" not in pdb["spec"]
    assert pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
    assert pdb["spec"]["selector"]["matchLabels"] == SELECTOR
    assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 45
    assert all(c["whenUnsatisfiable"] == "DoNotSchedule"
               for c in deployment["spec"]["template"]["spec"]["topologySpreadConstraints"])


ALB = "alb.ingress.kubernetes.io/"


def _notes(values: dict) -> str:
    return rendering.render_templates(values)["mirror-service/templates/NOTES.txt"]


def test_alb_ingress_targets_the_pods_by_ip_and_serves_https_with_its_certificate():
    """What the AWS Load Balancer Controller needs in front of a ClusterIP Service (annotation reference:
    https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/ingress/annotations/): instance
    targets route to a NodePort, so a ClusterIP Service needs target-type ip (maintainer's answer in
    kubernetes-sigs/aws-load-balancer-controller#1695); the scheme defaults to internal, so it is stated; HTTPS
    needs certificate-arn and a 443 listener, and ssl-redirect must name an HTTPS port of listen-ports
    (guide/tasks/ssl_redirect); the default health check path `/` answers 404 here."""
    manifests = rendering.rendered_ci_sets()["prod"]
    service = rendering.only(manifests, "Service")
    assert service["spec"]["type"] == "ClusterIP"
    ingress = rendering.only(manifests, "Ingress")
    assert ingress["apiVersion"] == "networking.k8s.io/v1"
    assert ingress["spec"]["ingressClassName"] == "alb"
    annotations = ingress["metadata"]["annotations"]
    assert annotations[ALB + "target-type"] == "ip"
    assert annotations[ALB + "scheme"] == "internet-facing"
    assert annotations[ALB + "certificate-arn"].startswith("arn:aws:acm:eu-west-1:123456789012:certificate/")
    assert json.loads(annotations[ALB + "listen-ports"]) == [{"HTTP": 80}, {"HTTPS": 443}]
    assert annotations[ALB + "ssl-redirect"] == "443"
    assert annotations[ALB + "healthcheck-path"] == "/api/ready"
    assert annotations[ALB + "group.name"] == "public", "the values' own annotations are kept"
    assert "tls" not in ingress["spec"], "an ALB takes its certificate from ACM, not from a Secret"
    path = ingress["spec"]["rules"][0]["http"]["paths"][0]
    assert path["backend"]["service"] == {"name": service["metadata"]["name"], "port": {"number": 80}}
    assert "Ingress: https://mirror.example.com" in _notes(rendering.ci_value_sets()["prod"])


def test_alb_without_a_certificate_is_plain_http_and_internal_unless_asked():
    values = rendering.ci_value_sets()["private-registry"]
    annotations = rendering.only(rendering.rendered_ci_sets()["private-registry"], "Ingress")["metadata"]["annotations"]
    assert annotations[ALB + "target-type"] == "ip"
    assert annotations[ALB + "scheme"] == "internal"
    assert json.loads(annotations[ALB + "listen-ports"]) == [{"HTTP": 80}]
    assert ALB + "certificate-arn" not in annotations and ALB + "ssl-redirect" not in annotations
    assert "Ingress: http://mirror.internal.example.com" in _notes(values)
    overridden = rendering.merged(values, {"ingress": {"annotations": {ALB + "scheme": "internet-facing"}}})
    ingress = rendering.only(rendering.render(overridden), "Ingress")
    assert ingress["metadata"]["annotations"][ALB + "scheme"] == "internet-facing", "explicit annotations win"


def test_other_ingress_controllers_get_only_their_annotations_and_a_tls_secret():
    values = rendering.merged(rendering.ci_value_sets()["minimal"], {"ingress": {
        "enabled": True, "className": "traefik", "annotations": {"example.com/owner": "team"},
        "tls": [{"secretName": "mirror-tls", "hosts": ["mirror.example.com"]}]}})
    ingress = rendering.only(rendering.render(values), "Ingress")
    assert ingress["metadata"]["annotations"] == {"example.com/owner": "team"}
    assert ingress["spec"]["tls"] == [{"hosts": ["mirror.example.com"], "secretName": "mirror-tls"}]
    assert "Ingress: https://mirror.example.com" in _notes(values)


def test_registry_credentials_become_a_pull_secret_that_every_pod_uses():
    """A private image on a fresh cluster: the Secret comes with the release, so the first install pulls."""
    manifests = rendering.rendered_ci_sets()["private-registry"]
    secrets = rendering.ci_value_sets()["private-registry"]["secrets"]
    pull_secret = [m for m in rendering.of_kind(manifests, "Secret") if m["type"] == "kubernetes.io/dockerconfigjson"]
    assert len(pull_secret) == 1, pull_secret
    pull_secret = pull_secret[0]
    config = json.loads(base64.b64decode(pull_secret["data"][".dockerconfigjson"]))
    user, password = secrets["registryUsername"], secrets["registryPassword"]
    assert config == {"auths": {"registry.gitlab.com": {
        "username": user, "password": password, "auth": base64.b64encode(f"{user}:{password}".encode()).decode()}}}
    expected = [{"name": "shared-registry-credentials"}, {"name": pull_secret["metadata"]["name"]}]
    specs = rendering.pod_specs(manifests)
    assert {key.split("/")[0] for key in specs} == {"Deployment", "Pod"}
    for key, spec in specs.items():
        assert spec["imagePullSecrets"] == expected, key
    everything_else = rendering.dump_all([m for m in manifests if m is not pull_secret])
    assert password not in everything_else and base64.b64encode(password.encode()).decode() not in everything_else


def test_without_registry_credentials_there_is_no_pull_secret():
    manifests = rendering.rendered_ci_sets()["minimal"]
    assert not [m for m in rendering.of_kind(manifests, "Secret") if m["type"] == "kubernetes.io/dockerconfigjson"]
    for key, spec in rendering.pod_specs(manifests).items():
        assert "imagePullSecrets" not in spec, key


def test_autoscaling_is_off_unless_asked():
    """An HPA without the resource metrics API (metrics-server) shows `<unknown>` targets and never scales:
    the chart renders one only when autoscaling.enabled is set, and keeps a fixed replica count otherwise."""
    manifests = rendering.rendered_ci_sets()["minimal"]
    assert not rendering.of_kind(manifests, "HorizontalPodAutoscaler")
    assert rendering.only(manifests, "Deployment")["spec"]["replicas"] == 2


def test_httproute_attaches_to_the_gateway_and_sends_port_80_to_the_service():
    manifests = rendering.rendered_ci_sets()["httproute"]
    route = rendering.only(manifests, "HTTPRoute")
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert route["spec"]["parentRefs"] == [{"name": "public", "namespace": "gateway-system", "sectionName": "https"}]
    assert route["spec"]["hostnames"] == ["mirror.example.com"]
    rule = route["spec"]["rules"][0]
    assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": "/api"}}]
    assert rule["backendRefs"] == [{"name": rendering.only(manifests, "Service")["metadata"]["name"], "port": 80,
                                    "weight": 1}]
    assert not rendering.of_kind(manifests, "Ingress")


def test_strict_validation_refuses_unknown_fields():
    """Guards the guard: the validation above would catch a misspelt field in a core object."""
    deployment = rendering.only(rendering.rendered_ci_sets()["minimal"], "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    broken = {**deployment, "spec": {**deployment["spec"], "template": {
        **deployment["spec"]["template"], "spec": {**pod, "terminationGracePeriod": 30}}}}
    with pytest.raises(Exception, match="terminationGracePeriod"):
        rendering.validate(broken, "1.30")


def test_vendored_httproute_schema_refuses_unknown_fields():
    route = rendering.only(rendering.rendered_ci_sets()["httproute"], "HTTPRoute")
    broken = {**route, "spec": {**route["spec"], "rules": [{**route["spec"]["rules"][0], "backendRef": []}]}}
    with pytest.raises(Exception, match="backendRef"):
        rendering.validate(broken, "1.33")


def test_irsa_annotates_the_service_account_and_pod_identity_needs_nothing():
    irsa = rendering.only(rendering.rendered_ci_sets()["httproute"], "ServiceAccount")
    role = "arn:aws:iam::123456789012:role/mirror-service"
    assert irsa["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": role}
    assert "annotations" not in rendering.only(rendering.rendered_ci_sets()["prod"], "ServiceAccount")["metadata"]


def test_an_existing_service_account_is_used_not_created():
    manifests = rendering.rendered_ci_sets()["existing-secret"]
    assert not rendering.of_kind(manifests, "ServiceAccount")
    assert rendering.only(manifests, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"] == "mirror-service"


def test_network_policy_admits_only_the_service_port_and_needed_egress():
    policy = rendering.only(rendering.rendered_ci_sets()["minimal"], "NetworkPolicy", hook=False)
    assert policy["spec"]["podSelector"]["matchLabels"] == SELECTOR
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert policy["spec"]["ingress"] == [{"ports": [{"port": 4545, "protocol": "TCP"}]}]
    egress_ports = {(p["port"], p["protocol"]) for rule in policy["spec"]["egress"] for p in rule["ports"]}
    assert egress_ports == {(53, "UDP"), (53, "TCP"), (443, "TCP"), (80, "TCP")}
    pod_identity = [r for r in policy["spec"]["egress"] if r.get("to") == [{"ipBlock": {"cidr": "169.254.170.23/32"}}]]
    assert pod_identity and pod_identity[0]["ports"] == [{"port": 80, "protocol": "TCP"}]


def test_closed_network_policy_admits_the_ingress_namespace_and_the_test_client():
    manifests = rendering.rendered_ci_sets()["prod"]
    policy = rendering.only(manifests, "NetworkPolicy", hook=False)
    sources = policy["spec"]["ingress"][0]["from"]
    client_label = f"{rendering.only(manifests, 'Service')['metadata']['name']}-client"
    assert {"podSelector": {"matchLabels": {client_label: "true"}}} in sources
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress"}}} in sources
    assert rendering.only(manifests, "Pod")["metadata"]["labels"][client_label] == "true"


@pytest.mark.parametrize(("name", "cidr", "port"), [("local", "192.168.49.1/32", 5000),
                                                     ("existing-secret", "10.0.0.0/8", 443)])
def test_network_policy_opens_the_emulator_port(name, cidr, port):
    policy = rendering.only(rendering.rendered_ci_sets()[name], "NetworkPolicy", hook=False)
    rule = {"to": [{"ipBlock": {"cidr": cidr}}], "ports": [{"port": port, "protocol": "TCP"}]}
    assert rule in policy["spec"]["egress"]


def test_gunicorn_defaults_follow_the_service_and_one_worker_per_cpu_of_the_limit():
    """gevent, keep-alive 5 s, no trusted forwarders: the service's own defaults, as the service reads the pod's
    environment. Workers: one per CPU of the pod's limit (a gevent worker uses at most one CPU; more are throttled,
    bench/README.md), where the service's own default of 2 is for a 2-core host without a quota."""
    manifests = rendering.rendered_ci_sets()["minimal"]
    env = rendering.env_of(manifests)
    assert rendering.server_settings(env) == rendering.pod_server_defaults()
    assert rendering.pod_server_defaults().worker_class == "gevent", "the service's default changed: revisit values.yaml"
    limit = rendering.only(manifests, "Deployment")["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"]
    cpus = int(limit[:-1]) / 1000 if limit.endswith("m") else float(limit)
    assert int(env["WEB_CONCURRENCY"]) == max(1, math.ceil(cpus)), (limit, env["WEB_CONCURRENCY"])


@pytest.mark.parametrize(("cpu", "server", "workers", "connections"), [
    ("1000m", {}, 1, 2000),
    ("2", {}, 2, 1000),  # the CPU limit raised: a worker per CPU, the pod's 2,000 connections shared
    ("1500m", {}, 2, 1000),
    ("250m", {}, 1, 2000),
    ("2", {"WEB_CONCURRENCY": 3}, 3, 667),  # explicit workers win; the connections follow them
    ("2", {"WEB_CONCURRENCY": "1", "GUNICORN_WORKER_CONNECTIONS": 500}, 1, 500),
], ids=["default", "2-cpus", "1.5-cpus", "quarter-cpu", "explicit-workers", "explicit-both"])
def test_workers_follow_the_cpu_limit_unless_set(cpu, server, workers, connections):
    """templates/_helpers.tpl `mirror-service.workers` and `mirror-service.workerConnections`, read back the way the
    service reads them."""
    values = rendering.merged(rendering.ci_value_sets()["minimal"],
                              {"resources": {"limits": {"cpu": cpu}}, "server": server})
    settings = rendering.server_settings(rendering.env_of(rendering.render(values)))
    assert (settings.workers, settings.worker_connections) == (workers, connections)


def test_readiness_probe_outwaits_the_services_s3_budget():
    """/api/ready makes one HeadBucket within the service's budget (mirror_service/storage.py: a fast failure,
    the longest retry pause, then one full attempt); the probe must wait for that answer, 200 or 503."""
    from mirror_service import storage

    budget = (storage.FAST_FAILURE_SECONDS + max(storage.RETRY_PAUSE_SECONDS)
              + storage.CONNECT_TIMEOUT_SECONDS + storage.READ_TIMEOUT_SECONDS)
    for name, manifests in rendering.rendered_ci_sets().items():
        probe = rendering.only(manifests, "Deployment")["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
        assert probe["timeoutSeconds"] > budget, name


def test_prod_keeps_alb_upstreams_alive_longer_than_the_alb_and_trusts_only_the_vpc():
    env = rendering.env_of(rendering.rendered_ci_sets()["prod"])
    assert int(env["GUNICORN_KEEPALIVE"]) > 60, "an ALB's default idle timeout is 60 s"
    assert env["FORWARDED_ALLOW_IPS"] == "10.0.0.0/16"


def test_gthread_is_sync_with_threads():
    env = rendering.env_of(rendering.render(rendering.merged(rendering.ci_value_sets()["minimal"], GTHREAD)))
    assert env["GUNICORN_WORKER_CLASS"] == "sync" and env["GUNICORN_THREADS"] == "4"


@pytest.mark.parametrize(("server", "service_starts"), [
    ({"GUNICORN_WORKER_CLASS": "gevent", "GUNICORN_KEEPALIVE": 0}, False),
    ({"GUNICORN_WORKER_CLASS": "sync", "GUNICORN_KEEPALIVE": 0}, True),
    ({"GUNICORN_WORKER_CLASS": "gevent", "GUNICORN_THREADS": 4}, False),  # gevent would ignore them
    ({"GUNICORN_WORKER_CLASS": "sync", "GUNICORN_THREADS": 4}, True),
    ({"GUNICORN_WORKER_CLASS": "eventlet"}, False),
    ({"FORWARDED_ALLOW_IPS": "10.0.0.0/16,alb.internal"}, False),
    ({"GUNICORN_TIMEOUT": 1000000}, False),  # rendered as 1000000, not YAML's float 1e+06; above the service's bound
], ids=["gevent-keepalive-0", "sync-keepalive-0", "gevent-threads", "gthread", "unknown-class", "host-name-forwarder",
        "big-number"])
def test_chart_passes_server_settings_through_and_the_service_judges_them(server, service_starts):
    """The chart does not re-validate server settings: it renders them unchanged, and the service's own validation
    (mirror_service.config.load_all, what gunicorn.conf.py reports before any worker starts) accepts or refuses."""
    env = rendering.env_of(rendering.render(rendering.merged(rendering.ci_value_sets()["minimal"], {"server": server})))
    assert {name: env[name] for name in server} == {name: str(value) for name, value in server.items()}
    try:
        rendering.server_settings(env)
    except config.ConfigError:
        started = False
    else:
        started = True
    assert started == service_starts


def test_configmap_carries_the_contract_settings():
    env = rendering.env_of(rendering.rendered_ci_sets()["local"])
    assert env["S3_ENDPOINT_URL"] == "http://host.minikube.internal:5000"
    assert env["S3_BUCKET"] == "mirror-uploads-local"
    assert env["MAX_WORD_LENGTH"] == "64" and env["LOG_LEVEL"] == "DEBUG"
    assert env["APP_VERSION"] == "local" and env["PORT"] == "4545"
    assert "S3_ENDPOINT_URL" not in rendering.env_of(rendering.rendered_ci_sets()["prod"])
    assert rendering.env_of(rendering.rendered_ci_sets()["prod"])["FEATURE_FLAGS"] == "none"


def test_secrets_live_in_a_secret_and_never_in_the_configmap():
    manifests = rendering.rendered_ci_sets()["local"]
    values = rendering.ci_value_sets()["local"]["secrets"]
    secret = rendering.only(manifests, "Secret")
    assert set(secret["data"]) == {"UPLOAD_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    configmap_text = rendering.dump_all(rendering.of_kind(manifests, "ConfigMap"))
    assert values["uploadToken"] not in configmap_text
    env = rendering.env_of(manifests)
    assert env["UPLOAD_TOKEN"] == "secret:UPLOAD_TOKEN" and env["AWS_ACCESS_KEY_ID"] == "secret:AWS_ACCESS_KEY_ID"
    secret_refs = [e["valueFrom"]["secretKeyRef"] for e in _app_container(manifests)["env"]]
    assert all(ref["name"] == secret["metadata"]["name"] and ref["optional"] is False for ref in secret_refs)


def test_without_secret_values_there_is_no_secret():
    manifests = rendering.rendered_ci_sets()["minimal"]
    assert not rendering.of_kind(manifests, "Secret")
    assert "env" not in _app_container(manifests)
    assert "checksum/secret" not in rendering.only(manifests, "Deployment")["spec"]["template"]["metadata"]["annotations"]


def test_prod_reads_an_existing_secret_and_never_references_emulator_keys():
    manifests = rendering.rendered_ci_sets()["prod"]
    assert not rendering.of_kind(manifests, "Secret")
    env = _app_container(manifests)["env"]
    assert env == [{"name": "UPLOAD_TOKEN", "valueFrom": {"secretKeyRef": {
        "name": "mirror-service-secrets", "key": "UPLOAD_TOKEN", "optional": False}}}]


def test_dev_existing_secret_may_carry_emulator_keys():
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in _app_container(rendering.rendered_ci_sets()["existing-secret"])["env"]}
    assert set(refs) == {"UPLOAD_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    assert all(ref["name"] == "mirror-service-env" and ref["optional"] is True for ref in refs.values())


def _pod_annotations(values):
    return rendering.only(rendering.render(values), "Deployment")["spec"]["template"]["metadata"]["annotations"]


def test_config_and_secret_changes_roll_the_pods():
    base = rendering.ci_value_sets()["local"]
    before = _pod_annotations(base)
    same = _pod_annotations(base)
    config_changed = _pod_annotations(rendering.merged(base, {"config": {"logLevel": "INFO"}}))
    secret_changed = _pod_annotations(rendering.merged(base, {"secrets": {"uploadToken": "another-token-0123456789"}}))
    assert before == same, "rendering is deterministic"
    assert config_changed["checksum/config"] != before["checksum/config"]
    assert config_changed["checksum/secret"] == before["checksum/secret"]
    assert secret_changed["checksum/secret"] != before["checksum/secret"]
    assert secret_changed["checksum/config"] == before["checksum/config"]


def test_pod_annotations_from_values_reach_the_pods():
    values = rendering.merged(rendering.ci_value_sets()["minimal"], {"podAnnotations": {"checksum/chart": "abc"}})
    assert _pod_annotations(values)["checksum/chart"] == "abc"


def test_helm_test_hook_calls_the_service_with_its_own_image():
    manifests = rendering.rendered_ci_sets()["prod"]
    pod = rendering.only(manifests, "Pod")
    annotations = pod["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "test"
    assert "hook-succeeded" in annotations["helm.sh/hook-delete-policy"]
    container = pod["spec"]["containers"][0]
    assert container["image"] == _app_container(manifests)["image"], "no extra image (busybox) to pull"
    assert container["command"][:2] == ["python", "-c"]
    assert {"name": "BASE_URL", "value": f"http://{rendering.only(manifests, 'Service')['metadata']['name']}:80"} \
        in container["env"]
    assert pod["spec"]["restartPolicy"] == "Never"
    # Its own NetworkPolicy, created before it: egress to DNS and the app pods only.
    policy = rendering.only(manifests, "NetworkPolicy", hook=True)
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
def test_helm_test_script_passes_only_on_the_right_answer(answer, passes):
    """Runs the hook's Python, as rendered, against a local stand-in for the Service."""
    script = rendering.only(rendering.rendered_ci_sets()["minimal"], "Pod")["spec"]["containers"][0]["command"][2]
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


@pytest.mark.parametrize("name", ["local", "prod", "gthread"])
def test_the_real_service_accepts_the_rendered_environment_and_the_hook_passes(name, tmp_path):
    """The service (gunicorn, checked-in config) started with the ConfigMap's variables and the Secret's values,
    then the helm-test script run against it: the names and values the chart renders are ones the app accepts
    (gevent in local and prod, with prod's keep-alive and forwarders; gthread on top of the local set)."""
    if name == "gthread":
        manifests = rendering.render(rendering.merged(rendering.ci_value_sets()["local"], GTHREAD))
    else:
        manifests = rendering.rendered_ci_sets()[name]
    configmap = rendering.only(manifests, "ConfigMap")["data"]
    secrets = {key: base64.b64decode(value).decode()
               for manifest in rendering.of_kind(manifests, "Secret") for key, value in manifest["data"].items()}
    if name == "prod":
        secrets = {"UPLOAD_TOKEN": "an-existing-secret-token-0123"}  # the existing Secret's stand-in
    # The container's emptyDir mount points become private directories here.
    paths = {"TMPDIR": tmp_path / "tmp", "PROMETHEUS_MULTIPROC_DIR": tmp_path / "prometheus"}
    for path in paths.values():
        path.mkdir()
    env = processes.service_environment(**{**configmap, **secrets, **{k: str(v) for k, v in paths.items()}})
    service = processes.start_service(env, tmp_path / "logs")
    try:
        script = rendering.only(manifests, "Pod")["spec"]["containers"][0]["command"][2]
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                                env={"BASE_URL": service.url})
    finally:
        service.stop(timeout=10)
    assert result.returncode == 0, result.stdout + result.stderr + service.log()[-2000:]


def test_notes_explain_how_to_reach_and_test_the_release():
    notes = rendering.render_templates(rendering.ci_value_sets()["minimal"])["mirror-service/templates/NOTES.txt"]
    assert "port-forward svc/" in notes and f"helm test {rendering.RELEASE}" in notes
    assert "set image.digest" in notes


@pytest.mark.parametrize(("keepalive", "attributes", "warned"), [
    (5, None, True), (65, None, False), (65, "idle_timeout.timeout_seconds=120", True),
], ids=["default-alb", "above-default-alb", "alb-idle-120s"])
def test_notes_warn_when_the_alb_keeps_connections_longer_than_gunicorn(keepalive, attributes, warned):
    annotations = {"alb.ingress.kubernetes.io/load-balancer-attributes": attributes} if attributes else {}
    values = rendering.merged(rendering.ci_value_sets()["prod"],
                              {"server": {"GUNICORN_KEEPALIVE": keepalive}, "ingress": {"annotations": annotations}})
    notes = rendering.render_templates(values)["mirror-service/templates/NOTES.txt"]
    assert ("is not longer than the ALB's idle timeout" in notes) == warned, notes
    if warned:
        assert f"Set server.GUNICORN_KEEPALIVE to {125 if attributes else 65}." in notes


def test_extra_env_refuses_every_variable_the_chart_renders():
    """values.schema.json's list of reserved names is the one list (the module's extra_env validation reads it):
    a variable added to the ConfigMap or the Secret without being reserved there could be shadowed by extraEnv."""
    schema = json.loads((rendering.CHART_DIR / "values.schema.json").read_text())
    reserved = set(schema["properties"]["config"]["properties"]["extraEnv"]["propertyNames"]["not"]["enum"])
    rendered = set()
    for manifests in rendering.rendered_ci_sets().values():
        # The app's ConfigMap, not the Grafana dashboard's (metrics.dashboard.enabled).
        rendered |= set(next(m for m in rendering.of_kind(manifests, "ConfigMap")
                             if "grafana_dashboard" not in m["metadata"]["labels"])["data"])
        rendered |= {key for secret in rendering.of_kind(manifests, "Secret") if secret["type"] == "Opaque"
                     for key in secret["data"]}
    rendered -= {"FEATURE_FLAGS"}  # the prod set's own extraEnv entry
    # Server settings are refused in extraEnv by templates/_validate.tpl (test_chart_values_refused.py), so that a
    # new one needs no entry in this list.
    rendered -= set(yaml.safe_load((rendering.CHART_DIR / "values.yaml").read_text())["server"])
    assert rendered <= reserved, f"reserve these in config.extraEnv.propertyNames: {sorted(rendered - reserved)}"
