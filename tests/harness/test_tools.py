"""harness/tools.py (`make tools`): the Go tools are built once into the cache outside the clone, a warm
cache builds nothing and says so, and a machine without Go is told which tool is missing and how to get it
(a failure under CI=true, a skip elsewhere)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from harness import terraform, tools
from harness.paths import REPO_ROOT

# Each wrapper module pins one program, or several of one module (the cluster's); the ruleset's version must
# match what .tflint.hcl asks for.
EXPECTED_TOOLS = {"helm", "terraform-docs", "tflint", "tflint-ruleset-aws", *terraform.BUILT_PROVIDERS}
CLUSTER_PROGRAMS = {
    "kubernetes": {"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "kubectl"},
    "etcd": {"etcd"}, "containerd": {"containerd", "containerd-shim-runc-v2", "ctr"},
    "cni-plugins": {"bridge", "host-local", "loopback", "portmap"}, "coredns": {"coredns"},
    "kube-router": {"kube-router"}, "metrics-server": {"metrics-server"},
}


def _tools_command(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.tools", *args], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=1800, env={**os.environ, **env}, check=False)


def test_each_tool_is_one_pinned_wrapper_module():
    found = {tool.name: tool for tool in tools.all_tools()}
    assert EXPECTED_TOOLS <= set(found)
    for tool in found.values():
        if tool.name in terraform.BUILT_PROVIDERS:
            # v2+ releases have no /vN module path: a commit, as a pseudo-version, and the version it builds
            assert re.fullmatch(r"v\d+\.\d+\.\d+-0\.\d{14}-[0-9a-f]{12}", tool.version), tool.version
            assert re.fullmatch(r"\d+\.\d+\.\d+", terraform.built_provider_version(tool.name))
        else:
            assert re.fullmatch(r"v\d+\.\d+\.\d+", tool.version), f"{tool.name} is pinned to a release: {tool.version}"
        assert (tool.wrapper / "go.sum").read_text().count(f"{tool.module} {tool.version} h1:") == 1
        go_line = re.search(r"^go (\S+)", (tool.wrapper / "go.mod").read_text(), re.MULTILINE).group(1)
        assert tuple(map(int, go_line.split("."))) <= (1, 26, 8), f"{tool.name} would make Go fetch a toolchain"
    ruleset = found["tflint-ruleset-aws"].version.removeprefix("v")
    assert f'version = "{ruleset}"' in (REPO_ROOT / ".tflint.hcl").read_text()


def test_a_warm_cache_builds_nothing_and_says_so():
    first = _tools_command("build")  # builds whatever a cold machine lacks; the suite needs them anyway
    assert first.returncode == 0, first.stderr
    warm = _tools_command("build")
    assert warm.returncode == 0, warm.stderr
    assert "building" not in warm.stdout
    assert re.search(r"tools: all \d+ present in .*, nothing built", warm.stdout), warm.stdout
    for name in EXPECTED_TOOLS - {"tflint-ruleset-aws"}:
        assert (tools.BIN_DIR / name).resolve() == tools.load(name).binary
    for name, programs in CLUSTER_PROGRAMS.items():
        for program in programs:
            assert (tools.BIN_DIR / program).resolve() == tools.load(name).program(program)


def test_a_wrapper_may_build_several_programs_of_one_module():
    """tools/kubernetes: one `tool ( ... )` block, one k8s.io/kubernetes pin, its staging modules replaced by the
    published ones of the same release, and every component stamped with that release (not v0.0.0-master)."""
    for name, programs in CLUSTER_PROGRAMS.items():
        assert set(tools.load(name).programs) == programs, name
    kubernetes = tools.load("kubernetes")
    assert kubernetes.module == "k8s.io/kubernetes" and kubernetes.version.startswith("v1.35.")
    staging = kubernetes.version.replace("v1.", "v0.", 1)
    replaced = re.findall(r"^\s+(k8s\.io/\S+) => (k8s\.io/\S+) (v\S+)$", (kubernetes.wrapper / "go.mod").read_text(),
                          re.MULTILINE)
    assert len(replaced) >= 28 and all(old == new and version == staging for old, new, version in replaced)
    assert f"-X k8s.io/component-base/version.gitVersion={kubernetes.version}" in kubernetes.ldflags
    assert kubernetes.program("kubelet") == kubernetes.binary.parent / "kubelet"


def test_the_built_tools_run_and_report_their_pinned_versions():
    assert f'Version:"{tools.load("helm").version}"' in subprocess.run(
        [tools.path("helm"), "version"], capture_output=True, text=True, check=True).stdout
    assert tools.load("terraform-docs").version in subprocess.run(
        [tools.path("terraform-docs"), "--version"], capture_output=True, text=True, check=True).stdout
    tflint = subprocess.run([tools.path("tflint"), "--version"], capture_output=True, text=True, check=True).stdout
    assert tools.load("tflint").version.removeprefix("v") in tflint


def _without_go(tmp_path) -> dict[str, str]:
    """PATH without the directory holding `go`, and an empty cache, as on a laptop that never ran make tools."""
    path = ":".join(p for p in os.environ["PATH"].split(":") if not os.path.exists(os.path.join(p, "go")))
    return {"PATH": path, "MIRROR_KIT_TOOLS_DIR": str(tmp_path / "empty-cache")}


def test_without_go_each_missing_tool_is_named_with_how_to_get_it(tmp_path):
    result = _tools_command("build", **_without_go(tmp_path), CI="")
    assert result.returncode == 0, "outside CI the targets that need a tool say so themselves"
    for name in EXPECTED_TOOLS:
        assert f"{name} {tools.load(name).version} is built from tools/{name} with Go, which is not on PATH" \
            in result.stderr
    assert "https://go.dev/dl/" in result.stderr
    assert "skipping them" in result.stderr


def test_without_go_under_ci_the_build_fails(tmp_path):
    result = _tools_command("build", **_without_go(tmp_path), CI="true")
    assert result.returncode == 1
    assert "helm v" in result.stderr and "with Go, which is not on PATH" in result.stderr
    assert "skipping" not in result.stderr
