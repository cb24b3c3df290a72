"""`make plan` / `make apply`: the pipeline's plan and apply jobs, the same on a laptop and in the suite.

The plan job leaves, in the root directory, only files that are safe to keep as artifacts:

- `plan.json`: GitLab's Terraform report, the `{"create", "update", "delete"}` counts its merge-request
  widget reads. GitLab's parser refuses anything without those three keys ("Tfplan missing required
  key": gitlabhq lib/gitlab/ci/parsers/terraform/tfplan.rb, `has_required_keys?`). The raw
  `terraform show -json` document is parsed in memory and never written: it holds every input
  variable, sensitive ones included, in plain text.
- `plan.txt`: the human-readable plan (`terraform show`), where Terraform prints `(sensitive value)`.
- `plan.meta.json`: the commit the plan was made from and whether it can be applied.
- `plan.cache.enc`: the plan file, encrypted with `PLAN_ENCRYPTION_KEY` (Fernet). A Terraform plan file
  stores the values of all input variables in plain text, so the plain `plan.cache` never outlives
  the job. Without a key (plan:sandbox, a laptop) the plan is for review only and no plan file is
  kept at all; plan:aws sets PLAN_REQUIRE_APPLIABLE, so there a missing key fails the job.
- `.terraform.lock.hcl`: the provider versions and hashes the plan was made with; apply runs
  `terraform init -lockfile=readonly` with it, so a provider released in between cannot slip in.

The apply job refuses a plan made from another commit than the pipeline's, decrypts the plan file,
and applies exactly it (Terraform itself refuses a plan whose state has moved on: "Saved plan is stale").
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

PLAN_FILE = "plan.cache"
ENCRYPTED_PLAN = "plan.cache.enc"
REPORT = "plan.json"
READABLE_PLAN = "plan.txt"
META = "plan.meta.json"
LOCK_FILE = ".terraform.lock.hcl"
PIPELINE_BACKEND = "pipeline.s3.tfbackend"
KEY_VARIABLE = "PLAN_ENCRYPTION_KEY"
# Variables the pipeline passes with -var, last on the command line, so no tfvars file can win over them
# (Terraform: -var and -var-file are applied in command-line order, after TF_VAR_ and terraform.tfvars).
PIPELINE_VARIABLES = {"PLAN_IMAGE_REPOSITORY": "image_repository", "PLAN_IMAGE_TAG": "image_tag"}


class PipelineError(Exception):
    """A refusal with the message the person running the job needs."""


def _terraform(root: Path, *args: str, capture: bool = False, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(["terraform", f"-chdir={root}", *args], env=env, check=False, text=True,
                            stdout=subprocess.PIPE if capture else None)
    if result.returncode != 0:
        raise PipelineError(f"terraform {args[0]} failed in {root} (exit {result.returncode}); its message is above")
    return result.stdout or ""


def current_commit() -> str:
    commit = os.environ.get("CI_COMMIT_SHA") or subprocess.run(
        ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False).stdout.strip()
    if not commit:
        raise PipelineError("no commit to record: set CI_COMMIT_SHA or run inside a git checkout")
    return commit


def _init(root: Path, env: dict[str, str]) -> None:
    args = ["init", "-input=false", "-no-color"]
    if (root / LOCK_FILE).exists():
        args.append("-lockfile=readonly")
    if (root / PIPELINE_BACKEND).exists():
        missing = [name for name in ("TF_STATE_BUCKET", "TF_STATE_REGION") if not env.get(name)]
        if missing:
            raise PipelineError(f"{root} keeps its state in S3: set {' and '.join(missing)} (CI/CD variables)")
        args += [f"-backend-config={PIPELINE_BACKEND}", f"-backend-config=bucket={env['TF_STATE_BUCKET']}",
                 f"-backend-config=region={env['TF_STATE_REGION']}"]
    _terraform(root, *args, env=env)


def change_summary(plan_document: dict) -> dict[str, int]:
    """GitLab's report: what `jq '[.resource_changes[]?.change.actions?] | flatten'` counts in its docs."""
    actions = [action for change in plan_document.get("resource_changes") or []
               for action in change.get("change", {}).get("actions", [])]
    return {kind: actions.count(kind) for kind in ("create", "update", "delete")}


def _fernet():
    key = os.environ.get(KEY_VARIABLE)
    if not key:
        return None
    from cryptography.fernet import Fernet  # imported here: only plan/apply with a key need it

    try:
        return Fernet(key.encode())
    except ValueError as error:
        raise PipelineError(f"{KEY_VARIABLE} is not a Fernet key ({error}); generate one with: "
                            "python3 -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
                            ) from None


@contextlib.contextmanager
def _emulator_if_needed(root: Path, wanted: bool) -> Iterator[dict[str, str]]:
    """The environment for Terraform; with `wanted` and no TF_VAR_emulator_endpoint, a moto server for the run."""
    env = dict(os.environ)
    if not wanted or env.get("TF_VAR_emulator_endpoint"):
        yield env
        return
    from harness import processes, terraform  # the venv's moto; only the sandbox plan needs it

    server = processes.start_moto(root.resolve() / ".terraform" / "ci-logs")
    try:
        yield {**env, **terraform.emulator_aws_env(server.url), "TF_VAR_emulator_endpoint": server.url}
    finally:
        server.stop(timeout=10)


def plan(root: Path, emulator: bool = False) -> dict:
    commit = current_commit()
    fernet = _fernet()
    if fernet is None and os.environ.get("PLAN_REQUIRE_APPLIABLE") == "true":
        raise PipelineError(f"this plan must be appliable: set {KEY_VARIABLE} (a masked, protected CI/CD variable)")
    for stale in (PLAN_FILE, ENCRYPTED_PLAN, REPORT, READABLE_PLAN, META):
        (root / stale).unlink(missing_ok=True)
    with _emulator_if_needed(root, emulator) as env:
        _init(root, env)
        args = ["plan", "-input=false", "-no-color", "-lock-timeout=120s", f"-out={PLAN_FILE}"]
        if env.get("TF_PLAN_VAR_FILE"):
            args.append(f"-var-file={env['TF_PLAN_VAR_FILE']}")
        args += [f"-var={name}={env[source]}" for source, name in PIPELINE_VARIABLES.items() if env.get(source)]
        try:
            _terraform(root, *args, capture=True, env=env)
            document = json.loads(_terraform(root, "show", "-json", PLAN_FILE, capture=True, env=env))
            readable = _terraform(root, "show", "-no-color", PLAN_FILE, capture=True, env=env)
            summary = change_summary(document)
            del document  # holds sensitive values in plain text: it never leaves this process
            (root / REPORT).write_text(json.dumps(summary) + "\n")
            (root / READABLE_PLAN).write_text(readable)
            print(readable)
            if fernet is not None:
                payload = commit.encode() + b"\n" + (root / PLAN_FILE).read_bytes()
                (root / ENCRYPTED_PLAN).write_bytes(fernet.encrypt(payload))
        finally:
            (root / PLAN_FILE).unlink(missing_ok=True)
    meta = {"commit": commit, "root": str(root), "applicable": fernet is not None, **summary}
    (root / META).write_text(json.dumps(meta, indent=2) + "\n")
    print(f"plan of {root} at {commit}: {summary['create']} to add, {summary['update']} to change, "
          f"{summary['delete']} to destroy; " + ("kept encrypted for apply" if fernet else
          f"review only (no {KEY_VARIABLE}): nothing kept that could be applied"))
    return meta


def apply(root: Path) -> None:
    commit = current_commit()
    meta_path = root / META
    if not meta_path.exists():
        raise PipelineError(f"no plan in {root}: run `make plan` first (apply never plans on its own)")
    meta = json.loads(meta_path.read_text())
    if meta.get("commit") != commit:
        raise PipelineError(f"refusing to apply: the plan was made from commit {meta.get('commit')}, "
                            f"this is {commit}; run the pipeline's plan job for this commit and review it")
    fernet = _fernet()
    if not meta.get("applicable") or not (root / ENCRYPTED_PLAN).exists():
        raise PipelineError("refusing to apply: this plan was for review only (made without "
                            f"{KEY_VARIABLE}); plan on the default branch")
    if fernet is None:
        raise PipelineError(f"refusing to apply: set {KEY_VARIABLE}, the key the plan was encrypted with")
    from cryptography.fernet import InvalidToken

    try:
        payload = fernet.decrypt((root / ENCRYPTED_PLAN).read_bytes())
    except InvalidToken:
        raise PipelineError(f"refusing to apply: {ENCRYPTED_PLAN} was not encrypted with this "
                            f"{KEY_VARIABLE} or was altered") from None
    planned_commit, _, plan_bytes = payload.partition(b"\n")
    if planned_commit.decode() != commit:
        raise PipelineError(f"refusing to apply: the encrypted plan was made from commit {planned_commit.decode()}, "
                            f"this is {commit}")
    if not (root / LOCK_FILE).exists():
        raise PipelineError(f"refusing to apply: {LOCK_FILE} did not travel with the plan (keep it as an artifact)")
    plan_path = root / PLAN_FILE
    plan_path.touch(mode=0o600)
    plan_path.write_bytes(plan_bytes)
    try:
        env = dict(os.environ)
        _init(root, env)
        _terraform(root, "apply", "-input=false", "-no-color", "-lock-timeout=120s", PLAN_FILE, env=env)
    finally:
        plan_path.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.ci_plan", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["plan", "apply"])
    parser.add_argument("root", type=Path, help="the Terraform root, e.g. envs/aws")
    parser.add_argument("--emulator", action="store_true",
                        help="plan against a moto server started for the run unless TF_VAR_emulator_endpoint is set")
    args = parser.parse_args(argv)
    if not args.root.is_dir():
        parser.error(f"{args.root} is not a directory")
    try:
        if args.command == "plan":
            plan(args.root, emulator=args.emulator)
        else:
            apply(args.root)
    except PipelineError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
