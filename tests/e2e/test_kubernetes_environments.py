"""The Minikube (`local`) and EKS (`aws`) environments end to end: plan → apply → rollout → call → destroy.

These need what the build machines do not have (a cluster, the helm provider, an AWS account), so
each one checks its prerequisites first and skips with the exact reason when one is missing. Where
they exist, this is the same discipline as the sandbox: private copies of the roots, unique names per
run, bounded retries, a second plan that must be empty, and destroy in `finally`.

local: `make e2e ENV=local` (context from E2E_KUBE_CONTEXT, default `minikube`; the image is built
        into the cluster with `minikube image build` unless E2E_IMAGE names one already there).
aws:   `E2E_AWS=1 make e2e ENV=aws` with AWS credentials in the environment, E2E_AWS_TFVARS (a tfvars
        file for envs/aws: subnets, image, ...) and E2E_AWS_BACKEND (a .s3.tfbackend file).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config

from harness import kube, processes, terraform
from tests.cluster import conftest as cluster_fixtures
from tests.e2e.support import retry

# The single-node cluster's session fixtures (tests/cluster/conftest.py): the cluster, the service image in its
# containerd, the S3 emulator on the node's address. tests/conftest.py schedules this file on the cluster's worker.
cluster, images, s3, engine = (cluster_fixtures.cluster, cluster_fixtures.images, cluster_fixtures.s3,
                               cluster_fixtures.engine)

# A real apply and destroy (EKS: about 15 and 10 minutes) run far past the suite's 600 s per-test timeout
# (pyproject.toml). The bound is above the sum of the run's own Terraform timeouts (init and plans 900 s,
# apply and destroy 3600 s each), which stop Terraform with SIGINT first (harness/terraform.run): if this
# one fires anyway, pytest-timeout's signal interrupts that run the same way, then `finally` destroys.
E2E_TIMEOUT_SECONDS = 3 * 3600
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(E2E_TIMEOUT_SECONDS, method="signal")]
REPO_ROOT = processes.REPO_ROOT


def _init_problem(root: Path, env: dict[str, str]) -> str | None:
    """None if the root's providers install here (`init -backend=false`), else Terraform's reason."""
    result = terraform.run(["init", "-backend=false", "-input=false", "-no-color"], cwd=root, env=env, check=False)
    if result.returncode == 0:
        return None
    lines = [line.strip() for line in result.stderr.splitlines() if line.strip() and not line.startswith(("╷", "╵", "│ ", "│"))]
    reason = next((line for line in result.stderr.splitlines() if "Failed to query" in line or "could not" in line.lower()),
                  lines[0] if lines else "unknown error")
    return f"`terraform init` cannot install the providers of {root.name}: {reason.strip('│ ').strip()}"


def _copy_layout(workdir: Path, env_name: str) -> Path:
    """envs/<env> plus every module, with the repository's relative layout, so sources resolve."""
    for relative in (Path("envs") / env_name, Path("modules")):
        terraform.copy_root(REPO_ROOT / relative, workdir / relative)
    return workdir / "envs" / env_name


def _exercise(url: str, token: str, s3, bucket: str, prefix: str) -> None:
    """The calls every environment must answer, and the object the upload must leave in the bucket."""
    health = retry(lambda: requests.get(f"{url}/api/health", timeout=5), lambda r: r.status_code == 200,
                   timeout=120, interval=2, what="GET /api/health")
    assert health.json() == {"status": "ok"}
    mirror = retry(lambda: requests.get(f"{url}/api/mirror", params={"word": "fOoBar25"}, timeout=5),
                   lambda r: r.status_code == 200, timeout=60, what="GET /api/mirror")
    assert mirror.json() == {"transformed": "52RAbOoF"}
    upload = retry(lambda: requests.post(f"{url}/api/upload-random", headers={"Authorization": f"Bearer {token}"},
                                         timeout=10),
                   lambda r: r.status_code == 201, timeout=120, interval=3, what="POST /api/upload-random")
    key = upload.json()["key"]
    assert key.startswith(prefix)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().strip()
    assert body.lstrip("-").isdigit(), f"object {key} holds {body!r}, not an integer"


def _apply_call_destroy(root: Path, env: dict[str, str], tf_vars: dict[str, str], connect, item,
                        s3, token: str, init_args: list[str], before_rollout=None) -> dict:
    """Plan, apply, roll out, call through the Service, plan again (empty), destroy; the outputs.

    `connect()` gives the harness's client for the cluster (rollout, port-forward, the chart's test hooks)."""
    var_args = [f"-var={k}={v}" for k, v in tf_vars.items()]
    terraform.run(["init", "-input=false", "-no-color", *init_args], cwd=root, env=env)
    applied = False
    try:
        plan = terraform.run(["plan", "-input=false", "-no-color", "-detailed-exitcode", *var_args], cwd=root, env=env,
                             check=False, timeout=900)
        assert plan.returncode == 2, plan.stderr or plan.stdout
        assert token not in plan.stdout + plan.stderr, "a secret reached the plan output"
        applied = True
        apply = terraform.run(["apply", "-input=false", "-no-color", "-auto-approve", *var_args], cwd=root, env=env,
                              timeout=3600)
        assert token not in apply.stdout + apply.stderr, "a secret reached the apply output"
        outputs = {k: v["value"] for k, v in json.loads(
            terraform.run(["output", "-json"], cwd=root, env=env).stdout).items()}
        namespace, release = outputs["namespace"], outputs["release_name"]
        if before_rollout:
            before_rollout()
        cluster = connect()
        # On any failure from here on, the report carries the namespace's events, pod statuses and logs.
        with kube.attach_diagnostics_on_failure(item, cluster, namespace):
            kube.wait_for_rollout(cluster, namespace, outputs["deployment_name"], timeout=300)
            with kube.PortForward.to_service(cluster, namespace, outputs["service_name"], 80) as forward:
                # What `helm test` would run, from the release's own hooks, against the forwarded Service.
                kube.run_test_hooks(kube.release_test_hooks(cluster, namespace, release),
                                    f"http://{outputs['service_name']}:80", forward.url)
                _exercise(forward.url, token, s3, outputs["bucket_name"], outputs["object_prefix"])
        second = terraform.run(["plan", "-input=false", "-no-color", "-detailed-exitcode", *var_args], cwd=root,
                               env=env, check=False, timeout=900)
        assert second.returncode == 0, f"second plan is not empty:\n{second.stdout[-3000:]}"
        return outputs
    finally:
        if applied:
            terraform.run(["destroy", "-input=false", "-no-color", "-auto-approve", *var_args], cwd=root, env=env,
                          timeout=3600)


def test_local_environment_on_the_built_cluster(tmp_path, unique_name, selected_environments, request):
    """envs/local applied for real, with the real helm and kubernetes providers, onto the single-node cluster the
    suite builds (harness/cluster.py; `make cluster` first reuses it): init → plan → apply → rollout → the
    chart's test hooks and health, mirror and an upload through the Service (port-forward) → the object read
    back from the S3 emulator, which the pod reaches on the node's address → a second plan is empty →
    destroy leaves no namespace. The image is the service's, built by podman and imported into the node's
    containerd (tests/cluster/conftest.py). E2E_KUBE_CONTEXT names another cluster instead (Minikube, kind)."""
    if selected_environments and "local" not in selected_environments:
        pytest.skip(f"E2E_ENVIRONMENTS={','.join(sorted(selected_environments))} does not include local")
    if os.environ.get("E2E_KUBE_CONTEXT"):
        pytest.skip("E2E_KUBE_CONTEXT names another cluster: test_local_environment_on_a_named_context runs there")
    # requested here, after the skips: a run that skips must not start a cluster
    cluster, images, s3 = (request.getfixturevalue(name) for name in ("cluster", "images", "s3"))
    root = _copy_layout(tmp_path, "local")
    env = terraform.terraform_env()
    token = secrets.token_urlsafe(24)
    namespace = unique_name("mirror-e2e")
    tf_vars = {
        "kube_config_path": str(cluster.kubeconfig),
        "kube_context": "mirror-kit",
        "namespace": namespace,
        "bucket_name": unique_name("mirror-e2e"),
        "image_repository": images["repository"],
        "image_tag": images["first"],
        # the emulator listens on the node's address: Terraform (on the node) and the pods use the same URL
        "emulator_endpoint": s3["url"],
        "emulator_endpoint_in_cluster": s3["url"],
    }
    client = boto3.client("s3", endpoint_url=s3["url"], region_name="us-east-1", aws_access_key_id="local",
                          aws_secret_access_key="local", config=Config(s3={"addressing_style": "path"}))
    api = kube.connect(config_file=str(cluster.kubeconfig))
    _apply_call_destroy(root, {**env, "TF_VAR_upload_token": token}, tf_vars, lambda: api, request.node, client,
                        token, init_args=[])
    from kubernetes.client import CoreV1Api
    from kubernetes.client.exceptions import ApiException

    deadline = time.monotonic() + 120  # destroy returns once the namespace is terminating; it then goes
    while True:
        try:
            CoreV1Api(api.api).read_namespace(namespace)
        except ApiException as error:
            assert error.status == 404, error
            break
        assert time.monotonic() < deadline, f"namespace {namespace} still exists after destroy"
        time.sleep(2)


def test_local_environment_on_a_named_context(tmp_path, unique_name, selected_environments, logs_dir, request):
    if selected_environments and "local" not in selected_environments:
        pytest.skip(f"E2E_ENVIRONMENTS={','.join(sorted(selected_environments))} does not include local")
    if not os.environ.get("E2E_KUBE_CONTEXT"):
        pytest.skip("local: no E2E_KUBE_CONTEXT (a Minikube or kind context); the built cluster's test ran instead")
    context = os.environ["E2E_KUBE_CONTEXT"]
    problem = kube.context_problem(context)
    if problem:
        pytest.skip(f"local: {problem}; start Minikube (`minikube start`) or set E2E_KUBE_CONTEXT to a kind context")
    root = _copy_layout(tmp_path, "local")
    env = terraform.terraform_env()
    problem = _init_problem(root, env)
    if problem:
        pytest.skip(f"local: {problem}")

    image = os.environ.get("E2E_IMAGE")
    if not image:
        if not shutil.which("minikube"):
            pytest.skip("local: set E2E_IMAGE to an image the cluster can pull, or install minikube to build one")
        image = f"mirror-service:e2e-{secrets.token_hex(3)}"
        built = subprocess.run(["minikube", "-p", context, "image", "build", "-t", image, str(REPO_ROOT / "app")],
                               capture_output=True, text=True, timeout=900)
        assert built.returncode == 0, built.stderr
    repository, tag = image.rsplit(":", 1)

    # The emulator runs on this machine; the cluster reaches it through Minikube's host alias.
    emulator_port = processes.free_port()
    emulator = processes.start_moto(logs_dir, port=emulator_port, host="0.0.0.0")
    try:
        token = secrets.token_urlsafe(24)
        bucket = unique_name("mirror-e2e")
        s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{emulator_port}", region_name="us-east-1",
                          aws_access_key_id="local", aws_secret_access_key="local",
                          config=Config(s3={"addressing_style": "path"}))
        tf_vars = {
            "kube_context": context,
            "namespace": unique_name("mirror-e2e"),
            "bucket_name": bucket,
            "image_repository": repository,
            "image_tag": tag,
            "emulator_endpoint": f"http://127.0.0.1:{emulator_port}",
            "emulator_endpoint_in_cluster": os.environ.get(
                "E2E_EMULATOR_IN_CLUSTER", f"http://host.minikube.internal:{emulator_port}"),
        }
        env = {**env, "TF_VAR_upload_token": token}
        _apply_call_destroy(root, env, tf_vars, lambda: kube.connect(context), request.node, s3, token, init_args=[])
    finally:
        emulator.stop(timeout=10)


def test_aws_eks_environment(tmp_path, unique_name, selected_environments, monkeypatch, request):
    if selected_environments and "aws" not in selected_environments:
        pytest.skip(f"E2E_ENVIRONMENTS={','.join(sorted(selected_environments))} does not include aws")
    if os.environ.get("E2E_AWS") != "1":
        pytest.skip("aws: creates billable AWS resources; run only when explicitly enabled with E2E_AWS=1")
    missing = [name for name in ("E2E_AWS_TFVARS", "E2E_AWS_BACKEND") if not os.environ.get(name)]
    if missing:
        pytest.skip(f"aws: set {' and '.join(missing)} (a tfvars file for envs/aws and a .s3.tfbackend file)")
    try:
        identity = boto3.client("sts").get_caller_identity()
    except Exception as error:  # noqa: BLE001 - any failure here means "no usable credentials"
        pytest.skip(f"aws: no usable AWS credentials ({type(error).__name__}: {error})")
    root = _copy_layout(tmp_path, "aws")
    env = terraform.terraform_env()
    problem = _init_problem(root, env)
    if problem:
        pytest.skip(f"aws: {problem}")

    token = secrets.token_urlsafe(24)
    suffix = unique_name("e2e").split("-")[1]
    tf_vars = {"cluster_name": f"mirror-e2e-{suffix}", "bucket_name": f"mirror-e2e-{suffix}-{identity['Account']}"}
    env = {**env, "TF_VAR_upload_token": token}
    backend = os.environ["E2E_AWS_BACKEND"]
    state_key = f"e2e/{suffix}/terraform.tfstate"
    init_args = [f"-backend-config={backend}", f"-backend-config=key={state_key}"]
    # A kubeconfig of our own for harness.kube (rollout, port-forward, hooks), written once the cluster
    # exists; its `aws eks get-token` exec entry is run by the kubernetes client as by kubectl. The
    # Terraform providers authenticate with `aws eks get-token` on their own.
    region = boto3.session.Session().region_name or "us-east-1"
    context = f"mirror-e2e-{suffix}"
    kubeconfig = tmp_path / "kubeconfig"
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    var_file = os.environ["E2E_AWS_TFVARS"]
    env = {**env, **{f"TF_CLI_ARGS_{command}": f"-var-file={var_file}" for command in ("plan", "apply", "destroy")}}

    def write_kubeconfig() -> None:
        subprocess.run(["aws", "eks", "update-kubeconfig", "--name", tf_vars["cluster_name"], "--region", region,
                        "--alias", context, "--kubeconfig", str(kubeconfig)], check=True, capture_output=True)

    _apply_call_destroy(root, env, tf_vars, lambda: kube.connect(context, str(kubeconfig)), request.node,
                        boto3.client("s3", region_name=region), token, init_args=init_args,
                        before_rollout=write_kubeconfig)
