"""Run Terraform the same way in the sandbox, the tests and CI, online or offline.

On a normal machine Terraform installs providers from the public registry. On a machine without
internet access but with a filesystem mirror of providers (laid out `registry.terraform.io/<ns>/<name>/...`)
we point Terraform at that mirror through a generated CLI configuration. The mirror comes from
`TF_PROVIDER_MIRROR` or is discovered once; no machine path is written into any module or root.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from harness.paths import CACHE_DIR, REPO_ROOT

MIRRORED_PROVIDER = "registry.terraform.io/hashicorp/aws"
# What a root or module copy never takes along: local state, downloaded providers, user tfvars.
COPY_IGNORE = shutil.ignore_patterns(
    ".terraform", ".terraform.lock.hcl", "terraform.tfstate*", "*.auto.tfvars", "terraform.tfvars", "*.tfplan"
)
# Directories never worth walking when looking for a mirror.
_PRUNED = ("/proc", "/sys", "/dev", "/run", "/tmp", "/var/lib/docker", str(REPO_ROOT))


def _has_provider_binary(mirror: Path) -> bool:
    return any(mirror.joinpath(MIRRORED_PROVIDER).glob("*/*/terraform-provider-*"))


@functools.lru_cache(maxsize=1)
def provider_mirror() -> Path | None:
    """The filesystem mirror to install providers from, or None to use the public registry."""
    configured = os.environ.get("TF_PROVIDER_MIRROR")
    if configured:
        mirror = Path(configured)
        if not _has_provider_binary(mirror):
            raise RuntimeError(
                f"TF_PROVIDER_MIRROR={configured} holds no {MIRRORED_PROVIDER}/<version>/<os_arch>/terraform-provider-*"
            )
        return mirror
    if os.environ.get("TF_PROVIDER_MIRROR_DISCOVERY", "1") == "0":
        return None
    prune = []
    for path in _PRUNED:
        prune += ["-path", path, "-o"]
    found = subprocess.run(
        ["find", "/", "-maxdepth", "6", "(", *prune[:-1], ")", "-prune", "-o",
         "-type", "d", "-path", f"*/{MIRRORED_PROVIDER}", "-print"],
        capture_output=True, text=True, timeout=60, check=False,
    ).stdout.split()
    for candidate in found:
        mirror = Path(candidate).parents[2]
        if _has_provider_binary(mirror):
            return mirror
    return None


# --- helm and kubernetes: the real providers built from pinned Go modules when the registry is out of reach ---
PLUGIN_CACHE = CACHE_DIR / "terraform" / "plugin-cache"  # shared by every init (harness.validate reads it)
REGISTRY_PROBE_URL = "https://registry.terraform.io/v1/providers/hashicorp/helm/versions"
# tools/<name>/go.mod pins each provider's source commit; the version Terraform sees is that commit's own
# `version/VERSION` (what HashiCorp's release build stamps), written in the wrapper as `// provider-version: X`.
BUILT_PROVIDERS = ("terraform-provider-helm", "terraform-provider-kubernetes")


@functools.lru_cache(maxsize=1)
def registry_reachable() -> bool:
    """Can Terraform download providers from the public registry (through any configured proxy)?"""
    import urllib.request

    try:
        with urllib.request.urlopen(REGISTRY_PROBE_URL, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def built_provider_version(tool_name: str) -> str:
    """The provider version a wrapper module builds, from its `// provider-version:` line."""
    from harness import tools

    go_mod = (tools.TOOLS_DIR / tool_name / "go.mod").read_text()
    found = re.search(r"^// provider-version: (\d+\.\d+\.\d+)\b", go_mod, re.MULTILINE)
    if not found:
        raise RuntimeError(f"tools/{tool_name}/go.mod names no `// provider-version: X.Y.Z`")
    return found.group(1)


@functools.lru_cache(maxsize=1)
def built_provider_mirror() -> Path | None:
    """A filesystem mirror of the helm and kubernetes providers built by `make tools`, or None.

    Used where the public registry does not answer (these build machines); TF_BUILT_PROVIDERS=1 forces it,
    =0 forbids it. The binaries are HashiCorp's source at the commit tools/terraform-provider-*/go.mod pins,
    built with Go: the same provider, but not the registry's signed build, so a lock file made from this
    mirror does not match the registry's hashes (none is committed: .gitignore). Built on first use if
    `make tools` has not built them.
    """
    wanted = os.environ.get("TF_BUILT_PROVIDERS", "")
    if wanted == "0" or (wanted != "1" and registry_reachable()):
        return None
    from harness import tools

    mirror = CACHE_DIR / "terraform" / "built-providers"
    for tool_name in BUILT_PROVIDERS:
        provider = tool_name.removeprefix("terraform-provider-")
        version = built_provider_version(tool_name)
        platform = f"{sys.platform}_{'arm64' if os.uname().machine in ('aarch64', 'arm64') else 'amd64'}"
        target = mirror / "registry.terraform.io" / "hashicorp" / provider / version / platform / f"{tool_name}_v{version}"
        binary = tools.path(tool_name)
        if not target.exists() or target.stat().st_size != binary.stat().st_size:
            target.parent.mkdir(parents=True, exist_ok=True)
            staging = target.with_name(f"{target.name}.{os.getpid()}")
            shutil.copy2(binary, staging)
            os.replace(staging, target)  # parallel test workers: never a half-copied plugin
    return mirror


def _provider_installation(mirrors: list[tuple[Path, list[str]]]) -> list[str]:
    """A `provider_installation` block: each mirror for its providers, the registry for everything else."""
    if not mirrors:
        return []
    lines = ["provider_installation {"]
    for path, providers in mirrors:
        lines += ["  filesystem_mirror {", f'    path    = "{path}"',
                  f"    include = [{', '.join(json.dumps(p) for p in providers)}]", "  }"]
    excluded = [provider for _, providers in mirrors for provider in providers]
    return lines + ["  direct {", f"    exclude = [{', '.join(json.dumps(p) for p in excluded)}]", "  }", "}"]


@functools.lru_cache(maxsize=1)
def cli_config_file() -> Path:
    """A Terraform CLI configuration: the provider mirror(s) when there are any, and a shared plugin cache."""
    PLUGIN_CACHE.mkdir(parents=True, exist_ok=True)
    mirror = provider_mirror()
    built = built_provider_mirror()
    # Use cached providers although a fresh copy has no lock file (none is committed: see .gitignore). Without
    # this, Terraform >= 1.4 reinstalls into the cache on every such init, and parallel inits collide there
    # ("failed to create directory ... file exists"); with it, an init that finds its provider only reads.
    lines = [f'plugin_cache_dir = "{PLUGIN_CACHE}"', "plugin_cache_may_break_dependency_lock_file = true"]
    built_names = [f"registry.terraform.io/hashicorp/{name.removeprefix('terraform-provider-')}" for name in BUILT_PROVIDERS]
    lines += _provider_installation(
        ([(mirror, [MIRRORED_PROVIDER])] if mirror else []) + ([(built, built_names)] if built else []))
    config = CACHE_DIR / "terraform" / ("terraformrc" + (".mirror" if mirror else "") + (".built" if built else ""))
    # Parallel test workers each write this file: replace it atomically so no reader sees half of it.
    staging = config.with_name(f"{config.name}.{os.getpid()}")
    staging.write_text("\n".join(lines) + "\n")
    os.replace(staging, config)
    return config


def terraform_env(**extra: str) -> dict[str, str]:
    """Our environment plus what makes Terraform non-interactive and able to install providers here."""
    env = {key: value for key, value in os.environ.items() if key != "TF_LOG"}
    env.update(
        TF_CLI_CONFIG_FILE=str(cli_config_file()),
        TF_IN_AUTOMATION="1",
        TF_INPUT="0",
        CHECKPOINT_DISABLE="1",
    )
    env.update(extra)
    return env


def emulator_aws_env(endpoint_url: str, region: str = "us-east-1") -> dict[str, str]:
    """AWS SDK/provider settings that send every call to an emulator and never to AWS."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",  # the emulator accepts any key; never a real one
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_PROFILE": "",
    }


def copy_root(source: Path, destination: Path) -> Path:
    """Copy a module or root to `destination` so a run never touches the checkout's own directories."""
    shutil.copytree(source, destination, ignore=COPY_IGNORE, symlinks=True)
    return destination


# How long an interrupted Terraform gets to finish the resource operations under way, write its state and
# release the state lock (Terraform's own answer to Ctrl-C) before it is killed.
INTERRUPT_GRACE_SECONDS = 600


def run(args: list[str], cwd: Path, env: dict[str, str], check: bool = True, timeout: float = 600,
        grace: float = INTERRUPT_GRACE_SECONDS) -> subprocess.CompletedProcess:
    """`terraform <args>` in `cwd`; on failure the error carries Terraform's own message.

    On its timeout, or when the caller is interrupted (Ctrl-C, pytest-timeout's signal), Terraform gets
    SIGINT and `grace` seconds, as after a Ctrl-C, instead of subprocess.run's SIGKILL: a killed apply leaves
    the state lock held (S3's .tflock object) and its state unwritten."""
    with subprocess.Popen(["terraform", *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except BaseException:
            process.send_signal(signal.SIGINT)
            try:
                process.communicate(timeout=grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()
            raise
    result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    if check and result.returncode != 0:
        raise RuntimeError(f"terraform {' '.join(args)} failed in {cwd} (exit {result.returncode}):\n{result.stderr}{result.stdout[-2000:]}")
    return result


class JsonRun:
    """`terraform <command> -json` running in the background, its machine-readable UI read as it arrives.

    Terraform prints one JSON message per line (`apply_start`, `apply_complete`, `diagnostic`, ...;
    https://developer.hashicorp.com/terraform/internals/machine-readable-ui). Callers watch resources
    finish while the run goes on: `make sandbox` starts the service once the bucket is built while the
    AWS provider is still confirming the lifecycle configuration, and `make bench` times each resource.
    """

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str]):
        self.args = args
        self.cwd = cwd
        self.messages: list[dict] = []
        self._stderr: list[str] = []
        self._changed = threading.Condition()
        # -json right after the subcommand: Terraform wants options before a positional plan file.
        self.process = subprocess.Popen(["terraform", args[0], "-json", *args[1:]], cwd=cwd, env=env, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._readers = [threading.Thread(target=self._read_stdout, daemon=True),
                         threading.Thread(target=self._read_stderr, daemon=True)]
        for reader in self._readers:
            reader.start()

    def _read_stdout(self) -> None:
        for line in self.process.stdout:
            try:
                message = json.loads(line)
            except json.JSONDecodeError:
                continue
            with self._changed:
                self.messages.append(message)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def _read_stderr(self) -> None:
        for line in self.process.stderr:
            self._stderr.append(line)

    def _addresses(self, message_type: str) -> dict[str, dict]:
        with self._changed:
            return {m["hook"]["resource"]["addr"]: m["hook"] for m in self.messages if m.get("type") == message_type}

    def started(self) -> dict[str, dict]:
        """Resources Terraform began to change, by address."""
        return self._addresses("apply_start")

    def completed(self) -> dict[str, dict]:
        """Resources Terraform finished changing, by address (`elapsed_seconds` in each)."""
        return self._addresses("apply_complete")

    def errors(self) -> list[str]:
        """Terraform's error diagnostics, then anything it printed to stderr."""
        with self._changed:
            found = [f"{m['diagnostic'].get('summary', '')}: {m['diagnostic'].get('detail', '')}".strip(": ")
                     for m in self.messages if m.get("type") == "diagnostic" and m["diagnostic"].get("severity") == "error"]
        stderr = "".join(self._stderr).strip()
        return found + [stderr] if stderr else found

    def wait_for(self, condition, timeout: float) -> bool:
        """Block until `condition(self)` holds (True) or the run ended or `timeout` passed (False)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not condition(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.process.poll() is not None and not self._readers[0].is_alive():
                    return condition(self)
                self._changed.wait(min(remaining, 0.5))
        return True

    def wait(self, timeout: float = 600, check: bool = True) -> int:
        """Wait for the run to end; with `check`, a failure raises with Terraform's own error messages."""
        try:
            returncode = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.interrupt()
            raise
        for reader in self._readers:
            reader.join(timeout=10)
        if check and returncode != 0:
            raise RuntimeError(f"terraform {' '.join(self.args)} failed in {self.cwd} (exit {returncode}):\n"
                               + "\n".join(self.errors()))
        return returncode

    def interrupt(self, grace: float = 60) -> None:
        """Ctrl-C for Terraform: it stops waiting, records what it created in the state, and exits."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
