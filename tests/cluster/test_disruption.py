"""The chart's PodDisruptionBudget (maxUnavailable 1) on the node: the eviction API lets one of the two pods go
and refuses the second while the first one's replacement is not ready yet (429, the budget)."""

from __future__ import annotations

import json

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException


def _ready_pods(cluster, release) -> list[str]:
    pods = json.loads(cluster.kubectl("get", "pods", "-n", release.namespace, "-l", release.selector,
                                      "-o", "json").stdout)["items"]
    return [pod["metadata"]["name"] for pod in pods if not pod["metadata"].get("deletionTimestamp")
            and any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))]


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
    cluster.kubectl("rollout", "status", "deployment", release.fullname, "-n", release.namespace, "--timeout=90s",
                    timeout=120)
