"""The chart's HorizontalPodAutoscaler reads the pods' CPU from metrics-server (metrics.k8s.io through the
aggregation layer) on the node. Scaling out under load and back is not proven yet (the chart's default
scale-down window alone is 5 minutes, over the cluster tests' budget)."""

from __future__ import annotations

import json
import time

from tests.cluster.conftest import install

METRICS_WITHIN = 90


def test_the_hpa_reads_the_pods_cpu_from_metrics_server(cluster, release):
    values = {**release.values, "autoscaling": {"enabled": True, "minReplicas": 2, "maxReplicas": 3}}
    result = install(cluster, release.namespace, values, command="upgrade")
    assert result.returncode == 0, result.stderr
    try:
        started, status = time.monotonic(), {}
        while time.monotonic() - started < METRICS_WITHIN:
            hpa = json.loads(cluster.kubectl("get", "hpa", release.fullname, "-n", release.namespace,
                                             "-o", "json").stdout)
            status = hpa.get("status", {})
            cpu = [m["resource"]["current"] for m in status.get("currentMetrics") or []
                   if m.get("type") == "Resource" and m["resource"]["name"] == "cpu"]
            if cpu and "averageUtilization" in cpu[0]:
                break
            time.sleep(2)
        else:
            raise AssertionError(f"no CPU metric reached the HPA within {METRICS_WITHIN} s: {status}")
        print(f"HPA read CPU {cpu[0]['averageUtilization']}% after {time.monotonic() - started:.0f} s", flush=True)
        conditions = {c["type"]: c["status"] for c in status.get("conditions", [])}
        assert conditions.get("ScalingActive") == "True", status
        pods = json.loads(cluster.kubectl("get", "--raw", f"/apis/metrics.k8s.io/v1beta1/namespaces/"
                                          f"{release.namespace}/pods").stdout)["items"]
        assert any(pod["metadata"]["name"].startswith(release.fullname) for pod in pods)
    finally:
        assert install(cluster, release.namespace, release.values, command="upgrade").returncode == 0
