"""Helpers for applying modules/eks against the session's moto server (tests/modules/test_eks.py).

Every root runs in a private workspace: a copy of just the repository paths it needs, laid out as in
the repository so relative module sources (`../../`, `../../../s3-staging`) keep working. Variables go
into `test.auto.tfvars.json`, so apply, plan and destroy always see the same values (null included,
which `-var` cannot express).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

import boto3
import tftest
from botocore.config import Config

from harness import terraform
from harness.paths import REPO_ROOT
from tests.conftest import EMULATOR_PROVIDER, EMULATOR_PROVIDER_OVERRIDE

ROOTS = Path(__file__).parent / "roots"


def workspace(destination: Path, repo_paths: Iterable[str], extra: dict[str, Path] | None = None) -> Path:
    """Copy `repo_paths` (relative to the repository) into `destination`, keeping the layout.

    `extra` maps a workspace-relative directory to a directory outside the repository layout (the
    test roots under tests/modules/roots) to copy there as well.
    """
    for relative in repo_paths:
        terraform.copy_root(REPO_ROOT / relative, destination / relative)
    for relative, source in (extra or {}).items():
        terraform.copy_root(source, destination / relative)
    return destination


class Root:
    """One Terraform root inside a workspace, run with the emulator's environment."""

    def __init__(self, path: Path, env: dict[str, str], provider: str | None = None):
        self.path = path
        self.env = terraform.terraform_env(**env)
        if provider == "module":
            shutil.copy(EMULATOR_PROVIDER, path)
        elif provider == "override":
            shutil.copy(EMULATOR_PROVIDER_OVERRIDE, path)
        self.applied = False
        self.timings: dict[str, float] = {}

    # -- running Terraform ------------------------------------------------------------------------

    # Generous for any command here (the slowest, a lifecycle apply, takes about a minute), short enough
    # that a provider retrying an emulator's 500s forever fails the test instead of hanging the suite.
    def run(self, *args: str, check: bool = True, timeout: float = 240) -> subprocess.CompletedProcess:
        return terraform.run(list(args), cwd=self.path, env=self.env, check=check, timeout=timeout)

    def set_vars(self, **values) -> Root:
        (self.path / "test.auto.tfvars.json").write_text(json.dumps(values, indent=2))
        return self

    def init(self, backend_config: str | None = None, disable_prevent_destroy: bool = False) -> Root:
        """`terraform init` through tftest's setup (the fabric tests' entry point).

        `backend_config` names a partial backend configuration file; `disable_prevent_destroy` lets a
        test destroy its throwaway copy of a root that protects its resources (tftest rewrites the copy).
        """
        started = time.monotonic()
        # Kept on the Root: tftest restores the rewritten files when this object is collected.
        self.tftest = tftest.TerraformTest(str(self.path), binary="terraform", env=self.env)
        self.tftest.setup(init_vars=backend_config, cleanup_on_exit=False,
                          disable_prevent_destroy=disable_prevent_destroy)
        self.timings["init"] = round(time.monotonic() - started, 1)
        return self

    def apply(self, *args: str) -> float:
        self.applied = True  # set first: a failed apply may still have created something
        return self._timed("apply", "apply", "-input=false", "-no-color", "-auto-approve", *args)

    def destroy(self, *args: str) -> float:
        duration = self._timed("destroy", "destroy", "-input=false", "-no-color", "-auto-approve", *args)
        self.applied = False
        return duration

    def outputs(self) -> dict:
        raw = json.loads(self.run("output", "-json").stdout)
        return {name: value["value"] for name, value in raw.items()}

    def plan_json(self, *args: str) -> dict:
        """`plan -out` then `show -json`: the planned values and every resource change."""
        self.run("plan", "-input=false", "-no-color", "-out=test.tfplan", *args)
        return json.loads(self.run("show", "-json", "test.tfplan").stdout)

    def changes(self) -> dict:
        """What the next plan would do: `{"exit_code", "pending": {address: action}, "refreshed": [address]}`.

        Read from `plan -json`'s streamed messages rather than `show -json` of a saved plan, which would
        start the AWS provider a second time (about 3 s of CPU on every call).
        """
        result = self.run("plan", "-json", "-input=false", "-detailed-exitcode", check=False)
        if result.returncode not in (0, 2):
            raise RuntimeError(f"terraform plan failed in {self.path}:\n{result.stderr}{result.stdout[-2000:]}")
        messages = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
        return {
            "exit_code": result.returncode,
            "pending": {m["change"]["resource"]["addr"]: m["change"]["action"]
                        for m in messages if m.get("type") == "planned_change"},
            "refreshed": [m["hook"]["resource"]["addr"] for m in messages if m.get("type") == "refresh_complete"],
        }

    def destroy_quietly(self) -> str | None:
        """Destroy if anything may have been applied; the error text instead of raising."""
        if not self.applied:
            return None
        try:
            self.destroy()
        except (RuntimeError, subprocess.TimeoutExpired) as error:
            return f"{self.path}: {error}"
        return None

    def _timed(self, name: str, *args: str) -> float:
        started = time.monotonic()
        self.run(*args)
        self.timings[name] = round(time.monotonic() - started, 1)
        return self.timings[name]


# -- plans ----------------------------------------------------------------------------------------


def planned_resources(plan: dict) -> dict[str, dict]:
    """Every planned resource (root and child modules), by address, with its planned values."""
    found: dict[str, dict] = {}

    def walk(module: dict) -> None:
        for resource in module.get("resources", []):
            found[resource["address"]] = resource.get("values", {})
        for child in module.get("child_modules", []):
            walk(child)

    walk(plan.get("planned_values", {}).get("root_module", {}))
    return found


def assert_second_plan_empty(plan: dict) -> None:
    """Terratest's rule: right after an apply, a plan of the same inputs proposes nothing."""
    assert plan["refreshed"], "the second plan refreshed no resource: it did not look at what was applied"
    assert plan["exit_code"] == 0 and not plan["pending"], f"the second plan is not empty: {plan['pending']}"


def diagnostics(stdout: str) -> list[dict]:
    """Diagnostics of a `terraform <command> -json` run (one JSON object per line)."""
    found = []
    for line in stdout.splitlines():
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            continue
        if message.get("type") == "diagnostic":
            found.append(message["diagnostic"])
    return found


# -- AWS -------------------------------------------------------------------------------------------


class Aws:
    """boto3 clients on the emulator. Each thread builds its own (boto3 sessions are not thread-safe)."""

    def __init__(self, env: dict[str, str]):
        self.endpoint = env["AWS_ENDPOINT_URL"]
        self.session = boto3.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=env["AWS_REGION"],
        )
        self._clients: dict[str, object] = {}

    def __getattr__(self, service: str):
        if service.startswith("_"):
            raise AttributeError(service)
        if service not in self._clients:
            self._clients[service] = self.session.client(
                service, endpoint_url=self.endpoint, config=Config(s3={"addressing_style": "path"})
            )
        return self._clients[service]

    def role_exists(self, name: str) -> bool:
        try:
            self.iam.get_role(RoleName=name)
        except self.iam.exceptions.NoSuchEntityException:
            return False
        return True


def policy_statements(document: str | dict) -> dict[str, dict]:
    """Statements of an IAM/bucket policy by Sid."""
    parsed = json.loads(document) if isinstance(document, str) else document
    return {statement.get("Sid", str(index)): statement for index, statement in enumerate(parsed["Statement"])}

