"""Who administers the cluster is input, never whoever ran the plan (issue #11).

The module used to add an access entry for `data.aws_caller_identity` at plan time. In the pipeline
that identity is the plan role: the read-only role became cluster admin, and the apply role, which
runs the helm provider, had no entry and got "the server has asked for the client to provide
credentials". Access entries and their policy associations are not implemented by moto, so these
tests read them from the plan; the caller moto reports is a real STS answer.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.hcl import load, unquote
from tests.modules.eks.conftest import FIXTURES, failed_plan, plan_json, planned_changes

ACCESS = unquote(load(FIXTURES / "access_entries.tfvars"))
APPLY_ROLE, ENGINEER_ROLE = ACCESS["cluster_admin_role_arns"]["apply"], ACCESS["cluster_admin_role_arns"]["engineers"]
PLAN_ROLE = ACCESS["cluster_viewer_role_arns"]["plan"]
POLICY = "arn:aws:eks::aws:cluster-access-policy/"


def test_access_entries_go_to_the_given_roles_and_never_to_the_caller(eks_module, cluster_name, aws_client):
    tf = eks_module("plan", "access_entries", cluster_name=cluster_name)
    changes = planned_changes(plan_json(tf))

    entries = {address: change["change"]["after"] for address, change in changes.items()
               if change["type"] == "aws_eks_access_entry"}
    assert {entry["principal_arn"] for entry in entries.values()} == {APPLY_ROLE, ENGINEER_ROLE, PLAN_ROLE}
    assert all(entry["type"] == "STANDARD" for entry in entries.values())
    caller = aws_client("sts").get_caller_identity()["Arn"]
    assert caller not in {entry["principal_arn"] for entry in entries.values()}, "the identity that planned got access"

    associations = {(change["change"]["after"]["principal_arn"], change["change"]["after"]["policy_arn"]):
                    change["change"]["after"]["access_scope"]
                    for change in changes.values() if change["type"] == "aws_eks_access_policy_association"}
    cluster_wide = [{"type": "cluster", "namespaces": None}]
    assert associations == {
        (APPLY_ROLE, POLICY + "AmazonEKSClusterAdminPolicy"): cluster_wide,
        (ENGINEER_ROLE, POLICY + "AmazonEKSClusterAdminPolicy"): cluster_wide,
        # Read-only, Secrets included: the plan role's helm provider reads the release record.
        (PLAN_ROLE, POLICY + "AmazonEKSAdminViewPolicy"): cluster_wide,
    }

    # EKS's invisible one-time grant to the cluster's creator stays off: access is only what is planned.
    cluster = changes["aws_eks_cluster.this"]["change"]["after"]
    assert cluster["access_config"] == [{"authentication_mode": "API", "bootstrap_cluster_creator_admin_permissions": False}]


def test_session_and_malformed_arns_are_refused_with_what_to_set(eks_module, cluster_name):
    # What `aws sts get-caller-identity` prints inside a CI job: the session, not the role.
    tf = eks_module("plan", "session_arn_admin", cluster_name=cluster_name)
    error = failed_plan(tf)
    assert "cluster_admin_role_arns values must be IAM role (or user) ARNs such as" in error
    assert "the role your apply job assumes, not its session ARN" in error

    # A role name where the ARN belongs, for the plan role: that file in place of the session one.
    Path(tf.tfdir, "2-session_arn_admin.auto.tfvars").unlink()
    shutil.copy(FIXTURES / "role_name_viewer.tfvars", Path(tf.tfdir, "2-role_name_viewer.auto.tfvars"))
    assert "cluster_viewer_role_arns values must be IAM role (or user) ARNs" in failed_plan(tf)


def test_one_role_cannot_be_admin_and_viewer(eks_module, cluster_name):
    tf = eks_module("plan", "admin_and_viewer", cluster_name=cluster_name)
    assert "A principal can have only one access entry" in failed_plan(tf)
