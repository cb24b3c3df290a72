"""Fixtures every test layer shares: a moto server, Terraform runs on copies, unique names.

Terratest's discipline applies throughout: every name a test creates is unique to the run, every
Terraform root is a private copy, and whatever a test applied is destroyed in teardown even when the
test failed. Terraform runs in tests one way: tftest, through `terraform_copy`.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
import tftest
from botocore.config import Config

from harness import processes, terraform

TESTS_DIR = Path(__file__).parent
FIXTURES = TESTS_DIR / "fixtures"
# A module has no provider block: the copy gets one that targets the emulator.
EMULATOR_PROVIDER = FIXTURES / "emulator_provider.tf"
# A root with its own `provider "aws"` keeps it: this override file merges the emulator settings into it.
EMULATOR_PROVIDER_OVERRIDE = FIXTURES / "emulator_provider_override.tf"
# A local module call, `source = "./..."` or `"../..."`: the copy must take the called module along.
LOCAL_MODULE_SOURCE = re.compile(r'^\s*source\s*=\s*"(\.\.?/[^"]*)"', re.MULTILINE)
DECLARES_AWS_PROVIDER = re.compile(r'^\s*provider\s+"aws"', re.MULTILINE)


def pytest_sessionstart(session) -> None:
    """Fill Terraform's plugin cache once, before parallel workers run `terraform init` side by side.

    Terraform does not guarantee its plugin cache is safe for concurrent installs; once the provider is
    in the cache, the workers' inits only read it. Runs in the xdist controller (or the only process).
    """
    if hasattr(session.config, "workerinput"):
        return
    with tempfile.TemporaryDirectory(prefix="terraform-warmup-") as warmup:
        # helm too: offline it is the real provider built from tools/terraform-provider-helm (harness/terraform.py).
        Path(warmup, "main.tf").write_text('terraform {\n  required_providers {\n    aws = { source = "hashicorp/aws" }\n'
                                           '    helm = { source = "hashicorp/helm" }\n  }\n}\n')
        terraform.run(["init", "-input=false", "-no-color", "-backend=false"], cwd=Path(warmup),
                      env=terraform.terraform_env(), timeout=300)


def _on_the_cluster(nodeid: str) -> bool:
    """Tests that share the single-node cluster (one session fixture per worker: they must share a worker)."""
    return nodeid.startswith(("tests/cluster/", "tests/e2e/test_kubernetes_environments.py"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files with a `slow` test run first, the rest in collection order.

    `make test` hands whole files to pytest-xdist workers in this order (`--dist loadfile
    --no-loadscope-reorder`), so the files that wait minutes on provider waiters and pipeline jobs start
    at once, side by side, instead of lining up behind short files on one worker at the end (measured on
    2 cores: 562 s with xdist's default order, files with the most tests first).
    """
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    # The single-node cluster's unit first of all: its files run one after another on one worker (the longest
    # chain in the suite). Inside it, what needs the node's CPUs free of tests/cluster's shared release (a
    # session fixture, installed at its first use and kept to the end) goes first: the rollout test, then the
    # envs/local and envs/aws applies (two 500m replicas each).
    items.sort(key=lambda item: (not _on_the_cluster(item.nodeid), _cluster_rank(item.nodeid),
                                 item.path not in slow_files))  # stable otherwise


def _cluster_rank(nodeid: str) -> int:
    first = ("tests/cluster/test_rollout.py", "tests/e2e/test_kubernetes_environments.py")
    return next((rank for rank, prefix in enumerate(first) if nodeid.startswith(prefix)), len(first))


def pytest_xdist_make_scheduler(config, log):
    """`--dist loadfile`, except that tests/cluster and the envs/local end-to-end test go to one worker as one
    unit: they share one single-node cluster (a session fixture per worker process: two workers would start two on one machine)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class LoadFileOneCluster(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "tests/cluster" if _on_the_cluster(nodeid) else super()._split_scope(nodeid)

    return LoadFileOneCluster(config, log)


@pytest.fixture(scope="session")
def logs_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def moto(logs_dir) -> Iterator[processes.ManagedProcess]:
    """One real moto server for the session; tests keep apart by unique resource names."""
    server = processes.start_moto(logs_dir)
    yield server
    server.stop(timeout=10)


@pytest.fixture(scope="session")
def aws_env(moto) -> dict[str, str]:
    return terraform.emulator_aws_env(moto.url)


@pytest.fixture(scope="session")
def aws_session(aws_env) -> boto3.Session:
    return boto3.Session(
        aws_access_key_id=aws_env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=aws_env["AWS_SECRET_ACCESS_KEY"],
        region_name=aws_env["AWS_REGION"],
    )


@pytest.fixture(scope="session")
def aws_client(aws_session, moto) -> Callable[[str], object]:
    """`aws_client("s3")`: a boto3 client talking to the session's moto server."""

    def make(service: str):
        return aws_session.client(service, endpoint_url=moto.url, config=Config(s3={"addressing_style": "path"}))

    return make


@pytest.fixture
def unique_name() -> Callable[[str], str]:
    """`unique_name("stg")` → `stg-k3x9q2`: lower-case, DNS- and bucket-safe, different every run."""

    def make(prefix: str) -> str:
        return f"{prefix}-{secrets.token_hex(3)}"

    return make


def _with_local_modules(source: Path) -> list[Path]:
    """`source` and every directory its local module calls reach, recursively."""
    found, pending = [], [source]
    while pending:
        directory = pending.pop()
        if directory in found:
            continue
        found.append(directory)
        for tf_file in directory.glob("*.tf"):
            pending += [(directory / call).resolve() for call in LOCAL_MODULE_SOURCE.findall(tf_file.read_text())]
    return found


def copy_in_layout(source: Path, workspace: Path) -> Path:
    """Copy `source` under `workspace` with the local modules it calls, laid out as they are on disk.

    Relative sources (`../../`, `../../modules/s3-staging`) then resolve in the copy exactly as in the
    checkout, and nothing a run writes (.terraform, state, plans) lands in the checkout.
    """
    directories = _with_local_modules(source.resolve())
    anchor = Path(os.path.commonpath(directories))
    for directory in directories:
        shutil.copytree(directory, workspace / directory.relative_to(anchor), ignore=terraform.COPY_IGNORE,
                        symlinks=True, dirs_exist_ok=True)
    return workspace / directories[0].relative_to(anchor)


def _holds_resources(state_file: Path) -> bool:
    """Whether a local state still records something (a failed apply may have created part of a root)."""
    try:
        return bool(json.loads(state_file.read_text()).get("resources"))
    except (OSError, ValueError):
        return state_file.exists()  # unreadable: destroy, Terraform knows better


@pytest.fixture
def terraform_copy(tmp_path, aws_env) -> Iterator[Callable[..., tftest.TerraformTest]]:
    """Copy a module or root to a private directory, `init` it, and destroy whatever it applied at teardown.

    `terraform_copy(path, emulator=True, extra_files=(...), env={...}, tf_vars={...})` returns an
    initialised `tftest.TerraformTest`. The copy takes the local modules the root calls along, laid
    out as in the checkout. With `emulator=True` every AWS call goes to the session's moto server: a
    module gets a provider block, a root with its own `provider "aws"` an override file for it.
    `extra_files` are copied into the root (override files, tfvars); `tf_vars` go to a tfvars file, so
    apply, plan and the teardown's destroy all see the same inputs. `init=False` leaves `setup()` (init)
    to the test, e.g. for `disable_prevent_destroy` or a backend configuration.
    """
    made: list[tftest.TerraformTest] = []

    def make(source: Path, *, emulator: bool = True, extra_files=(), env: dict[str, str] | None = None,
             name: str | None = None, init: bool = True, tf_vars: dict | None = None) -> tftest.TerraformTest:
        root = copy_in_layout(Path(source), tmp_path / (name or Path(source).name))
        if emulator:
            declares_provider = any(DECLARES_AWS_PROVIDER.search(path.read_text()) for path in root.glob("*.tf"))
            shutil.copy(EMULATOR_PROVIDER_OVERRIDE if declares_provider else EMULATOR_PROVIDER, root)
        for extra in extra_files:
            shutil.copy(extra, root)
        if tf_vars is not None:
            (root / "terraform_copy.auto.tfvars.json").write_text(json.dumps(tf_vars, indent=2))
        tf = tftest.TerraformTest(str(root), binary="terraform",
                                  env=terraform.terraform_env(**(aws_env if emulator else {}), **(env or {})))
        if init:
            tf.setup(cleanup_on_exit=False)
        made.append(tf)
        return tf

    yield make

    failures = []
    for tf in reversed(made):
        if _holds_resources(Path(tf.tfdir, "terraform.tfstate")):
            try:
                tf.destroy()
            except tftest.TerraformTestError as error:  # keep destroying the others, then fail loudly
                failures.append(f"{tf.tfdir}: {error}")
    if failures:
        pytest.fail("destroy failed in teardown:\n" + "\n".join(failures))


@pytest.fixture
def assert_idempotent() -> Callable[[tftest.TerraformTest], None]:
    """`assert_idempotent(tf)`: right after an apply, a plan of the same inputs changes nothing.

    Terratest's `ApplyAndIdempotent`, cloud-foundation-fabric's `e2e_validator`: every planned resource
    change is a no-op, and there is at least one (the plan did look at what was applied).
    """

    def check(tf: tftest.TerraformTest) -> None:
        plan = tf.plan(output=True)
        changes = plan.resource_changes
        assert changes, "the second plan saw no resource: it did not look at what was applied"
        pending = {address: change["change"]["actions"] for address, change in changes.items()
                   if change["change"]["actions"] != ["no-op"]}
        assert not pending, f"the second plan is not empty: {pending}"

    return check


@pytest.fixture
def assert_private_bucket(aws_client) -> Callable[[str], None]:
    """`assert_private_bucket(name)`: what modules/s3-staging gives every bucket, read back through boto3.

    All four public access blocks, ACLs off (BucketOwnerEnforced), versioning on, and a bucket policy
    denying requests without TLS or over TLS older than 1.2 (encryption differs per caller: asserted there).
    """

    def check(bucket: str) -> None:
        s3 = aws_client("s3")
        assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True,
        }
        ownership = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
        assert ownership == [{"ObjectOwnership": "BucketOwnerEnforced"}]
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
        policy = {s["Sid"]: s for s in json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]}
        assert set(policy) == {"DenyInsecureTransport", "DenyOutdatedTls"}
        for sid, condition in (("DenyInsecureTransport", {"Bool": {"aws:SecureTransport": "false"}}),
                               ("DenyOutdatedTls", {"NumericLessThan": {"s3:TlsVersion": "1.2"}})):
            statement = policy[sid]
            assert statement["Effect"] == "Deny" and statement["Principal"] == "*" and statement["Action"] == "s3:*"
            assert sorted(statement["Resource"]) == [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]
            assert statement["Condition"] == condition

    return check


# --- progress: a long `make test` never goes quiet for long (slow files first leave minutes between dots) ---
HEARTBEAT_SECONDS = 10.0


class _Heartbeat:
    """On the controlling process: when no test has finished for HEARTBEAT_SECONDS, one line naming what runs."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.running: dict[str, float] = {}
        self.last = self.started = time.monotonic()
        self.done = threading.Event()
        threading.Thread(target=self._beat, daemon=True).start()

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        self.running[nodeid] = time.monotonic()

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        self.running.pop(nodeid, None)
        self.last = time.monotonic()

    def pytest_sessionfinish(self) -> None:
        self.done.set()

    def _beat(self) -> None:
        while not self.done.wait(HEARTBEAT_SECONDS / 2):
            now = time.monotonic()
            reporter = self.config.pluginmanager.get_plugin("terminalreporter")
            if now - self.last < HEARTBEAT_SECONDS or not self.running or reporter is None:
                continue
            longest = sorted(self.running.items(), key=lambda item: item[1])[:2]
            names = ", ".join(f"{nodeid} ({now - since:.0f} s)" for nodeid, since in longest)
            reporter.write_line(f"    ... {now - self.started:.0f} s in, still running: {names}")
            self.last = now


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):  # the controlling process: it reports every worker's results
        config.pluginmanager.register(_Heartbeat(config), "heartbeat")
