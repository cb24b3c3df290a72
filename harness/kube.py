"""Drive a Kubernetes cluster from the environment harness with the `kubernetes` Python client (no kubectl).

What `make e2e ENV=local|aws` needs from a cluster once Terraform has applied the release:
- `context_problem`: whether a kubeconfig context answers its API server's /readyz (else why not);
- `wait_for_rollout`: the Deployment rolled out, judged exactly as `kubectl rollout status` judges it
  (kubernetes/kubectl, pkg/polymorphichelpers/rollout_status.go, DeploymentStatusViewer.Status);
- `PortForward`: a loopback port forwarded to a ready pod behind the Service, through the API server's
  pods/portforward websocket (kubernetes.stream.portforward), one stream per accepted connection;
- `release_test_hooks` / `run_test_hooks`: the release's `helm.sh/hook: test` Pods, read from Helm's
  own release Secret, their check script run here against the forwarded port;
- `diagnostics` / `attach_diagnostics_on_failure`: events, pod statuses and container logs, added to
  the failing test's report.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import yaml
from kubernetes import client, config
from kubernetes.client.rest import ApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.stream import portforward

# kubectl's reason for a Deployment whose progressDeadlineSeconds passed (deploymentutil.TimedOutReason).
PROGRESS_DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"
LOG_TAIL_LINES = 200


class RolloutFailed(AssertionError):
    """The Deployment will not finish rolling out (its progress deadline passed, or the wait timed out)."""


class HookFailed(AssertionError):
    """A chart test hook's check failed against the forwarded Service."""


@dataclass
class Cluster:
    """The API clients of one kubeconfig context."""

    api: client.ApiClient

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    @property
    def apps(self) -> client.AppsV1Api:
        return client.AppsV1Api(self.api)


def connect(context: str | None = None, config_file: str | None = None) -> Cluster:
    """The cluster of a kubeconfig context (KUBECONFIG or ~/.kube/config unless `config_file`)."""
    return Cluster(config.new_client_from_config(config_file=config_file, context=context))


def context_problem(context: str, config_file: str | None = None) -> str | None:
    """None when `context` answers its API server's /readyz; otherwise the reason it cannot be used."""
    try:
        cluster = connect(context, config_file)
    except (ConfigException, OSError, TypeError) as error:
        return f"kubeconfig has no usable context '{context}' ({str(error).strip()[:200]})"
    try:
        method, url, headers, _, _ = cluster.api.param_serialize("GET", "/readyz", auth_settings=["BearerToken"])
        response = cluster.api.call_api(method, url, header_params=headers, _request_timeout=5)
        response.read()
        status, body = response.status, (response.data or b"").decode(errors="replace")[:200]
    except Exception as error:  # noqa: BLE001 - any transport failure means "not reachable"
        return f"context '{context}' API server is not reachable: {type(error).__name__}: {str(error)[:200]}"
    finally:
        cluster.api.close()
    return None if status == 200 else f"context '{context}' API server answered /readyz with HTTP {status}: {body}"


def rollout_status(deployment: client.V1Deployment) -> tuple[bool, str]:
    """(done, what it waits for), as `kubectl rollout status`; raises RolloutFailed past the progress deadline."""
    name, spec, status = deployment.metadata.name, deployment.spec, deployment.status or client.V1DeploymentStatus()
    if (status.observed_generation or 0) < (deployment.metadata.generation or 0):
        return False, f"deployment {name}: waiting for the controller to observe generation {deployment.metadata.generation}"
    progressing = next((c for c in status.conditions or [] if c.type == "Progressing"), None)
    if progressing and progressing.reason == PROGRESS_DEADLINE_EXCEEDED:
        raise RolloutFailed(f"deployment {name} exceeded its progress deadline: {progressing.message}")
    wanted, updated = spec.replicas if spec.replicas is not None else 1, status.updated_replicas or 0
    if updated < wanted:
        return False, f"deployment {name}: {updated} out of {wanted} new replicas have been updated"
    if (status.replicas or 0) > updated:
        return False, f"deployment {name}: {(status.replicas or 0) - updated} old replicas are pending termination"
    if (status.available_replicas or 0) < updated:
        return False, f"deployment {name}: {status.available_replicas or 0} of {updated} updated replicas are available"
    return True, f"deployment {name} successfully rolled out"


def wait_for_rollout(cluster: Cluster, namespace: str, name: str, timeout: float = 300,
                     interval: float = 2) -> client.V1Deployment:
    """Poll the Deployment until `rollout_status` says done; RolloutFailed with the last reason otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        deployment = cluster.apps.read_namespaced_deployment_status(name, namespace)
        done, reason = rollout_status(deployment)
        if done:
            return deployment
        if time.monotonic() > deadline:
            raise RolloutFailed(f"rollout did not finish within {timeout:.0f}s: {reason}")
        time.sleep(interval)


def _matches(labels: dict | None, selector: dict) -> bool:
    return all((labels or {}).get(key) == value for key, value in selector.items())


def _ready(pod: client.V1Pod) -> bool:
    return (pod.status is not None and pod.status.phase == "Running" and not pod.metadata.deletion_timestamp
            and any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or []))


def service_target(cluster: Cluster, namespace: str, service: str, port: int | None = None) -> tuple[str, int]:
    """(ready pod behind `service`, its container port for the Service port `port`, default the first one)."""
    svc = cluster.core.read_namespaced_service(service, namespace)
    selector = svc.spec.selector or {}
    if not selector:
        raise AssertionError(f"service {namespace}/{service} has no selector: nothing to forward to")
    service_port = next((p for p in svc.spec.ports if port is None or p.port == port), None)
    if service_port is None:
        raise AssertionError(f"service {namespace}/{service} has no port {port}")
    label_selector = ",".join(f"{key}={value}" for key, value in sorted(selector.items()))
    pods = [pod for pod in cluster.core.list_namespaced_pod(namespace, label_selector=label_selector).items
            if _matches(pod.metadata.labels, selector)]  # the server filters; filtering again costs nothing
    ready = sorted((pod for pod in pods if _ready(pod)), key=lambda pod: pod.metadata.name)
    if not ready:
        raise AssertionError(f"no ready pod behind service {namespace}/{service} "
                             f"({len(pods)} pods match {label_selector})")
    pod = ready[0]
    target = service_port.target_port if service_port.target_port is not None else service_port.port
    if isinstance(target, str) and not target.isdigit():
        named = [p.container_port for c in pod.spec.containers for p in c.ports or [] if p.name == target]
        if not named:
            raise AssertionError(f"pod {pod.metadata.name} has no container port named {target!r}")
        return pod.metadata.name, named[0]
    return pod.metadata.name, int(target)


@dataclass
class PortForward:
    """127.0.0.1:<free port> → `pod`:`remote_port`, each accepted connection over its own portforward stream."""

    cluster: Cluster
    namespace: str
    pod: str
    remote_port: int
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._closed = threading.Event()
        threading.Thread(target=self._accept, name=f"port-forward-{self.port}", daemon=True).start()

    @classmethod
    def to_service(cls, cluster: Cluster, namespace: str, service: str, port: int | None = None) -> PortForward:
        """Like `kubectl port-forward svc/<service>`: to one ready pod the Service selects, at its target port."""
        pod, remote_port = service_target(cluster, namespace, service, port)
        return cls(cluster, namespace, pod, remote_port)

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._relay, args=(connection,), daemon=True).start()

    def _relay(self, local: socket.socket) -> None:
        try:
            forward = portforward(self.cluster.core.connect_get_namespaced_pod_portforward, self.pod, self.namespace,
                                  ports=str(self.remote_port))
        except Exception as error:  # noqa: BLE001 - reported by the caller's next request, and kept here
            self.errors.append(f"opening the port-forward to {self.pod}:{self.remote_port}: {error}")
            local.close()
            return
        remote = forward.socket(self.remote_port)
        remote.setblocking(True)
        try:
            sockets = [local, remote]
            while sockets:
                readable, _, _ = select.select(sockets, [], [], 1.0)
                if self._closed.is_set():
                    break
                for source in readable:
                    data = source.recv(65536)
                    target = remote if source is local else local
                    if not data:
                        sockets = []  # either side closed: the HTTP exchange is over
                        break
                    target.sendall(data)
        except OSError as error:
            self.errors.append(f"relaying to {self.pod}:{self.remote_port}: {error}")
        finally:
            local.close()
            forward.close()
            error = forward.error(self.remote_port)
            if error:
                self.errors.append(f"{self.pod}:{self.remote_port}: {error.strip()}")

    def close(self) -> None:
        self._closed.set()
        self._listener.close()

    def __enter__(self) -> PortForward:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _decode_release(data: str) -> dict:
    """Helm's release Secret: base64 (the API's encoding of Secret data) of base64(gzip(JSON)) (helm storage)."""
    raw = base64.b64decode(base64.b64decode(data))
    return json.loads(gzip.decompress(raw) if raw[:3] == b"\x1f\x8b\x08" else raw)


def release_test_hooks(cluster: Cluster, namespace: str, release: str) -> list[dict]:
    """The Pod manifests of the deployed release's `helm.sh/hook: test` hooks, as Helm stored them."""
    secrets = [secret for secret in cluster.core.list_namespaced_secret(
        namespace, label_selector=f"owner=helm,name={release}").items
        if _matches(secret.metadata.labels, {"owner": "helm", "name": release})]
    deployed = [s for s in secrets if (s.metadata.labels or {}).get("status") == "deployed"]
    if not deployed:
        raise AssertionError(f"no deployed Helm release {release!r} in namespace {namespace} "
                             f"({len(secrets)} release secrets found)")
    latest = max(deployed, key=lambda s: int((s.metadata.labels or {}).get("version", "0")))
    hooks = _decode_release(latest.data["release"]).get("hooks") or []
    manifests = [yaml.safe_load(hook["manifest"]) for hook in hooks if "test" in (hook.get("events") or [])]
    return [manifest for manifest in manifests if manifest and manifest.get("kind") == "Pod"]


def run_test_hooks(hooks: list[dict], service_url: str, forwarded_url: str, timeout: float = 120) -> list[str]:
    """Run each test Pod's containers here, their in-cluster Service URL pointed at `forwarded_url`.

    The hook's own command runs unchanged, with this interpreter standing in for the image's `python`
    (the chart's hook is a Python script using only the standard library). Only literal `env` values
    are passed: a hook that reads Secrets or ConfigMaps is refused rather than run half configured.
    Returns each container's output; raises HookFailed with it when a check fails.
    """
    if not hooks:
        raise HookFailed("the release has no test hook Pods to run")
    outputs = []
    for hook in hooks:
        for container in hook["spec"]["containers"]:
            where = f"test hook {hook['metadata']['name']}/{container['name']}"
            argv = [*(container.get("command") or []), *(container.get("args") or [])]
            if not argv:
                raise HookFailed(f"{where} has no command: it relies on its image's entrypoint, which cannot run here")
            if argv[0] in ("python", "python3"):
                argv[0] = sys.executable
            env = {"PATH": "/usr/bin:/bin"}
            for variable in container.get("env") or []:
                if "value" not in variable:
                    raise HookFailed(f"{where} reads {variable['name']} from the cluster (valueFrom): cannot run here")
                env[variable["name"]] = str(variable["value"]).replace(service_url, forwarded_url)
            result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
            output = (result.stdout + result.stderr).strip()
            if result.returncode != 0:
                raise HookFailed(f"{where} failed (exit {result.returncode}): {output}")
            outputs.append(output)
    return outputs


def _when(event) -> str:
    moment = event.last_timestamp or event.event_time or event.metadata.creation_timestamp
    return moment.isoformat() if moment else ""


def _container_line(status: client.V1ContainerStatus) -> str:
    state = status.state
    if state and state.waiting:
        now = f"waiting ({state.waiting.reason}: {state.waiting.message or ''})"
    elif state and state.terminated:
        now = f"terminated ({state.terminated.reason}, exit {state.terminated.exit_code})"
    else:
        now = "running"
    last = status.last_state.terminated if status.last_state else None
    before = f", last terminated {last.reason} exit {last.exit_code}" if last else ""
    return f"    {status.name}: ready={status.ready} restarts={status.restart_count} {now}{before}"


def diagnostics(cluster: Cluster, namespace: str, label_selector: str | None = None) -> str:
    """Events, pod statuses and container logs of `namespace`: what a failed rollout or call needs explained."""
    lines = [f"== events in {namespace}"]
    try:
        events = sorted(cluster.core.list_namespaced_event(namespace).items, key=_when)
        lines += [f"{_when(e)} {e.type} {e.reason} {e.involved_object.kind}/{e.involved_object.name}: {e.message}"
                  for e in events] or ["(none)"]
    except ApiException as error:
        lines.append(f"(events unavailable: HTTP {error.status})")
    try:
        pods = cluster.core.list_namespaced_pod(namespace, label_selector=label_selector).items
    except ApiException as error:
        return "\n".join([*lines, f"(pods unavailable: HTTP {error.status})"])
    for pod in pods:
        status = pod.status or client.V1PodStatus()
        lines.append(f"== pod {pod.metadata.name}: {status.phase} {status.reason or ''} {status.message or ''}".rstrip())
        lines += [f"    condition {c.type}={c.status} {c.reason or ''} {c.message or ''}".rstrip()
                  for c in status.conditions or [] if c.status != "True"]
        statuses = [*(status.init_container_statuses or []), *(status.container_statuses or [])]
        lines += [_container_line(s) for s in statuses]
        for container_status in statuses:
            for previous in ([False, True] if container_status.restart_count else [False]):
                label = "previous " if previous else ""
                try:
                    log = cluster.core.read_namespaced_pod_log(pod.metadata.name, namespace,
                                                               container=container_status.name, previous=previous,
                                                               tail_lines=LOG_TAIL_LINES)
                except ApiException as error:
                    log = f"(log unavailable: HTTP {error.status})"
                lines += [f"-- {label}log of {pod.metadata.name}/{container_status.name} (last {LOG_TAIL_LINES} lines)",
                          log.rstrip() or "(empty)"]
    return "\n".join(lines)


@contextlib.contextmanager
def attach_diagnostics_on_failure(item, cluster: Cluster, namespace: str, label_selector: str | None = None
                                  ) -> Iterator[None]:
    """On any failure inside, add `diagnostics` to the pytest item's report (shown beside the failure)."""
    try:
        yield
    except BaseException:
        try:
            text = diagnostics(cluster, namespace, label_selector)
        except Exception as error:  # noqa: BLE001 - the original failure matters more than the diagnostics
            text = f"(diagnostics unavailable: {type(error).__name__}: {error})"
        item.add_report_section("call", f"kubernetes {namespace}", text)
        raise
