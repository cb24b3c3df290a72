"""Fixtures every test layer shares: a moto server, Terraform runs on copies, unique names.

Terratest's discipline applies throughout: every name a test creates is unique to the run, every
Terraform root is a private copy, and whatever a test applied is destroyed in teardown even when the
test failed.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
import tftest
from botocore.config import Config

from harness import processes, terraform

REPO_ROOT = processes.REPO_ROOT
FIXTURES = Path(__file__).parent / "fixtures"
EMULATOR_PROVIDER = FIXTURES / "emulator_provider.tf"


TESTS_DIR = Path(__file__).parent


def pytest_collection_modifyitems(config, items) -> None:
    """Under pytest-xdist (`make test` runs `-n 3 --dist loadgroup`), keep each test directory on one worker.

    The directories' session fixtures are expensive (rendered charts, Terraform runs started in the
    background by tests/modules, a moto server): one worker per directory builds each of them once,
    while the directories themselves, mostly waiting on Terraform and the AWS provider, run side by side.
    """
    for item in items:
        relative = Path(item.path).relative_to(TESTS_DIR)
        group = relative.parts[0] if len(relative.parts) > 1 else "top"
        item.add_marker(pytest.mark.xdist_group(group))


def pytest_sessionstart(session) -> None:
    """Fill Terraform's plugin cache once, before parallel workers run `terraform init` side by side.

    Terraform does not guarantee its plugin cache is safe for concurrent installs; once the provider is
    in the cache, the workers' inits only read it. Runs in the xdist controller (or the only process).
    """
    if hasattr(session.config, "workerinput"):
        return
    with tempfile.TemporaryDirectory(prefix="terraform-warmup-") as warmup:
        # helm too: offline it is the schema-only stand-in (harness/provider_standin) tests/envs and tests/harness use.
        Path(warmup, "main.tf").write_text('terraform {\n  required_providers {\n    aws = { source = "hashicorp/aws" }\n'
                                           '    helm = { source = "hashicorp/helm" }\n  }\n}\n')
        terraform.run(["init", "-input=false", "-no-color", "-backend=false"], cwd=Path(warmup),
                      env=terraform.terraform_env(), timeout=300)


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


@pytest.fixture
def terraform_copy(tmp_path, aws_env) -> Iterator[Callable[..., tftest.TerraformTest]]:
    """Copy a module or root to a private directory, `init` it, and destroy whatever it applied at teardown.

    `terraform_copy(path, emulator=True, extra_files=(...), env={...})` returns an initialised
    `tftest.TerraformTest`. With `emulator=True` the copy gets the provider block that targets the
    session's moto server.
    """
    made: list[tftest.TerraformTest] = []

    def make(source: Path, *, emulator: bool = True, extra_files=(), env: dict[str, str] | None = None,
             name: str | None = None, init: bool = True) -> tftest.TerraformTest:
        root = terraform.copy_root(Path(source), tmp_path / (name or Path(source).name))
        for extra in ((EMULATOR_PROVIDER,) if emulator else ()) + tuple(extra_files):
            shutil.copy(extra, root)
        tf = tftest.TerraformTest(str(root), binary="terraform",
                                  env=terraform.terraform_env(**(aws_env if emulator else {}), **(env or {})))
        if init:
            tf.setup(cleanup_on_exit=False)
        made.append(tf)
        return tf

    yield make

    failures = []
    for tf in reversed(made):
        if Path(tf.tfdir, "terraform.tfstate").exists():
            try:
                tf.destroy()
            except tftest.TerraformTestError as error:  # keep destroying the others, then fail loudly
                failures.append(f"{tf.tfdir}: {error}")
    if failures:
        pytest.fail("destroy failed in teardown:\n" + "\n".join(failures))
