"""The chart's NetworkPolicy, enforced on the node by kube-router's policy controller (iptables + ipset): with
`allowExternal: false` a pod without the chart's client label cannot open a connection to the service, one
with it can, both to the pods directly and through the Service (kube-proxy)."""

from __future__ import annotations

import json

# kube-router puts a new pod's address into the policy's ipsets a few seconds after the pod starts: a client
# tries for up to {seconds} s and reports the first success (an unallowed one must never get one).
CONNECT = """
import socket, time
deadline, last = time.monotonic() + {seconds}, None
while time.monotonic() < deadline:
    try:
        socket.create_connection(("{host}", {port}), timeout=2).close()
        print("connected")
        break
    except OSError as error:
        last = error
        time.sleep(0.5)
else:
    print(f"refused: {{last}}")
"""


def _targets(cluster, release) -> list[tuple[str, int]]:
    pods = [pod for pod in json.loads(cluster.kubectl("get", "pods", "-n", release.namespace, "-l", release.selector,
                                                      "-o", "json").stdout)["items"]
            if pod["status"]["phase"] == "Running" and not pod["metadata"].get("deletionTimestamp")]
    service = json.loads(cluster.kubectl("get", "service", release.fullname, "-n", release.namespace,
                                         "-o", "json").stdout)
    return [(pods[0]["status"]["podIP"], 4545), (service["spec"]["clusterIP"], service["spec"]["ports"][0]["port"])]


def test_a_pod_without_the_client_label_cannot_connect(cluster, release, client_pod):
    for host, port in _targets(cluster, release):
        phase, logs = client_pod(CONNECT.format(host=host, port=port, seconds=8), allowed=False)
        assert phase == "Succeeded", logs
        assert "refused:" in logs, f"{host}:{port} answered an unallowed pod: {logs}"


def test_a_pod_with_the_client_label_connects(cluster, release, client_pod):
    for host, port in _targets(cluster, release):
        phase, logs = client_pod(CONNECT.format(host=host, port=port, seconds=30), allowed=True)
        assert phase == "Succeeded" and "connected" in logs, f"{host}:{port}: {logs}"
