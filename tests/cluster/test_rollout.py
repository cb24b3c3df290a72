"""The chart's default rollout on a node of this size (2 CPUs, nothing else requesting CPU): installed with the
chart's default requests, replicas and surge, a second deploy (a new image tag) must schedule its surge pod and
complete. Runs before the shared release exists (conftest orders it first), in its own restricted namespace.
With the former 1000m request the surge pod stayed Pending ("Insufficient cpu"); the chart now requests 500m."""

from __future__ import annotations

import json
import time

from tests.cluster.conftest import RELEASE, chart_values, helm_cli, install, restricted_namespace

ROLLOUT_TIMEOUT = 90
# A surge pod the scheduler keeps refusing this long is not going to fit: fail then, not at the timeout.
UNSCHEDULABLE_FOR = 10


def _unschedulable(cluster, namespace: str) -> list[str]:
    pods = json.loads(cluster.kubectl("get", "pods", "-n", namespace, "-o", "json").stdout)["items"]
    return [f"{pod['metadata']['name']}: {condition.get('message')}" for pod in pods
            for condition in pod["status"].get("conditions", [])
            if condition["type"] == "PodScheduled" and condition["status"] == "False"
            and condition.get("reason") == "Unschedulable"]


def _rolled_out(cluster, namespace: str) -> bool:
    deployment = json.loads(cluster.kubectl("get", "deployments", "-n", namespace, "-o", "json").stdout)["items"][0]
    status, wanted = deployment["status"], deployment["spec"]["replicas"]
    return (status.get("observedGeneration") == deployment["metadata"]["generation"]
            and status.get("updatedReplicas") == wanted == status.get("availableReplicas")
            and status.get("replicas") == wanted)


def test_a_second_deploy_with_the_default_requests_and_surge_completes(cluster, images, s3):
    namespace = restricted_namespace(cluster, "rollout")
    values = chart_values(images, s3)  # the chart's own resources, replicas and update strategy
    try:
        started = time.monotonic()
        first = install(cluster, namespace, values)
        assert first.returncode == 0, f"the first install did not complete: {first.stderr}"
        print(f"first install: {time.monotonic() - started:.1f} s", flush=True)
        started = time.monotonic()
        second = install(cluster, namespace, {**values, "image": {**values["image"], "tag": images["second"]}},
                         command="upgrade", wait=False)
        assert second.returncode == 0, second.stderr
        stuck_since, stuck = None, []
        while not _rolled_out(cluster, namespace):
            stuck = _unschedulable(cluster, namespace)
            stuck_since = (stuck_since or time.monotonic()) if stuck else None
            assert not stuck or time.monotonic() - stuck_since < UNSCHEDULABLE_FOR, \
                f"the second deploy's surge pod cannot be scheduled on this node: {stuck}"
            assert time.monotonic() - started < ROLLOUT_TIMEOUT, f"no rollout within {ROLLOUT_TIMEOUT} s: {stuck}"
            time.sleep(1)
        print(f"second deploy (new tag): {time.monotonic() - started:.1f} s", flush=True)
    finally:
        helm_cli(cluster, "uninstall", RELEASE, "--namespace", namespace, "--wait", "--timeout", "60s")
        cluster.kubectl("delete", "namespace", namespace, "--wait=true", "--timeout=60s", check=False)
