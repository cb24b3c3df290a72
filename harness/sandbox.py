"""`make sandbox`: the service as a local process against an S3 emulator, no cloud and no cluster.

Steps: start a moto server on loopback (while `terraform init` runs) and, the moment it answers, the
service under gunicorn with the root's `service_environment` (read from envs/sandbox's outputs.tf, whose
map is built from input variables only: no Terraform run needed); print the URLs and ready-to-paste curl
commands; then plan `envs/sandbox` (the staging bucket through `modules/s3-staging`) to a file and apply
that plan into the emulator, while `/api/ready` answers 503 until the bucket exists (Terraform goes on
confirming the lifecycle configuration for about a minute after that); stream the service's logs, and
on Ctrl-C, SIGTERM or SIGHUP (the terminal or tmux pane closed) stop the service, Terraform and the
emulator within seconds, whatever the bucket holds. Nothing
is written inside the checkout except `.sandbox/` (ignored by git; `SANDBOX_DIR` moves it).

Every process a run starts is recorded in `.sandbox/run.json` (pid, start time, command line, port),
so that a next run clears what a crashed or SIGKILLed run left before it starts, and refuses, with one
clear line, a port held by anything it did not start.

The same `Sandbox` class is the "platform" the environment harness (`tests/e2e`) drives for the
sandbox environment: plan, apply, roll out (start the process), call, destroy.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from harness import processes, steps, terraform

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
RUN_RECORD = "run.json"
# How long a stop gives each process before its whole group is killed: the emulator holds nothing
# worth waiting for, and gunicorn's workers finish their in-flight requests well within this.
STOP_GRACE_SECONDS = 5


class SandboxError(RuntimeError):
    """A problem the person running the sandbox can fix; printed as one line, without a traceback."""


def _port_from_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip() or str(default)
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise SandboxError(f"{name} must be a TCP port number between 1 and 65535, got {raw!r}")
    return int(raw)


def prepare_workdir(workdir: Path) -> Path:
    """Copy the sandbox root and the modules it uses into `workdir`, keeping their relative layout.

    Everything an earlier run left goes, except the record of this run's processes (`run.json`).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    for child in workdir.iterdir():
        if child.name == RUN_RECORD:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    for relative in ROOT_DEPENDENCIES:
        terraform.copy_root(REPO_ROOT / relative, workdir / relative)
    return workdir / ROOT_RELATIVE


# --- Processes of this run and leftovers of earlier ones -------------------------------------------
# A run killed with SIGKILL (or a crash, or a closed terminal before SIGHUP was handled) cannot stop
# what it started: moto and gunicorn run in their own sessions, so no signal of ours reaches them. The
# record below lets the next run find them again, and only them: a pid is trusted only together with
# the process start time the kernel reports for it (a recycled pid has another), and a port holder
# only if its process group leader runs the command the sandbox starts, launched after the recorded run.


def _identity(process: psutil.Process) -> dict:
    return {"pid": process.pid, "create_time": process.create_time(), "cmdline": process.cmdline()}


def _describe(process: psutil.Process) -> str:
    with contextlib.suppress(psutil.Error):
        return f"pid {process.pid} ({' '.join(process.cmdline())[:120] or process.name()})"
    return f"pid {process.pid}"


def _same_process(recorded: dict) -> psutil.Process | None:
    """The live process `recorded` describes, or None (gone, or its pid now belongs to another process)."""
    try:
        process = psutil.Process(recorded["pid"])
        if abs(process.create_time() - recorded["create_time"]) < 0.01 and process.cmdline() == recorded["cmdline"]:
            return process
    except (psutil.Error, KeyError, TypeError):
        pass
    return None


def _sandbox_command(cmdline: list[str], port: int) -> bool:
    """`cmdline` is the emulator or the service exactly as this module starts them on `port`."""
    moto = ["-m", "harness.moto_server", "-H", processes.LOOPBACK, "-p", str(port)]
    return cmdline[1:] == moto or cmdline[1:] == processes.gunicorn_command()[1:]


def _port_holders(port: int) -> list[psutil.Process]:
    """The processes listening on `port` (empty if the OS will not tell us)."""
    try:
        connections = psutil.net_connections(kind="tcp")
    except psutil.AccessDenied:
        return []
    pids = {c.pid for c in connections if c.pid and c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port}
    holders = []
    for pid in sorted(pids):
        with contextlib.suppress(psutil.Error):
            holders.append(psutil.Process(pid))
    return holders


def _stop_tree(process: psutil.Process) -> None:
    """SIGTERM `process` and its descendants, then SIGKILL what is left (Terraform and its provider plugin)."""
    with contextlib.suppress(psutil.Error):
        tree = [process, *process.children(recursive=True)]
        for member in tree:
            with contextlib.suppress(psutil.Error):
                member.terminate()
        _, alive = psutil.wait_procs(tree, timeout=STOP_GRACE_SECONDS)
        for member in alive:
            with contextlib.suppress(psutil.Error):
                member.kill()
        psutil.wait_procs(alive, timeout=STOP_GRACE_SECONDS)


def _stop_group(leader: psutil.Process) -> None:
    """SIGTERM the process group `leader` leads, then SIGKILL whatever is left of it."""
    pgid = leader.pid
    if pgid == os.getpgrp():
        return  # never our own group
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGTERM)
    with contextlib.suppress(psutil.Error):
        psutil.wait_procs([leader], timeout=STOP_GRACE_SECONDS)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(psutil.Error):
        psutil.wait_procs([leader], timeout=STOP_GRACE_SECONDS)


@dataclass
class RunRecord:
    """`run.json`: this run's supervisor, its ports and every server it started, rewritten on each change."""

    path: Path
    ports: dict[str, int] = field(default_factory=dict)
    started: list[dict] = field(default_factory=list)

    def save(self, supervisor: psutil.Process | None = None) -> None:
        supervisor = supervisor or psutil.Process()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"supervisor": _identity(supervisor), "ports": self.ports,
                                         "processes": self.started}, indent=2))
        temporary.replace(self.path)  # atomic: a run killed mid-write leaves the previous record

    def add(self, name: str, pid: int, group: bool = True) -> None:
        """Record a server leading its own process group (`group`), or a process in ours (Terraform)."""
        with contextlib.suppress(psutil.Error):
            self.started.append({"name": name, "group": group, **_identity(psutil.Process(pid))})
        self.save()

    def remove(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def clear_leftovers(record_path: Path, ports: dict[str, int]) -> list[str]:
    """Stop what an earlier run recorded in `record_path` left behind, then check `ports` are free.

    Returns what was stopped (one line each). Raises SandboxError when that run is still going, or
    when a port is held by a process no sandbox run started: those are never touched.
    """
    try:
        earlier = json.loads(record_path.read_text())
    except FileNotFoundError:
        earlier = {}
    except (OSError, ValueError):
        earlier = {}  # a torn or foreign file: trust nothing in it
    supervisor = _same_process(earlier.get("supervisor") or {})
    if supervisor and supervisor.pid != os.getpid():
        raise SandboxError(f"another `make sandbox` is running ({_describe(supervisor)}); stop it first "
                           f"(Ctrl-C in its terminal, or kill -TERM {supervisor.pid})")
    stopped = []
    for recorded in earlier.get("processes", []):
        leftover = _same_process(recorded)
        if leftover:
            stopped.append(f"{recorded.get('name', 'process')}, {_describe(leftover)}")
            if recorded.get("group", True):
                _stop_group(leftover)
            else:
                _stop_tree(leftover)
    # A server the earlier run started but had not recorded yet (it died while waiting for it to answer).
    started_after = (earlier.get("supervisor") or {}).get("create_time")
    for port in ports.values():
        for holder in _port_holders(port):
            with contextlib.suppress(psutil.Error, OSError):
                leader = psutil.Process(os.getpgid(holder.pid))
                if (started_after is not None and leader.create_time() >= started_after
                        and _sandbox_command(leader.cmdline(), port)):
                    stopped.append(f"{_describe(leader)} on port {port}")
                    _stop_group(leader)
    for name, port in ports.items():
        if processes.port_is_open(port):
            holders = _port_holders(port)
            who = ", ".join(_describe(holder) for holder in holders) if holders else "a process we cannot see"
            raise SandboxError(f"port {port} on 127.0.0.1 is held by {who}, which no `make sandbox` run started; "
                               f"it was left alone: stop it, or set {name} to a free port")
    record_path.unlink(missing_ok=True)
    return stopped


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
    record: RunRecord | None = None  # `make sandbox` records its servers; the e2e test has no need to
    service_environment: dict[str, str] = field(default_factory=dict)  # what the running service was given

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

    def start(self, on_emulator_up=None) -> None:
        """Copy the root, then start the emulator and `terraform init` side by side (each takes seconds).

        `on_emulator_up()` runs as soon as the emulator answers, while init may still be running.
        """
        prepare_workdir(self.workdir)
        with ThreadPoolExecutor(max_workers=1) as pool:
            initialised = pool.submit(self.init)
            self.emulator = processes.start_moto(self.logs_dir, port=self.emulator_port)
            if self.record:
                self.record.add(self.emulator.name, self.emulator.pid)
            if on_emulator_up:
                on_emulator_up()
            initialised.result()

    def variable_values(self) -> dict[str, str]:
        """The root's string variables as Terraform will see them: our -var, else TF_VAR_<name>, else the default."""
        import hcl2  # python-hcl2: the venv's HCL parser (requirements/dev.txt)

        with open(self.root / "variables.tf") as variables_tf:
            declared = hcl2.load(variables_tf).get("variable", [])
        given = {"emulator_endpoint": self.emulator.url, **self.tf_vars}
        values = {}
        for block in declared:
            for quoted_name, body in block.items():
                name = quoted_name.strip('"')
                if name in given:
                    values[name] = given[name]
                elif f"TF_VAR_{name}" in os.environ:
                    values[name] = os.environ[f"TF_VAR_{name}"]
                elif isinstance(body.get("default"), str) and body["default"].startswith('"'):
                    values[name] = json.loads(body["default"])  # python-hcl2 keeps a string literal's quotes
        return values

    def service_environment_before_plan(self) -> dict[str, str] | None:
        """The root's `service_environment` output, evaluated from outputs.tf without Terraform, or None.

        Only a map whose every value is a `var.<name>` reference or a string literal is evaluated; anything
        else (a resource attribute, a function) waits for the plan. The plan's value is what counts:
        `make sandbox` compares the two once it has it (`restart_if_planned_environment_differs`).
        """
        import hcl2

        with open(self.root / "outputs.tf") as outputs_tf:
            outputs = hcl2.load(outputs_tf).get("output", [])
        declared = next((body["value"] for block in outputs for name, body in block.items()
                         if name.strip('"') == "service_environment"), None)
        if not isinstance(declared, dict):
            return None
        variables, environment = self.variable_values(), {}
        for key, expression in declared.items():
            reference = re.fullmatch(r"\$\{var\.([A-Za-z0-9_]+)\}", expression) if isinstance(expression, str) else None
            if reference and reference.group(1) in variables:
                environment[key.strip('"')] = variables[reference.group(1)]
            elif isinstance(expression, str) and re.fullmatch(r'"[^"$%{}]*"', expression):
                environment[key.strip('"')] = json.loads(expression)
            else:
                return None
        return environment

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
        if self.record:  # it runs for a minute after the service is up: a killed run must not leave it going
            self.record.add("terraform-apply", self.apply_run.process.pid, group=False)
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

    def start_service(self, service_environment: dict[str, str] | None = None,
                      ready_path: str = "/api/ready") -> processes.ManagedProcess:
        """The rollout of this environment: gunicorn with the root's `service_environment` (planned, unless given).

        Started before the bucket exists, it is waited for on `/api/health` (`ready_path`): `/api/ready`
        answers 503 until Terraform has created the bucket.
        """
        self.service_environment = dict(service_environment or self.outputs["service_environment"])
        settings = {
            **terraform.emulator_aws_env(self.emulator.url),  # the emulator's throwaway keys
            **self.service_environment,
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
                                               ready_path=ready_path, timeout=30)
        if self.record:
            self.record.add(self.service.name, self.service.pid)
        return self.service

    def restart_if_planned_environment_differs(self) -> list[str]:
        """Restart the early-started service when the plan's `service_environment` differs; the keys that did."""
        planned = self.outputs["service_environment"]
        differing = sorted(key for key in {*planned, *self.service_environment}
                           if planned.get(key) != self.service_environment.get(key))
        if differing:
            self.service.stop(timeout=STOP_GRACE_SECONDS)
            self.start_service(ready_path="/api/health")
        return differing

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

    def discard(self) -> None:
        """Stop everything within seconds, however many objects the bucket holds, without `terraform destroy`.

        The emulator keeps every bucket and object in its own memory, so stopping it removes them all
        at once; a destroy first would only delete them one request at a time (with force_destroy, every
        object version: 40,000 uploads took over 120 s). What is thrown away instead is the local state,
        which then describes resources that no longer exist. `destroy()` stays for the e2e test, where
        an empty bucket list afterwards proves the root destroys cleanly.
        """
        if self.service:
            self.service.stop(timeout=STOP_GRACE_SECONDS)
        if self.apply_run:
            # SIGINT, then a kill: whatever it would save describes the emulator that is about to go.
            self.apply_run.interrupt(grace=STOP_GRACE_SECONDS)
        if self.emulator:
            self.emulator.stop(timeout=STOP_GRACE_SECONDS)
        for leftover in ("terraform.tfstate", "terraform.tfstate.backup", PLAN_FILE):
            (self.root / leftover).unlink(missing_ok=True)
        if self.record:
            self.record.remove()


def _stream(path: Path, stop: threading.Event) -> None:
    """Echo the service's log lines to our stdout while it runs (the process writes to a file)."""
    with open(path, errors="replace") as log:
        while not stop.is_set():
            line = log.readline()
            if line:
                if not _say(line.rstrip("\n")):
                    return  # the terminal is gone
            else:
                time.sleep(0.2)


_OUTPUT_LOCK = threading.Lock()


def _say(text: str, error: bool = False) -> bool:
    """Print one line; False once the terminal is gone (a closed pane answers writes with EIO).

    From then on output goes nowhere, so that stopping after SIGHUP never fails on a print. One write per
    line, under a lock: the service's log is streamed from another thread while Terraform's progress is told.
    """
    try:
        with _OUTPUT_LOCK:
            stream = sys.stderr if error else sys.stdout
            stream.write(text + "\n")
            stream.flush()
        return True
    except (OSError, ValueError):
        devnull = open(os.devnull, "w")  # noqa: SIM115 - replaces stdout/stderr until exit
        sys.stdout = sys.stderr = devnull
        return False


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


class TerminalWatch:
    """Tells when the terminal we were started in hung up (its window or pane closed), SIGHUP or not.

    On a hang-up the kernel signals only the session leader. A shell passes SIGHUP on to its jobs, but
    `make`, the session leader when a pane runs `make sandbox` directly, waits for its children instead
    (GNU make's fatal_error_signal), so no SIGHUP reaches us. A hung-up tty answers every write with EIO
    and stops being a tty, so a zero-byte write tells without printing anything.
    """

    def __init__(self, stream=None):
        stream = stream or sys.__stdout__
        try:
            self._fd = stream.fileno()
            self._was_tty = os.isatty(self._fd)
        except (OSError, ValueError, AttributeError):
            self._fd, self._was_tty = -1, False

    def hung_up(self) -> bool:
        if not self._was_tty:
            return False
        try:
            os.write(self._fd, b"")
            return not os.isatty(self._fd)
        except OSError:
            return True


def _serving_lines(sandbox: Sandbox, service: processes.ManagedProcess, token: str, token_from_env: bool,
                   started: float) -> list[str]:
    url, bucket = service.url, sandbox.service_environment["S3_BUCKET"]
    prefix = sandbox.service_environment["S3_PREFIX"]
    return [
        "",
        f"  serving in {time.monotonic() - started:.1f}s",
        f"  service        {url}   (health {url}/api/health, metrics {url}/metrics)",
        f"  S3 emulator    {sandbox.emulator.url}   bucket {bucket}",
        f"  upload token   {token}" + ("   (from UPLOAD_TOKEN)" if token_from_env else "   (generated; set UPLOAD_TOKEN to choose one)"),
        "",
        "  try:",
        f"    curl '{url}/api/mirror?word=fOoBar25'",
        f"    curl {url}/api/ready      (503 until Terraform has created the bucket, seconds from now; then 200)",
        f"    curl -X POST -H 'Authorization: Bearer {token}' {url}/api/upload-random",
        f"    .venv/bin/python -c \"import boto3; s3 = boto3.client('s3', endpoint_url='{sandbox.emulator.url}', "
        f"region_name='us-east-1', aws_access_key_id='x', aws_secret_access_key='x'); "
        f"[print(o['Key'], s3.get_object(Bucket='{bucket}', Key=o['Key'])['Body'].read().decode().strip()) "
        f"for o in s3.list_objects_v2(Bucket='{bucket}', Prefix='{prefix}').get('Contents', [])]\"",
        "",
        "  Ctrl-C (or closing this terminal) stops the service and the emulator within seconds;",
        "  the bucket and its objects live in the emulator's memory and go with it.",
        "",
    ]


def _bucket_lines(sandbox: Sandbox, started: float) -> list[str]:
    lines = [
        "",
        f"  ready in {time.monotonic() - started:.1f}s: the bucket exists, /api/ready answers 200 and uploads land",
        "  bucket hardening (read back from the emulator):",
        *(f"    {line}" for line in _bucket_summary(sandbox)),
        "",
    ]
    if sandbox.apply_run.process.poll() is None:
        lines[-1:-1] = ["  terraform apply is still running: the AWS provider confirms the lifecycle configuration",
                        "  by reading it back 10 times over ~55 s (it does the same against AWS); the bucket and",
                        "  its rules are already in place."]
    return lines


def _still(doing: str, started: float):
    """A line every 10 s while the block runs (harness/steps.py)."""
    return steps.still(lambda: f"sandbox: still {doing} ({time.monotonic() - started:.0f}s)")


def _run(sandbox: Sandbox, stop_requested: threading.Event, stop_streaming: threading.Event, token: str,
         token_from_env: bool) -> int:
    """Start the sandbox and serve until a signal, a closed terminal or a failure; each step gives way to them."""
    started = time.monotonic()
    terminal = TerminalWatch()

    def should_stop() -> bool:
        if terminal.hung_up():
            stop_requested.set()
        return stop_requested.is_set()

    def serve(environment: dict[str, str] | None) -> None:
        _say(f"sandbox: starting the service under gunicorn on 127.0.0.1:{sandbox.service_port} ...")
        service = sandbox.start_service(environment, ready_path="/api/health")
        _say("\n".join(_serving_lines(sandbox, service, token, token_from_env, started)))
        threading.Thread(target=_stream, args=(service.log_path, stop_streaming), daemon=True).start()

    def serve_before_terraform() -> None:
        environment = sandbox.service_environment_before_plan()
        if environment is None:
            _say("sandbox: envs/sandbox's service_environment is not built from variables alone; "
                 "the service starts once the bucket exists")
        elif not stop_requested.is_set():
            serve(environment)

    _say(f"sandbox: starting the S3 emulator (moto) on 127.0.0.1:{sandbox.emulator_port} and initialising envs/sandbox ...")
    with _still("initialising envs/sandbox", started):
        sandbox.start(on_emulator_up=serve_before_terraform)
    if stop_requested.is_set():
        return 0
    _say("sandbox: planning and applying envs/sandbox (bucket via modules/s3-staging) ...")
    with _still("planning envs/sandbox (Terraform loads the AWS provider first)", started):
        apply_run = sandbox.start_apply()
    if sandbox.service:
        differing = sandbox.restart_if_planned_environment_differs()
        if differing:
            _say(f"sandbox: restarted the service: the plan's service_environment differs in {', '.join(differing)}")
    _say(f"sandbox: applying {len(sandbox.planned)} planned changes ({time.monotonic() - started:.0f}s)")
    reported: set[str] = set()

    def built_or_stopped(run: terraform.JsonRun) -> bool:
        for address in sorted(set(run.completed()) - reported):  # one line per resource as it is created
            reported.add(address)
            _say(f"sandbox:   created {address} ({time.monotonic() - started:.0f}s)")
        return should_stop() or sandbox.bucket_built(run)

    with _still("applying envs/sandbox", started):
        if not apply_run.wait_for(built_or_stopped, timeout=APPLY_TIMEOUT_SECONDS):
            apply_run.wait(timeout=APPLY_TIMEOUT_SECONDS)  # raises with Terraform's errors if it failed
    if stop_requested.is_set():
        return 0
    if not sandbox.service:
        serve(None)
    _say("\n".join(_bucket_lines(sandbox, started)))
    service = sandbox.service
    apply_reported = False
    while not should_stop():
        if not service.alive() or not sandbox.emulator.alive():
            _say("sandbox: the service or the emulator stopped unexpectedly; shutting down", error=True)
            return 1
        if not apply_reported and apply_run.process.poll() is not None:
            apply_reported = True
            if apply_run.wait(check=False) != 0:
                _say("sandbox: terraform apply failed:\n" + "\n".join(apply_run.errors()), error=True)
                return 1
            _say(f"sandbox: terraform apply complete after {time.monotonic() - started:.0f}s; "
                 "state in .sandbox/envs/sandbox")
        stop_requested.wait(0.5)
    return 0


def main() -> int:
    sandbox_dir = Path(os.environ.get("SANDBOX_DIR", "").strip() or REPO_ROOT / ".sandbox")
    stop_requested = threading.Event()

    # Ctrl-C, SIGTERM and SIGHUP (terminal window or tmux pane closed) all mean "stop now". The handler
    # only sets a flag: every step of the run checks it, and the stop itself takes seconds, so there is
    # no second-signal path that could abandon the emulator or the service half stopped.
    def on_signal(_signum, _frame):
        stop_requested.set()

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_signal)

    try:
        service_port = _port_from_env("PORT", DEFAULT_SERVICE_PORT)
        emulator_port = _port_from_env("SANDBOX_S3_PORT", DEFAULT_EMULATOR_PORT)
        if service_port == emulator_port:
            raise SandboxError(f"PORT and SANDBOX_S3_PORT must differ (both are {service_port})")
        ports = {"PORT": service_port, "SANDBOX_S3_PORT": emulator_port}
        for line in clear_leftovers(sandbox_dir / RUN_RECORD, ports):
            _say(f"sandbox: stopped {line}, left running by an earlier run")
    except SandboxError as error:
        _say(f"sandbox: {error}", error=True)
        return 2

    token_from_env = os.environ.get("UPLOAD_TOKEN", "")
    token = token_from_env or secrets.token_urlsafe(24)
    record = RunRecord(sandbox_dir / RUN_RECORD, ports=ports)
    record.save()
    sandbox = Sandbox(workdir=sandbox_dir, service_port=service_port, emulator_port=emulator_port,
                      upload_token=token, record=record)
    stop_streaming = threading.Event()
    code = 1
    try:
        code = _run(sandbox, stop_requested, stop_streaming, token, bool(token_from_env))
    except (SandboxError, RuntimeError, TimeoutError) as error:
        if stop_requested.is_set():
            code = 0  # a step the signal reached too (Terraform shares our terminal) failed: nothing to report
        else:
            _say(f"sandbox: {error}", error=True)
            _say(f"sandbox: logs are in {sandbox.logs_dir}", error=True)
    except Exception as error:  # noqa: BLE001 - one line here; the traceback goes to a file, not the terminal
        sandbox.logs_dir.mkdir(parents=True, exist_ok=True)
        details = sandbox.logs_dir / "sandbox-error.log"
        details.write_text(traceback.format_exc())
        _say(f"sandbox: unexpected {type(error).__name__}: {error} (details in {details})", error=True)
    finally:
        stop_streaming.set()
        _say("\nsandbox: stopping ...")
        try:
            sandbox.discard()
            _say("sandbox: stopped; no process or port left behind")
        except Exception as error:  # noqa: BLE001 - never a traceback; the record lets the next run finish the job
            _say(f"sandbox: could not stop everything ({type(error).__name__}: {error}); "
                 "the next `make sandbox` stops what is left", error=True)
            code = code or 1
    return code


if __name__ == "__main__":
    sys.exit(main())
