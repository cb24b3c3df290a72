"""Pod Security `restricted` on the node: the release namespace refuses a privileged pod and admits the chart's
pods; and the namespace modules/kubernetes-app creates for envs/local and envs/aws (`create_namespace = true`)
carries the labels that enforce it."""

from __future__ import annotations

import json
import secrets

import hcl2

from harness.paths import REPO_ROOT
from tests.cluster.conftest import RELEASE, chart_values, helm_cli, install

PRIVILEGED = {
    "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "privileged"},
    "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10.1",
                             "securityContext": {"privileged": True}}]},
}


def _create(cluster, namespace: str, manifest: dict):
    pod = json.loads(json.dumps(manifest))
    pod["metadata"]["name"] = f"privileged-{secrets.token_hex(3)}"
    return cluster.kubectl("apply", "--namespace", namespace, "-f", "-", stdin=json.dumps(pod), check=False)


def test_a_privileged_pod_is_refused_in_the_release_namespace(cluster, release):
    result = _create(cluster, release.namespace, PRIVILEGED)
    assert result.returncode != 0, f"a privileged pod was admitted in {release.namespace}: {result.stdout}"
    assert 'violates PodSecurity "restricted:latest"' in result.stderr
    assert "privileged" in result.stderr


def test_the_charts_pods_are_admitted_and_run_under_restricted(cluster, release):
    labels = cluster.kubectl("get", "namespace", release.namespace, "-o", "jsonpath={.metadata.labels}").stdout
    assert json.loads(labels)["pod-security.kubernetes.io/enforce"] == "restricted"
    pods = json.loads(cluster.kubectl("get", "pods", "-n", release.namespace, "-l", release.selector,
                                      "-o", "json").stdout)["items"]
    assert len(pods) == release.values.get("replicaCount", 2)
    assert all(pod["status"]["phase"] == "Running" for pod in pods)
    # No warning either: the API server answers a dry-run create of the Deployment's pod template cleanly.
    events = cluster.kubectl("get", "events", "-n", release.namespace, "-o", "json").stdout
    assert "violates PodSecurity" not in events


def _module_namespace_labels() -> dict[str, str]:
    """The labels modules/kubernetes-app gives the namespace it creates (its kubernetes_namespace_v1), read from
    the module's source: the kubernetes provider cannot be installed on this machine, so the test creates the
    object the resource describes and installs the chart into it as helm_release then does."""
    with (REPO_ROOT / "modules" / "kubernetes-app" / "main.tf").open() as handle:
        resources = hcl2.load(handle)["resource"]
    (namespace,) = [body for block in resources for kind, named in block.items()
                    if kind.strip('"') == "kubernetes_namespace_v1" for body in named.values()]
    (metadata,) = namespace["metadata"]
    return {key.strip('"'): value.strip('"') for key, value in metadata["labels"].items()}


def test_the_namespace_the_module_creates_enforces_restricted(cluster, images, s3):
    """envs/local and envs/aws set `create_namespace = true`: the module creates the namespace with its Pod
    Security labels (Helm's own --create-namespace made an unlabelled one, which admitted a privileged pod)."""
    namespace = f"created-{secrets.token_hex(3)}"
    labels = _module_namespace_labels()
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    try:
        cluster.kubectl("create", "namespace", namespace)
        cluster.kubectl("label", "namespace", namespace, *(f"{key}={value}" for key, value in labels.items()))
        result = install(cluster, namespace, chart_values(images, s3, replicaCount=1,
                                                          resources={"requests": {"cpu": "100m"}}))
        assert result.returncode == 0, result.stderr
        refused = _create(cluster, namespace, PRIVILEGED)
        assert refused.returncode != 0, "a privileged pod was admitted in the namespace the module creates"
        assert 'violates PodSecurity "restricted:latest"' in refused.stderr
    finally:
        helm_cli(cluster, "uninstall", RELEASE, "--namespace", namespace, "--timeout", "60s")
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
