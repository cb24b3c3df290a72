"""Disruptions of the shared release (two pods) on the node:
- the chart's PodDisruptionBudget (maxUnavailable 1): the eviction API lets one of the two pods go and refuses the
  second while the first one's replacement is not ready yet (429, the budget);
- a SIGKILLed gunicorn master under a steady stream of requests through the Service: the requests that fail are
  those sent in the few seconds before the node noticed (no drain is possible), and the container is restarted
  and back in the Service within a measured time."""

from __future__ import annotations

import json
import time

import psutil
import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.cluster.load import Load
from tests.cluster.test_rollout import service_address

RATE = 40
# Requests may fail only while the kubelet has not yet seen the dead container and kube-proxy still sends new
# connections to it (or gunicorn has not listened again): every request sent later than this after the kill
# must be answered. Measured: the last failure 1-3 s after the kill.
FAILING_FOR = 10
# At most the share of the stream kube-proxy sends the dead pod (one of two) over that window.
MAX_FAILED = RATE * FAILING_FOR // 2
# The killed container restarted (the kubelet's first restart has no back-off), started and ready again.
REPLACED_WITHIN = 60


def _pods(cluster, release) -> list[dict]:
    return json.loads(cluster.kubectl("get", "pods", "-n", release.namespace, "-l", release.selector,
                                      "-o", "json").stdout)["items"]


def _is_ready(pod: dict) -> bool:
    return not pod["metadata"].get("deletionTimestamp") and any(
        c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))


def _ready_pods(cluster, release) -> list[str]:
    return [pod["metadata"]["name"] for pod in _pods(cluster, release) if _is_ready(pod)]


def _rolled_out(cluster, release) -> None:
    cluster.kubectl("rollout", "status", "deployment", release.fullname, "-n", release.namespace, "--timeout=90s",
                    timeout=120)


def _evict(api, namespace: str, name: str) -> None:
    api.core.create_namespaced_pod_eviction(name, namespace, client.V1Eviction(
        metadata=client.V1ObjectMeta(name=name, namespace=namespace)))


def test_the_budget_lets_one_pod_go_and_refuses_the_second(cluster, api, release):
    first, second = _ready_pods(cluster, release)[:2]
    _evict(api, release.namespace, first)
    with pytest.raises(ApiException) as refused:
        _evict(api, release.namespace, second)
    assert refused.value.status == 429, refused.value
    assert "disruption budget" in refused.value.body
    _rolled_out(cluster, release)


def _task_pid(cluster, container_id: str) -> int:
    """The container's init process on this host, as containerd's task list shows it."""
    for line in cluster.ctr("tasks", "ls").stdout.splitlines()[1:]:
        task, pid, _status = line.split()
        if task == container_id:
            return int(pid)
    raise AssertionError(f"containerd runs no task {container_id}")


def test_a_sigkilled_gunicorn_master_costs_a_few_requests_and_is_back_within_a_minute(cluster, release):
    _rolled_out(cluster, release)
    deadline = time.monotonic() + 60
    while len(_ready_pods(cluster, release)) < 2:  # the eviction's replacement is in, the evicted pod gone
        assert time.monotonic() < deadline, _pods(cluster, release)
        time.sleep(1)
    victim = next(pod for pod in _pods(cluster, release) if _is_ready(pod))
    name, status = victim["metadata"]["name"], victim["status"]["containerStatuses"][0]
    restarts, container_id = status["restartCount"], status["containerID"].removeprefix("containerd://")
    pid = _task_pid(cluster, container_id)
    master = psutil.Process(pid).cmdline()
    assert "gunicorn" in " ".join(master[:2]), f"the container's init process is not gunicorn's master: {master}"
    host, port = service_address(cluster, release.namespace, release.fullname)
    with Load(host, port, rate=RATE) as load:
        time.sleep(2)
        assert not load.failures, f"requests failed before the kill: {load.summary()}\n{load.failure_lines()}"
        killed = time.monotonic()
        cluster.ctr("tasks", "kill", "--signal", "SIGKILL", container_id)
        unready = back = None
        while back is None:
            assert time.monotonic() - killed < REPLACED_WITHIN, \
                f"{name} not ready again within {REPLACED_WITHIN} s: {json.dumps(victim['status'])[:2000]}"
            victim = next((pod for pod in _pods(cluster, release) if pod["metadata"]["name"] == name), None)
            assert victim is not None, f"{name} was deleted instead of restarted"
            restarted = victim["status"]["containerStatuses"][0]["restartCount"] > restarts
            if unready is None and not _is_ready(victim):
                unready = time.monotonic() - killed
            if restarted and _is_ready(victim):
                back = time.monotonic() - killed
            time.sleep(0.25)
        time.sleep(FAILING_FOR - min(back, FAILING_FOR) + 2)  # the stream goes on past the failure window
    failures = load.failures
    last = max((outcome.sent - killed for outcome in failures), default=0.0)
    print(f"SIGKILL of gunicorn's master (pid {pid}) in {name}: not ready after "
          f"{unready if unready is None else round(unready, 1)} s, restarted and ready again after {back:.1f} s; "
          f"under load: {load.summary()}; last failure sent {last:.1f} s after the kill", flush=True)
    assert unready is not None, "the kubelet never marked the pod not ready"
    late = [outcome for outcome in failures if outcome.sent - killed > FAILING_FOR]
    assert not late, f"requests failed later than {FAILING_FOR} s after the kill:\n{load.failure_lines(since=killed)}"
    assert not [outcome for outcome in failures if outcome.sent < killed], load.failure_lines(since=killed)
    assert len(failures) <= MAX_FAILED, f"{load.summary()}: more than {MAX_FAILED} failed"
