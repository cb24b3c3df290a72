"""`make sandbox`: the service as a local process against an S3 emulator, no cloud and no cluster.

Steps: start a moto server on loopback (while `terraform init` runs), plan `envs/sandbox` (the staging
bucket through `modules/s3-staging`) to a file and apply that plan into the emulator, run the service
under gunicorn with the root's `service_environment` output as soon as the bucket is built (Terraform
goes on confirming the lifecycle configuration for about a minute), print the URLs and ready-to-paste
curl commands, stream the service's logs, and on Ctrl-C stop the service, let Terraform finish or save
its state, destroy the bucket and stop the emulator. Nothing is written inside the checkout except
`.sandbox/` (ignored by git).

The same `Sandbox` class is the "platform" the environment harness (`tests/e2e`) drives for the
sandbox environment: plan, apply, roll out (start the process), call, destroy.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from harness import processes, terraform

REPO_ROOT = processes.REPO_ROOT
ROOT_RELATIVE = Path("envs/sandbox")
# What the sandbox root needs from the checkout, copied so that runs never write into it.
ROOT_DEPENDENCIES = (Path("envs/sandbox"), Path("modules/s3-staging"))
DEFAULT_SERVICE_PORT = 4545
DEFAULT_EMULATOR_PORT = 4566
APPLY_TIMEOUT_SECONDS = 300
PLAN_FILE = "sandbox.tfplan"
LIFECYCLE_RESOURCE = "aws_s3_bucket_lifecycle_configuration"
# What starting the service and printing its summary take from envs/sandbox, before the apply ends.
OUTPUTS_NEEDED_FROM_PLAN = ("bucket_name", "service_environment")


class SandboxError(RuntimeError):
    """A problem the person running the sandbox can fix; printed as one line, without a traceback."""


def _port_from_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip() or str(default)
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise SandboxError(f"{name} must be a TCP port number between 1 and 65535, got {raw!r}")
    return int(raw)


def prepare_workdir(workdir: Path) -> Path:
    """Copy the sandbox root and the modules it uses into `workdir`, keeping their relative layout."""
    if workdir.exists():
        shutil.rmtree(workdir)
    for relative in ROOT_DEPENDENCIES:
        terraform.copy_root(REPO_ROOT / relative, workdir / relative)
    return workdir / ROOT_RELATIVE


@dataclass
class Sandbox:
    """One sandbox: an emulator, the applied root, and the service process."""

    workdir: Path
    service_port: int | None = None
    emulator_port: int | None = None
    upload_token: str | None = None
    tf_vars: dict[str, str] = field(default_factory=dict)
    emulator: processes.ManagedProcess | None = None
    service: processes.ManagedProcess | None = None
    outputs: dict = field(default_factory=dict)
    planned: list[str] = field(default_factory=list)
    plan_output: str = ""
    apply_run: terraform.JsonRun | None = None

    @property
    def root(self) -> Path:
        return self.workdir / ROOT_RELATIVE

    @property
    def logs_dir(self) -> Path:
        return self.workdir / "logs"

    def _terraform(self, *args: str, check: bool = True, timeout: float = 300):
        env = terraform.terraform_env(**terraform.emulator_aws_env(self.emulator.url))
        return terraform.run(list(args), cwd=self.root, env=env, check=check, timeout=timeout)

    def _var_args(self) -> list[str]:
        variables = {"emulator_endpoint": self.emulator.url, **self.tf_vars}
        return [f"-var={name}={value}" for name, value in variables.items()]

    def init(self) -> None:
        # init talks to no AWS endpoint, so it does not wait for the emulator (see start()).
        terraform.run(["init", "-input=false", "-no-color"], cwd=self.root, env=terraform.terraform_env(), timeout=300)

    def start(self) -> None:
        """Copy the root, then start the emulator and `terraform init` side by side (each takes seconds)."""
        prepare_workdir(self.workdir)
        with ThreadPoolExecutor(max_workers=1) as pool:
            initialised = pool.submit(self.init)
            self.emulator = processes.start_moto(self.logs_dir, port=self.emulator_port)
            initialised.result()

    def plan(self, *extra: str):
        """`terraform plan -detailed-exitcode`: 0 no changes, 2 changes (never raises for 2)."""
        result = self._terraform("plan", "-input=false", "-no-color", "-detailed-exitcode", *self._var_args(), *extra,
                                 check=False)
        if result.returncode not in (0, 2):
            raise SandboxError(f"terraform plan failed:\n{result.stderr}")
        return result

    def start_apply(self) -> terraform.JsonRun:
        """Plan to a file, then apply exactly that plan in the background.

        The root's outputs are all known at plan time, so `self.outputs` is set before the apply ends:
        the service can start as soon as the bucket is built (`bucket_built`), while the AWS provider
        is still confirming the lifecycle configuration (it reads it back ten times, 5 s apart, after a
        10 s delay: about 55 s against any endpoint, AWS included).
        """
        self.plan_output = self._terraform("plan", "-input=false", "-no-color", f"-out={PLAN_FILE}",
                                           *self._var_args()).stdout
        env = terraform.terraform_env(**terraform.emulator_aws_env(self.emulator.url))
        self.apply_run = terraform.JsonRun(["apply", "-input=false", "-no-color", PLAN_FILE], cwd=self.root, env=env)
        # Read the plan while the apply runs (both only read the plan file): it takes seconds of provider start-up.
        plan = json.loads(self._terraform("show", "-json", PLAN_FILE).stdout)
        planned_outputs = plan["planned_values"].get("outputs", {})
        unknown = sorted(name for name in OUTPUTS_NEEDED_FROM_PLAN if "value" not in planned_outputs.get(name, {}))
        if unknown:
            raise SandboxError(f"outputs {', '.join(unknown)} of envs/sandbox are only known after apply; "
                               "the sandbox needs them from the plan to start the service early")
        self.outputs = {name: output["value"] for name, output in planned_outputs.items() if "value" in output}
        self.planned = [change["address"] for change in plan.get("resource_changes", [])
                        if change["change"]["actions"] != ["no-op"]]
        return self.apply_run

    def bucket_built(self, run: terraform.JsonRun) -> bool:
        """Every planned resource is in place, except the lifecycle configuration still being confirmed."""
        completed, started = run.completed(), run.started()
        return all(address in completed or (LIFECYCLE_RESOURCE in address and address in started)
                   for address in self.planned)

    def start_service(self) -> processes.ManagedProcess:
        """The rollout of this environment: gunicorn with the applied root's environment."""
        settings = {
            **terraform.emulator_aws_env(self.emulator.url),  # the emulator's throwaway keys
            **self.outputs["service_environment"],
            "UPLOAD_TOKEN": self.upload_token or "",
            "APP_VERSION": os.environ.get("APP_VERSION", "sandbox"),
            "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
        }
        settings.pop("AWS_ENDPOINT_URL")  # the service reads S3_ENDPOINT_URL, as it does in a pod
        if os.environ.get("SANDBOX_RUNTIME", "process") == "container":  # the image, run as the chart's pod
            from harness import container

            self.service = container.start_sandbox_service(settings, self.logs_dir, port=self.service_port)
            return self.service
        env = processes.service_environment(**settings)
        self.service = processes.start_service(env, self.logs_dir, port=self.service_port,
                                               ready_path="/api/ready", timeout=30)
        return self.service

    def destroy(self) -> None:
        if self.emulator and self.emulator.alive() and (self.root / "terraform.tfstate").exists():
            self._terraform("destroy", "-input=false", "-no-color", "-auto-approve", *self._var_args(), timeout=120)

    def stop(self, destroy: bool = True) -> None:
        """Stop everything this sandbox started, in reverse order; safe to call more than once."""
        if self.service:
            self.service.stop(timeout=30)
        if self.apply_run:
            self.apply_run.interrupt()  # a no-op once it finished; otherwise Terraform saves its state and exits
        try:
            if destroy:
                self.destroy()
        finally:
            if self.emulator:
                self.emulator.stop(timeout=10)


def _stream(path: Path, stop: threading.Event) -> None:
    """Echo the service's log lines to our stdout while it runs (the process writes to a file)."""
    with open(path, errors="replace") as log:
        while not stop.is_set():
            line = log.readline()
            if line:
                sys.stdout.write(line)
                sys.stdout.flush()
            else:
                time.sleep(0.2)


def _bucket_summary(sandbox: Sandbox) -> list[str]:
    """The hardening the module applied, read back from the emulator (not from Terraform's word)."""
    import boto3
    from botocore.config import Config

    s3 = boto3.client("s3", endpoint_url=sandbox.emulator.url, region_name="us-east-1",
                      aws_access_key_id="sandbox", aws_secret_access_key="sandbox",
                      config=Config(s3={"addressing_style": "path"}))
    bucket = sandbox.outputs["bucket_name"]
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    ownership = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"][0]["ObjectOwnership"]
    encryption = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    versioning = s3.get_bucket_versioning(Bucket=bucket).get("Status", "Disabled")
    # The provider writes the lifecycle configuration right after it starts on it; allow it a moment.
    deadline = time.monotonic() + 15
    while True:
        try:
            rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
            break
        except s3.exceptions.ClientError as error:
            if error.response["Error"]["Code"] != "NoSuchLifecycleConfiguration" or time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    tls_only = any(statement.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
                   for statement in policy["Statement"])
    return [
        f"public access blocked : {all(block.values())} ({', '.join(k for k, v in block.items() if v)})",
        f"object ownership      : {ownership}",
        f"default encryption    : {encryption['ApplyServerSideEncryptionByDefault']['SSEAlgorithm']}",
        f"versioning            : {versioning}",
        f"lifecycle rules       : {', '.join(rule['ID'] for rule in rules)}",
        f"TLS-only policy       : {tls_only}",
    ]


def main() -> int:
    try:
        service_port = _port_from_env("PORT", DEFAULT_SERVICE_PORT)
        emulator_port = _port_from_env("SANDBOX_S3_PORT", DEFAULT_EMULATOR_PORT)
        if service_port == emulator_port:
            raise SandboxError(f"PORT and SANDBOX_S3_PORT must differ (both are {service_port})")
        for name, port in (("PORT", service_port), ("SANDBOX_S3_PORT", emulator_port)):
            if processes.port_is_open(port):
                raise SandboxError(f"port {port} is already in use on 127.0.0.1; stop what holds it or set {name}")
    except SandboxError as error:
        print(f"sandbox: {error}", file=sys.stderr)
        return 2

    token_from_env = os.environ.get("UPLOAD_TOKEN", "")
    token = token_from_env or secrets.token_urlsafe(24)
    sandbox = Sandbox(workdir=REPO_ROOT / ".sandbox", service_port=service_port,
                      emulator_port=emulator_port, upload_token=token)
    stop_streaming = threading.Event()
    interrupted = threading.Event()

    def on_signal(signum, _frame):
        if interrupted.is_set():  # a second Ctrl-C: skip the tidy destroy, just stop the processes
            raise KeyboardInterrupt
        interrupted.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    started = time.monotonic()
    try:
        print(f"sandbox: starting the S3 emulator (moto) on 127.0.0.1:{emulator_port} and initialising envs/sandbox ...", flush=True)
        sandbox.start()
        print("sandbox: applying envs/sandbox (bucket via modules/s3-staging) ...", flush=True)
        apply_run = sandbox.start_apply()
        if not apply_run.wait_for(sandbox.bucket_built, timeout=APPLY_TIMEOUT_SECONDS):
            apply_run.wait(timeout=APPLY_TIMEOUT_SECONDS)  # raises with Terraform's errors if it failed
        print(f"sandbox: starting the service under gunicorn on 127.0.0.1:{service_port} ...", flush=True)
        service = sandbox.start_service()
        url, bucket = service.url, sandbox.outputs["bucket_name"]
        prefix = sandbox.outputs["service_environment"]["S3_PREFIX"]
        lines = [
            "",
            f"  ready in {time.monotonic() - started:.1f}s",
            f"  service        {url}   (health {url}/api/health, metrics {url}/metrics)",
            f"  S3 emulator    {sandbox.emulator.url}   bucket {bucket}",
            f"  upload token   {token}" + ("   (from UPLOAD_TOKEN)" if token_from_env else "   (generated; set UPLOAD_TOKEN to choose one)"),
            "",
            "  bucket hardening (read back from the emulator):",
            *(f"    {line}" for line in _bucket_summary(sandbox)),
            "",
            "  try:",
            f"    curl '{url}/api/mirror?word=fOoBar25'",
            f"    curl -X POST -H 'Authorization: Bearer {token}' {url}/api/upload-random",
            f"    curl {url}/api/ready",
            f"    .venv/bin/python -c \"import boto3; s3 = boto3.client('s3', endpoint_url='{sandbox.emulator.url}', "
            f"region_name='us-east-1', aws_access_key_id='x', aws_secret_access_key='x'); "
            f"[print(o['Key'], s3.get_object(Bucket='{bucket}', Key=o['Key'])['Body'].read().decode().strip()) "
            f"for o in s3.list_objects_v2(Bucket='{bucket}', Prefix='{prefix}').get('Contents', [])]\"",
            "",
            "  Ctrl-C stops the service, destroys the bucket and stops the emulator.",
            "",
        ]
        if apply_run.process.poll() is None:
            lines[-2:-2] = ["  terraform apply is still running: the AWS provider confirms the lifecycle configuration",
                            "  by reading it back 10 times over ~55 s (it does the same against AWS); the bucket and",
                            "  its rules are already in place.", ""]
        print("\n".join(lines), flush=True)
        threading.Thread(target=_stream, args=(service.log_path, stop_streaming), daemon=True).start()
        apply_reported = False
        while not interrupted.is_set():
            if not service.alive() or not sandbox.emulator.alive():
                print("sandbox: the service or the emulator stopped unexpectedly; shutting down", file=sys.stderr)
                break
            if not apply_reported and apply_run.process.poll() is not None:
                apply_reported = True
                if apply_run.wait(check=False) != 0:
                    print("sandbox: terraform apply failed:\n" + "\n".join(apply_run.errors()), file=sys.stderr)
                    break
                print(f"sandbox: terraform apply complete after {time.monotonic() - started:.0f}s; "
                      "state in .sandbox/envs/sandbox", flush=True)
            interrupted.wait(0.5)
        print("\nsandbox: stopping ...", flush=True)
        stop_streaming.set()
        sandbox.stop(destroy=True)
        print("sandbox: stopped; no process or port left behind", flush=True)
        return 0
    except KeyboardInterrupt:
        stop_streaming.set()
        sandbox.stop(destroy=False)
        print("\nsandbox: stopped without destroying (second Ctrl-C); the emulator's data went with it")
        return 130
    except (SandboxError, RuntimeError, TimeoutError) as error:
        stop_streaming.set()
        sandbox.stop(destroy=False)
        print(f"sandbox: {error}", file=sys.stderr)
        print(f"sandbox: logs are in {sandbox.logs_dir}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
