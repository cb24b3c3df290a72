"""The chart rendered and validated offline, for the tests beside this file: the real Helm CLI
(harness/helm.py, built by `make tools`), Kubernetes' own schemas (kubernetes-validate), and the restricted-profile rules
asserted field by field. Functions only (no fixtures): each test calls what it needs, top to bottom."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml
from kubernetes_validate.utils import SchemaNotFoundError

from harness import helm
from harness.processes import REPO_ROOT

MODULE_DIR = REPO_ROOT / "modules" / "kubernetes-app"
CHART_DIR = MODULE_DIR / "chart"
CI_VALUES_DIR = CHART_DIR / "ci"
# Kubernetes minors the chart supports (Chart.yaml kubeVersion >= 1.30); kubernetes-validate takes "1.33".
KUBE_VERSIONS = ("1.30", "1.31", "1.32", "1.33")
RELEASE = "mirror"
NAMESPACE = "mirror-ci"
APP_USER = 10001
# Pod Security Standards "restricted": the only volume types allowed.
RESTRICTED_VOLUME_TYPES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                           "projected", "secret"}
# kubernetes-validate bundles core Kubernetes schemas only; CRDs we render are checked against a vendored schema.
CRD_SCHEMAS = {
    ("gateway.networking.k8s.io/v1", "HTTPRoute"): Path(__file__).parent / "schemas" / "httproute-gateway-v1.json",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): Path(__file__).parent / "schemas" / "servicemonitor-monitoring-v1.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): Path(__file__).parent / "schemas" / "prometheusrule-monitoring-v1.json",
}


@functools.cache
def ci_value_sets() -> dict[str, dict]:
    """`ci/<name>-values.yaml` → values: the combinations chart-testing would install."""
    return {path.name.removesuffix("-values.yaml"): yaml.safe_load(path.read_text())
            for path in sorted(CI_VALUES_DIR.glob("*-values.yaml"))}


@functools.cache
def rendered_ci_sets() -> dict[str, tuple[dict, ...]]:
    """Value-set name → its rendered manifests (rendered once per test process; callers must not mutate them)."""
    return {name: tuple(render(values)) for name, values in ci_value_sets().items()}


def render_templates(values: dict | None, *, set_string: dict[str, str] | None = None, name: str = RELEASE,
                     namespace: str = NAMESPACE) -> dict[str, str]:
    """Template path → rendered text, as `helm install` would create it (test hooks and NOTES.txt included)."""
    return helm.render(values, set_string=set_string, name=name, namespace=namespace, chart=CHART_DIR).templates


def render(values: dict | None, *, set_string: dict[str, str] | None = None, name: str = RELEASE,
           namespace: str = NAMESPACE) -> list[dict]:
    """The manifests Helm would apply (test hooks included), in template path order; `set_string` as
    Helm's `--set-string` (what the helm provider's set_sensitive entries become)."""
    return helm.render(values, set_string=set_string, name=name, namespace=namespace, chart=CHART_DIR).manifests()


def only(manifests: list[dict], kind: str, *, hook: bool | None = None) -> dict:
    """The single manifest of `kind` (hook=True: only test hooks, False: only release objects)."""
    found = [m for m in of_kind(manifests, kind) if hook is None or is_hook(m) == hook]
    assert len(found) == 1, f"expected one {kind}, found {[m['metadata']['name'] for m in found]}"
    return found[0]


def of_kind(manifests: list[dict], kind: str) -> list[dict]:
    return [m for m in manifests if m["kind"] == kind]


def is_hook(manifest: dict) -> bool:
    return "helm.sh/hook" in (manifest["metadata"].get("annotations") or {})


def validate(manifest: dict, kube_version: str) -> None:
    """Strict schema validation (unknown fields are errors). CRDs: confirm kubernetes-validate has no schema
    for them (so we notice if it ever ships one), then validate against the vendored CRD schema."""
    crd_schema = CRD_SCHEMAS.get((manifest["apiVersion"], manifest["kind"]))
    if crd_schema is None:
        kubernetes_validate.validate(manifest, kube_version, strict=True)
        return
    try:
        kubernetes_validate.validate(manifest, kube_version, strict=True)
    except SchemaNotFoundError:
        pass
    else:
        raise AssertionError(f"kubernetes-validate now knows {manifest['kind']}; validate it there instead")
    jsonschema.validate(manifest, json.loads(crd_schema.read_text()))


def pod_specs(manifests: list[dict]) -> dict[str, dict]:
    """`Kind/name` → pod spec, for every object that creates pods (the Deployment and the helm-test Pod)."""
    specs = {}
    for manifest in manifests:
        if manifest["kind"] == "Pod":
            specs[f"Pod/{manifest['metadata']['name']}"] = manifest["spec"]
        elif manifest["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"):
            specs[f"{manifest['kind']}/{manifest['metadata']['name']}"] = manifest["spec"]["template"]["spec"]
    return specs


def restricted_violations(spec: dict) -> list[str]:
    """What in a pod spec breaks Pod Security "restricted" (plus our own hardening: read-only root filesystem,
    numeric user 10001, no API token). Empty list: compliant."""
    problems = []
    pod_context = spec.get("securityContext") or {}
    for forbidden in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(forbidden):
            problems.append(f"{forbidden} is set")
    if spec.get("automountServiceAccountToken") is not False:
        problems.append("automountServiceAccountToken is not false")
    if (pod_context.get("seccompProfile") or {}).get("type") not in ("RuntimeDefault", "Localhost"):
        problems.append("pod seccompProfile is not RuntimeDefault/Localhost")
    for volume in spec.get("volumes") or []:
        volume_type = next(key for key in volume if key != "name")
        if volume_type not in RESTRICTED_VOLUME_TYPES:
            problems.append(f"volume {volume['name']} has type {volume_type}")
    for container in (spec.get("initContainers") or []) + spec["containers"]:
        name = container["name"]
        context = container.get("securityContext") or {}
        run_as_non_root = context.get("runAsNonRoot", pod_context.get("runAsNonRoot"))
        run_as_user = context.get("runAsUser", pod_context.get("runAsUser"))
        if run_as_non_root is not True:
            problems.append(f"{name}: runAsNonRoot is not true")
        if run_as_user != APP_USER:
            problems.append(f"{name}: runAsUser is {run_as_user!r}, not the numeric non-root {APP_USER}")
        if context.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation is not false")
        if context.get("privileged"):
            problems.append(f"{name}: privileged")
        capabilities = context.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            problems.append(f"{name}: capabilities.drop lacks ALL")
        if set(capabilities.get("add") or []) - {"NET_BIND_SERVICE"}:
            problems.append(f"{name}: adds capabilities {capabilities['add']}")
        seccomp = (context.get("seccompProfile") or pod_context.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{name}: seccompProfile is {seccomp!r}")
        if context.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{name}: root filesystem is writable")
        for port in container.get("ports") or []:
            if "hostPort" in port:
                problems.append(f"{name}: hostPort {port['hostPort']}")
    return problems


def env_of(manifests: list[dict]) -> dict[str, str]:
    """The app container's environment: its ConfigMap's data plus env entries (a secret ref reads `secret:<key>`)."""
    deployment = only(manifests, "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    configmaps = {m["metadata"]["name"]: m for m in of_kind(manifests, "ConfigMap")}
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        env.update(configmaps[source["configMapRef"]["name"]]["data"])
    for entry in container.get("env") or []:
        if "value" in entry:
            env[entry["name"]] = entry["value"]
        else:
            env[entry["name"]] = f"secret:{entry['valueFrom']['secretKeyRef']['key']}"
    return env


def server_settings(env: dict[str, str]):
    """The server settings the service reads from a pod's environment (what gunicorn.conf.py runs at start)."""
    from mirror_service.config import load_all

    return load_all(env)[1]


def pod_server_defaults(log_level: str = "INFO"):
    """The service's defaults (app/mirror_service/config.py ServerSettings) as the pod gets them for the chart's
    default 1-CPU limit: the same, except one worker per CPU of the limit (templates/_helpers.tpl
    `mirror-service.workers`) where the service's 2 are for a 2-core host, and that worker holding the pod's
    budget of connections, as many as the service's workers together (`mirror-service.workerConnections`)."""
    import dataclasses

    from mirror_service.config import ServerSettings

    service = ServerSettings()
    return dataclasses.replace(service, port=4545, workers=1, log_level=log_level,
                               worker_connections=service.workers * service.worker_connections)


def merged(base: dict, override: dict) -> dict:
    """`override` deep-merged onto `base` (as Helm merges -f files); a None is kept, and Helm then deletes that key."""
    result = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


def dump_all(manifests: list[dict]) -> str:
    return yaml.safe_dump_all(manifests, sort_keys=False)
