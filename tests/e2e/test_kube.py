"""harness/kube.py against a Kubernetes API test server (tests/e2e/kube_api_standin.py says what it is).

The objects are the chart's own, rendered by the real Helm CLI (Deployment, Service, the test hook
Pod); the release Secret is written the way Helm stores it; the pod behind the port-forward is the real
service under gunicorn. The rollout controller is played by the test: it writes Deployment status as
the controller would, step by step.
"""

from __future__ import annotations

import base64
import copy
import gzip
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests
import yaml
from kubernetes import client

from harness import helm, kube, processes
from tests.e2e.kube_api_standin import KubeApiStandin

CHART_DIR = processes.REPO_ROOT / "modules" / "kubernetes-app" / "chart"
NAMESPACE, RELEASE = "mirror-e2e", "mirror"
VALUES = {"s3": {"bucket": "mirror-uploads-e2e", "endpointUrl": "http://s3.example.internal"},
          "secrets": {"existingSecret": "mirror-service-env"}}


@pytest.fixture(scope="module")
def rendered() -> dict[str, dict]:
    """kind (and "hook" for the test Pod) → manifest, from the real chart."""
    out = helm.render(VALUES, name=RELEASE, namespace=NAMESPACE, chart=CHART_DIR).templates
    manifests = {"hook-text": out["mirror-service/templates/tests/test-connection.yaml"]}
    for path, text in out.items():
        for doc in yaml.safe_load_all(text) if path.endswith(".yaml") else []:
            if doc:
                hook = "helm.sh/hook" in (doc["metadata"].get("annotations") or {})
                manifests["hook" if hook and doc["kind"] == "Pod" else doc["kind"]] = doc
    return manifests


@pytest.fixture
def api() -> KubeApiStandin:
    server = KubeApiStandin().start()
    yield server
    server.stop()


@pytest.fixture
def cluster(api) -> kube.Cluster:
    return api.cluster()


def _deployment(cluster: kube.Cluster, rendered: dict, generation: int = 2) -> None:
    deployment = copy.deepcopy(rendered["Deployment"])
    deployment["metadata"]["generation"] = generation
    deployment["spec"]["replicas"] = 2
    deployment["status"] = {"observedGeneration": generation - 1, "replicas": 2, "updatedReplicas": 0}
    cluster.apps.create_namespaced_deployment(NAMESPACE, deployment)


def _status(cluster: kube.Cluster, **status) -> None:
    cluster.apps.patch_namespaced_deployment_status(rendered_name(), NAMESPACE, {"status": status})


def rendered_name() -> str:
    return f"{RELEASE}-mirror-service"


def test_rollout_is_done_only_when_observed_updated_and_available(cluster, rendered):
    _deployment(cluster, rendered)
    waiting: dict = {}
    waiter = threading.Thread(target=lambda: waiting.update(
        result=kube.wait_for_rollout(cluster, NAMESPACE, rendered_name(), timeout=120, interval=0.05)))
    waiter.start()
    # The controller's steps, as `kubectl rollout status` reports them; none of them is "done".
    steps = [({}, "observe generation 2"),
             ({"observedGeneration": 2, "updatedReplicas": 1}, "1 out of 2 new replicas have been updated"),
             ({"updatedReplicas": 2, "replicas": 3}, "1 old replicas are pending termination"),
             ({"replicas": 2, "availableReplicas": 1}, "1 of 2 updated replicas are available")]
    for status, reason in steps:
        if status:
            _status(cluster, **status)
        done, said = kube.rollout_status(cluster.apps.read_namespaced_deployment_status(rendered_name(), NAMESPACE))
        assert (done, reason in said) == (False, True), said
        assert waiter.is_alive(), "wait_for_rollout returned before the rollout finished"
    _status(cluster, availableReplicas=2, readyReplicas=2)
    waiter.join(timeout=60)
    assert waiting["result"].status.available_replicas == 2


def test_rollout_past_its_progress_deadline_fails_with_the_controller_message(cluster, rendered):
    _deployment(cluster, rendered)
    message = f'ReplicaSet "{rendered_name()}-5d9c7" has timed out progressing.'
    _status(cluster, observedGeneration=2, updatedReplicas=1,
            conditions=[{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                         "message": message}])
    with pytest.raises(kube.RolloutFailed, match="exceeded its progress deadline: ReplicaSet .* timed out"):
        kube.wait_for_rollout(cluster, NAMESPACE, rendered_name(), timeout=120, interval=0.05)


def test_rollout_timeout_says_what_it_waited_for(cluster, rendered):
    _deployment(cluster, rendered)
    with pytest.raises(kube.RolloutFailed, match="within 0s: .*waiting for the controller to observe generation 2"):
        kube.wait_for_rollout(cluster, NAMESPACE, rendered_name(), timeout=0, interval=0.05)


def _pod(rendered: dict, name: str, ready: bool) -> dict:
    template = copy.deepcopy(rendered["Deployment"]["spec"]["template"])
    conditions = [{"type": "Ready", "status": "True" if ready else "False"}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {**template["metadata"], "name": name},
            "spec": template["spec"], "status": {"phase": "Running", "conditions": conditions}}


def _helm_release_secret(rendered: dict, version: int, status: str) -> dict:
    """A release Secret as Helm's storage driver writes it: base64(gzip(JSON release)), labelled."""
    hook = rendered["hook"]
    release = {"name": RELEASE, "namespace": NAMESPACE, "version": version,
               "hooks": [{"name": hook["metadata"]["name"], "kind": "Pod", "path": "mirror-service/templates/tests/"
                          "test-connection.yaml", "manifest": rendered["hook-text"], "events": ["test"]}]}
    helm_encoded = base64.b64encode(gzip.compress(json.dumps(release).encode()))
    return {"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
            "metadata": {"name": f"sh.helm.release.v1.{RELEASE}.v{version}",
                         "labels": {"owner": "helm", "name": RELEASE, "status": status, "version": str(version)}},
            "data": {"release": base64.b64encode(helm_encoded).decode()}}


def _publish(api: KubeApiStandin, cluster: kube.Cluster, rendered: dict, pod_address: tuple[str, int]) -> None:
    """The chart's Service, a ready and an unready pod behind it, and the release Secrets (v1 superseded)."""
    cluster.core.create_namespaced_service(NAMESPACE, rendered["Service"])
    container_port = next(p["containerPort"] for c in rendered["Deployment"]["spec"]["template"]["spec"]["containers"]
                          for p in c["ports"] if p["name"] == "http")
    for name, ready in (("mirror-a-unready", False), ("mirror-b-ready", True)):
        cluster.core.create_namespaced_pod(NAMESPACE, _pod(rendered, name, ready))
    api.pod_targets[(NAMESPACE, "mirror-b-ready", container_port)] = pod_address
    for version, status in ((1, "superseded"), (2, "deployed")):
        cluster.core.create_namespaced_secret(NAMESPACE, _helm_release_secret(rendered, version, status))


@pytest.fixture(scope="module")
def service_pod(tmp_path_factory):
    """The real service under gunicorn: what the pod's container serves (S3 is not called by these checks)."""
    env = processes.service_environment(S3_BUCKET="mirror-uploads-e2e", S3_ENDPOINT_URL="http://127.0.0.1:9",
                                        AWS_ACCESS_KEY_ID="e2e", AWS_SECRET_ACCESS_KEY="e2e", AWS_REGION="us-east-1",
                                        UPLOAD_TOKEN="e2e-token-not-used")
    server = processes.start_service(env, tmp_path_factory.mktemp("pod-logs"), timeout=60)
    yield server
    server.stop(timeout=15)


def test_port_forward_to_the_service_runs_the_chart_test_hooks(api, cluster, rendered, service_pod):
    _publish(api, cluster, rendered, ("127.0.0.1", int(service_pod.url.rsplit(":", 1)[1])))
    assert kube.service_target(cluster, NAMESPACE, rendered["Service"]["metadata"]["name"], 80)[0] == "mirror-b-ready"
    with kube.PortForward.to_service(cluster, NAMESPACE, rendered["Service"]["metadata"]["name"], 80) as forward:
        health = requests.get(f"{forward.url}/api/health", timeout=10)
        assert (health.status_code, health.json()) == (200, {"status": "ok"})
        hooks = kube.release_test_hooks(cluster, NAMESPACE, RELEASE)
        assert [hook["metadata"]["name"] for hook in hooks] == [rendered["hook"]["metadata"]["name"]]
        service_url = f"http://{rendered['Service']['metadata']['name']}:80"
        outputs = kube.run_test_hooks(hooks, service_url, forward.url)
    assert outputs == ["helm test passed: /api/health ok, /api/mirror?word=fOoBar25 -> 52RAbOoF"]
    assert not forward.errors


def test_a_failing_hook_check_fails_with_its_own_message(api, cluster, rendered, tmp_path):
    # Something else answers behind the Service: 404 for /api/health.
    wrong = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "0"], cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        port = int(wrong.stdout.readline().split(" port ")[1].split()[0])
        _publish(api, cluster, rendered, ("127.0.0.1", port))
        with kube.PortForward.to_service(cluster, NAMESPACE, rendered["Service"]["metadata"]["name"], 80) as forward:
            hooks = kube.release_test_hooks(cluster, NAMESPACE, RELEASE)
            with pytest.raises(kube.HookFailed, match=r"GET /api/health: HTTP Error 404"):
                kube.run_test_hooks(hooks, f"http://{rendered['Service']['metadata']['name']}:80", forward.url,
                                    timeout=60)
    finally:
        wrong.kill()
        wrong.wait(timeout=10)


def test_no_ready_pod_behind_the_service_is_an_error_that_says_so(api, cluster, rendered):
    cluster.core.create_namespaced_service(NAMESPACE, rendered["Service"])
    cluster.core.create_namespaced_pod(NAMESPACE, _pod(rendered, "mirror-a-unready", False))
    with pytest.raises(AssertionError, match="no ready pod behind service mirror-e2e/mirror-mirror-service "
                                             r"\(1 pods match app.kubernetes.io/instance=mirror,"):
        kube.PortForward.to_service(cluster, NAMESPACE, rendered["Service"]["metadata"]["name"], 80)


def test_a_failure_gets_events_pod_statuses_and_logs_in_the_report(api, cluster, rendered, request):
    pod = _pod(rendered, "mirror-c-crashing", False)
    container = pod["spec"]["containers"][0]["name"]
    pod["status"]["containerStatuses"] = [{
        "name": container, "ready": False, "restartCount": 3, "image": "x", "imageID": "", "started": False,
        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container"}},
        "lastState": {"terminated": {"reason": "Error", "exitCode": 3}}}]
    cluster.core.create_namespaced_pod(NAMESPACE, pod)
    cluster.core.create_namespaced_event(NAMESPACE, {
        "apiVersion": "v1", "kind": "Event", "metadata": {"name": "mirror-c-crashing.1"}, "type": "Warning",
        "reason": "BackOff", "message": "Back-off restarting failed container",
        "involvedObject": {"kind": "Pod", "name": "mirror-c-crashing", "namespace": NAMESPACE}})
    api.react(f"get /api/v1/namespaces/{NAMESPACE}/pods/mirror-c-crashing/log",
              "config error: S3_BUCKET is required\n")

    with pytest.raises(kube.RolloutFailed):
        with kube.attach_diagnostics_on_failure(request.node, cluster, NAMESPACE):
            raise kube.RolloutFailed("rollout did not finish")
    sections = dict(request.node._report_sections and [(key, text) for _, key, text in request.node._report_sections])
    text = sections[f"kubernetes {NAMESPACE}"]
    assert "Warning BackOff Pod/mirror-c-crashing: Back-off restarting failed container" in text
    assert f"{container}: ready=False restarts=3 waiting (CrashLoopBackOff: back-off 40s" in text
    assert "last terminated Error exit 3" in text
    assert f"-- previous log of mirror-c-crashing/{container}" in text
    assert text.count("config error: S3_BUCKET is required") == 2  # current and previous container


def _kubeconfig(tmp_path: Path, server: str) -> str:
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "standin",
        "clusters": [{"name": "standin", "cluster": {"server": server}}],
        "users": [{"name": "standin", "user": {"token": "not-a-secret"}}],
        "contexts": [{"name": "standin", "context": {"cluster": "standin", "user": "standin"}}]}))
    return str(path)


def test_context_problem_names_what_is_wrong(api, tmp_path):
    api.react("get /readyz", "ok")
    assert kube.context_problem("standin", _kubeconfig(tmp_path, api.url)) is None
    assert "no usable context 'minikube'" in kube.context_problem("minikube", _kubeconfig(tmp_path, api.url))
    unreachable = _kubeconfig(tmp_path, f"http://127.0.0.1:{processes.free_port()}")
    assert "API server is not reachable" in kube.context_problem("standin", unreachable)


def test_the_client_speaks_to_the_standin_as_to_an_api_server(cluster):
    """Guard for the test server itself: what kube.py relies on reads back what was written."""
    cluster.core.create_namespaced_config_map(NAMESPACE, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="probe"), data={"k": "v"}))
    assert cluster.core.read_namespaced_config_map("probe", NAMESPACE).data == {"k": "v"}
