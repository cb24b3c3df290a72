"""What the chart asks of the cluster: NetworkPolicy enforcement and a metrics pipeline (issue #11).

The chart ships NetworkPolicy objects and a HorizontalPodAutoscaler. On EKS the VPC CNI only enforces
NetworkPolicy with `enableNetworkPolicy: "true"` in its add-on configuration
(docs.aws.amazon.com/eks/latest/userguide/cni-network-policy-configure.html), and an HPA needs the
Metrics API, which EKS clusters do not serve until the `metrics-server` community add-on is installed
(awsdocs/amazon-eks-user-guide, latest/ug/workloads/community-addons.adoc: add-on name
`metrics-server`, namespace kube-system). moto does not implement EKS add-ons, so the plan is read.
"""

from __future__ import annotations

import json

from tests.modules.eks.conftest import created, plan_json, planned_changes


def test_default_addons_enforce_network_policy_and_serve_metrics_around_the_nodes(eks_module, cluster_name):
    tf = eks_module("plan", cluster_name=cluster_name)
    plan = plan_json(tf)
    changes = planned_changes(plan)

    before = {a.split('"')[1] for a in changes if a.startswith("aws_eks_addon.before_compute[")}
    after_nodes = {a.split('"')[1] for a in changes if a.startswith("aws_eks_addon.this[")}
    assert before == {"vpc-cni", "kube-proxy", "eks-pod-identity-agent"}
    # CoreDNS and metrics-server are Deployments: they need nodes to schedule on.
    assert after_nodes == {"coredns", "metrics-server"}

    vpc_cni = created(changes, 'aws_eks_addon.before_compute["vpc-cni"]')
    assert json.loads(vpc_cni["configuration_values"]) == {"enableNetworkPolicy": "true"}
    metrics_server = created(changes, 'aws_eks_addon.this["metrics-server"]')
    assert metrics_server["addon_name"] == "metrics-server"
    for address in [a for a in changes if a.startswith("aws_eks_addon.")]:
        addon = created(changes, address)
        assert (addon["resolve_conflicts_on_create"], addon["resolve_conflicts_on_update"]) == ("OVERWRITE", "OVERWRITE")
    assert plan["planned_values"]["outputs"]["addon_names"]["value"] == sorted(before | after_nodes)

    # Ordering, from the configuration: nodes wait for networking and the Pod Identity agent; the
    # Deployments wait for nodes.
    resources = {r["address"]: r for r in plan["configuration"]["root_module"]["resources"]}
    assert "aws_eks_addon.before_compute" in resources["aws_eks_node_group.this"]["depends_on"]
    assert "aws_eks_node_group.this" in resources["aws_eks_addon.this"]["depends_on"]
    assert "aws_eks_addon.before_compute" in resources["aws_eks_pod_identity_association.this"]["depends_on"]
