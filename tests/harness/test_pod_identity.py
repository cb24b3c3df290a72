"""harness/pod_identity.py's webhook patch, applied with a real JSON Patch implementation (jsonpatch) to pods shaped
as the chart renders them: what EKS's webhook injects, only into pods of the associated service account.
tests/e2e/test_kubernetes_environments.py runs the stand-in for real against the API server."""

from __future__ import annotations

import jsonpatch
import pytest

from harness import pod_identity


def _pod(service_account: str | None, env: list | None = None, mounts: list | None = None,
         volumes: list | None = None) -> dict:
    container = {"name": "service", "image": "mirror-service:1"}
    if env is not None:
        container["env"] = env
    if mounts is not None:
        container["volumeMounts"] = mounts
    spec = {"containers": [container]}
    if service_account:
        spec["serviceAccountName"] = service_account
    if volumes is not None:
        spec["volumes"] = volumes
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "mirror-"}, "spec": spec}


@pytest.mark.parametrize("existing", [False, True], ids=["bare-pod", "pod-with-env-mounts-and-volumes"])
def test_the_associated_service_accounts_pods_get_what_eks_injects(existing):
    pod = _pod("mirror", *(([{"name": "LOG_LEVEL", "value": "INFO"}], [{"name": "tmp", "mountPath": "/tmp"}],
                            [{"name": "tmp", "emptyDir": {}}]) if existing else ()))
    patched = jsonpatch.apply_patch(pod, pod_identity._json_patch(pod, "mirror", {"AWS_ENDPOINT_URL_S3": "http://s3"}))
    container = patched["spec"]["containers"][0]
    env = {item["name"]: item["value"] for item in container["env"]}
    assert env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] == "http://169.254.170.23/v1/credentials"
    assert env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] == \
        "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token"
    assert env["AWS_ENDPOINT_URL_S3"] == "http://s3"
    assert {"name": "eks-pod-identity-token", "mountPath": "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount",
            "readOnly": True} in container["volumeMounts"]
    token = next(v for v in patched["spec"]["volumes"] if v["name"] == "eks-pod-identity-token")
    assert token["projected"]["sources"] == [{"serviceAccountToken": {
        "audience": "pods.eks.amazonaws.com", "expirationSeconds": 86400, "path": "eks-pod-identity-token"}}]
    if existing:  # what the pod had stays
        assert env["LOG_LEVEL"] == "INFO" and len(container["volumeMounts"]) == 2 and len(patched["spec"]["volumes"]) == 2


@pytest.mark.parametrize("service_account", ["default", None, "mirror-test"])
def test_other_service_accounts_pods_are_left_alone(service_account):
    assert pod_identity._json_patch(_pod(service_account), "mirror", {}) == []
