"""The node sizing rule of modules/eks/variables.tf (above `node_groups`), as the tests check it: at
min_size, the nodes' allocatable CPU minus the system pods' requests fit (replicas + maxSurge) pods at the
chart's CPU request (tests/modules/eks/test_node_sizing.py, tests/envs/aws/test_aws_side_plan.py)."""

from __future__ import annotations

import yaml

from harness.paths import REPO_ROOT

VCPUS = {"t3.medium": 2, "t3.large": 2, "m6i.large": 2, "t3.xlarge": 4, "m6i.xlarge": 4, "m6i.2xlarge": 8}
# The largest share of system pods' CPU requests one node carries (variables.tf: aws-node, kube-proxy, two
# CoreDNS replicas, metrics-server).
SYSTEM_PODS_MILLICPU = 425


def allocatable_millicpu(vcpus: int) -> int:
    """EKS's kube-reserved CPU: 6% of the first core, 1% of the second, 0.5% of cores 3-4, 0.25% above."""
    reserved = 60 + 10 * (vcpus >= 2) + 5 * max(0, min(vcpus, 4) - 2) + 2.5 * max(0, vcpus - 4)
    return int(vcpus * 1000 - reserved)


def rollout_millicpu() -> tuple[int, int]:
    """(pods a rolling update runs at once, each pod's CPU request) with the chart's defaults."""
    values = yaml.safe_load((REPO_ROOT / "modules/kubernetes-app/chart/values.yaml").read_text())
    surge = values["updateStrategy"]["rollingUpdate"]["maxSurge"]
    request = values["resources"]["requests"]["cpu"]
    millicpu = int(request[:-1]) if request.endswith("m") else int(float(request) * 1000)
    return values["replicaCount"] + surge, millicpu


def assert_fits_a_rollout(instance_type: str, nodes: int) -> None:
    pods, request = rollout_millicpu()
    per_node = (allocatable_millicpu(VCPUS[instance_type]) - SYSTEM_PODS_MILLICPU) // request
    assert nodes * per_node >= pods, (
        f"{nodes} x {instance_type} hold {nodes * per_node} pods of {request}m, a rollout needs {pods}: "
        "the surge pod stays Pending (sizing rule: modules/eks/variables.tf, above node_groups)")
