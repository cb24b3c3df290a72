"""The real Helm CLI (built by `make tools`, pinned in tools/helm/go.mod) for the harness and the tests:
render the chart exactly as an install would, lint it, and read its refusals.

Rendering is `helm install --dry-run=client --output json`: Helm's own install path without a cluster,
so the manifests, the test hooks and NOTES.txt come from one call, with values files and `--set-string`
merged by Helm itself (the way the helm provider hands them over).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from harness import tools
from harness.paths import REPO_ROOT

CHART_DIR = REPO_ROOT / "modules" / "kubernetes-app" / "chart"
_SOURCE = re.compile(r"^# Source: (\S+)$", re.MULTILINE)


class HelmError(RuntimeError):
    """Helm refused: its own message (stderr), without the CLI's `Error: INSTALLATION FAILED:` prefix."""


class HelmValuesError(HelmError):
    """The values break the chart's values.schema.json."""


class HelmRenderError(HelmError):
    """A template refused the values (`fail`, `required`) or could not be rendered."""


def binary() -> Path:
    return tools.path("helm")


def _run(args: list[str], values: dict | None, timeout: float = 120) -> subprocess.CompletedProcess:
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="values-") as values_file:
        json.dump(values or {}, values_file)
        values_file.flush()
        return subprocess.run([str(binary()), *args, "--values", values_file.name], capture_output=True, text=True,
                              timeout=timeout, check=False, env=_helm_env())


def _helm_env() -> dict[str, str]:
    """No kubeconfig, no repositories, no plugins of the user's: a render depends on the chart and values only."""
    scratch = Path(tempfile.gettempdir()) / "harness-helm-home"
    return {**os.environ, "HELM_CONFIG_HOME": str(scratch / "config"), "HELM_CACHE_HOME": str(scratch / "cache"),
            "HELM_DATA_HOME": str(scratch / "data"), "KUBECONFIG": "/dev/null"}


def _refusal(stderr: str) -> HelmError:
    message = re.sub(r"^Error: (INSTALLATION FAILED: )?", "", stderr.strip())
    if "values don't meet the specifications of the schema" in message:
        return HelmValuesError(message)
    return HelmRenderError(message)


@dataclass(frozen=True)
class Release:
    """A rendered release: template path → text (hooks and NOTES.txt included), as Helm would install it."""

    templates: dict[str, str]

    def manifests(self, *, hooks: bool = True) -> list[dict]:
        """The objects Helm would apply (hooks unless hooks=False), in template path order."""
        found = []
        for path, text in sorted(self.templates.items()):
            if path.endswith("NOTES.txt"):
                continue
            for doc in yaml.safe_load_all(text):
                if doc and (hooks or "helm.sh/hook" not in (doc.get("metadata", {}).get("annotations") or {})):
                    found.append(doc)
        return found


def render(values: dict | None, *, name: str = "mirror", namespace: str = "mirror", kube_version: str | None = None,
           set_string: dict[str, str] | None = None, chart: Path = CHART_DIR) -> Release:
    """The release `helm install` would create; HelmValuesError/HelmRenderError when Helm refuses the values."""
    args = ["install", name, str(chart), "--dry-run=client", "--namespace", namespace, "--output", "json"]
    if kube_version:
        args += ["--kube-version", kube_version]
    for key, value in (set_string or {}).items():
        args += ["--set-string", f"{key}={value}"]
    result = _run(args, values)
    if result.returncode != 0:
        raise _refusal(result.stderr)
    release = json.loads(result.stdout)
    templates: dict[str, str] = {}
    manifest = release.get("manifest", "")
    sources = list(_SOURCE.finditer(manifest))
    for index, source in enumerate(sources):
        end = sources[index + 1].start() if index + 1 < len(sources) else len(manifest)
        body = manifest[source.end():end].strip().removesuffix("---").strip()
        templates[source.group(1)] = (templates[source.group(1)] + "\n---\n" + body) if source.group(1) in templates \
            else body
    for hook in release.get("hooks") or []:
        templates[hook["path"]] = hook["manifest"]
    notes = (release.get("info") or {}).get("notes")
    if notes is not None:
        templates[f"{release['chart']['metadata']['name']}/templates/NOTES.txt"] = notes
    return Release(templates)


@dataclass(frozen=True)
class LintReport:
    ok: bool
    # (severity, message) per line Helm printed: severity is INFO, WARNING or ERROR.
    messages: tuple[tuple[str, str], ...]
    output: str

    @property
    def errors(self) -> list[str]:
        return [text for severity, text in self.messages if severity == "ERROR"]


def lint(values: dict | None, *, strict: bool = True, kube_version: str | None = None,
         chart: Path = CHART_DIR) -> LintReport:
    """`helm lint` of the chart with these values."""
    args = ["lint", str(chart)] + (["--strict"] if strict else []) + (
        ["--kube-version", kube_version] if kube_version else [])
    result = _run(args, values)
    messages = tuple((m.group(1), m.group(2).strip())
                     for m in re.finditer(r"^\[(INFO|WARNING|ERROR)\] (.*)$", result.stdout + result.stderr,
                                          re.MULTILINE))
    return LintReport(result.returncode == 0, messages, result.stdout + result.stderr)
