"""Fixtures of the cluster tests: the single-node cluster (harness/cluster.py) started once per session, the
service image built by the image harness and imported into its containerd, a moto server on the node's address,
and the chart installed with the real Helm CLI (`helm install --wait`, not through Terraform).

Where the cluster cannot start (binaries not built by `make tools`, not root, a system command missing) the tests
skip with the exact reason; under CI=true they fail instead. A cluster already up (`make cluster`) is reused and
left running; one started here is taken down at the end, and its teardown fails if anything of ours is left.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness import cluster as node
from harness import container, helm, kube, processes
from tests.container import conftest as image_fixtures

# Never real credentials: what the emulator accepts, and tokens the tests search for.
EMULATOR_KEY_ID = "testing"
EMULATOR_SECRET = "cluster-emulator-secret-7c41e0"
UPLOAD_TOKEN = "tok-cluster-3f9a6d21b8e4"
RELEASE = "mirror"
# The image tests' engine fixture (podman or docker, skip or CI failure with the install command), shared.
engine = image_fixtures.engine
HELM_TIMEOUT = "150s"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test here `cluster` (`-m cluster` selects them); tests/conftest.py orders them."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.cluster)


def _unavailable(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true: the cluster tests must run here, but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory) -> Iterator[node.Cluster]:
    problems = node.missing_prerequisites()
    if problems:
        _unavailable("the single-node cluster cannot start here: " + "; ".join(problems))
    running = node.Cluster()
    if running.alive():
        yield running
        return
    try:
        running.up(log=lambda message: print(message, flush=True))
    except node.ClusterError as error:
        running.down(log=lambda _message: None)
        pytest.fail(f"the cluster did not start: {error}", pytrace=False)
    yield running
    started = time.monotonic()
    running.down(log=lambda message: print(message, flush=True))
    print(f"cluster down in {time.monotonic() - started:.1f} s", flush=True)
    left = running.leftovers()
    assert not left, f"cluster-down left: {left}"


@pytest.fixture(scope="session")
def api(cluster) -> kube.Cluster:
    return kube.connect(config_file=str(cluster.kubeconfig))


@pytest.fixture(scope="session")
def images(cluster, engine) -> dict[str, str]:
    """The service image (app/Dockerfile, as tests/container builds it) imported into the node's containerd
    under two tags, `first` and `second`: the same image, so a second deploy changes nothing but the tag. Saved and
    imported once (20-25 s each on these machines; the archive is kept in the tools cache while the image is
    unchanged), the second tag given by containerd."""
    started = time.monotonic()
    first, second = f"{container.IMAGE}:cluster-1", f"{container.IMAGE}:cluster-2"
    container.build_image(engine, tag=first, app_version="9.8.7-cluster",
                          log=lambda message: print(message, flush=True))
    built = time.monotonic() - started
    cluster.import_image(node.cached_image_archive(first))
    cluster.ctr("images", "tag", "--force", first, second)
    print(f"image: built in {built:.0f} s, saved and imported in {time.monotonic() - started - built:.0f} s", flush=True)
    return {"repository": container.IMAGE, "first": "cluster-1", "second": "cluster-2"}


@pytest.fixture(scope="session")
def s3(cluster, tmp_path_factory) -> Iterator[dict[str, str]]:
    """A moto server on the node's address (the pods reach it there: no traffic leaves the node) and a bucket."""
    server = processes.start_moto(tmp_path_factory.mktemp("moto-logs"), host=node.NODE_IP)
    bucket = f"mirror-cluster-{secrets.token_hex(3)}"
    import boto3

    boto3.client("s3", endpoint_url=server.url, region_name="us-east-1", aws_access_key_id=EMULATOR_KEY_ID,
                 aws_secret_access_key=EMULATOR_SECRET).create_bucket(Bucket=bucket)
    yield {"url": server.url, "bucket": bucket}
    server.stop(timeout=10)


@dataclass
class Release:
    namespace: str
    name: str
    values: dict
    kubeconfig: Path

    @property
    def fullname(self) -> str:
        return self.name if "mirror-service" in self.name else f"{self.name}-mirror-service"

    @property
    def selector(self) -> str:
        return f"app.kubernetes.io/instance={self.name}"


def helm_cli(cluster: node.Cluster, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """The real Helm CLI against the node, with its own scratch home (no user's repositories or plugins)."""
    scratch = Path(tempfile.gettempdir()) / "cluster-helm-home"
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig), "HELM_CONFIG_HOME": str(scratch / "config"),
           "HELM_CACHE_HOME": str(scratch / "cache"), "HELM_DATA_HOME": str(scratch / "data")}
    return subprocess.run([str(helm.binary()), *args], capture_output=True, text=True, env=env, timeout=timeout,
                          check=False)


def chart_values(images: dict, s3: dict, **overrides) -> dict:
    values = {
        "image": {"repository": images["repository"], "tag": images["first"], "pullPolicy": "IfNotPresent"},
        "s3": {"bucket": s3["bucket"], "endpointUrl": s3["url"]},
        "secrets": {"uploadToken": UPLOAD_TOKEN, "awsAccessKeyId": EMULATOR_KEY_ID,
                    "awsSecretAccessKey": EMULATOR_SECRET},
    }
    for key, value in overrides.items():
        values[key] = {**values.get(key, {}), **value} if isinstance(value, dict) else value
    return values


def install(cluster: node.Cluster, namespace: str, values: dict, *extra: str, name: str = RELEASE,
            command: str = "install", timeout: str = HELM_TIMEOUT, wait: bool = True) -> subprocess.CompletedProcess:
    """`helm install|upgrade --wait` of the chart with these values (`wait=False`: return once it is applied)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="values-") as values_file:
        json.dump(values, values_file)
        values_file.flush()
        waiting = ["--wait", "--timeout", timeout] if wait else []
        return helm_cli(cluster, command, name, str(helm.CHART_DIR), "--namespace", namespace, "--values",
                        values_file.name, *waiting, *extra)


def restricted_namespace(cluster: node.Cluster, prefix: str) -> str:
    """A namespace labelled as modules/kubernetes-app's README asks the caller to label it."""
    namespace = f"{prefix}-{secrets.token_hex(3)}"
    cluster.kubectl("create", "namespace", namespace)
    cluster.kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted",
                    "pod-security.kubernetes.io/enforce-version=latest")
    return namespace


@pytest.fixture(scope="session")
def release(cluster, images, s3) -> Iterator[Release]:
    """The chart installed once for the read-mostly tests: in a namespace labelled restricted, NetworkPolicy
    ingress limited to the chart's client label (allowExternal false), egress to the emulator on the node; the
    chart's own resources (two 500m replicas, the `helm test` pod and the tests' client pods fit this node)."""
    namespace = restricted_namespace(cluster, "mirror")
    values = chart_values(images, s3, networkPolicy={"allowExternal": False})
    started = time.monotonic()
    result = install(cluster, namespace, values)
    if result.returncode != 0:
        pytest.fail(f"helm install failed: {result.stderr}\n{kube.diagnostics(kube.connect(config_file=str(cluster.kubeconfig)), namespace)}",
                    pytrace=False)
    print(f"helm install --wait: {time.monotonic() - started:.1f} s", flush=True)
    yield Release(namespace, RELEASE, values, cluster.kubeconfig)
    started = time.monotonic()
    helm_cli(cluster, "uninstall", RELEASE, "--namespace", namespace, "--wait", "--timeout", "60s")
    cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
    print(f"shared release uninstalled in {time.monotonic() - started:.1f} s", flush=True)


@pytest.fixture(autouse=True)
def _diagnostics_on_failure(request) -> Iterator[None]:
    """A failing cluster test's report carries the release's events, pod statuses and logs."""
    yield
    report = getattr(request.node, "rep_call", None)
    if report is None or not report.failed or "release" not in request.fixturenames:
        return
    chosen = request.getfixturevalue("release")
    api = kube.connect(config_file=str(chosen.kubeconfig))
    report.sections.append(("cluster diagnostics", kube.diagnostics(api, chosen.namespace)))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def run_pod(cluster: node.Cluster, namespace: str, name: str, image: str, script: str,
            labels: dict[str, str] | None = None, timeout: float = 90) -> tuple[str, str]:
    """A restricted one-shot pod running `python -c script` in the service image; (phase, logs)."""
    pod = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "spec": {
            "restartPolicy": "Never", "automountServiceAccountToken": False, "enableServiceLinks": False,
            "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{
                "name": "client", "image": image, "imagePullPolicy": "IfNotPresent",
                "command": ["python", "-c", script],
                "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                    "capabilities": {"drop": ["ALL"]}},
                "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"cpu": "200m", "memory": "64Mi"}},
            }],
        },
    }
    cluster.kubectl("apply", "-f", "-", stdin=json.dumps(pod))
    deadline = time.monotonic() + timeout
    phase = ""
    while time.monotonic() < deadline:
        phase = cluster.kubectl("get", "pod", name, "-n", namespace, "-o", "jsonpath={.status.phase}").stdout
        if phase in ("Succeeded", "Failed"):
            break
        time.sleep(0.5)
    logs = cluster.kubectl("logs", name, "-n", namespace, check=False).stdout
    cluster.kubectl("delete", "pod", name, "-n", namespace, "--grace-period=0", "--wait=false", check=False)
    return phase, logs


@pytest.fixture
def client_pod(cluster, release, images) -> Callable[..., tuple[str, str]]:
    """`client_pod(script, allowed=True)`: a pod in the release namespace, carrying the chart's client label
    (what its NetworkPolicy admits) when `allowed`; returns its phase and logs."""

    def start(script: str, allowed: bool = True) -> tuple[str, str]:
        labels = {f"{release.fullname}-client": "true"} if allowed else {"role": "stranger"}
        name = f"client-{secrets.token_hex(3)}"
        return run_pod(cluster, release.namespace, name, f"{images['repository']}:{images['first']}", script, labels)

    return start


def decoded_secret_values(cluster: node.Cluster, namespace: str) -> dict[str, str]:
    """Every key of every Secret in the namespace, decoded (Helm's own release Secret excluded)."""
    items = json.loads(cluster.kubectl("get", "secrets", "-n", namespace, "-o", "json").stdout)["items"]
    return {f"{item['metadata']['name']}/{key}": base64.b64decode(value).decode(errors="replace")
            for item in items if item.get("type") != "helm.sh/release.v1"
            for key, value in (item.get("data") or {}).items()}
