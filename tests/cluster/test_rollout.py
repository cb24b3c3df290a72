"""The chart's default rollout on a node of this size (2 CPUs, nothing else requesting CPU): installed with the
chart's default requests, replicas and surge, a second deploy (a new image tag) must schedule its surge pod and
complete, and it must not drop a request of a steady stream sent through the Service meanwhile (from this host
to the ClusterIP: kube-proxy balances every new connection, so each old pod is asked until kube-proxy has dropped
it from its rules). Runs before the shared release exists (conftest orders it first), in its own restricted
namespace. With the former 1000m request the surge pod stayed Pending ("Insufficient cpu"); the chart now
requests 500m."""

from __future__ import annotations

import json
import time

from tests.cluster.conftest import RELEASE, chart_values, helm_cli, install, restricted_namespace
from tests.cluster.load import Load

ROLLOUT_TIMEOUT = 90
# A surge pod the scheduler keeps refusing this long is not going to fit: fail then, not at the timeout.
UNSCHEDULABLE_FOR = 10
# The steady streams during the rollout: one new connection per request (4 at a time), and a pooled client's
# (2 kept-alive connections, reopened when the server closes one).
RATE, POOLED_RATE = 40, 20
# Old pods keep serving for the chart's preStop seconds after they were marked terminating, then drain: the stream
# goes on until the last one is gone, so the whole of their shutdown is under load.
TERMINATED_WITHIN = 60


def _pods(cluster, namespace: str) -> list[dict]:
    return json.loads(cluster.kubectl("get", "pods", "-n", namespace, "-o", "json").stdout)["items"]


def _unschedulable(cluster, namespace: str) -> list[str]:
    return [f"{pod['metadata']['name']}: {condition.get('message')}" for pod in _pods(cluster, namespace)
            for condition in pod["status"].get("conditions", [])
            if condition["type"] == "PodScheduled" and condition["status"] == "False"
            and condition.get("reason") == "Unschedulable"]


def _rolled_out(cluster, namespace: str) -> bool:
    deployment = json.loads(cluster.kubectl("get", "deployments", "-n", namespace, "-o", "json").stdout)["items"][0]
    status, wanted = deployment["status"], deployment["spec"]["replicas"]
    return (status.get("observedGeneration") == deployment["metadata"]["generation"]
            and status.get("updatedReplicas") == wanted == status.get("availableReplicas")
            and status.get("replicas") == wanted)


def service_address(cluster, namespace: str, name: str) -> tuple[str, int]:
    service = json.loads(cluster.kubectl("get", "service", name, "-n", namespace, "-o", "json").stdout)
    return service["spec"]["clusterIP"], service["spec"]["ports"][0]["port"]


def test_a_second_deploy_with_the_default_requests_and_surge_completes_and_drops_no_request(cluster, images, s3):
    namespace = restricted_namespace(cluster, "rollout")
    values = chart_values(images, s3)  # the chart's own resources, replicas, update strategy and shutdown
    try:
        started = time.monotonic()
        first = install(cluster, namespace, values)
        assert first.returncode == 0, f"the first install did not complete: {first.stderr}"
        print(f"first install: {time.monotonic() - started:.1f} s", flush=True)
        old_pods = {pod["metadata"]["name"] for pod in _pods(cluster, namespace)}
        host, port = service_address(cluster, namespace, f"{RELEASE}-mirror-service")
        with Load(host, port, rate=RATE) as load, Load(host, port, rate=POOLED_RATE, threads=2,
                                                        keepalive=True) as pooled:
            time.sleep(2)  # the streams are steady before the deploy starts
            for stream in (load, pooled):
                assert not stream.failures, f"failed before the deploy: {stream.summary()}\n{stream.failure_lines()}"
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
            rolled_out = time.monotonic() - started
            while old_pods & {pod["metadata"]["name"] for pod in _pods(cluster, namespace)}:
                assert time.monotonic() - started < rolled_out + TERMINATED_WITHIN, "the old pods did not terminate"
                time.sleep(0.5)
            gone = time.monotonic() - started
            time.sleep(1)
        print(f"second deploy (new tag): rolled out in {rolled_out:.1f} s, old pods gone at {gone:.1f} s; under "
              f"load: a new connection each: {load.summary()}; pooled: {pooled.summary()}", flush=True)
        for stream, rate in ((load, RATE), (pooled, POOLED_RATE)):
            assert len(stream.outcomes) >= rate * gone * 0.5, f"the load did not keep up: {stream.summary()}"
            assert not stream.failures, (f"the rolling update dropped requests: {stream.summary()}\n"
                                         f"{stream.failure_lines(since=started)}")
    finally:
        helm_cli(cluster, "uninstall", RELEASE, "--namespace", namespace, "--wait", "--timeout", "60s")
        cluster.kubectl("delete", "namespace", namespace, "--wait=true", "--timeout=60s", check=False)
