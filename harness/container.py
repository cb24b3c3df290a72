"""The service image: find a container engine, build `app/Dockerfile`, run it the way the chart runs the pod.

- Engine: `docker` when a daemon answers, else `podman` (rootful, daemonless). `CONTAINER_ENGINE=docker|podman`
  chooses one explicitly. For podman the harness writes a `containers.conf` under `.cache/container/` and passes
  it through `CONTAINERS_CONF` (nothing under /etc changes): runtime `runc` (crun stops with "cgroups in hybrid
  mode not supported" on hybrid-cgroup hosts) and explicit `nofile`/`nproc` ulimits of 4096 (podman's default
  1048576 fails with "setrlimit RLIMIT_NOFILE: Operation not permitted" where the host's hard limit is lower).
- Base image: `BASE_IMAGE` when set; else the official `python:3.11.14-slim-bookworm` when Docker Hub answers;
  else one built here, without any registry: `debootstrap --variant=minbase` of Debian bookworm with python3,
  imported into the engine. The host's extra CA certificates (`/usr/local/share/ca-certificates/*.crt`, e.g. a
  corporate proxy's) are copied into it and `update-ca-certificates` is run, so pip inside the build trusts the
  proxy. The tag carries a hash of the recipe and of those certificates: later runs reuse it, a changed
  certificate builds a new one. Certificates go into the cached image only, never into the repository.
- The pod: `chart_pod()` renders the chart with the real Helm CLI and reads the Deployment's container back
  (user, read-only root, dropped capabilities, no privilege escalation, emptyDir mounts, environment from the
  ConfigMap and Secret, resource limits, grace period), and `run_arguments()` turns that into engine flags, so
  the tests and the benchmark cannot drift from the chart.

`python -m harness.container build` is what `make image` runs.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from harness import processes

REPO_ROOT = processes.REPO_ROOT
APP_DIR = processes.APP_DIR
CACHE_DIR = Path(os.environ.get("REPO_CACHE_DIR", REPO_ROOT / ".cache")) / "container"
CHART_DIR = REPO_ROOT / "modules" / "kubernetes-app" / "chart"

IMAGE = "localhost/mirror-service"
# The Dockerfile's default BASE_IMAGE; kept equal to it by tests/container/test_dockerfile.py.
OFFICIAL_BASE = "python:3.11.14-slim-bookworm"
LOCAL_BASE = "localhost/mirror-base"
DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian")
DEBOOTSTRAP_PACKAGES = ("python3", "python3-venv", "python3-pip", "ca-certificates")
HOST_CA_DIR = Path("/usr/local/share/ca-certificates")
# Docker Hub's registry API answers 401 with this header to anyone who can reach it.
REGISTRY_PROBE = "https://registry-1.docker.io/v2/"

INSTALL_HINT = ("install a container engine: `apt-get install -y podman runc debootstrap` as root "
                "(what .ci/run does), or start a Docker daemon")

PODMAN_CONF = """\
# Written by harness/container.py and passed through CONTAINERS_CONF; nothing under /etc is changed.
[containers]
# podman's default (1048576) is above what this kind of host lets a container set.
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]

[engine]
# crun fails on hybrid cgroup hosts ("cgroups in hybrid mode not supported"); runc works on both.
runtime = "runc"
"""


class EngineUnavailable(RuntimeError):
    """No usable container engine; the message says why and how to install one."""


@dataclass
class Engine:
    name: str  # "docker" or "podman"
    binary: str
    env: dict[str, str] = field(default_factory=dict)

    def command(self, *args: str) -> list[str]:
        return [self.binary, *args]

    def run(self, *args: str, check: bool = True, timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
        result = subprocess.run(self.command(*args), env={**os.environ, **self.env}, capture_output=True, text=True,
                                timeout=timeout, check=False, **kwargs)
        if check and result.returncode != 0:
            raise RuntimeError(f"`{self.name} {' '.join(args[:3])} ...` exited {result.returncode}:\n"
                               f"{(result.stderr or result.stdout)[-4000:]}")
        return result

    def image_exists(self, reference: str) -> bool:
        return self.run("image", "inspect", reference, check=False, timeout=60).returncode == 0

    def image_size(self, reference: str) -> int:
        return int(self.run("image", "inspect", "--format", "{{.Size}}", reference).stdout.strip())


def podman_conf() -> Path:
    """The containers.conf the harness passes to podman (rewritten when its content changes)."""
    path = CACHE_DIR / "containers.conf"
    if not path.exists() or path.read_text() != PODMAN_CONF:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(PODMAN_CONF)
    return path


def _docker_daemon_answers(binary: str) -> bool:
    with contextlib.suppress(subprocess.TimeoutExpired, OSError):
        return subprocess.run([binary, "version", "--format", "{{.Server.Version}}"], capture_output=True,
                              timeout=15, check=False).returncode == 0
    return False


def find_engine() -> Engine:
    """docker if its daemon answers, else podman; EngineUnavailable (with the install command) if neither."""
    wanted = os.environ.get("CONTAINER_ENGINE", "").strip()
    if wanted not in ("", "docker", "podman"):
        raise EngineUnavailable(f"CONTAINER_ENGINE must be docker or podman, got {wanted!r}")
    reasons = []
    if wanted in ("", "docker"):
        docker = shutil.which("docker")
        if docker and _docker_daemon_answers(docker):
            return Engine("docker", docker)
        reasons.append("docker: " + ("no daemon answers" if docker else "not installed"))
    if wanted in ("", "podman"):
        podman = shutil.which("podman")
        if podman:
            engine = Engine("podman", podman, {"CONTAINERS_CONF": str(podman_conf())})
            info = engine.run("info", "--format", "{{.Host.OCIRuntime.Name}}", check=False, timeout=60)
            if info.returncode == 0:
                return engine
            reasons.append(f"podman: `podman info` failed: {(info.stderr or info.stdout).strip()[-300:]}")
        else:
            reasons.append("podman: not installed")
        if podman and not shutil.which("runc"):
            reasons.append("runc: not installed")
    raise EngineUnavailable(f"no container engine ({'; '.join(reasons)}); {INSTALL_HINT}")


# --- base image -------------------------------------------------------------------------------------------

def registry_reachable(timeout: float = 5.0) -> bool:
    """Docker Hub's registry API answers (401 with its Docker-Distribution-Api-Version header)."""
    try:
        urllib.request.urlopen(REGISTRY_PROBE, timeout=timeout)  # noqa: S310 - fixed https URL
    except urllib.error.HTTPError as error:
        return error.headers.get("Docker-Distribution-Api-Version", "").startswith("registry/2")
    except (OSError, urllib.error.URLError):
        return False
    return True


def host_ca_certificates() -> list[Path]:
    return sorted(HOST_CA_DIR.glob("*.crt")) if HOST_CA_DIR.is_dir() else []


def local_base_tag() -> str:
    """The tag of the debootstrap base: changes with the recipe and with the host's extra CA certificates."""
    recipe = hashlib.sha256()
    recipe.update(f"{DEBIAN_SUITE} minbase {','.join(DEBOOTSTRAP_PACKAGES)}\n".encode())
    for certificate in host_ca_certificates():
        recipe.update(certificate.name.encode() + b"\0" + certificate.read_bytes())
    return f"{LOCAL_BASE}:{DEBIAN_SUITE}-{recipe.hexdigest()[:12]}"


def build_local_base(engine: Engine, log=print) -> str:
    """The debootstrap base image (built once, then reused by tag)."""
    tag = local_base_tag()
    if engine.image_exists(tag):
        return tag
    if not shutil.which("debootstrap"):
        raise EngineUnavailable("no image registry is reachable and debootstrap is not installed to build a base "
                                "image here: `apt-get install -y debootstrap` as root, or set BASE_IMAGE")
    if os.geteuid() != 0:
        raise EngineUnavailable("building the base image with debootstrap needs root; run as root or set BASE_IMAGE")
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="rootfs-", dir=CACHE_DIR) as rootfs:
        log(f"image: building base {tag} with debootstrap from {DEBIAN_MIRROR} (about a minute, once) ...")
        subprocess.run(["debootstrap", "--variant=minbase", f"--include={','.join(DEBOOTSTRAP_PACKAGES)}",
                        DEBIAN_SUITE, rootfs, DEBIAN_MIRROR], check=True, capture_output=True, timeout=900)
        certificates = host_ca_certificates()
        for certificate in certificates:
            shutil.copy2(certificate, Path(rootfs, "usr/local/share/ca-certificates", certificate.name))
        subprocess.run(["chroot", rootfs, "update-ca-certificates"], check=True, capture_output=True, timeout=120)
        for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for path in Path(rootfs, leftover).glob("*"):
                if path.is_file():
                    path.unlink()
        tar = subprocess.Popen(["tar", "-C", rootfs, "--numeric-owner", "-c", "."], stdout=subprocess.PIPE)
        engine.run("import", "--change", "CMD [\"/bin/bash\"]", "-", tag, stdin=tar.stdout, timeout=600)
        tar.stdout.close()
        if tar.wait() != 0:
            raise RuntimeError("tar of the debootstrap root failed")
    log(f"image: base {tag} built in {time.monotonic() - started:.0f}s "
        f"({len(certificates)} host CA certificate(s) added)")
    return tag


def base_image(engine: Engine, log=print) -> str:
    """BASE_IMAGE, else the official slim image when it is here or a registry answers, else the local base."""
    configured = os.environ.get("BASE_IMAGE", "").strip()
    if configured:
        return configured
    if engine.image_exists(OFFICIAL_BASE) or registry_reachable():
        return OFFICIAL_BASE
    return build_local_base(engine, log)


def build_image(engine: Engine, tag: str = f"{IMAGE}:dev", app_version: str = "0.0.0-dev", log=print) -> dict:
    """`app/Dockerfile` built into `tag` (layer cache on); returns the base used, the time and the size."""
    base = base_image(engine, log)
    started = time.monotonic()
    engine.run("build", "--tag", tag, "--build-arg", f"BASE_IMAGE={base}", "--build-arg", f"APP_VERSION={app_version}",
               "--file", str(APP_DIR / "Dockerfile"), str(APP_DIR), timeout=900)
    seconds = time.monotonic() - started
    return {"image": tag, "base": base, "build_seconds": round(seconds, 1), "size_bytes": engine.image_size(tag)}


# --- the pod as the chart renders it ---------------------------------------------------------------------

@dataclass
class Pod:
    """What the chart's Deployment asks of the container runtime, read from the rendered manifests."""

    env: dict[str, str]
    user: str | None  # "uid:gid" from the securityContext
    read_only_root: bool
    cap_drop: list[str]
    no_new_privileges: bool
    tmpfs: dict[str, str]  # mount path -> size (emptyDir sizeLimit)
    cpus: str | None
    memory: str | None
    grace_seconds: int
    pre_stop_seconds: int
    port: int


def _quantity_cpus(value: str) -> str:
    return f"{int(value[:-1]) / 1000:g}" if value.endswith("m") else f"{float(value):g}"


def _quantity_bytes(value: str) -> str:
    units = {"Ki": "k", "Mi": "m", "Gi": "g"}
    for suffix, engine_unit in units.items():
        if value.endswith(suffix):
            return value[: -len(suffix)] + engine_unit
    return value  # plain bytes


def render_chart(values: dict) -> list[dict]:
    from harness import helm

    return helm.render(values, name="mirror", namespace="mirror", chart=CHART_DIR).manifests()


def chart_pod(values: dict) -> Pod:
    """The chart's Deployment (rendered with `values`) as a Pod: what `run_arguments` passes to the engine."""
    manifests = render_chart(values)
    by_kind = {}
    for manifest in manifests:
        by_kind.setdefault(manifest["kind"], []).append(manifest)
    (deployment,) = by_kind["Deployment"]
    spec = deployment["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    configmaps = {m["metadata"]["name"]: m.get("data", {}) for m in by_kind.get("ConfigMap", [])}
    secrets = {m["metadata"]["name"]: {**{k: base64.b64decode(v).decode() for k, v in m.get("data", {}).items()},
                                       **m.get("stringData", {})} for m in by_kind.get("Secret", [])}
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(configmaps[source["configMapRef"]["name"]])
    for entry in container.get("env", []):
        if "value" in entry:
            env[entry["name"]] = entry["value"]
        else:
            ref = entry["valueFrom"]["secretKeyRef"]
            if ref["key"] in secrets.get(ref["name"], {}):
                env[entry["name"]] = secrets[ref["name"]][ref["key"]]
    context = {**spec.get("securityContext", {}), **container.get("securityContext", {})}
    user = f"{context['runAsUser']}:{context.get('runAsGroup', context['runAsUser'])}" if "runAsUser" in context \
        else None
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    tmpfs = {}
    for mount in container.get("volumeMounts", []):
        empty_dir = volumes[mount["name"]].get("emptyDir")
        if empty_dir is None:
            raise ValueError(f"volume {mount['name']} is not an emptyDir; the harness only maps emptyDirs")
        tmpfs[mount["mountPath"]] = _quantity_bytes(empty_dir.get("sizeLimit", "64Mi"))
    limits = container.get("resources", {}).get("limits", {})
    pre_stop = container.get("lifecycle", {}).get("preStop", {})
    pre_stop_seconds = int(pre_stop.get("sleep", {}).get("seconds", 0) or
                           (pre_stop.get("exec", {}).get("command", [None, 0])[1] if "exec" in pre_stop else 0))
    (port,) = [p["containerPort"] for p in container["ports"] if p["name"] == "http"]
    return Pod(
        env=env, user=user, read_only_root=bool(context.get("readOnlyRootFilesystem")),
        cap_drop=list(context.get("capabilities", {}).get("drop", [])),
        no_new_privileges=context.get("allowPrivilegeEscalation") is False,
        tmpfs=tmpfs, cpus=_quantity_cpus(limits["cpu"]) if "cpu" in limits else None,
        memory=_quantity_bytes(limits["memory"]) if "memory" in limits else None,
        grace_seconds=int(spec.get("terminationGracePeriodSeconds", 30)), pre_stop_seconds=pre_stop_seconds,
        port=port,
    )


def run_arguments(engine: Engine, pod: Pod, *, user: bool = True, limits: bool = True) -> list[str]:
    """Engine flags for `pod`: what the kubelet would set up, on the host's network (loopback only: see HOST)."""
    args = ["--network=host"]
    if pod.read_only_root:
        args.append("--read-only")
        if engine.name == "podman":
            args.append("--read-only-tmpfs=false")  # podman would add tmpfs on /tmp, /run, /var/tmp; a pod has none
    if user and pod.user:
        args += ["--user", pod.user]
    args += [f"--cap-drop={cap}" for cap in pod.cap_drop]
    if pod.no_new_privileges:
        args += ["--security-opt", "no-new-privileges"]
    # An emptyDir is writable by the pod's fsGroup; a tmpfs of the sizeLimit, writable by all, is the nearest
    # both engines offer (medium "" is node disk in Kubernetes: the contents are scratch either way).
    for path, size in pod.tmpfs.items():
        args += ["--tmpfs", f"{path}:rw,nosuid,nodev,size={size},mode=1777"]
    if limits and pod.cpus:
        args += ["--cpus", pod.cpus]
    if limits and pod.memory:
        args += ["--memory", pod.memory]
    return args


@dataclass
class Container:
    """One running container, its `<engine> run` client kept as a ManagedProcess (logs = container stdout)."""

    engine: Engine
    name: str
    process: processes.ManagedProcess
    url: str

    def signal(self, signal_name: str = "TERM") -> None:
        self.engine.run("kill", "--signal", signal_name, self.name, timeout=60)

    def wait(self, timeout: float) -> int | None:
        """The container's exit code once it stopped within `timeout`, else None."""
        try:
            return self.process.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def wait_answering(self, path: str, timeout: float, in_a_row: int = 3) -> None:
        """Until `path` answers 200 `in_a_row` times running: readiness is per worker (each checks the bucket
        itself), and a probe that reached one ready worker says nothing about the other."""
        streak = [0]

        def answered() -> bool:
            streak[0] = streak[0] + 1 if processes.http_status(self.url + path, timeout=5) == 200 else 0
            return streak[0] >= in_a_row

        self.process.wait_until(answered, timeout, f"answering {path} {in_a_row} times in a row")

    @property
    def log_path(self) -> Path:
        return self.process.log_path

    def alive(self) -> bool:
        return self.process.alive()

    def log(self) -> str:
        return self.process.log()

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM (gunicorn drains), up to `timeout` seconds, then removed; the container's exit code."""
        if self.alive():
            self.engine.run("kill", "--signal", "TERM", self.name, check=False, timeout=60)
        exit_code = self.wait(timeout)
        self.remove()
        return exit_code

    def remove(self) -> None:
        """Stop (SIGKILL if need be) and delete the container and its client; safe to call more than once."""
        no_grace = ["--time", "0"] if self.engine.name == "podman" else []  # docker rm --force kills at once
        self.engine.run("rm", "--force", *no_grace, self.name, check=False, timeout=120)
        self.process.stop(timeout=10)


def run(engine: Engine, image: str, pod: Pod, log_dir: Path, *, name: str, env: dict[str, str] | None = None,
        user: bool = True, limits: bool = True, command: list[str] | None = None, ready_path: str = "/api/ready",
        timeout: float = 60, extra_args: tuple[str, ...] = ()) -> Container:
    """Start `image` as `pod` (plus `env` on top of the chart's) and wait until `ready_path` answers 200."""
    environment = {**pod.env, **(env or {})}
    port = int(environment.get("PORT", pod.port))
    argv = engine.command("run", "--rm", "--name", name, "--stop-timeout", str(pod.grace_seconds),
                          *run_arguments(engine, pod, user=user, limits=limits), *extra_args,
                          *[f"--env={key}={value}" for key, value in environment.items()], image, *(command or []))
    process = processes.spawn(name, argv, {**os.environ, **engine.env}, log_dir)
    container = Container(engine, name, process, f"http://{environment.get('HOST', processes.LOOPBACK)}:{port}")
    try:
        container.wait_answering(ready_path, timeout)
    except BaseException:
        container.remove()
        raise
    return container


def start_sandbox_service(settings: dict[str, str], log_dir: Path, port: int | None = None) -> Container:
    """`SANDBOX_RUNTIME=container make sandbox`: the image, hardened as the chart's pod, with the sandbox's settings.

    Same URL as the process runtime (loopback, `port`); `stop()` drains and removes the container.
    """
    engine = find_engine()
    built = build_image(engine, tag=f"{IMAGE}:sandbox", app_version=settings.get("APP_VERSION", "sandbox"))
    pod = chart_pod({"s3": {"bucket": settings["S3_BUCKET"], "endpointUrl": settings.get("S3_ENDPOINT_URL", ""),
                            "prefix": settings.get("S3_PREFIX", "uploads/")}})
    port = port or processes.free_port()
    if processes.port_is_open(port):
        raise RuntimeError(f"port {port} on {processes.LOOPBACK} is already in use; set PORT to a free one")
    env = {**pod.env, **{k: v for k, v in settings.items() if v}, "HOST": processes.LOOPBACK, "PORT": str(port)}
    return run(engine, built["image"], pod, log_dir, name=f"mirror-sandbox-{port}", env=env)


def main(argv: list[str]) -> int:
    if argv[:1] != ["build"]:
        print("usage: python -m harness.container build   (what `make image` runs)", file=sys.stderr)
        return 2
    try:
        engine = find_engine()
        result = build_image(engine, tag=os.environ.get("IMAGE", f"{IMAGE}:dev"),
                             app_version=os.environ.get("APP_VERSION", "0.0.0-dev"))
    except EngineUnavailable as error:
        print(f"image: {error}", file=sys.stderr)
        return 2
    print(f"image: {result['image']} built with {engine.name} on {result['base']} in {result['build_seconds']}s, "
          f"{result['size_bytes'] / 1e6:.0f} MB")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
