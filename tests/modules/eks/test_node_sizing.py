"""The default nodes hold a rolling update of the service at its default size (issue #19).

The rule and its figures are written once, above `node_groups` in modules/eks/variables.tf: at min_size,
the nodes' allocatable CPU minus the system pods' requests must fit (replicas + maxSurge) pods at the
chart's CPU request. With the chart's former 1000m request one pod fitted per 2-vCPU node, so the surge pod of
every rollout after the first stayed Pending on the two t3.medium nodes envs/aws used to default to. The chart's figures are read
from its values.yaml; the node figures from the plans of modules/eks and envs/aws (test_aws_side_plan.py).
"""

from __future__ import annotations

from tests.modules.eks.conftest import created, plan_json, planned_changes
from tests.node_sizing import allocatable_millicpu, assert_fits_a_rollout, rollout_millicpu


def test_the_rule_reproduces_the_figures_it_states():
    assert allocatable_millicpu(2) == 1930 and allocatable_millicpu(4) == 3920
    assert rollout_millicpu() == (3, 500)


def test_the_module_default_node_group_fits_a_rollout_at_its_minimum(eks_module, cluster_name):
    tf = eks_module("plan", cluster_name=cluster_name)
    group = created(planned_changes(plan_json(tf)), 'aws_eks_node_group.this["default"]')
    assert_fits_a_rollout(group["instance_types"][0], group["scaling_config"][0]["min_size"])
