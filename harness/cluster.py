"""`make cluster` / `make cluster-down`: a throwaway single-node Kubernetes cluster on this machine, from the
binaries `make tools` built out of pinned Go modules (tools/kubernetes, etcd, containerd, cni-plugins, coredns,
kube-router, metrics-server), for the cluster tests (tests/cluster) and for an engineer's `helm install` by hand.

    python3 -m harness.cluster up      # clears what an earlier (killed) run left, starts the node, prints the kubeconfig
    python3 -m harness.cluster down    # stops everything and removes every trace
    python3 -m harness.cluster status  # one line: up (and since when) or not

Processes (each in its own session, its log under `<state>/logs/`): etcd, kube-apiserver, kube-controller-manager,
kube-scheduler, containerd 2.x (Debian's runc, cgroupfs), kubelet (`failCgroupV1: false`: these machines run
cgroup v1), kube-proxy (iptables), CoreDNS, kube-router's NetworkPolicy controller and metrics-server (behind the
aggregation layer) as host processes.
Networking stays on this node: pods in 198.18.0.0/24 on the bridge `mkc0` (CNI bridge + host-local, no
masquerade), Services in 198.19.0.0/20, the node's address 198.19.255.1/32 on `lo`; a rule of
ours drops anything from the pod range that would leave through another interface. kube-router v2.1.0 is the
only NetworkPolicy enforcer the module proxy serves that works on these kernels (no nftables `queue`); it is
flagged for reported security flaws: acceptable on this throwaway test node only.

The state (certificates, kubeconfigs, etcd data, containerd's and kubelet's directories, logs) lives in
`.cluster/` of the clone (`CLUSTER_DIR` moves it; containerd's root is a tmpfs mounted there); `<state>/run.json` records every process started (pid, start
time, command line, as the sandbox does), so that the next `up` or a `down` stops what a killed run left. `down`
leaves nothing of ours: no process, mount, network namespace, veth, bridge, address, iptables chain or
cgroup, and it restores the sysctls the node changed.

The pause image has no registry to come from: `build/pause/linux/pause.c` of the pinned k8s.io/kubernetes module
is compiled statically (Debian gcc), put into a `FROM scratch` image with podman (harness/container.py's engine)
and saved as an OCI archive in the tools cache (outside the clone); every `up` imports it with `ctr`.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import ipaddress
import json
import os
import shlex
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from harness import processes, tools
from harness.paths import REPO_ROOT
from harness.sandbox import _identity, _same_process

STATE_DIR = Path(os.environ.get("CLUSTER_DIR") or REPO_ROOT / ".cluster")
NODE_NAME = "mirror-kit-node"
NODE_IP = "198.19.255.1"
NODE_LINK = "lo"  # carries NODE_IP (these kernels have no dummy link driver)
BRIDGE = "mkc0"
CNI_NETWORK = "mirror-kit-cluster"
CLUSTER_CIDR = "198.18.0.0/16"
POD_CIDR = "198.18.0.0/24"
POD_GATEWAY = "198.18.0.1"
SERVICE_CIDR = "198.19.0.0/20"
KUBERNETES_SERVICE_IP = "198.19.0.1"
DNS_SERVICE_IP = "198.19.0.10"
NODE_RANGES = "198.18.0.0/15"  # never routed: nothing from it may leave this node
CGROUP_ROOT = "mirror-kit-cluster"
FENCE_CHAIN = "MIRROR-KIT-FENCE"
OUR_IPSETS = ("KUBE-", "kube-router-", "inet6:KUBE-", "inet6:kube-router")  # kube-router's NetworkPolicy sets
APISERVER_PORT = 6443
ETCD_PORTS = (2379, 2380, 2381)
PAUSE_IMAGE = "registry.k8s.io/pause:3.10.1"
RUNC = "/usr/sbin/runc"
RUN_RECORD = "run.json"
START_TIMEOUT = 90
STOP_SECONDS = 2  # `down`: SIGTERM, then SIGKILL what still runs
CONTAINERD_TMPFS = "4g"  # the most containerd's root may use (memory is taken only as it fills)
# The node's names (bridge, address, cgroup, chains) are the machine's: one cluster per machine. This file names
# the state dir of the clone whose cluster holds them.
OWNER_FILE = Path("/run/mirror-kit-cluster.owner")
# kubelet sets these unless protectKernelDefaults; ip_forward and bridge-nf-call-iptables are set for pods.
SYSCTLS = ("vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
           "kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes", "net/ipv4/ip_forward",
           "net/bridge/bridge-nf-call-iptables")
# What each component needs from `make tools`: (tool, program).
PROGRAMS = {
    "etcd": ("etcd", "etcd"), "kube-apiserver": ("kubernetes", "kube-apiserver"),
    "kube-controller-manager": ("kubernetes", "kube-controller-manager"),
    "kube-scheduler": ("kubernetes", "kube-scheduler"), "kubelet": ("kubernetes", "kubelet"),
    "kube-proxy": ("kubernetes", "kube-proxy"), "kubectl": ("kubernetes", "kubectl"),
    "containerd": ("containerd", "containerd"), "containerd-shim-runc-v2": ("containerd", "containerd-shim-runc-v2"),
    "ctr": ("containerd", "ctr"), "bridge": ("cni-plugins", "bridge"), "host-local": ("cni-plugins", "host-local"),
    "loopback": ("cni-plugins", "loopback"), "portmap": ("cni-plugins", "portmap"),
    "coredns": ("coredns", "coredns"), "kube-router": ("kube-router", "kube-router"),
    "metrics-server": ("metrics-server", "metrics-server"),
}
METRICS_SERVER_PORT = 4443
SYSTEM_COMMANDS = ("ip", "iptables", "iptables-save", "ipset", "mount", "umount", "gcc", "strip")


class ClusterError(RuntimeError):
    """The cluster cannot start here; the message says why (and what to install or build)."""


def missing_prerequisites(build: bool = False) -> list[str]:
    """What keeps a cluster from starting on this machine (empty when it can): binaries not built by `make
    tools` (built here when `build`), system commands, root, cgroup controllers."""
    problems = []
    if os.geteuid() != 0:
        problems.append("the cluster needs root (it creates links, mounts, cgroups and iptables rules)")
    unbuilt: dict[str, list[str]] = {}
    for name, (tool, program) in PROGRAMS.items():
        if build:
            tools.path(tool, program)
        elif tools.built(tool, program) is None:
            unbuilt.setdefault(tool, []).append(name)
    if unbuilt:
        problems.append("not built yet (`make tools` builds them once into the cache outside the clone): " +
                        ", ".join(f"tools/{tool} ({', '.join(names)})" for tool, names in sorted(unbuilt.items())))
    for command in SYSTEM_COMMANDS:
        if not shutil.which(command, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin"):
            problems.append(f"{command} is missing: apt-get install iptables ipset iproute2 gcc libc6-dev "
                            f"(what .ci/run installs)")
    if not Path(RUNC).exists():
        problems.append(f"{RUNC} is missing: apt-get install runc")
    for controller in ("cpu", "memory", "pids", "cpuset"):
        if not Path("/sys/fs/cgroup", controller).is_dir() and not Path("/sys/fs/cgroup/cgroup.controllers").exists():
            problems.append(f"cgroup controller {controller} is not mounted")
    return sorted(set(problems))


def binary(name: str) -> str:
    tool, program = PROGRAMS[name]
    return str(tools.path(tool, program))


# --- certificates -----------------------------------------------------------------------------------------

@dataclass
class Pki:
    """The cluster's certificates (EC P-256: fast to make), written once per `up` under `<state>/pki`."""

    directory: Path
    ca: tuple = field(default=None)  # (certificate, key)
    front_proxy_ca: tuple = field(default=None)

    def _key(self):
        from cryptography.hazmat.primitives.asymmetric import ec

        return ec.generate_private_key(ec.SECP256R1())

    def _write(self, name: str, certificate, key) -> None:
        from cryptography.hazmat.primitives import serialization

        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / f"{name}.crt").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_path = self.directory / f"{name}.key"
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        key_path.chmod(0o600)

    def _certificate(self, common_name: str, key, issuer=None, *, organization: str | None = None,
                     ca: bool = False, dns: tuple[str, ...] = (), ips: tuple[str, ...] = (), server: bool = False,
                     client: bool = False):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
        if organization:
            attributes.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
        subject = x509.Name(attributes)
        issuer_certificate, issuer_key = issuer or (None, key)
        now = datetime.datetime.now(datetime.UTC)
        builder = (x509.CertificateBuilder().subject_name(subject)
                   .issuer_name(issuer_certificate.subject if issuer_certificate else subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=7))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=ca, crl_sign=ca,
                                                key_encipherment=False, content_commitment=False,
                                                data_encipherment=False, key_agreement=False,
                                                encipher_only=False, decipher_only=False), critical=True))
        usages = ([ExtendedKeyUsageOID.SERVER_AUTH] if server else []) + ([ExtendedKeyUsageOID.CLIENT_AUTH] if client else [])
        if usages:
            builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        if dns or ips:
            names = [x509.DNSName(name) for name in dns] + [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    def make(self) -> None:
        from cryptography.hazmat.primitives import serialization

        ca_key = self._key()
        self.ca = (self._certificate("mirror-kit-cluster-ca", ca_key, ca=True), ca_key)
        self._write("ca", *self.ca)
        front_key = self._key()
        self.front_proxy_ca = (self._certificate("mirror-kit-front-proxy-ca", front_key, ca=True), front_key)
        self._write("front-proxy-ca", *self.front_proxy_ca)
        self.leaf("front-proxy-client", "front-proxy-client", issuer=self.front_proxy_ca, client=True)
        self.leaf("apiserver", "kube-apiserver", server=True,
                  dns=("kubernetes", "kubernetes.default", "kubernetes.default.svc",
                       "kubernetes.default.svc.cluster.local", "localhost"),
                  ips=(KUBERNETES_SERVICE_IP, NODE_IP, "127.0.0.1"))
        self.leaf("apiserver-kubelet-client", "kube-apiserver-kubelet-client", organization="system:masters",
                  client=True)
        self.leaf("kubelet-serving", NODE_NAME, server=True, dns=(NODE_NAME,), ips=(NODE_IP,))
        for name, common_name, organization in (
                ("kubelet", f"system:node:{NODE_NAME}", "system:nodes"),
                ("kube-controller-manager", "system:kube-controller-manager", None),
                ("kube-scheduler", "system:kube-scheduler", None),
                ("kube-proxy", "system:kube-proxy", None),
                # CoreDNS and kube-router run as host processes of this throwaway node with the admin's rights.
                ("admin", "mirror-kit-admin", "system:masters")):
            self.leaf(name, common_name, organization=organization, client=True)
        sa_key = self._key()
        (self.directory / "sa.key").write_bytes(sa_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        (self.directory / "sa.pub").write_bytes(sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))

    def make_serving_pair(self, name: str, common_name: str, **options) -> None:
        """A CA of its own (`ca.crt`) and a serving certificate it signed (`<name>.crt`): a test's webhook."""
        ca_key = self._key()
        self.ca = (self._certificate(f"{common_name}-ca", ca_key, ca=True), ca_key)
        self._write("ca", *self.ca)
        self.leaf(name, common_name, server=True, **options)

    def leaf(self, name: str, common_name: str, *, issuer=None, **options) -> None:
        key = self._key()
        self._write(name, self._certificate(common_name, key, issuer or self.ca, **options), key)

    def path(self, name: str) -> str:
        return str(self.directory / name)


def kubeconfig(pki: Pki, user: str, server: str) -> str:
    def data(name: str) -> str:
        return base64.b64encode((pki.directory / name).read_bytes()).decode()

    return json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "mirror-kit",
        "clusters": [{"name": "mirror-kit", "cluster": {"server": server, "certificate-authority-data": data("ca.crt")}}],
        "users": [{"name": user, "user": {"client-certificate-data": data(f"{user}.crt"),
                                          "client-key-data": data(f"{user}.key")}}],
        "contexts": [{"name": "mirror-kit", "context": {"cluster": "mirror-kit", "user": user}}],
    }, indent=2)


# --- host state: sysctls, links, mounts, iptables, cgroups ------------------------------------------------

def _run(*argv: str, check: bool = True, timeout: float = 60, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": os.environ.get("PATH", "") + ":/usr/sbin:/sbin"}
    result = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False, env=env, **kwargs)
    if check and result.returncode != 0:
        raise ClusterError(f"`{' '.join(argv)}` exited {result.returncode}: {(result.stderr or result.stdout).strip()}")
    return result


def _read_sysctl(name: str) -> str | None:
    with contextlib.suppress(OSError):
        return Path("/proc/sys", name).read_text().strip()
    return None


def _write_sysctl(name: str, value: str) -> None:
    with contextlib.suppress(OSError):
        Path("/proc/sys", name).write_text(value)


def _our_mounts(state: Path) -> list[str]:
    """Mount points under the state dir, deepest first (a pod's volumes before the pod's directory)."""
    found = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        target = line.split()[1].encode().decode("unicode_escape")
        if target == str(state) or target.startswith(f"{state}/"):
            found.append(target)
    return sorted(set(found), key=lambda path: (-path.count("/"), path))


def _cgroup_dirs() -> list[Path]:
    """Our cgroup subtree in every v1 hierarchy (and the v2 one, where mounted), leaves first."""
    roots = [path / CGROUP_ROOT for path in Path("/sys/fs/cgroup").iterdir() if (path / CGROUP_ROOT).is_dir()]
    if Path("/sys/fs/cgroup", CGROUP_ROOT).is_dir():
        roots.append(Path("/sys/fs/cgroup", CGROUP_ROOT))
    found = []
    for root in roots:
        found += [Path(directory) for directory, _, _ in os.walk(root)]
    return sorted(found, key=lambda path: -len(path.parts))


def _prepare_cgroups() -> None:
    """`/mirror-kit-cluster` in every v1 controller the kubelet uses; cpuset needs its cpus and mems copied
    from the parent, else putting a process in it fails with ENOSPC (kind's entrypoint does the same)."""
    for hierarchy in Path("/sys/fs/cgroup").iterdir():
        if not hierarchy.is_dir() or hierarchy.name in ("unified",) or not (hierarchy / "cgroup.procs").exists():
            continue
        target = hierarchy / CGROUP_ROOT
        target.mkdir(exist_ok=True)
        if hierarchy.name == "cpuset":
            for name in ("cpuset.cpus", "cpuset.mems"):
                (target / name).write_text((hierarchy / name).read_text())


def address_present(address: str = NODE_IP) -> bool:
    """Whether `address`/32 is on the node's link (ours: the node's, or a test's such as the Pod Identity agent's)."""
    return f" {address}/32 " in _run("ip", "-o", "addr", "show", "dev", NODE_LINK, check=False).stdout


def _iptables_chains(table: str) -> dict[str, list[str]]:
    """chain -> its rules (as `iptables -S` prints them) in one table."""
    chains: dict[str, list[str]] = {}
    for line in _run("iptables", "-w", "-t", table, "-S", check=False).stdout.splitlines():
        parts = line.split()
        if parts[:1] in (["-P"], ["-N"]):
            chains.setdefault(parts[1], [])
        elif parts[:1] == ["-A"]:
            chains.setdefault(parts[1], []).append(line)
    return chains


def _ours(chain: str, rules: list[str]) -> bool:
    """KUBE-* (kube-proxy, kubelet, kube-router), our fence, and portmap's chains once empty (podman's portmap
    shares CNI-HOSTPORT-*: those go only when no rule is left in them; podman's other CNI-* chains stay)."""
    return chain.startswith(("KUBE-", FENCE_CHAIN)) or (chain.startswith(("CNI-HOSTPORT-", "CNI-DN-")) and not rules)


def _remove_stale_shim_sockets() -> None:
    """containerd keeps its shims' sockets in /run/containerd/s whatever its configured state dir; a SIGKILLed
    shim leaves its socket behind. Remove the sockets nobody listens on, then the directories left empty."""
    import socket

    run_dir = Path("/run/containerd")
    for path in run_dir.glob("s/*"):
        with contextlib.closing(socket.socket(socket.AF_UNIX)) as probe:
            try:
                probe.connect(str(path))
            except ConnectionRefusedError:
                path.unlink(missing_ok=True)
            except OSError:
                pass
    if run_dir.is_dir():
        for directory, _, _ in sorted(os.walk(run_dir), key=lambda entry: -entry[0].count("/")):
            with contextlib.suppress(OSError):
                Path(directory).rmdir()  # only while empty: never another containerd's


def remove_iptables() -> list[str]:
    """Every iptables chain of ours and every rule that jumps to one, in every table."""
    removed = []
    for table in ("filter", "nat", "mangle", "raw"):
        for _ in range(3):  # a chain only goes once nothing jumps to it
            chains = _iptables_chains(table)
            doomed = {chain for chain, rules in chains.items() if _ours(chain, rules)}
            if not doomed:
                break
            for chain, rules in chains.items():
                if chain in doomed:
                    continue
                for rule in rules:
                    words = shlex.split(rule)  # comments are quoted, with spaces
                    if "-j" in words and words[words.index("-j") + 1] in doomed:
                        _run("iptables", "-w", "-t", table, "-D", *words[1:], check=False)
            for chain in doomed:
                _run("iptables", "-w", "-t", table, "-F", chain, check=False)
            for chain in doomed:
                if _run("iptables", "-w", "-t", table, "-X", chain, check=False).returncode == 0:
                    removed.append(f"{table}/{chain}")
    for ipset in _run("ipset", "list", "-n", check=False).stdout.split():
        if ipset.startswith(OUR_IPSETS):
            _run("ipset", "destroy", ipset, check=False)
    return removed


def _fence() -> None:
    """Nothing from the pod and Service ranges leaves the node: drop what would be routed anywhere but the bridge."""
    _run("iptables", "-w", "-N", FENCE_CHAIN, check=False)
    _run("iptables", "-w", "-F", FENCE_CHAIN)
    _run("iptables", "-w", "-A", FENCE_CHAIN, "-s", NODE_RANGES, "!", "-o", BRIDGE, "-j", "DROP",
         "-m", "comment", "--comment", "mirror-kit cluster: pod traffic never leaves the node")
    if _run("iptables", "-w", "-C", "FORWARD", "-j", FENCE_CHAIN, check=False).returncode != 0:
        _run("iptables", "-w", "-I", "FORWARD", "1", "-j", FENCE_CHAIN)


# --- processes --------------------------------------------------------------------------------------------

def _containerd_shims(socket_path: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info.get("cmdline") or []
        if cmdline and cmdline[0].endswith("containerd-shim-runc-v2") and str(socket_path) in cmdline:
            found.append(process)
    return found


def _kill_trees(processes_: list[psutil.Process]) -> None:
    """SIGKILL each process and its descendants, then wait for them all at once (each shim's pod processes take
    a second or two to go: one wait, not one per shim)."""
    doomed = []
    for process in processes_:
        with contextlib.suppress(psutil.Error):
            doomed += [process, *process.children(recursive=True)]
    for member in doomed:
        with contextlib.suppress(psutil.Error):
            member.kill()
    psutil.wait_procs(doomed, timeout=5)


@dataclass
class Cluster:
    state: Path = STATE_DIR
    started: list[dict] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def kubeconfig(self) -> Path:
        return self.state / "kubeconfig"

    @property
    def logs(self) -> Path:
        return self.state / "logs"

    @property
    def record_path(self) -> Path:
        return self.state / RUN_RECORD

    @property
    def containerd_socket(self) -> Path:
        return self.state / "containerd" / "containerd.sock"

    # --- the record ---------------------------------------------------------------------------------------
    def _save(self, **extra) -> None:
        self.state.mkdir(parents=True, exist_ok=True)
        record = self._load() | extra | {"processes": self.started}
        temporary = self.record_path.with_suffix(".tmp")
        temporary.write_text(json.dumps(record, indent=2))
        temporary.replace(self.record_path)

    def _load(self) -> dict:
        try:
            return json.loads(self.record_path.read_text())
        except (OSError, ValueError):
            return {}

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> processes.ManagedProcess:
        proc = processes.spawn(name, argv, {**os.environ, **(env or {})}, self.logs, cwd=self.state)
        identity: dict = {}
        for _ in range(100):  # /proc/<pid>/cmdline can read empty for a moment right after the exec
            with contextlib.suppress(psutil.Error):
                identity = _identity(psutil.Process(proc.pid))
            if identity.get("cmdline") == argv:
                break
            time.sleep(0.01)
        self.started.append({"name": name, **identity})
        self._save()
        return proc

    def alive(self) -> bool:
        """Every recorded component runs and the API server answers /readyz."""
        record = self._load()
        recorded = record.get("processes") or []
        if not record.get("up") or not recorded or not all(_same_process(entry) for entry in recorded):
            return False
        return self.api_ready()

    # --- the API ------------------------------------------------------------------------------------------
    def _ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.state / "pki" / "ca.crt"))
        context.load_cert_chain(str(self.state / "pki" / "admin.crt"), str(self.state / "pki" / "admin.key"))
        return context

    def api_ready(self) -> bool:
        with contextlib.suppress(Exception):
            url = f"https://{NODE_IP}:{APISERVER_PORT}/readyz"
            with urllib.request.urlopen(url, timeout=2, context=self._ssl_context()) as response:  # noqa: S310
                return response.status == 200
        return False

    def kubectl(self, *args: str, check: bool = True, timeout: float = 60, stdin: str | None = None) \
            -> subprocess.CompletedProcess:
        result = subprocess.run([binary("kubectl"), f"--kubeconfig={self.kubeconfig}", *args], input=stdin,
                                capture_output=True, text=True, timeout=timeout, check=False)
        if check and result.returncode != 0:
            raise ClusterError(f"kubectl {' '.join(args)}: {(result.stderr or result.stdout).strip()}")
        return result

    def ctr(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return _run(binary("ctr"), "--address", str(self.containerd_socket), "--namespace", "k8s.io", *args,
                    timeout=timeout)

    def import_image(self, archive: Path, base_name: str | None = None) -> None:
        """An OCI archive (`podman save --format oci-archive`) into containerd's k8s.io namespace."""
        extra = ["--base-name", base_name] if base_name else []
        self.ctr("images", "import", "--all-platforms", *extra, str(archive))

    # --- up -----------------------------------------------------------------------------------------------
    def up(self, log=print) -> None:
        problems = missing_prerequisites()
        if problems:
            raise ClusterError("the cluster cannot start here:\n  " + "\n  ".join(problems))
        started = time.monotonic()
        self._claim()
        stopped = self.down(log=lambda _message: None)
        OWNER_FILE.write_text(str(self.state.resolve()))
        if stopped:
            log(f"cluster: cleared what an earlier run left: {', '.join(stopped)}")
        for directory in ("pki", "logs", "etcd", "containerd/root", "kubelet", "cni/net.d", "cni/bin", "pod-logs"):
            (self.state / directory).mkdir(parents=True, exist_ok=True)
        # containerd's content and snapshots (the images, unpacked: ~0.5 GB) in memory: on these loaded disks,
        # removing them file by file made `down` take 10-30 s; an unmount frees them at once.
        _run("mount", "-t", "tmpfs", "-o", f"size={CONTAINERD_TMPFS},mode=0711", "mirror-kit-containerd",
             str(self.state / "containerd" / "root"))
        self._save(up=False, sysctls={name: _read_sysctl(name) for name in SYSCTLS}, created=time.time())
        pause = pause_archive(log)  # built once into the tools cache
        pki = Pki(self.state / "pki")
        pki.make()
        server = f"https://{NODE_IP}:{APISERVER_PORT}"
        for user in ("admin", "kube-controller-manager", "kube-scheduler", "kube-proxy", "kubelet"):
            (self.state / f"{user}.kubeconfig").write_text(kubeconfig(pki, user, server))
        shutil.copy(self.state / "admin.kubeconfig", self.kubeconfig)
        self._host_network()
        _prepare_cgroups()
        # The kubelet's pod volumes need shared propagation; `/` is private here: only our directory changes.
        _run("mount", "--bind", str(self.state / "kubelet"), str(self.state / "kubelet"))
        _run("mount", "--make-rshared", str(self.state / "kubelet"))
        self._write_configs(pki)
        self.timings["prepare"] = time.monotonic() - started

        etcd = self._spawn("etcd", [binary("etcd"), "--name=node", f"--data-dir={self.state / 'etcd'}",
                                    "--unsafe-no-fsync", "--log-level=warn",
                                    "--listen-client-urls=http://127.0.0.1:2379",
                                    "--advertise-client-urls=http://127.0.0.1:2379",
                                    "--listen-peer-urls=http://127.0.0.1:2380",
                                    "--initial-advertise-peer-urls=http://127.0.0.1:2380",
                                    "--initial-cluster=node=http://127.0.0.1:2380", "--initial-cluster-state=new",
                                    "--listen-metrics-urls=http://127.0.0.1:2381"])
        containerd = self._spawn("containerd", [binary("containerd"), "--config",
                                                str(self.state / "containerd" / "config.toml")],
                                 env={"PATH": f"{Path(binary('containerd-shim-runc-v2')).parent}:"
                                              f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin"})
        etcd.wait_until(lambda: processes.http_status("http://127.0.0.1:2379/health") == 200, 30, "healthy")
        apiserver = self._spawn("kube-apiserver", self._apiserver_argv(pki))
        apiserver.wait_until(self.api_ready, 60, "ready (/readyz)")
        self.timings["apiserver"] = time.monotonic() - started
        self._spawn("kube-controller-manager", [
            binary("kube-controller-manager"), f"--kubeconfig={self.state}/kube-controller-manager.kubeconfig",
            f"--authentication-kubeconfig={self.state}/kube-controller-manager.kubeconfig",
            f"--authorization-kubeconfig={self.state}/kube-controller-manager.kubeconfig",
            "--bind-address=127.0.0.1", "--leader-elect=false", "--use-service-account-credentials",
            f"--service-account-private-key-file={pki.path('sa.key')}", f"--root-ca-file={pki.path('ca.crt')}",
            f"--cluster-signing-cert-file={pki.path('ca.crt')}", f"--cluster-signing-key-file={pki.path('ca.key')}",
            "--allocate-node-cidrs=true", f"--cluster-cidr={CLUSTER_CIDR}", "--node-cidr-mask-size=24",
            f"--service-cluster-ip-range={SERVICE_CIDR}", "--configure-cloud-routes=false", "--controllers=*",
            # A pod on a NotReady node would wait 300 s for eviction; this node is the only one.
            "--node-monitor-grace-period=20s"])
        self._spawn("kube-scheduler", [binary("kube-scheduler"), f"--config={self.state}/kube-scheduler.yaml",
                                       f"--authentication-kubeconfig={self.state}/kube-scheduler.kubeconfig",
                                       f"--authorization-kubeconfig={self.state}/kube-scheduler.kubeconfig",
                                       "--bind-address=127.0.0.1"])
        containerd.wait_until(self.containerd_socket.exists, 30, "listening")
        self.import_image(pause)
        self._spawn("kubelet", [binary("kubelet"), f"--config={self.state}/kubelet.yaml",
                                f"--kubeconfig={self.state}/kubelet.kubeconfig", f"--root-dir={self.state}/kubelet",
                                f"--cert-dir={self.state}/kubelet/pki", f"--node-ip={NODE_IP}",
                                f"--hostname-override={NODE_NAME}", "--v=1"],
                    env={"PATH": f"{self.state}/cni/bin:{os.environ.get('PATH', '')}:/usr/sbin:/sbin"})
        self._spawn("kube-proxy", [binary("kube-proxy"), f"--config={self.state}/kube-proxy.yaml",
                                   f"--hostname-override={NODE_NAME}"])
        self._spawn("coredns", [binary("coredns"), "-conf", f"{self.state}/Corefile"])
        self._wait_node_ready(started)
        # kube-router reads its node's address from the Node object: after the kubelet registered it.
        router = self._spawn("kube-router", [
            binary("kube-router"), f"--kubeconfig={self.state}/admin.kubeconfig", "--run-firewall=true",
            "--run-router=false", "--run-service-proxy=false", "--enable-cni=false", "--enable-ipv4=true",
            "--enable-ipv6=false", f"--hostname-override={NODE_NAME}", "--metrics-port=0", "--health-port=0",
            "--cache-sync-timeout=30s"])
        router.wait_until(lambda: any(chain.startswith("KUBE-ROUTER-") for chain in _iptables_chains("filter")),
                          30, "enforcing (its iptables chains)")
        self._dns_service()
        # metrics-server as a host process behind the aggregation layer (the HPA's resource metrics).
        self._spawn("metrics-server", [
            binary("metrics-server"), f"--kubeconfig={self.state}/admin.kubeconfig",
            f"--authentication-kubeconfig={self.state}/admin.kubeconfig",
            f"--authorization-kubeconfig={self.state}/admin.kubeconfig", f"--bind-address={NODE_IP}",
            f"--secure-port={METRICS_SERVER_PORT}", f"--cert-dir={self.state}/metrics-server",
            f"--kubelet-certificate-authority={pki.path('ca.crt')}", "--kubelet-preferred-address-types=InternalIP",
            "--kubelet-use-node-status-port", "--metric-resolution=10s", "--kubelet-request-timeout=5s"])
        self._metrics_api()
        self._save(up=True, ready_seconds=round(time.monotonic() - started, 1))
        self.timings["ready"] = time.monotonic() - started
        log(f"cluster: up in {self.timings['ready']:.0f} s (API server ready at {self.timings['apiserver']:.0f} s); "
            f"KUBECONFIG={self.kubeconfig}; logs in {self.logs}")

    def _claim(self) -> None:
        """Refuse to start while another clone's cluster runs on this machine (it would lose its bridge and rules)."""
        owner = self._foreign_owner()
        if owner:
            raise ClusterError(f"another clone's cluster runs on this machine ({owner}); "
                               f"stop it first: make cluster-down in {owner.parent}")

    def _foreign_owner(self) -> Path | None:
        with contextlib.suppress(OSError):
            owner = Path(OWNER_FILE.read_text().strip())
            if owner != self.state.resolve() and Cluster(state=owner)._any_alive():
                return owner
        return None

    def _any_alive(self) -> bool:
        return any(_same_process(entry) for entry in self._load().get("processes") or [])

    def _host_network(self) -> None:
        _run("ip", "addr", "replace", f"{NODE_IP}/32", "dev", NODE_LINK)
        _write_sysctl("net/bridge/bridge-nf-call-iptables", "1")
        _write_sysctl("net/ipv4/ip_forward", "1")
        _fence()

    def _apiserver_argv(self, pki: Pki) -> list[str]:
        return [binary("kube-apiserver"), "--etcd-servers=http://127.0.0.1:2379", f"--bind-address={NODE_IP}",
                f"--advertise-address={NODE_IP}", f"--secure-port={APISERVER_PORT}",
                f"--cert-dir={self.state}/apiserver", f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--allow-privileged=true", f"--tls-cert-file={pki.path('apiserver.crt')}",
                f"--tls-private-key-file={pki.path('apiserver.key')}", f"--client-ca-file={pki.path('ca.crt')}",
                f"--kubelet-client-certificate={pki.path('apiserver-kubelet-client.crt')}",
                f"--kubelet-client-key={pki.path('apiserver-kubelet-client.key')}",
                f"--kubelet-certificate-authority={pki.path('ca.crt')}",
                "--kubelet-preferred-address-types=InternalIP",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={pki.path('sa.pub')}",
                f"--service-account-signing-key-file={pki.path('sa.key')}",
                "--authorization-mode=Node,RBAC", "--enable-admission-plugins=NodeRestriction",
                f"--requestheader-client-ca-file={pki.path('front-proxy-ca.crt')}",
                "--requestheader-allowed-names=front-proxy-client", "--requestheader-username-headers=X-Remote-User",
                "--requestheader-group-headers=X-Remote-Group", "--requestheader-extra-headers-prefix=X-Remote-Extra-",
                f"--proxy-client-cert-file={pki.path('front-proxy-client.crt')}",
                f"--proxy-client-key-file={pki.path('front-proxy-client.key')}", "--enable-aggregator-routing=true",
                "--endpoint-reconciler-type=lease"]

    def _write_configs(self, pki: Pki) -> None:
        state = self.state
        (state / "containerd" / "config.toml").write_text(f"""\
version = 3
root = "{state}/containerd/root"
state = "{state}/containerd/state"
[grpc]
  address = "{self.containerd_socket}"
[ttrpc]
  address = "{state}/containerd/containerd.sock.ttrpc"
[plugins.'io.containerd.internal.v1.opt']
  path = "{state}/containerd/opt"
[plugins.'io.containerd.nri.v1.nri']
  disable = true
[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = "{PAUSE_IMAGE}"
[plugins.'io.containerd.cri.v1.runtime']
  netns_mounts_under_state_dir = true
  # No CAP_SYS_RESOURCE here (the session's bounding set lacks it): runc cannot lower a process's
  # oom_score_adj below containerd's own (the pod sandbox asks -998), so clamp instead of failing every pod.
  restrict_oom_score_adj = true
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "{RUNC}"
        Root = "{state}/containerd/runc"
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["{state}/cni/bin"]
    conf_dir = "{state}/cni/net.d"
""")
        for plugin in ("bridge", "host-local", "loopback", "portmap"):
            link = state / "cni" / "bin" / plugin
            link.unlink(missing_ok=True)
            link.symlink_to(binary(plugin))
        (state / "cni" / "net.d" / "10-mirror-kit.conflist").write_text(json.dumps({
            "cniVersion": "1.0.0", "name": CNI_NETWORK,
            "plugins": [
                {"type": "bridge", "bridge": BRIDGE, "isGateway": True, "ipMasq": False, "hairpinMode": True,
                 "ipam": {"type": "host-local", "dataDir": f"{state}/cni/ipam",
                          "ranges": [[{"subnet": POD_CIDR, "gateway": POD_GATEWAY}]],
                          "routes": [{"dst": "0.0.0.0/0"}]}},
                {"type": "portmap", "capabilities": {"portMappings": True}},
            ]}, indent=2))
        (state / "kube-scheduler.yaml").write_text(json.dumps({
            "apiVersion": "kubescheduler.config.k8s.io/v1", "kind": "KubeSchedulerConfiguration",
            "clientConnection": {"kubeconfig": f"{state}/kube-scheduler.kubeconfig"},
            "leaderElection": {"leaderElect": False}}))
        (state / "kubelet.yaml").write_text(json.dumps({
            "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
            "failCgroupV1": False, "cgroupDriver": "cgroupfs", "cgroupRoot": f"/{CGROUP_ROOT}",
            "cgroupsPerQOS": True, "enforceNodeAllocatable": ["pods"],
            "containerRuntimeEndpoint": f"unix://{self.containerd_socket}",
            "address": NODE_IP, "port": 10250, "readOnlyPort": 0, "healthzBindAddress": "127.0.0.1", "healthzPort": 10248,
            "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": True},
                               "x509": {"clientCAFile": pki.path("ca.crt")}},
            "authorization": {"mode": "Webhook"},
            "tlsCertFile": pki.path("kubelet-serving.crt"), "tlsPrivateKeyFile": pki.path("kubelet-serving.key"),
            "clusterDNS": [DNS_SERVICE_IP], "clusterDomain": "cluster.local", "resolvConf": "/etc/resolv.conf",
            "failSwapOn": False, "imageGCHighThresholdPercent": 100, "imageGCLowThresholdPercent": 99,
            "evictionHard": {"nodefs.available": "0%", "nodefs.inodesFree": "0%", "imagefs.available": "0%"},
            "podLogsDir": f"{state}/pod-logs", "serializeImagePulls": False, "registerNode": True,
            "syncFrequency": "10s", "fileCheckFrequency": "10s", "nodeStatusUpdateFrequency": "5s",
            "rotateCertificates": False, "serverTLSBootstrap": False}, indent=2))
        (state / "kube-proxy.yaml").write_text(json.dumps({
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration",
            "clientConnection": {"kubeconfig": f"{state}/kube-proxy.kubeconfig"}, "hostnameOverride": NODE_NAME,
            "mode": "iptables", "clusterCIDR": CLUSTER_CIDR, "healthzBindAddress": "127.0.0.1:10256",
            "metricsBindAddress": "127.0.0.1:10249", "nodePortAddresses": [f"{NODE_IP}/32"],
            "iptables": {"minSyncPeriod": "1s", "localhostNodePorts": False},
            "conntrack": {"maxPerCore": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"}}, indent=2))
        (state / "Corefile").write_text(f"""\
.:53 {{
    bind {NODE_IP}
    errors
    health 127.0.0.1:18080
    ready 127.0.0.1:18181
    kubernetes cluster.local in-addr.arpa ip6.arpa {{
        kubeconfig {state}/admin.kubeconfig
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }}
    cache 30
}}
""")

    def _wait_node_ready(self, started: float) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            result = self.kubectl("get", "node", NODE_NAME, "-o", "json", check=False)
            if result.returncode == 0:
                node = json.loads(result.stdout)
                conditions = {c["type"]: c["status"] for c in node["status"].get("conditions", [])}
                if conditions.get("Ready") == "True":
                    self.timings["node_ready"] = time.monotonic() - started
                    return
            for entry in self._load().get("processes", []):
                if not _same_process(entry):
                    raise ClusterError(f"{entry['name']} exited while waiting for the node:\n"
                                       f"{self.log_tail(entry['name'])}")
            time.sleep(0.5)
        raise ClusterError(f"node {NODE_NAME} not Ready within {START_TIMEOUT} s:\n{self.log_tail('kubelet')}")

    def _dns_service(self) -> None:
        """CoreDNS runs on the host at NODE_IP:53: a selector-less kube-dns Service and our EndpointSlice."""
        manifest = {"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "v1", "kind": "Service",
             "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}},
             "spec": {"clusterIP": DNS_SERVICE_IP, "ports": [
                 {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                 {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53}]}},
            {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
             "metadata": {"name": "kube-dns-host", "namespace": "kube-system",
                          "labels": {"kubernetes.io/service-name": "kube-dns",
                                     "endpointslice.kubernetes.io/managed-by": "mirror-kit-cluster"}},
             "addressType": "IPv4", "endpoints": [{"addresses": [NODE_IP], "conditions": {"ready": True}}],
             "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]},
        ]}
        self.kubectl("apply", "-f", "-", stdin=json.dumps(manifest))

    def _metrics_api(self) -> None:
        """metrics.k8s.io served by the host's metrics-server: a selector-less Service, our EndpointSlice, the APIService
        (the API server reaches the endpoint directly: --enable-aggregator-routing)."""
        manifest = {"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "metrics-server", "namespace": "kube-system"},
             "spec": {"ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": METRICS_SERVER_PORT}]}},
            {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
             "metadata": {"name": "metrics-server-host", "namespace": "kube-system",
                          "labels": {"kubernetes.io/service-name": "metrics-server",
                                     "endpointslice.kubernetes.io/managed-by": "mirror-kit-cluster"}},
             "addressType": "IPv4", "endpoints": [{"addresses": [NODE_IP], "conditions": {"ready": True}}],
             "ports": [{"name": "https", "port": METRICS_SERVER_PORT, "protocol": "TCP"}]},
            {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "metadata": {"name": "v1beta1.metrics.k8s.io"},
             "spec": {"group": "metrics.k8s.io", "version": "v1beta1", "insecureSkipTLSVerify": True,
                      "groupPriorityMinimum": 100, "versionPriority": 100,
                      "service": {"name": "metrics-server", "namespace": "kube-system", "port": 443}}},
        ]}
        self.kubectl("apply", "-f", "-", stdin=json.dumps(manifest))

    def log_tail(self, name: str, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join((self.logs / f"{name}.log").read_text(errors="replace").splitlines()[-lines:])
        return ""

    # --- down ---------------------------------------------------------------------------------------------
    def down(self, log=print) -> list[str]:
        """Stop and remove everything of ours, whether this run or a killed one started it. Returns what it stopped."""
        record = self._load()
        stopped = []
        recorded = record.get("processes") or []
        leaders = [(entry["name"], process) for entry in recorded if (process := _same_process(entry))]
        for name, leader in leaders:  # all at once; nothing of a throwaway node needs a graceful stop
            stopped.append(name)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(leader.pid, signal.SIGTERM)
        # Most exit within a second of SIGTERM; kube-apiserver, once etcd is gone, not within 20 s: SIGKILL the rest.
        _, alive = psutil.wait_procs([leader for _, leader in leaders], timeout=STOP_SECONDS)
        for leader in alive:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(leader.pid, signal.SIGKILL)
        psutil.wait_procs(alive, timeout=5)
        # What no record names (a run killed before it wrote one): any process whose command line names our state.
        strays = []
        for process in psutil.process_iter(["cmdline"]):
            cmdline = process.info.get("cmdline") or []
            if process.pid != os.getpid() and any(str(self.state) in word for word in cmdline[1:]) \
                    and not cmdline[0].endswith("containerd-shim-runc-v2"):
                stopped.append(Path(cmdline[0]).name)
                strays.append(process)
        _kill_trees(strays)
        shims = _containerd_shims(self.containerd_socket)
        stopped += [f"shim {shim.pid}" for shim in shims]
        _kill_trees(shims)
        kube_proxy = tools.built("kubernetes", "kube-proxy")
        foreign = self._foreign_owner()
        if recorded and kube_proxy and not foreign:
            subprocess.run([str(kube_proxy), "--cleanup"], capture_output=True, timeout=60, check=False)
        kube_router = tools.built("kube-router")
        if recorded and kube_router and not foreign:
            subprocess.run([str(kube_router), "--cleanup-config"], capture_output=True, timeout=60, check=False)
        for mount in _our_mounts(self.state.resolve()):
            _run("umount", "-l", mount, check=False)
        if not foreign:  # the machine-wide names belong to another clone's running cluster otherwise
            if _run("ip", "link", "show", BRIDGE, check=False).returncode == 0:
                for line in _run("ip", "-o", "link", "show", "master", BRIDGE, check=False).stdout.splitlines():
                    _run("ip", "link", "delete", line.split(":")[1].strip().split("@")[0], check=False)
                _run("ip", "link", "delete", BRIDGE, check=False)
                stopped.append(f"bridge {BRIDGE}")
            if address_present():
                _run("ip", "addr", "del", f"{NODE_IP}/32", "dev", NODE_LINK, check=False)
            from harness import pod_identity  # its agent's address, if a killed test left it on our link

            pod_identity.remove_agent_address()
            if shutil.which("iptables", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin"):
                remove_iptables()
            for directory in _cgroup_dirs():
                with contextlib.suppress(OSError):
                    directory.rmdir()
            _remove_stale_shim_sockets()
            for name, value in (record.get("sysctls") or {}).items():
                if value is not None and _read_sysctl(name) != value:
                    _write_sysctl(name, value)
        if self.state.exists():
            keep_logs = self.state.parent / f"{self.state.name}-logs"
            if self.logs.is_dir() and recorded:  # the last run's logs stay readable after a down
                shutil.rmtree(keep_logs, ignore_errors=True)
                shutil.copytree(self.logs, keep_logs)
            shutil.rmtree(self.state, ignore_errors=True)
        with contextlib.suppress(OSError):
            if Path(OWNER_FILE.read_text().strip()) == self.state.resolve():
                OWNER_FILE.unlink()
        if stopped:
            log(f"cluster: stopped {', '.join(stopped)}")
        log("cluster: down; nothing of ours is left (processes, mounts, links, iptables chains, cgroups)")
        return stopped

    def leftovers(self) -> list[str]:
        """What `down` should have removed and did not (empty when clean): for the tests."""
        found = [f"process {' '.join(p.info['cmdline'][:2])}" for p in psutil.process_iter(["cmdline"])
                 if p.info.get("cmdline") and str(self.state) in " ".join(p.info["cmdline"])]
        found += [f"mount {mount}" for mount in _our_mounts(self.state.resolve())] if self.state.exists() else []
        if _run("ip", "link", "show", BRIDGE, check=False).returncode == 0:
            found.append(f"link {BRIDGE}")
        if address_present():
            found.append(f"address {NODE_IP} on {NODE_LINK}")
        from harness import pod_identity

        if address_present(pod_identity.AGENT_IP):
            found.append(f"address {pod_identity.AGENT_IP} on {NODE_LINK}")
        found += [f"veth {line.split(':')[1].strip()}" for line in
                  _run("ip", "-o", "link", "show", "type", "veth", check=False).stdout.splitlines()
                  if f"master {BRIDGE}" in line]
        for table in ("filter", "nat", "mangle", "raw"):
            found += [f"iptables {table}/{chain}" for chain, rules in _iptables_chains(table).items()
                      if _ours(chain, rules)]
        found += [f"ipset {name}" for name in _run("ipset", "list", "-n", check=False).stdout.split()
                  if name.startswith(OUR_IPSETS)]
        found += [f"cgroup {path}" for path in _cgroup_dirs()]
        return found


# --- images -----------------------------------------------------------------------------------------------

def pause_archive(log=print) -> Path:
    """The pause image as an OCI archive in the tools cache: built once from the pinned Kubernetes module's
    build/pause/linux/pause.c (static, stripped, as upstream's Makefile), `FROM scratch`, USER 65535."""
    kubernetes = tools.load("kubernetes")
    archive = tools.cache_root() / "pause" / f"{PAUSE_IMAGE.rsplit(':', 1)[1]}-{kubernetes.version}" / "pause.oci.tar"
    if archive.exists():
        return archive
    from harness import container

    started = time.monotonic()
    module_dir = json.loads(subprocess.run(["go", "mod", "download", "-json", f"{kubernetes.module}@{kubernetes.version}"],
                                           cwd=kubernetes.wrapper, capture_output=True, text=True, check=True,
                                           timeout=600).stdout)["Dir"]
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pause-") as context:
        _run("gcc", "-Os", "-Wall", "-Werror", "-static", f"-DVERSION=v{PAUSE_IMAGE.rsplit(':', 1)[1]}",
             "-o", f"{context}/pause", f"{module_dir}/build/pause/linux/pause.c")
        _run("strip", f"{context}/pause")
        Path(context, "Containerfile").write_text('FROM scratch\nCOPY pause /pause\nUSER 65535:65535\n'
                                                  'ENTRYPOINT ["/pause"]\n')
        engine = container.find_engine()
        engine.run("build", "--tag", PAUSE_IMAGE, "--file", f"{context}/Containerfile", context)
        staging = archive.with_suffix(f".{os.getpid()}")
        engine.run("save", "--format", "oci-archive", "--output", str(staging), PAUSE_IMAGE)
        os.replace(staging, archive)
    log(f"cluster: pause image built from pause.c in {time.monotonic() - started:.0f} s ({archive})")
    return archive


def image_archive(reference: str, directory: Path) -> Path:
    """A podman image saved as an OCI archive (for `Cluster.import_image`)."""
    from harness import container

    archive = directory / (reference.replace("/", "_").replace(":", "_") + ".oci.tar")
    archive.unlink(missing_ok=True)
    container.find_engine().run("save", "--format", "oci-archive", "--output", str(archive), reference, timeout=600)
    return archive


def cached_image_archive(reference: str, keep: int = 2) -> Path:
    """`image_archive` of a podman image, kept in the tools cache (outside the clone) under the image's ID: an
    unchanged image is not saved again (20-25 s on these machines). The `keep` newest archives stay."""
    from harness import container

    image_id = container.find_engine().run("image", "inspect", "--format", "{{.Id}}", reference).stdout.strip()
    directory = tools.cache_root() / "images"
    name = reference.replace("/", "_").replace(":", "_")
    archive = directory / f"{name}-{image_id[:16]}.oci.tar"
    if not archive.exists():
        staging = directory / f"staging-{os.getpid()}"
        staging.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(image_archive(reference, staging), archive)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    archive.touch()
    for old in sorted(directory.glob(f"{name}-*.oci.tar"), key=lambda path: path.stat().st_mtime)[:-keep]:
        old.unlink(missing_ok=True)
    return archive


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "up"
    cluster = Cluster()
    try:
        if command == "up":
            missing_prerequisites(build=True)  # `make cluster` builds what `make tools` has not yet
            cluster.up()
        elif command == "down":
            cluster.down()
        elif command == "status":
            print("cluster: up" if cluster.alive() else "cluster: not running")
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except ClusterError as error:
        print(f"cluster: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    sys.exit(main(sys.argv[1:]))
