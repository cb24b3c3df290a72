"""envs/local and envs/aws end to end: plan → apply → rollout → call → destroy.

Onto the single-node cluster the suite builds (harness/cluster.py), in `make test`: envs/local whole, and envs/aws
whole with its AWS side on moto (`make e2e ENV=local|aws`). Elsewhere, for engineers who have them: a Minikube or
kind context, and a real AWS account; those check their prerequisites first and skip with the exact reason when one
is missing. Everywhere the same discipline as the sandbox: private copies of the roots, unique names per run,
bounded retries, a second plan that must be empty, and destroy in `finally`.

local, named context: E2E_KUBE_CONTEXT (a Minikube or kind context; the image is built into the cluster with
        `minikube image build` unless E2E_IMAGE names one already there).
aws, real account: `E2E_AWS=1 make e2e ENV=aws` with AWS credentials in the environment, E2E_AWS_TFVARS (a
        tfvars file for envs/aws: subnets, image, ...) and E2E_AWS_BACKEND (a .s3.tfbackend file).
"""
from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import boto3
import pytest
import requests
import yaml
from botocore.config import Config

from harness import kube, pod_identity, processes, terraform
from tests.cluster import conftest as cluster_fixtures
from tests.e2e.support import retry
from tests.envs.bootstrap.test_remote_state_locking import empty_versioned_bucket

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
ACCOUNT = "123456789012"  # moto's


def _init_problem(root: Path, env: dict[str, str]) -> str | None:
    """None if the root's providers install here (`init -backend=false`), else Terraform's reason."""
    result = terraform.run(["init", "-backend=false", "-input=false", "-no-color"], cwd=root, env=env, check=False)
    if result.returncode == 0:
        return None
    lines = [line.strip() for line in result.stderr.splitlines() if line.strip() and not line.startswith(("╷", "╵", "│ ", "│"))]
    reason = next((line for line in result.stderr.splitlines() if "Failed to query" in line or "could not" in line.lower()),
                  lines[0] if lines else "unknown error")
    return f"`terraform init` cannot install the providers of {root.name}: {reason.strip('│ ').strip()}"


def _copy_layout(workdir: Path, env_name: str, without_lifecycle_wait: bool = False) -> Path:
    """envs/<env> plus every module, with the repository's relative layout, so sources resolve.

    `without_lifecycle_wait`: the bucket without its lifecycle rules, whose write the AWS provider waits ~55 s to
    see settle on moto (tests/fixtures/s3_staging_without_lifecycle_override.tf); tests/modules/s3_staging applies
    them. Only for the emulator: a real account's bucket keeps them."""
    for relative in (Path("envs") / env_name, Path("modules")):
        terraform.copy_root(REPO_ROOT / relative, workdir / relative)
    if without_lifecycle_wait:
        shutil.copy(REPO_ROOT / "tests" / "fixtures" / "s3_staging_without_lifecycle_override.tf",
                    workdir / "modules" / "s3-staging")
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
                        s3, token: str, init_args: list[str], before_rollout=None, checks=None,
                        before_destroy=None, secrets_: tuple[str, ...] = ()) -> None:
    """Plan, apply, roll out, call through the Service, plan again (empty), destroy.

    `connect()` gives the harness's client for the cluster (rollout, port-forward, the chart's test hooks);
    `checks(cluster, outputs)` asserts what is particular to the environment once the calls answered;
    `before_destroy()` runs before the destroy, also after a failure; no secret of `token` and
    `secrets_` may reach Terraform's output."""
    var_args = [f"-var={k}={v}" for k, v in tf_vars.items()]
    terraform.run(["init", "-input=false", "-no-color", *init_args], cwd=root, env=env)
    applied, outputs = False, {}
    try:
        plan = terraform.run(["plan", "-input=false", "-no-color", "-detailed-exitcode", *var_args], cwd=root, env=env,
                             check=False, timeout=900)
        assert plan.returncode == 2, plan.stderr or plan.stdout
        for secret in (token, *secrets_):
            assert secret not in plan.stdout + plan.stderr, "a secret reached the plan output"
        applied = True
        apply = terraform.run(["apply", "-input=false", "-no-color", "-auto-approve", *var_args], cwd=root, env=env,
                              timeout=3600)
        for secret in (token, *secrets_):
            assert secret not in apply.stdout + apply.stderr, "a secret reached the apply output"
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
            if checks:
                checks(cluster, outputs)
        second = terraform.run(["plan", "-input=false", "-no-color", "-detailed-exitcode", *var_args], cwd=root,
                               env=env, check=False, timeout=900)
        assert second.returncode == 0, f"second plan is not empty:\n{second.stdout[-3000:]}"
    finally:
        if applied:
            if before_destroy:
                before_destroy()
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
    root = _copy_layout(tmp_path, "local", without_lifecycle_wait=True)
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
    _assert_namespace_gone(api, namespace)


def _assert_namespace_gone(api: kube.Cluster, namespace: str, timeout: float = 120) -> None:
    """Destroy returns once the namespace is terminating; it must then go, with everything in it."""
    from kubernetes.client import CoreV1Api
    from kubernetes.client.exceptions import ApiException

    deadline = time.monotonic() + timeout
    while True:
        try:
            CoreV1Api(api.api).read_namespace(namespace)
        except ApiException as error:
            assert error.status == 404, error
            return
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


def _built_cluster_files(cluster, directory: Path) -> None:
    """What fixtures/aws_on_the_built_cluster_override.tf reads: the API server, its CA, and the admin's client
    certificate as the ExecCredential an exec plugin prints (client.authentication.k8s.io/v1beta1)."""
    config = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    server = config["clusters"][0]["cluster"]
    user = config["users"][0]["user"]
    directory.mkdir(mode=0o700)
    (directory / "server").write_text(server["server"])
    (directory / "ca.crt").write_bytes(base64.b64decode(server["certificate-authority-data"]))
    (directory / "exec-credential.json").write_text(json.dumps({
        "apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",
        "status": {"clientCertificateData": base64.b64decode(user["client-certificate-data"]).decode(),
                   "clientKeyData": base64.b64decode(user["client-key-data"]).decode()}}))


def _empty_bucket(s3, bucket: str) -> None:
    """A production bucket refuses force_destroy (modules/s3-staging): the operator empties it, every version. No
    bucket (an apply that failed before creating it) is nothing to empty, and must not hide that failure."""
    with contextlib.suppress(s3.exceptions.NoSuchBucket):
        empty_versioned_bucket(s3, bucket)


def test_aws_environment_offline_on_the_built_cluster(tmp_path, unique_name, selected_environments, logs_dir,
                                                      request):
    """envs/aws applied whole, offline: its AWS side on moto, its Kubernetes side on the suite's single-node cluster.

    The root is copied unchanged but for two override files: the AWS provider's (tests/fixtures: every call to
    moto) and fixtures/aws_on_the_built_cluster_override.tf (local state; helm and kubernetes on the built cluster
    through the root's own exec plugin mechanism), plus modules/eks's moto shims (tests/modules/eks/fixtures).
    Then as on EKS: init → plan → apply (VPC subnets, bucket, IAM, KMS, the EKS cluster and node group in moto;
    namespace with Pod Security labels, release with its pull secret, ALB Ingress, PDB, NetworkPolicy admitted by
    the real API server) → rollout → the chart's test hooks, health, mirror and an upload through the Service →
    the object read back from moto → a second plan is empty → the bucket emptied as an operator must (prod refuses
    force_destroy) → destroy leaves no namespace.

    The pods get S3 the way EKS Pod Identity gives it, not by a key in the release: harness/pod_identity.py stands
    in for EKS's webhook and agent (a real mutating webhook and a credentials endpoint on 169.254.170.23 that
    checks the pod's projected token with the API server's TokenReview); the pods' NetworkPolicy must let them
    reach both the agent and S3 (moto listens on the node's port 443, where the policy's HTTPS rule applies).

    Unproven without AWS (each stated where it is assumed): EKS's add-ons (metrics-server, so the HPA stays off
    here; VPC CNI, kube-proxy, CoreDNS, the Pod Identity agent), access entries and pod identity associations
    (moto has no API for them: tests/envs/aws/test_aws_side_plan.py checks the plan), `aws eks get-token`, the
    AWS Load Balancer Controller turning the Ingress into an ALB, a kubelet pulling with the pull secret (the
    image is already in the node's containerd; pullPolicy IfNotPresent), and IAM evaluating the role's policy."""
    if selected_environments and "aws" not in selected_environments:
        pytest.skip(f"E2E_ENVIRONMENTS={','.join(sorted(selected_environments))} does not include aws")
    cluster, images = (request.getfixturevalue(name) for name in ("cluster", "images"))
    from harness import cluster as node
    from tests.modules.eks.conftest import MOTO_APPLY_OVERRIDE, create_network

    # moto on the node's HTTPS port, plain HTTP: Terraform, the test and the pods all use this one endpoint.
    emulator = processes.start_moto(logs_dir, port=443, host=node.NODE_IP)
    request.addfinalizer(lambda: emulator.stop(timeout=10))
    aws_env = terraform.emulator_aws_env(emulator.url)
    session = boto3.Session(aws_access_key_id=aws_env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=aws_env["AWS_SECRET_ACCESS_KEY"], region_name="us-east-1")
    client = session.client("s3", endpoint_url=emulator.url, config=Config(s3={"addressing_style": "path"}))
    # Every AWS service the root calls answers once before Terraform's concurrent creates: moto builds a service's
    # backend on its first call (IAM's with ~1,400 managed policies: seconds on a busy machine). Once, under load, a
    # CreateRole sent to a fresh server came back 409 EntityAlreadyExists for the role the same apply was creating.
    session.client("iam", endpoint_url=emulator.url).list_policies(Scope="AWS", MaxItems=1)
    for service, call in (("kms", "list_keys"), ("eks", "list_clusters"), ("logs", "describe_log_groups"),
                          ("sts", "get_caller_identity"), ("s3", "list_buckets")):
        getattr(session.client(service, endpoint_url=emulator.url), call)()
    # The network lives and dies with this test's own emulator: nothing to delete after the destroy.
    subnets = create_network(session, emulator.url)[1]["subnet_ids"]

    root = _copy_layout(tmp_path, "aws", without_lifecycle_wait=True)
    shutil.copy(MOTO_APPLY_OVERRIDE, tmp_path / "modules" / "eks")
    shutil.copy(REPO_ROOT / "tests" / "fixtures" / "emulator_provider_override.tf", root)
    shutil.copy(Path(__file__).parent / "fixtures" / "aws_on_the_built_cluster_override.tf", root)
    _built_cluster_files(cluster, root / "built-cluster")

    suffix = unique_name("aws").split("-")[1]
    namespace, release = f"mirror-aws-{suffix}", "mirror"
    bucket = f"mirror-aws-{suffix}"
    token = secrets.token_urlsafe(24)
    pull = {"registry": "registry.example.test", "username": "deploy-token-7",
            "password": f"pull-{secrets.token_hex(12)}"}
    hostname, certificate = "mirror.example.test", f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/{uuid.uuid4()}"
    (root / "offline.auto.tfvars.json").write_text(json.dumps({
        "region": "us-east-1", "cluster_name": f"mirror-aws-{suffix}", "subnet_ids": subnets,
        "cluster_admin_role_arns": {"apply": f"arn:aws:iam::{ACCOUNT}:role/mirror-apply"},
        "bucket_name": bucket, "namespace": namespace, "release_name": release,
        "image_repository": images["repository"], "image_tag": images["first"],
        "hostname": hostname, "certificate_arn": certificate,
    }, indent=2))
    # The two secrets as the pipeline passes them: masked variables, never a file.
    env = {**terraform.terraform_env(**aws_env), "TF_VAR_upload_token": token,
           "TF_VAR_image_pull_credentials": json.dumps(pull)}

    def checks(api: kube.Cluster, outputs: dict) -> None:
        from kubernetes.client import CoreV1Api, NetworkingV1Api

        core = CoreV1Api(api.api)
        pods = [pod for pod in core.list_namespaced_pod(namespace, label_selector=f"app.kubernetes.io/instance={release}").items
                if pod.metadata.labels.get("app.kubernetes.io/component") != "test"
                and not (pod.metadata.annotations or {}).get("helm.sh/hook")]
        assert pods, f"no pod of the release in {namespace}"
        # The pull secret from image_pull_credentials: on every pod, and holding exactly the given credentials.
        for pod in pods:
            names = [reference.name for reference in pod.spec.image_pull_secrets or []]
            assert len(names) == 1, f"{pod.metadata.name} pulls with {names}"
            secret = core.read_namespaced_secret(names[0], namespace)
            assert secret.type == "kubernetes.io/dockerconfigjson"
            auths = json.loads(base64.b64decode(secret.data[".dockerconfigjson"]))["auths"]
            assert auths[pull["registry"]]["username"] == pull["username"]
            assert auths[pull["registry"]]["password"] == pull["password"]
            env_names = {item.name for container in pod.spec.containers for item in container.env or []}
            assert "AWS_CONTAINER_CREDENTIALS_FULL_URI" in env_names, f"{pod.metadata.name} was not given Pod Identity"
            assert not env_names & {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}, "a static key reached the pods"
        # The upload above got its credentials from the agent, for the release's service account, and only so.
        assert standin.served and set(standin.served) == {f"system:serviceaccount:{namespace}:{release}"}
        forged = requests.get(pod_identity.CREDENTIALS_URI, headers={"Authorization": "forged"}, timeout=5)
        assert forged.status_code == 403 and "AccessKeyId" not in forged.text
        # The Ingress the AWS Load Balancer Controller would turn into an ALB, admitted as the root built it.
        ingress = NetworkingV1Api(api.api).read_namespaced_ingress(release, namespace)
        assert ingress.spec.ingress_class_name == "alb"
        assert [rule.host for rule in ingress.spec.rules] == [hostname]
        annotations = ingress.metadata.annotations
        assert annotations["alb.ingress.kubernetes.io/certificate-arn"] == certificate
        assert annotations["alb.ingress.kubernetes.io/ssl-policy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
        assert annotations["alb.ingress.kubernetes.io/healthcheck-path"] == "/api/ready"
        assert outputs["url"] == f"https://{hostname}"
        # Restricted Pod Security on the namespace the root created, enforced.
        labels = core.read_namespace(namespace).metadata.labels
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"

    api = kube.connect(config_file=str(cluster.kubeconfig))
    extra_env = {"AWS_ENDPOINT_URL_S3": emulator.url}  # the emulator's S3; EKS's pods use AWS's own
    credentials = {"AccessKeyId": aws_env["AWS_ACCESS_KEY_ID"], "SecretAccessKey": aws_env["AWS_SECRET_ACCESS_KEY"]}
    with pod_identity.PodIdentityStandin(cluster, namespace, release, credentials, extra_env) as standin:
        _apply_call_destroy(root, env, {}, lambda: api, request.node, client, token, init_args=[], checks=checks,
                            before_destroy=lambda: _empty_bucket(client, bucket), secrets_=(pull["password"],))
        _assert_namespace_gone(api, namespace)


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
