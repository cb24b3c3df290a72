"""The chart's HorizontalPodAutoscaler on the node: turning it on stops no running pod, it reads the pods' CPU from
metrics-server (metrics.k8s.io through the aggregation layer), adds a replica under load and removes it once the
load stops.

The chart's default `behavior` is Kubernetes' own: scale-down waits out a 5-minute stabilization window, more than
all the cluster tests may take together, so the release here sets a shorter one through its values (the chart's
production defaults stay). The HPA controller keeps its default 15 s sync period and metrics-server scrapes every
10 s, so each reaction measured here includes up to one sync and one scrape."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from tests.cluster.conftest import install
from tests.cluster.load import Load
from tests.cluster.test_rollout import service_address

METRICS_WITHIN = 90
MIN_REPLICAS, MAX_REPLICAS = 2, 3
# Of the pods' 500m request. This host's load generator (one Python process, on two CPUs shared with the pods and
# everything else) drove the two pods to 14-37 % (70-185m each), short of the chart's default 70 % target: the
# target here (25m, scale-out above 5.5 % with the HPA's 10 % tolerance) is well below that load and well above
# the idle pods' 0-1 % (scale-in from 3 to 2 below 3.3 %).
TARGET_CPU = 5
# No stabilization either way, one pod per 15 s (one HPA sync): the reactions measured are the HPA's own.
BEHAVIOR = {
    "scaleUp": {"stabilizationWindowSeconds": 0, "policies": [{"type": "Pods", "value": 1, "periodSeconds": 15}]},
    "scaleDown": {"stabilizationWindowSeconds": 0, "policies": [{"type": "Pods", "value": 1, "periodSeconds": 15}]},
}
SCALES_OUT_WITHIN = 120
SCALES_BACK_WITHIN = 120
# The load: pooled keep-alive connections, each thread sending as fast as it is answered.
LOAD_THREADS = 6


def _hpa(cluster, release) -> dict:
    return json.loads(cluster.kubectl("get", "hpa", release.fullname, "-n", release.namespace, "-o", "json").stdout)


def _cpu(status: dict) -> int | None:
    return next((m["resource"]["current"].get("averageUtilization") for m in status.get("currentMetrics") or []
                 if m.get("type") == "Resource" and m["resource"]["name"] == "cpu"), None)


def _replicas(cluster, release) -> tuple[int, int]:
    """(the Deployment's wanted replicas, its ready ones)."""
    deployment = json.loads(cluster.kubectl("get", "deployment", release.fullname, "-n", release.namespace,
                                            "-o", "json").stdout)
    return deployment["spec"]["replicas"], deployment["status"].get("readyReplicas", 0)


def _pods(cluster, release) -> dict[str, bool]:
    """Each pod of the release: whether it is terminating."""
    return {pod["metadata"]["name"]: bool(pod["metadata"].get("deletionTimestamp")) for pod in json.loads(
        cluster.kubectl("get", "pods", "-n", release.namespace, "-l", release.selector, "-o", "json").stdout)["items"]}


@pytest.fixture(scope="module")
def autoscaled(cluster, release) -> Iterator[dict]:
    """The shared release upgraded with its HPA on, restored (HPA off) afterwards; `pods` holds the release's pods
    before the upgrade and right after it (name -> terminating)."""
    values = {**release.values, "autoscaling": {"enabled": True, "minReplicas": MIN_REPLICAS,
                                                "maxReplicas": MAX_REPLICAS, "targetCPUUtilizationPercentage": TARGET_CPU,
                                                "behavior": BEHAVIOR}}
    before = _pods(cluster, release)
    result = install(cluster, release.namespace, values, command="upgrade")
    assert result.returncode == 0, result.stderr
    yield {"values": values, "pods": (before, _pods(cluster, release))}
    assert install(cluster, release.namespace, release.values, command="upgrade").returncode == 0


def test_turning_the_hpa_on_keeps_the_running_pods(autoscaled):
    """The chart leaves `replicas` out of the Deployment once the HPA owns it; Helm's three-way merge then removed
    the field from the live object on the upgrade that turned the HPA on, the Deployment fell back to 1 replica and
    one of the two running pods was stopped until the HPA's first sync scaled back to minReplicas (seen on the node:
    kube-controller-manager "Current number of replicas below Spec.MinReplicas"). The chart now keeps the live
    count on that upgrade (`lookup`), so no pod goes."""
    before, after = autoscaled["pods"]
    assert sorted(before) == sorted(name for name, terminating in after.items() if not terminating), \
        f"pods before the upgrade: {sorted(before)}; right after it (name: terminating): {after}"


def test_the_hpa_reads_the_pods_cpu_from_metrics_server(cluster, release, autoscaled):
    started, status = time.monotonic(), {}
    while time.monotonic() - started < METRICS_WITHIN:
        status = _hpa(cluster, release).get("status", {})
        if _cpu(status) is not None:
            break
        time.sleep(2)
    else:
        raise AssertionError(f"no CPU metric reached the HPA within {METRICS_WITHIN} s: {status}")
    print(f"HPA read CPU {_cpu(status)}% after {time.monotonic() - started:.0f} s", flush=True)
    conditions = {c["type"]: c["status"] for c in status.get("conditions", [])}
    assert conditions.get("ScalingActive") == "True", status
    pods = json.loads(cluster.kubectl("get", "--raw", f"/apis/metrics.k8s.io/v1beta1/namespaces/"
                                      f"{release.namespace}/pods").stdout)["items"]
    assert any(pod["metadata"]["name"].startswith(release.fullname) for pod in pods)


def test_the_hpa_adds_a_replica_under_load_and_removes_it_after(cluster, release, autoscaled):
    target = _hpa(cluster, release)["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"]
    deadline = time.monotonic() + 60
    while _replicas(cluster, release) != (MIN_REPLICAS, MIN_REPLICAS):  # idle, at the minimum, all ready
        assert time.monotonic() < deadline, f"not at {MIN_REPLICAS} ready replicas: {_hpa(cluster, release)}"
        time.sleep(1)
    host, port = service_address(cluster, release.namespace, release.fullname)
    readings: list[str] = []

    def watch(until, within: float, what: str) -> float:
        began = time.monotonic()
        while True:
            status, replicas = _hpa(cluster, release).get("status", {}), _replicas(cluster, release)
            readings.append(f"t={time.monotonic() - began:5.1f} s cpu={_cpu(status)}% replicas={replicas}")
            if until(replicas):
                return time.monotonic() - began
            assert time.monotonic() - began < within, f"{what} within {within} s:\n" + "\n".join(readings)
            time.sleep(1)

    with Load(host, port, rate=0, threads=LOAD_THREADS, keepalive=True) as load:
        out = watch(lambda replicas: replicas[0] > MIN_REPLICAS, SCALES_OUT_WITHIN, "no replica added under load")
        ready = out + watch(lambda replicas: replicas[1] > MIN_REPLICAS, 60, "the added replica not ready")
    print(f"under load ({load.summary()}), target {target}%: replica added after {out:.0f} s, ready after "
          f"{ready:.0f} s", flush=True)
    assert not load.failures, f"requests failed while scaling out: {load.summary()}\n{load.failure_lines()}"
    readings.append("-- load stopped")
    back = watch(lambda replicas: replicas[0] == MIN_REPLICAS, SCALES_BACK_WITHIN, "no replica removed after the load")
    print(f"load stopped: back to {MIN_REPLICAS} replicas after {back:.0f} s\n" + "\n".join(readings), flush=True)
